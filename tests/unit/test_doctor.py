import sys
from types import SimpleNamespace

import pytest

from tasks.lib import doctor as health
from tasks.lib.database import Database
from tasks.lib.database.server import PostgresSpec
from tasks.lib.docker import ports
from tasks.lib.docker.service import Status
from tasks.lib.doctor import FAIL, OK, WARN, Row, render, tool_row
from tasks.lib.stack.backend import ContainerBackend


def test_tool_row_found_matching_and_mismatched():
    argv = [sys.executable, "-c", "print('shfmt v3.6.0')"]
    row = tool_row("shfmt", argv, {"shfmt": "3.9.0"}, False, "apt-get install shfmt")
    assert (row.status, row.detail) == (WARN, "3.6.0 (.tool-versions wants 3.9.0)")
    row = tool_row("shfmt", argv, {"shfmt": "3.6.0"}, False, "x")
    assert row.status == OK


def test_tool_row_missing_required_fails_with_fix():
    row = tool_row("elixir", ["fz-no-such-elixir"], {}, True, "install Elixir")
    assert (row.status, row.fix) == (FAIL, "install Elixir")


def test_erl_is_compared_with_erlang_entry():
    argv = [sys.executable, "-c", "print('25')"]
    row = tool_row("erl", argv, {"erlang": "27.3.4.1"}, True, "x")
    assert row.status == WARN and "27.3.4.1" in row.detail


def test_render_shows_fix_only_for_problems():
    text = render([Row("a", OK, "fine", "never shown"), Row("bb", FAIL, "broken", "do this")])
    assert "never shown" not in text
    assert text.splitlines()[-1].strip() == "fix: do this"


def test_env_rows_flag_live_key_and_remote_host(monkeypatch, tmp_path):
    monkeypatch.setattr(health, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_0123456789abcdefgh")
    monkeypatch.setenv("DATABASE_HOST", "db.example.com")
    rows = {r.check: r for r in health.env_rows()}
    assert rows["stripe key"].status == FAIL
    assert "0123456789" not in rows["stripe key"].detail
    assert rows["database host"].status == WARN
    assert rows[".env"].fix == "cp .env.example .env"


def test_env_rows_list_keys_missing_from_env(monkeypatch, tmp_path):
    monkeypatch.setattr(health, "PROJECT_ROOT", tmp_path)
    (tmp_path / ".env.example").write_text("DATABASE_PORT=5432\n# OPTIONAL=x\nFZ_DOCTOR_TEST_KEY=1\n")
    (tmp_path / ".env").write_text("DATABASE_PORT=5432\n")
    monkeypatch.setenv("DATABASE_PORT", "5432")
    monkeypatch.delenv("FZ_DOCTOR_TEST_KEY", raising=False)
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_HOST", raising=False)
    rows = {r.check: r for r in health.env_rows()}
    assert rows[".env"].status == WARN
    assert "FZ_DOCTOR_TEST_KEY" in rows[".env"].detail and "OPTIONAL" not in rows[".env"].detail


def test_unpinned_versions_are_not_compared():
    argv = [sys.executable, "-c", "print('3.6.0')"]
    assert tool_row("shfmt", argv, {"shfmt": "system"}, False, "x").status == OK


# --------------------------------------------------------------------------- the database port

SPEC = PostgresSpec(
    db=Database(host="localhost", port=5432, name="firezone_dev", user="postgres", password="postgres"),
    image="postgres:17",
    container="fz-pg",
    volume="fz-pg-data",
    data_dir="/var/lib/postgresql/data",
    command=("postgres",),
    host_ip="127.0.0.1",
)


def port_row(cl, spec, status) -> Row:
    return Row(*ContainerBackend(spec, "postgres.backend=docker")._port_row(cl, status))


def our_status(state, port=5432, ours=True):
    return Status(name="fz-pg", id="f" * 64, state=state, image="postgres:17", host_ip="127.0.0.1", host_port=port, health=None, ours=ours)


def client(*running):
    """A Docker client whose running containers are ``(name, host_port)`` pairs."""
    summaries = [
        {"Id": name * 4, "Names": ["/" + name], "Ports": [{"IP": "127.0.0.1", "PrivatePort": 5432, "PublicPort": port, "Type": "tcp"}]}
        for name, port in running
    ]
    return SimpleNamespace(api=SimpleNamespace(containers=lambda: summaries))


@pytest.fixture
def free(monkeypatch):
    """Whether the port binds; a local engine; the listening process's name."""
    state = {"free": True, "process": None}
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(ports, "port_is_free", lambda ip, port: state["free"])
    monkeypatch.setattr(ports, "port_holder_process", lambda port: state["process"])
    return state


def test_port_of_our_running_container_is_ok(free):
    free["free"] = False  # held by our own container's proxy
    row = port_row(client(("fz-pg", 5432)), SPEC, our_status("running"))
    assert (row.status, row.detail) == (OK, "127.0.0.1:5432 published by our container fz-pg (running)")


def test_port_free_for_our_stopped_container_is_ok(free):
    row = port_row(client(), SPEC, our_status("exited"))
    assert (row.status, row.detail) == (OK, "127.0.0.1:5432 free for our container fz-pg (exited)")


def test_another_container_holding_the_port_of_our_stopped_one_fails(free):
    free["free"] = False
    row = port_row(client(("someone-elses-db", 5432)), SPEC, our_status("exited"))
    assert row.status == FAIL
    assert row.detail == "127.0.0.1:5432 is taken by container someone-elses-db, so our container fz-pg (exited) cannot start"
    assert row.fix.startswith("`docker stop someone-elses-db`, or set DATABASE_PORT")


def test_a_process_holding_the_port_of_our_stopped_one_fails_naming_it(free):
    free.update(free=False, process="nc (pid 4242)")
    row = port_row(client(), SPEC, our_status("exited"))
    assert row.status == FAIL and "taken by another process, nc (pid 4242)" in row.detail
    assert row.fix.startswith("stop it, or set DATABASE_PORT")


def test_port_taken_without_our_container(free):
    free["free"] = False
    row = port_row(client(), SPEC, None)
    assert (row.status, row.detail) == (FAIL, "127.0.0.1:5432 is taken by another process")
    free["free"] = True
    assert port_row(client(), SPEC, None).detail == "127.0.0.1:5432 free"


def test_a_foreign_container_with_our_name_is_counted(free):
    row = port_row(client(("fz-pg", 5432)), SPEC, our_status("running", ours=False))
    assert row.status == FAIL and "container fz-pg" in row.detail


def test_our_container_on_another_port_does_not_vouch_for_this_one(free):
    free["free"] = False
    row = port_row(client(("other", 5432)), SPEC, our_status("running", port=6000))
    assert row.status == FAIL and "container other" in row.detail


def test_an_engine_error_while_looking_falls_back_to_binding(free, monkeypatch):
    def broken(*args):
        raise RuntimeError("engine hiccup")

    monkeypatch.setattr(ports, "holder", broken)
    free["free"] = False
    assert port_row(client(), SPEC, our_status("exited")).status == FAIL
    free["free"] = True
    assert port_row(client(), SPEC, our_status("exited")).status == OK
