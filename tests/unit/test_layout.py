"""The suite's layout, which `inv --list` staying fast and `inv doctor` starting at all
depend on.

- `inv` enters through tasks.py (which makes itself the package for tasks/); `import
  tasks` (pytest, scripts) gets tasks/__init__.py. Both load the same files.
- Task modules (tasks/*.py) hold task definitions and import the library (tasks/lib/)
  only inside task bodies; the library never imports a task module.
- Each heavy third-party package is imported in one library module only.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TASKS = REPO / "tasks"
LIB = TASKS / "lib"

# The task modules the suite had when this test was written; the scan covers every
# tasks/*.py, these must be among them (so the scan cannot pass by finding nothing).
KNOWN_TASK_MODULES = {
    "tasks.infra",
    "tasks.elixir",
    "tasks.db",
    "tasks.dev",
    "tasks.billing",
    "tasks.workos",
    "tasks.lint",
    "tasks.doctor",
    "tasks.collection",
    "tasks.taskdef",
}
# Third-party package -> the one module allowed to import it (requests: at most there).
HEAVY_HOMES = {
    "docker": "tasks/lib/docker/engine.py",
    "requests": "tasks/lib/docker/engine.py",
    "psycopg": "tasks/lib/database/sql.py",
    "dotenv": "tasks/lib/envfile.py",
}
MUST_IMPORT = {"docker", "psycopg", "dotenv"}
NOT_ON_LIST = ("docker", "psycopg", "dotenv", "requests", "urllib3", "psutil")


def task_modules() -> dict[str, Path]:
    return {f"tasks.{p.stem}": p for p in sorted(TASKS.glob("*.py")) if p.name != "__init__.py"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path, *, top_level_only: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module name) for every module an import statement in ``path``
    loads: ``from tasks import infra`` gives tasks and tasks.infra; relative imports are
    resolved. Code under ``if TYPE_CHECKING:`` is skipped (it never runs).
    ``top_level_only``: only what runs at import time (not inside functions)."""
    here = module_name(path)
    package = here if is_package(path) else here.rpartition(".")[0]
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if top_level_only and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.orelse:
                    visit_stmt(stmt)
                continue
            visit_stmt(child)

    def visit_stmt(child: ast.AST) -> None:
        if isinstance(child, ast.Import):
            found.extend((child.lineno, alias.name) for alias in child.names)
        elif isinstance(child, ast.ImportFrom):
            if child.level:
                base = package.split(".")
                base = base[: len(base) - (child.level - 1)]
                mod = ".".join(base + ([child.module] if child.module else []))
            else:
                mod = child.module or ""
            found.append((child.lineno, mod))
            # `from pkg import name` may load the submodule pkg.name
            found.extend((child.lineno, f"{mod}.{alias.name}") for alias in child.names if alias.name != "*")
        elif (
            isinstance(child, ast.Call)
            and child.args
            and isinstance(child.args[0], ast.Constant)
            and isinstance(child.args[0].value, str)
            and (
                (isinstance(child.func, ast.Attribute) and child.func.attr == "import_module")
                or (isinstance(child.func, ast.Name) and child.func.id in ("__import__", "import_module"))
            )
        ):
            found.append((child.lineno, child.args[0].value))
        visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


# ------------------------------------------------------------- one set of modules


def test_import_tasks_is_the_package():
    import tasks
    from tasks import infra
    from tasks.lib import config

    assert Path(tasks.__file__) == TASKS / "__init__.py"
    assert Path(infra.__file__) == TASKS / "infra.py"
    assert config.PROJECT_ROOT == REPO


MODULE_FILES = (
    "import json, pkgutil, sys\n"
    "import tasks\n"
    "for info in pkgutil.walk_packages(tasks.__path__, 'tasks.'):\n"
    "    __import__(info.name)\n"
    "files = {n: m.__file__ for n, m in sys.modules.items() if n == 'tasks' or n.startswith('tasks.')}\n"
    "print('FILES', json.dumps(files))\n"
)


def _files(code: str) -> dict[str, str]:
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("FILES ")][-1]
    return json.loads(line[len("FILES ") :])


def test_inv_and_import_load_the_same_files():
    # As `inv` does: invoke's loader finds tasks.py, which becomes the package.
    via_inv = _files(
        "import sys\n"
        "import invoke.main\n"
        "invoke.main.program.run(['inv', '--list'], exit=False)\n"
        "entry = sys.modules['tasks']\n"
        "import tasks.infra\n"
        "assert sys.modules['tasks'] is entry and tasks is entry\n"
        "assert entry.ns.collections['infra'].name == 'infra'\n" + MODULE_FILES
    )
    via_import = _files(MODULE_FILES)
    assert Path(via_inv.pop("tasks")) == REPO / "tasks.py"
    assert Path(via_import.pop("tasks")) == TASKS / "__init__.py"
    assert via_inv == via_import
    assert KNOWN_TASK_MODULES <= set(via_import) and "tasks.lib.doctor" in via_import
    for name, file in via_import.items():
        assert Path(file).is_relative_to(TASKS), (name, file)


def test_list_loads_no_library_and_no_heavy_package():
    code = (
        "import sys\n"
        "import invoke.main\n"
        "try:\n"
        "    invoke.main.program.run(['inv', '--list'], exit=False)\n"
        "finally:\n"
        f"    heavy = sorted(m for m in sys.modules if m.split('.')[0] in {NOT_ON_LIST!r})\n"
        "    lib = sorted(m for m in sys.modules if m == 'tasks.lib' or m.startswith('tasks.lib.'))\n"
        "    print('HEAVY', heavy)\n"
        "    print('LIB', lib)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "dev.up" in out.stdout and "doctor" in out.stdout  # the listing really ran
    assert "HEAVY []" in out.stdout, out.stdout
    assert "LIB []" in out.stdout, out.stdout


# ------------------------------------------------------------- who imports whom


def test_the_scan_sees_every_task_module():
    assert KNOWN_TASK_MODULES <= set(task_modules()), sorted(task_modules())
    assert list(LIB.rglob("*.py")), "no library files found"


def test_the_library_imports_no_task_module():
    tasks_layer = set(task_modules())
    bad = []
    for path in sorted(LIB.rglob("*.py")):
        for line, name in imports(path):
            if any(within(name, t) for t in tasks_layer):
                bad.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    assert bad == [], "the library must never import a task module:\n" + "\n".join(bad)


def test_task_modules_import_the_library_only_inside_task_bodies():
    bad = []
    for path in [REPO / "tasks.py", TASKS / "__init__.py", *task_modules().values()]:
        for line, name in imports(path, top_level_only=True):
            if within(name, "tasks.lib"):
                bad.append(f"{path.relative_to(REPO)}:{line} imports {name} at module level")
    assert bad == [], "\n".join(bad)


def _is_task(fn: ast.FunctionDef) -> bool:
    return any(
        (isinstance(d, ast.Name) and d.id == "task") or (isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id == "task")
        for d in fn.decorator_list
    )


def library_calls(fn: ast.FunctionDef) -> list[str]:
    """The calls a task body makes into what it imported from tasks.lib."""
    names = {
        alias.asname or alias.name
        for node in ast.walk(fn)
        if isinstance(node, ast.ImportFrom) and node.module and within(node.module, "tasks.lib")
        for alias in node.names
    }
    calls = []
    for node in ast.walk(fn):
        if not isinstance(node, ast.Call):
            continue
        target = node.func.value if isinstance(node.func, ast.Attribute) else node.func
        if isinstance(target, ast.Name) and target.id in names:
            calls.append(ast.unparse(node.func))
    return calls


def test_each_task_body_makes_one_call_into_the_library():
    """A task is its definition and one call: the mechanism lives in the library, whole."""
    bad, seen = [], 0
    for path in task_modules().values():
        for fn in ast.parse(path.read_text(), str(path)).body:
            if isinstance(fn, ast.FunctionDef) and _is_task(fn):
                seen += 1
                calls = library_calls(fn)
                if len(calls) != 1:
                    bad.append(f"{path.relative_to(REPO)}:{fn.lineno} {fn.name} calls {calls or 'nothing'} in the library")
    from tasks.collection import ns

    assert seen == len(ns.task_names), f"the scan found {seen} tasks, inv has {len(ns.task_names)}"
    assert bad == [], "\n".join(bad)


def test_heavy_packages_have_one_home_each():
    importers: dict[str, set[str]] = {pkg: set() for pkg in HEAVY_HOMES}
    for path in [REPO / "tasks.py", *sorted(TASKS.rglob("*.py"))]:
        rel = path.relative_to(REPO).as_posix()
        for _, name in imports(path):
            top = name.split(".")[0]
            if top in importers:
                importers[top].add(rel)
    for pkg, home in HEAVY_HOMES.items():
        assert importers[pkg] <= {home}, f"{pkg} is imported outside {home}: {sorted(importers[pkg] - {home})}"
        if pkg in MUST_IMPORT:
            assert importers[pkg] == {home}, f"{home} does not import {pkg}"


def test_the_import_scan_resolves_what_it_must(tmp_path, monkeypatch):
    # The scanner itself: relative imports, `from tasks import x`, function bodies, TYPE_CHECKING.
    lib = tmp_path / "tasks" / "lib"
    lib.mkdir(parents=True)
    sample = lib / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "from .. import infra\n"
        "from ..doctor import doctor\n"
        "if TYPE_CHECKING:\n"
        "    import psycopg\n"
        "def f():\n"
        "    from tasks import dev\n"
        "    import importlib\n"
        "    importlib.import_module('tasks.db')\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    names = [n for _, n in imports(sample)]
    assert {"tasks.infra", "tasks.doctor", "tasks.dev", "tasks.db"} <= set(names)
    assert "psycopg" not in names
    top = [n for _, n in imports(sample, top_level_only=True)]
    assert "tasks.infra" in top and "tasks.dev" not in top and "tasks.db" not in top
