"""The engine found as the docker CLI finds it: DOCKER_HOST, DOCKER_CONTEXT, the current
context of config.json, the default socket. Real context folders in a temp DOCKER_CONFIG,
`inv` as a process, against the one engine this machine runs (reached through a context
whose socket is a symlink to it; no second engine is ever started)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from .conftest import assert_fails, container, missing

pytestmark = pytest.mark.integration

DOCKER_VARIABLES = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


def add_context(config_dir: Path, name: str, host: str) -> None:
    """A context as `docker context create NAME --docker host=HOST` stores it."""
    meta = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps({"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}})
    )


def use(config_dir: Path, name: str) -> None:
    """`docker context use NAME`."""
    (config_dir / "config.json").write_text(json.dumps({"auths": {}, "currentContext": name}))


class Contexts:
    """A DOCKER_CONFIG with two contexts: `fzlink` (a symlink to the engine's socket) and
    `fzgone` (a socket nobody listens on)."""

    def __init__(self, config_dir: Path, sockets: Path, engine_socket: str):
        self.config_dir = config_dir
        self.engine_socket = engine_socket
        self.link = sockets / "docker.sock"
        self.link.symlink_to(engine_socket)
        self.gone = sockets / "missing.sock"
        add_context(config_dir, "fzlink", f"unix://{self.link}")
        add_context(config_dir, "fzgone", f"unix://{self.gone}")

    def use(self, name: str) -> None:
        use(self.config_dir, name)


def engine_socket() -> str:
    """The unix socket of the engine the tests use (the suite's own resolution, in this process)."""
    from tasks.lib.docker import endpoint

    try:
        path = endpoint.resolve().socket
    except endpoint.EndpointError as e:
        missing(f"a Docker engine this test can resolve ({e})")
    if path is None or not Path(path).exists():
        missing("a Docker engine on a unix socket (the contexts here point at it through a symlink)")
    return str(path)


@pytest.fixture
def contexts(tmp_path, docker_client):
    # A unix socket path must stay under ~104 bytes: the symlink lives in a short folder.
    sockets = Path(tempfile.mkdtemp(prefix="fzctx", dir="/tmp"))
    try:
        yield Contexts(tmp_path / "docker-config", sockets, engine_socket())
    finally:
        shutil.rmtree(sockets, ignore_errors=True)


def isolate(project, contexts: Contexts) -> None:
    """The project's `inv` sees only our DOCKER_CONFIG: no inherited DOCKER_* variable."""
    for key in DOCKER_VARIABLES:
        project.env.pop(key, None)
    project.env["DOCKER_CONFIG"] = str(contexts.config_dir)
    # The container backend, named: with auto, an engine that does not answer means the
    # local cluster (test_local_backend.py), and these tests are about finding the engine.
    project.env["INVOKE_POSTGRES_BACKEND"] = "docker"


def table_row(stdout: str, key: str) -> str:
    """The value of ``key`` in a two-column table (infra.status)."""
    for line in stdout.splitlines():
        m = re.match(rf"^{re.escape(key)}\s{{2,}}(.*)$", line)
        if m:
            return m.group(1)
    raise AssertionError(f"no row {key!r} in:\n{stdout}")


def one_line_failure(proc, *texts: str) -> None:
    assert_fails(proc, *texts)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


SDK_PROBE = (
    "import sys\n"
    "import invoke.main\n"
    "try:\n"
    "    invoke.main.program.run(['inv', *sys.argv[1:]])\n"
    "finally:\n"
    "    print('SDK loaded:', 'docker' in sys.modules, file=sys.stderr)\n"
)


def inv_noting_the_sdk(project, *args: str):
    """`inv ARGS` as Project.inv runs it, telling on stderr whether the Docker SDK was loaded."""
    return subprocess.run(
        [sys.executable, "-c", SDK_PROBE, *args],
        cwd=project.root,
        env=project.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


# ------------------------------------------------------------ a context that works


def test_up_status_down_and_doctor_through_the_current_context(pg_project, docker_client, contexts):
    p, name = pg_project, pg_project.container_name
    isolate(p, contexts)
    contexts.use("fzlink")
    where = f"unix://{contexts.link} (context fzlink, from {contexts.config_dir}/config.json currentContext)"

    up = p.inv("infra.up", check=True)
    assert f"container {name} created" in up.stdout
    assert container(docker_client, name).status == "running"

    status = p.inv("infra.status", check=True)
    assert table_row(status.stdout, "engine") == where
    assert table_row(status.stdout, "state") == "running"

    doctor = p.inv("doctor", timeout=120)
    assert "Traceback" not in doctor.stdout + doctor.stderr
    row = next(ln for ln in doctor.stdout.splitlines() if ln.startswith("docker engine"))
    assert re.match(r"docker engine\s+ok\s+Docker \S+ at " + re.escape(where) + "$", row), row

    down = p.inv("infra.down", check=True)
    assert f"stopped container {name}; data kept" in down.stdout
    assert container(docker_client, name).status == "exited"


def test_the_warm_path_and_the_sdk_agree_on_the_context(pg_project, docker_client, contexts):
    # docker-py 7.2 alone would follow config.json's currentContext (fzgone, nobody there)
    # and ignore DOCKER_CONTEXT; the old warm path asked the default socket. Both must
    # follow DOCKER_CONTEXT to the same engine.
    p, name = pg_project, pg_project.container_name
    isolate(p, contexts)
    contexts.use("fzgone")
    p.env["DOCKER_CONTEXT"] = "fzlink"

    p.inv("infra.up", check=True)
    warm = inv_noting_the_sdk(p, "infra.up")
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert f"container {name} already running" in warm.stdout
    assert "SDK loaded: False" in warm.stderr, warm.stderr  # the stdlib warm path answered

    status = p.inv("infra.status", check=True)
    assert table_row(status.stdout, "engine") == f"unix://{contexts.link} (context fzlink, from DOCKER_CONTEXT)"

    down = p.inv("infra.down", check=True)  # the SDK, on the same engine
    assert f"stopped container {name}; data kept" in down.stdout
    assert container(docker_client, name).status == "exited"


def test_docker_host_wins_over_both_contexts(project, contexts):
    isolate(project, contexts)
    contexts.use("fzgone")
    project.env["DOCKER_CONTEXT"] = "fzgone"
    project.env["DOCKER_HOST"] = f"unix://{contexts.engine_socket}"
    proc = project.inv("infra.status", check=True)
    assert table_row(proc.stdout, "engine") == f"unix://{contexts.engine_socket} (DOCKER_HOST from the shell environment)"

    del project.env["DOCKER_HOST"]
    project.write_env(f"# the engine\nDOCKER_HOST=unix://{contexts.link}\n")
    proc = project.inv("infra.status", check=True)
    assert table_row(proc.stdout, "engine") == f"unix://{contexts.link} (DOCKER_HOST from .env line 2)"


def test_docker_context_wins_over_the_current_context_and_may_come_from_env_file(project, contexts):
    isolate(project, contexts)
    contexts.use("fzgone")
    project.write_env("DOCKER_CONTEXT=fzlink\n")
    proc = project.inv("infra.status", check=True)
    assert table_row(proc.stdout, "engine") == f"unix://{contexts.link} (context fzlink, from DOCKER_CONTEXT in .env line 1)"

    # The other way round: DOCKER_CONTEXT names the dead one, config.json the live one.
    contexts.use("fzlink")
    project.env["DOCKER_CONTEXT"] = "fzgone"
    proc = project.inv("infra.status")
    one_line_failure(proc, f"Docker engine not reachable at unix://{contexts.gone} (context fzgone, from DOCKER_CONTEXT)")


# ------------------------------------------------------------ contexts that do not work


def test_a_context_whose_socket_is_missing_is_one_line(project, contexts):
    isolate(project, contexts)
    project.env["DOCKER_CONTEXT"] = "fzgone"
    for task in ("infra.up", "infra.status", "infra.down"):
        proc = project.inv(task)
        one_line_failure(
            proc,
            f"Docker engine not reachable at unix://{contexts.gone} (context fzgone, from DOCKER_CONTEXT): No such file or directory",
            "start the engine context fzgone points at",
            "`docker context ls`",
        )

    doctor = project.inv("doctor", timeout=120)
    assert doctor.returncode == 1 and "Traceback" not in doctor.stdout + doctor.stderr
    row = next(ln for ln in doctor.stdout.splitlines() if ln.startswith("docker engine"))
    assert "FAIL" in row and f"not reachable at unix://{contexts.gone} (context fzgone, from DOCKER_CONTEXT)" in row


def test_an_unknown_context_names_where_it_came_from(project, contexts):
    isolate(project, contexts)
    project.env["DOCKER_CONTEXT"] = "colima"
    one_line_failure(
        project.inv("infra.up"),
        "Docker context colima (from DOCKER_CONTEXT) does not exist",
        "`docker context ls`",
        "unset DOCKER_CONTEXT",
    )

    del project.env["DOCKER_CONTEXT"]
    contexts.use("desktop-linux")
    one_line_failure(
        project.inv("infra.status"),
        f"Docker context desktop-linux (from {contexts.config_dir}/config.json currentContext) does not exist",
        "`docker context use default`",
    )
    doctor = project.inv("doctor", timeout=120)
    row = next(ln for ln in doctor.stdout.splitlines() if ln.startswith("docker engine"))
    assert "FAIL" in row and "Docker context desktop-linux" in row, doctor.stdout
    assert "fix: `docker context ls`" in doctor.stdout


def test_a_config_json_that_is_not_json_is_one_line(project, contexts):
    isolate(project, contexts)
    (contexts.config_dir / "config.json").write_text('{"currentContext": "fzlink",')
    one_line_failure(project.inv("infra.up"), f"{contexts.config_dir}/config.json is not valid JSON")


# ------------------------------------------------------------ auto remembers docker


def test_a_remembered_docker_backend_never_falls_back_to_a_local_cluster(pg_project, docker_client, contexts):
    # Docker Desktop not started yet, after a docker-backed up: one line, no local cluster made.
    p, name = pg_project, pg_project.container_name
    isolate(p, contexts)
    del p.env["INVOKE_POSTGRES_BACKEND"]  # auto
    contexts.use("fzlink")
    up = p.inv("infra.up", check=True)
    assert "postgres.backend=auto: docker from now on for this repository" in up.stdout
    contexts.use("fzgone")  # the engine is stopped, as far as this project can tell
    for task in ("dev.up", "infra.up"):
        proc = p.inv(task)
        assert_fails(
            proc,
            f"Docker engine not reachable at unix://{contexts.gone}",
            f"`inv infra.use local` to switch to a local cluster on purpose (this data stays in volume {name}-data)",
        )
        assert [ln for ln in proc.stderr.splitlines() if "Docker" in ln or "docker" in ln] == [proc.stderr.splitlines()[-1]]
        assert not (p.root / ".inv" / "postgres").exists(), proc.stdout
    # A repository used on Docker before the decision was remembered (steps ran, no local cluster): docker still.
    (p.root / ".inv" / "backend.json").unlink()
    (p.root / ".inv" / "fingerprints").mkdir(exist_ok=True)
    before = p.inv("infra.up")
    assert_fails(before, "Docker engine not reachable", "`inv infra.use local` to switch to a local cluster on purpose")
    assert not (p.root / ".inv" / "postgres").exists() and not (p.root / ".inv" / "backend.json").exists()
    contexts.use("fzlink")
    p.inv("infra.up", check=True)  # and remembered once it answers
    contexts.use("fzgone")
    status = p.inv("infra.status")
    assert "Docker engine not reachable" in status.stderr and "Traceback" not in status.stderr
    doctor = p.inv("doctor", timeout=120).stdout
    assert "postgres backend" in doctor and "docker (postgres.backend=auto: docker, remembered in .inv/backend.json" in doctor
    assert "or `inv infra.use local` (the container's data stays in its volume)" in doctor, doctor
    contexts.use("fzlink")
    assert "already running" in p.inv("infra.up", check=True).stdout
