"""infra.* and tasks/lib/stack/postgres.py: how they compose the container and readiness (no engine, no Postgres)."""

from __future__ import annotations

import inspect
import io
from pathlib import Path

import pytest
from invoke import Exit, MockContext

from tasks import infra
from tasks.lib import readiness as loop
from tasks.lib import vault as vault_container
from tasks.lib.database import handshake as readiness
from tasks.lib.database import template
from tasks.lib.docker import service as containers
from tasks.lib.docker.service import Status
from tasks.lib.stack import backend, bump, postgres

PROJECT_STATE = Path("/nonexistent/fzdev-unit-state")  # never made: destroy's record clean-up finds nothing


def context(dry=False, **postgres):
    c = MockContext()
    c.config.load_collection(infra.ns.configuration())
    c.config.dev = {"state_dir": str(PROJECT_STATE)}
    postgres.setdefault("backend", "docker")  # the local backend: test_pglocal.py
    for key, value in postgres.items():
        c.config.postgres[key] = value
    c.config.run.dry = dry
    return c


def status(action="created", state="running", ours=True):
    return Status(
        name="firezone-dev-postgres",
        id="a" * 64,
        state=state,
        image="postgres:17",
        host_ip="127.0.0.1",
        host_port=5432,
        health=None,
        ours=ours,
        action=action,
    )


@pytest.fixture
def calls(monkeypatch):
    """Record every call into containers/readiness; nothing reaches an engine or a database."""
    log = []

    def record(name, result=None):
        def fn(*args, **kwargs):
            log.append((name, args, kwargs))
            return result(*args, **kwargs) if callable(result) else result

        return fn

    monkeypatch.setattr(containers, "ensure_running", record("ensure_running", lambda spec: status()))
    monkeypatch.setattr(containers, "inspect", record("inspect", None))
    monkeypatch.setattr(containers, "plan", record("plan", "would create container firezone-dev-postgres from image postgres:17"))
    monkeypatch.setattr(containers, "stop", record("stop", "stopped container firezone-dev-postgres"))
    monkeypatch.setattr(containers, "remove", record("remove", ["removed container x", "removed volume y"]))
    monkeypatch.setattr(loop, "wait", record("wait_ready", 0.42))
    # What the container backend asks the engine before and after its start: the take-over, the bump, the reopen.
    monkeypatch.setattr(backend.ContainerBackend, "take_over", lambda self, dry=False: None)
    monkeypatch.setattr(bump, "refuse", lambda spec, probe=True: None)
    monkeypatch.setattr(template, "reopen", lambda db, busy=None: False)
    monkeypatch.setattr(readiness, "probe", record("probe", None))
    monkeypatch.setattr(readiness, "handshake", record("handshake", readiness.Handshake(None, "postgres", True)))
    for key in ("DATABASE_HOST", "DATABASE_PORT", "DATABASE_USER", "DATABASE_PASSWORD", "DATABASE_NAME"):
        monkeypatch.delenv(key, raising=False)
    # The Vault container's share of infra.down/destroy/status (tests/unit/test_vault.py).
    monkeypatch.setattr(vault_container, "stop", lambda spec, dry, remove=False: None)
    monkeypatch.setattr(vault_container, "status_row", lambda s: ("vault", "absent"))
    return log


def names(log):
    return [name for name, _, _ in log]


def test_up_starts_then_waits_with_configured_timing_and_prints_one_line(calls, capsys):
    infra.up(context(ready_timeout=7, poll_interval=0.02))
    assert names(calls) == ["ensure_running", "wait_ready"]
    _, args, kwargs = calls[1]
    target, timeout, interval = args
    assert target.what == "Postgres at localhost:5432" and callable(target.logs) and callable(target.alive)
    assert (timeout, interval) == (7.0, 0.02) and kwargs["cancelled"] is None
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Postgres ready at localhost:5432 (container firezone-dev-postgres created")
    assert " s (handshake after 0.42 s" in lines[0]
    assert out.err == ""


def test_bring_up_under_dry_only_prints_the_plan(calls, capsys):
    db = postgres.bring_up(context(dry=True))
    assert "ensure_running" not in names(calls) and "wait_ready" not in names(calls)
    assert db.port == 5432
    out = capsys.readouterr().out
    assert "[dry] would create container firezone-dev-postgres" in out
    assert "[dry] would wait up to 60 s for Postgres at localhost:5432" in out


def test_warns_once_about_values_the_portal_replication_cannot_use(calls, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_PORT", "6543")
    # A contract-era portal, whose config hard-wires the replication connections.
    from tasks.lib import config

    fact = type("Fact", (), {"value": True})()
    real = config.Settings.repository
    monkeypatch.setattr(
        config.Settings,
        "repository",
        lambda st: type("Repo", (), {"replication_hardwired": fact, "__getattr__": lambda s, k: getattr(real(st), k)})(),
    )
    infra.up(context())
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: DATABASE_PORT=6543")


def test_refuses_a_remote_database_host(calls, monkeypatch):
    monkeypatch.setenv("DATABASE_HOST", "db.example.com")
    with pytest.raises(Exit) as e:
        infra.up(context())
    assert "DATABASE_HOST=db.example.com" in e.value.message and "is not a local address" in e.value.message
    assert calls == []


def test_down_stops(calls, capsys):
    infra.down(context())
    assert names(calls) == ["stop"]
    assert "stopped container" in capsys.readouterr().out


def test_down_under_dry_asks_for_the_plan_only(calls, capsys, monkeypatch):
    monkeypatch.setattr(containers, "stop", lambda svc, dry: f"would stop container {svc.name}" if dry else pytest.fail("stopped"))
    infra.down(context(dry=True))
    assert "[dry] would stop container firezone-dev-postgres" in capsys.readouterr().out


def test_destroy_with_yes_removes(calls, capsys):
    infra.destroy(context(), yes=True)
    assert names(calls) == ["inspect", "remove"]


def test_destroy_without_a_terminal_refuses(calls, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(Exit) as e:
        infra.destroy(context())
    assert "no terminal" in e.value.message and "--yes" in e.value.message
    assert "remove" not in names(calls)


class TTY(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("answer, removed", [("y\n", True), ("yes\n", True), ("n\n", False), ("\n", False)])
def test_destroy_asks_on_a_terminal(calls, monkeypatch, answer, removed):
    monkeypatch.setattr("sys.stdin", TTY(answer))
    if removed:
        infra.destroy(context())
    else:
        with pytest.raises(Exit, match="not removed"):
            infra.destroy(context())
    assert ("remove" in names(calls)) is removed


def test_destroy_refuses_a_container_that_is_not_ours(calls, monkeypatch):
    monkeypatch.setattr(containers, "inspect", lambda spec: status(ours=False))
    with pytest.raises(Exit, match="not created by inv"):
        infra.destroy(context(), yes=True)
    assert "remove" not in names(calls)


def test_destroy_under_dry_removes_nothing(calls, capsys):
    infra.destroy(context(dry=True), yes=True)
    assert "remove" not in names(calls)
    assert "[dry] would remove container firezone-dev-postgres-" in capsys.readouterr().out


def test_status_table(calls, capsys, monkeypatch):
    monkeypatch.setattr(containers, "inspect", lambda spec: status(action=""))
    infra.status(context())
    out = capsys.readouterr().out
    assert "state      running" in out
    assert "port       127.0.0.1:5432" in out
    assert "image      postgres:17" in out
    assert "health     no healthcheck" in out
    assert "database   answers at localhost:5432 (firezone_dev as postgres)" in out


def test_status_without_container_and_database(calls, capsys, monkeypatch):
    monkeypatch.setattr(readiness, "handshake", lambda db: readiness.Handshake("connection refused", "postgres"))
    infra.status(context())
    out = capsys.readouterr().out
    assert "does not exist (`inv infra.up` creates it)" in out
    assert "does not answer at localhost:5432 (firezone_dev as postgres): connection refused" in out


def test_status_with_the_dev_database_dropped_says_the_server_answers(calls, capsys, monkeypatch):
    monkeypatch.setattr(containers, "inspect", lambda spec: status(action=""))
    monkeypatch.setattr(readiness, "handshake", lambda db: readiness.Handshake(None, "postgres", False))
    infra.status(context())
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if ln.startswith("database"))
    assert "the server answers at localhost:5432 (as postgres), but database firezone_dev does not exist" in row
    assert "not seeded" in row and "`inv dev.up` or `inv db.seed`" in row
    assert "does not answer" not in out


def test_dev_status_with_the_dev_database_dropped(calls, monkeypatch):
    from tasks.lib.database import seeding
    from tasks.lib.stack import status as dev_status

    monkeypatch.setattr(readiness, "handshake", lambda db: readiness.Handshake(None, "postgres", False))
    monkeypatch.setattr(seeding, "read_marker", lambda db: pytest.fail("no marker to read in a missing database"))
    rows = dict(dev_status.database_rows(Path(".inv"), running=True))
    assert rows["database"] == "postgres@localhost:5432/firezone_dev: does not exist (the server answers)"
    assert rows["seeded"] == "no: the database does not exist (inv dev.up or inv db.seed creates and seeds it)"


def test_dev_status_when_the_server_does_not_answer(calls, monkeypatch):
    from tasks.lib.stack import status as dev_status

    monkeypatch.setattr(readiness, "handshake", lambda db: readiness.Handshake("connection refused", "postgres"))
    assert dev_status.database_rows(Path(".inv"), running=True) == [
        ("database", "postgres@localhost:5432/firezone_dev: not answering (connection refused)")
    ]


def test_bring_up_threads_cancelled_into_the_wait(calls):
    flag = {"stop": False}

    def cancelled():
        return flag["stop"]

    postgres.bring_up(context(), cancelled=cancelled)
    assert names(calls) == ["ensure_running", "wait_ready"]
    assert calls[1][2]["cancelled"] is cancelled


def test_bring_up_already_cancelled_touches_nothing(calls):
    with pytest.raises(loop.Cancelled, match="stopped waiting for Postgres"):
        postgres.bring_up(context(), cancelled=lambda: True)
    assert calls == []


def test_bring_up_raises_cancelled_from_the_real_wait(calls, monkeypatch):
    """The real wait (not the recorder) stops at the poll after cancelled() turns True."""
    polls = []

    def fake_probe(db):
        polls.append(1)
        return "connection refused"

    monkeypatch.undo()  # the real loop, not the recorder
    monkeypatch.setattr(readiness, "probe", fake_probe)
    monkeypatch.setattr(containers, "alive", lambda svc: None)
    monkeypatch.setattr(containers, "ensure_running", lambda svc: status())
    for key in ("DATABASE_HOST", "DATABASE_PORT", "DATABASE_USER", "DATABASE_PASSWORD", "DATABASE_NAME"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(loop.Cancelled):
        postgres.bring_up(context(poll_interval=0.001), cancelled=lambda: len(polls) >= 3)
    assert len(polls) == 3


def test_logs_passes_tail_and_follow(monkeypatch, capsys):
    seen = {}

    def read_logs(svc, tail, follow=False):
        seen.update(tail=tail, follow=follow)
        yield "line 1\nline 2"

    monkeypatch.setattr(containers, "read_logs", read_logs)
    infra.logs(context(), tail="5")
    assert seen == {"tail": 5, "follow": False}
    assert capsys.readouterr().out == "line 1\nline 2\n"


def test_every_task_has_a_docstring_and_help():
    for name in ("up", "down", "destroy", "status", "logs"):
        t = infra.ns[name]
        assert t.__doc__ and t.__doc__.strip().splitlines()[0].endswith(".")
        params = [p for p in inspect.signature(t.body).parameters if p != "c"]
        assert sorted(t.help) == sorted(params), name


def test_dev_status_shows_a_failed_reset_beside_the_marker_and_drops_a_record_of_another_cluster(calls, monkeypatch, tmp_path):
    from tasks.lib import state
    from tasks.lib.database import Database, seeding
    from tasks.lib.stack import seed
    from tasks.lib.stack import status as dev_status

    monkeypatch.setattr(readiness, "handshake", lambda db: readiness.Handshake(None, "postgres", True))
    monkeypatch.setattr(seeding, "read_marker", lambda db: seeding.make_marker(False, now=0))
    monkeypatch.setattr(seeding, "cluster_id", lambda db: "7001")
    monkeypatch.setattr("tasks.lib.database.locks.busy", lambda db: None)
    db = Database("localhost", 5432, "firezone_dev", "postgres", "postgres")
    path = seed._record_path(tmp_path, db)
    state.write_json(path, {**seeding.start_record("reset", now=0, cluster="7001"), "failed": 1})
    seeded = dict(dev_status.database_rows(tmp_path, running=True))["seeded"]
    assert seeded.startswith("yes, on 1970-01-01 00:00 UTC (static seeds: no); but the reset of ") and "failed (exit code 1)" in seeded
    state.write_json(path, {**seeding.start_record("seed", now=0, cluster="6999")})  # a volume since destroyed
    assert seed.unfinished(tmp_path, db) is None and not path.exists()
