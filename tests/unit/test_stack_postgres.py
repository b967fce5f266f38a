"""infra.* and tasks/lib/stack/postgres.py: how they compose the container and readiness (no engine, no Postgres)."""

from __future__ import annotations

import inspect
import io

import pytest
from invoke import Exit, MockContext

from tasks import infra
from tasks.lib.postgres import container as containers, readiness
from tasks.lib.postgres.attrs import Status
from tasks.lib.stack import postgres


def context(dry=False, **postgres):
    c = MockContext()
    c.config.load_collection(infra.ns.configuration())
    for key, value in postgres.items():
        c.config.postgres[key] = value
    c.config.run.dry = dry
    return c


def status(action="created", state="running", ours=True):
    return Status(
        name="firezone-dev-postgres", id="a" * 64, state=state, image="postgres:17",
        host_ip="127.0.0.1", host_port=5432, health=None, ours=ours, action=action,
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
    monkeypatch.setattr(readiness, "wait_ready", record("wait_ready", 0.42))
    monkeypatch.setattr(readiness, "probe", record("probe", None))
    for key in ("DATABASE_HOST", "DATABASE_PORT", "DATABASE_USER", "DATABASE_PASSWORD", "DATABASE_NAME"):
        monkeypatch.delenv(key, raising=False)
    return log


def names(log):
    return [name for name, _, _ in log]


def test_up_starts_then_waits_with_configured_timing_and_prints_one_line(calls, capsys):
    infra.up(context(ready_timeout=7, poll_interval=0.02))
    assert names(calls) == ["ensure_running", "wait_ready"]
    _, args, kwargs = calls[1]
    assert args[0].port == 5432 and args[0].host == "localhost"
    assert kwargs["timeout"] == 7.0 and kwargs["interval"] == 0.02
    assert callable(kwargs["logs"]) and callable(kwargs["alive"])
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


def test_ensure_started_and_wait_until_ready_are_separate(calls):
    c = context()
    assert postgres.ensure_started(c).action == "created"
    assert names(calls) == ["ensure_running"]
    assert postgres.wait_until_ready(c) == 0.42
    assert names(calls) == ["ensure_running", "wait_ready"]


def test_ensure_started_under_dry_returns_a_planned_status(calls):
    st = postgres.ensure_started(context(dry=True))
    assert st.action == "planned" and st.state == "absent" and st.host_port == 5432
    assert "ensure_running" not in names(calls)


def test_warns_once_about_values_the_portal_replication_cannot_use(calls, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_PORT", "6543")
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


def test_down_under_dry_changes_nothing(calls, capsys, monkeypatch):
    monkeypatch.setattr(containers, "inspect", lambda spec: status())
    infra.down(context(dry=True))
    assert "stop" not in names(calls)
    assert "[dry] would stop container firezone-dev-postgres" in capsys.readouterr().out


def test_destroy_with_yes_removes(calls, capsys):
    infra.destroy(context(), yes=True)
    assert names(calls) == ["inspect", "remove"]
    assert calls[1][2] == {"volume": True}


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
    assert "[dry] would remove container firezone-dev-postgres and volume firezone-dev-postgres-data" in capsys.readouterr().out


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
    monkeypatch.setattr(readiness, "probe", lambda db: "connection refused")
    infra.status(context())
    out = capsys.readouterr().out
    assert "does not exist (`inv infra.up` creates it)" in out
    assert "does not answer at localhost:5432 (firezone_dev as postgres): connection refused" in out


def test_logs_passes_tail_and_follow(monkeypatch, capsys):
    seen = {}

    def read_logs(spec, tail, follow=False):
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
