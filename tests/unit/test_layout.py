"""`inv` and `import tasks` must load one and the same set of modules."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_tasks_finds_the_package_modules():
    import tasks
    from tasks import infra, settings

    assert Path(tasks.__file__).name == "tasks.py"
    assert Path(infra.__file__).parent == REPO / "tasks"
    assert settings.PROJECT_ROOT == REPO


def test_inv_and_import_share_modules():
    code = (
        "import sys\n"
        "from invoke.loader import FilesystemLoader\n"
        "from invoke.config import Config\n"
        "module, _ = FilesystemLoader(config=Config()).load('tasks')\n"
        "import tasks.infra\n"
        "assert sys.modules['tasks'] is module\n"
        "assert module.ns.collections['infra'].name == 'infra'\n"
        "print(tasks.infra.__file__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(REPO / "tasks" / "infra.py")


def test_list_does_not_import_docker_or_psycopg():
    code = (
        "import sys\n"
        "from invoke import Program\n"
        "from invoke.collection import Collection\n"
        "import invoke.main\n"
        "try:\n"
        "    invoke.main.program.run(['inv', '--list'], exit=False)\n"
        "finally:\n"
        "    heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('docker', 'psycopg', 'dotenv', 'requests', 'urllib3'))\n"
        "    print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout
