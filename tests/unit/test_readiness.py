"""tasks/lib/readiness.py (the wait loop on a fake clock) with Postgres's target (database/handshake.py), and the probe against local sockets."""

from __future__ import annotations

import socket
import threading

import pytest
from invoke import Exit

from tasks.lib import readiness as loop
from tasks.lib.database import Database, sql
from tasks.lib.database import handshake as readiness

DB = Database(host="localhost", port=5432, name="firezone_dev", user="postgres", password="postgres")

REFUSED = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused Is the server running?'
CLOSED = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: server closed the connection unexpectedly'
STARTING = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system is starting up'
BAD_PASSWORD = (
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "postgres"'
)


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedProbe:
    """Returns the scripted results in order (the last one forever); each probe costs ``cost`` s."""

    def __init__(self, clock: FakeClock, results, cost: float = 0.0):
        self.clock = clock
        self.results = list(results)
        self.cost = cost
        self.calls = 0

    def __call__(self, db):
        self.calls += 1
        self.clock.now += self.cost
        return self.results.pop(0) if len(self.results) > 1 else self.results[0]


def wait_ready(
    db,
    timeout=60.0,
    interval=0.05,
    logs=None,
    *,
    probe=None,
    alive=None,
    diagnose=None,
    container="",
    cancelled=None,
    clock,
    sleep,
):
    server = readiness.Server(
        logs=logs or (lambda: ""),
        alive=alive or (lambda: None),
        diagnose=diagnose or (lambda error, tail: None),
        stopped_hint="the container stopped: the log lines below say why",
        log_source="the container",
        container=container,
    )
    target = readiness.target(db, server, probe)
    return loop.wait(target, timeout, interval, cancelled=cancelled, clock=clock, sleep=sleep)


def wait(clock, probe, **kw):
    kw.setdefault("timeout", 5.0)
    kw.setdefault("interval", 0.05)
    return wait_ready(DB, probe=probe, clock=clock, sleep=clock.sleep, **kw)


def test_ready_at_once_waits_nothing():
    clock = FakeClock()
    assert wait(clock, ScriptedProbe(clock, [None])) == 0.0
    assert clock.sleeps == []


def test_retries_transient_errors_at_the_poll_interval():
    clock = FakeClock()
    probe = ScriptedProbe(clock, [REFUSED, CLOSED, CLOSED, STARTING, None], cost=0.002)
    waited = wait(clock, probe)
    assert probe.calls == 5
    assert clock.sleeps == [0.05] * 4
    assert waited == pytest.approx(4 * 0.05 + 5 * 0.002)


def test_default_interval_is_fast():
    clock = FakeClock()
    probe = ScriptedProbe(clock, [REFUSED, None])
    wait_ready(DB, probe=probe, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == [0.05]


def test_timeout_carries_last_error_logs_and_hint():
    clock = FakeClock()
    probe = ScriptedProbe(clock, [REFUSED, STARTING])
    with pytest.raises(Exit) as e:
        wait(clock, probe, timeout=1.0, logs=lambda: "LOG: line one\nLOG: line two")
    msg = e.value.message
    first = msg.splitlines()[0]
    assert "did not answer within 1 s" in first and "the database system is starting up" in first
    assert "postgres.ready_timeout" in first
    assert "Last log lines of the container:\n  LOG: line one\n  LOG: line two" in msg
    # polled up to the deadline, with one last try exactly at it
    assert clock.now == pytest.approx(101.0)
    assert probe.calls == 21


def test_non_transient_error_fails_at_once_with_the_password_hint():
    clock = FakeClock()
    probe = ScriptedProbe(clock, [CLOSED, BAD_PASSWORD])
    with pytest.raises(Exit) as e:
        wait(clock, probe, logs=lambda: "FATAL: password authentication failed")
    msg = e.value.message
    assert "password authentication failed" in msg
    assert "DATABASE_PASSWORD" in msg and "inv infra.destroy" in msg
    assert probe.calls == 2 and clock.sleeps == [0.05]


def test_stopped_container_ends_the_wait_early():
    clock = FakeClock()
    probe = ScriptedProbe(clock, [REFUSED])
    states = iter([None, "container fz-pg stopped (exited)"])
    with pytest.raises(Exit) as e:
        wait(clock, probe, timeout=60, alive=lambda: next(states), logs=lambda: "FATAL: bad setting")
    assert "container fz-pg stopped (exited)" in e.value.message
    assert "Fix: the container stopped" in e.value.message
    assert "FATAL: bad setting" in e.value.message
    assert clock.now - 100.0 < 1.5


def test_logs_and_message_are_masked():
    db = Database(host="localhost", port=5432, name="firezone_dev", user="postgres", password="very-secret-pw")
    clock = FakeClock()
    with pytest.raises(Exit) as e:
        wait_ready(
            db,
            timeout=0.1,
            probe=lambda d: "refused very-secret-pw",
            clock=clock,
            sleep=clock.sleep,
            logs=lambda: "password=very-secret-pw",
        )
    assert "very-secret-pw" not in e.value.message


def test_failing_logs_callable_does_not_hide_the_error():
    clock = FakeClock()

    def broken():
        raise RuntimeError("engine gone")

    with pytest.raises(Exit) as e:
        wait(clock, lambda d: REFUSED, timeout=0.1, logs=broken)
    assert "Connection refused" in e.value.message


@pytest.mark.parametrize(
    "error, transient",
    [
        (REFUSED, True),
        (CLOSED, True),
        (STARTING, True),
        ("connection timeout expired", True),
        (BAD_PASSWORD, False),
        ('FATAL:  database "firezone_dev" does not exist', False),
        ('FATAL:  role "me" does not exist', False),
        ('could not translate host name "nope" to address', False),
    ],
)
def test_is_transient(error, transient):
    assert readiness.is_transient(error) is transient


def test_one_line_takes_the_last_attempt():
    text = (
        "Multiple connection attempts failed. All failures were:\n"
        "- host: 'localhost', port: 5432, hostaddr: '::1': connection failed: Connection refused\n"
        "\tIs the server running?\n"
        "- host: 'localhost', port: 5432, hostaddr: '127.0.0.1': connection failed: server closed the connection"
    )
    assert sql.one_line(text) == ("host: 'localhost', port: 5432, hostaddr: '127.0.0.1': connection failed: server closed the connection")
    assert sql.one_line("a\n\tb  c\n") == "a b c"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_probe_reports_a_refused_connection():
    db = Database(host="127.0.0.1", port=_free_port(), name="x", user="postgres", password="postgres")
    error = readiness.probe(db)
    assert error is not None and "refused" in error.lower()
    assert "\n" not in error


def test_a_tcp_accept_alone_is_not_ready():
    """Docker's port proxy accepts before Postgres is up: that must not count."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def accept_and_close():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.close()

    thread = threading.Thread(target=accept_and_close, daemon=True)
    thread.start()
    try:
        db = Database(host="127.0.0.1", port=server.getsockname()[1], name="x", user="postgres", password="postgres")
        error = readiness.probe(db)
    finally:
        stop.set()
        thread.join()
        server.close()
    assert error is not None
    assert readiness.is_transient(error)


# --------------------------------------------------------------------------- the maintenance database


NO_POSTGRES_DB = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "postgres" does not exist'
NO_CONNECT = (
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  permission denied for database'
    ' "postgres" DETAIL: User does not have CONNECT privilege.'
)
NO_DEV_DB = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "firezone_dev" does not exist'
NO_ROLE = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  role "me" does not exist'


class FakeServer:
    """sql.database_exists / sql.select_one as a server with some databases and rights."""

    def __init__(self, monkeypatch, databases=("postgres", "firezone_dev"), maintenance_error=None, error=None, dev_error=None):
        self.databases = set(databases)
        self.maintenance_error = maintenance_error
        self.dev_error = dev_error
        self.error = error
        self.calls: list[tuple[str, str]] = []
        monkeypatch.setattr(sql, "database_exists", self.database_exists)
        monkeypatch.setattr(sql, "select_one", self.select_one)

    def _connect(self, dbname):
        if self.error:
            raise sql.Unreachable(self.error, dbname)
        if dbname == sql.MAINTENANCE_DB and self.maintenance_error:
            raise sql.Unreachable(self.maintenance_error, dbname)
        if dbname != sql.MAINTENANCE_DB and self.dev_error:
            raise sql.Unreachable(self.dev_error, dbname)
        if dbname not in self.databases:
            raise sql.Unreachable(f'connection failed: FATAL:  database "{dbname}" does not exist', dbname)

    def database_exists(self, db, dbname, connect_timeout=2):
        self.calls.append(("database_exists", dbname))
        self._connect(dbname)
        return db.name in self.databases

    def select_one(self, db, dbname=None, connect_timeout=2):
        self.calls.append(("select_one", dbname or db.name))
        self._connect(dbname or db.name)


def test_handshake_is_made_on_the_maintenance_database(monkeypatch):
    server = FakeServer(monkeypatch)
    assert readiness.handshake(DB) == readiness.Handshake(None, "postgres", True)
    assert server.calls == [("database_exists", "postgres")]
    assert readiness.probe(DB) is None


def test_a_dropped_dev_database_is_ready_and_not_seeded(monkeypatch):
    server = FakeServer(monkeypatch, databases=("postgres",))
    answer = readiness.handshake(DB)
    assert answer.error is None and answer.database_exists is False
    assert server.calls == [("database_exists", "postgres")]
    clock = FakeClock()
    assert wait_ready(DB, clock=clock, sleep=clock.sleep) == 0.0


@pytest.mark.parametrize("refusal", [NO_POSTGRES_DB, NO_CONNECT])
def test_without_the_maintenance_database_the_dev_database_is_tried_once(monkeypatch, refusal):
    server = FakeServer(monkeypatch, maintenance_error=refusal)
    assert readiness.handshake(DB) == readiness.Handshake(None, "firezone_dev", True)
    assert server.calls == [("database_exists", "postgres"), ("select_one", "firezone_dev")]


def test_without_either_database_the_server_still_answered(monkeypatch):
    """'database does not exist' comes after authentication: the server is up."""
    FakeServer(monkeypatch, databases=(), maintenance_error=NO_POSTGRES_DB)
    assert readiness.handshake(DB) == readiness.Handshake(None, "firezone_dev", False)


def test_no_connect_right_on_either_database_fails_at_once(monkeypatch):
    FakeServer(monkeypatch, maintenance_error=NO_CONNECT, dev_error=NO_CONNECT.replace('"postgres"', '"firezone_dev"'))
    clock = FakeClock()
    with pytest.raises(Exit) as e:
        wait_ready(DB, clock=clock, sleep=clock.sleep)
    assert "permission denied" in e.value.message and "grant it CONNECT" in e.value.message
    assert clock.sleeps == []


@pytest.mark.parametrize("error", [REFUSED, BAD_PASSWORD, NO_ROLE])
def test_other_refusals_are_not_retried_on_the_dev_database(monkeypatch, error):
    server = FakeServer(monkeypatch, error=error)
    assert readiness.handshake(DB) == readiness.Handshake(error, "postgres")
    assert server.calls == [("database_exists", "postgres")]


def test_role_hint_names_the_user():
    text = readiness.hint(NO_ROLE, DB)
    assert "DATABASE_USER than postgres" in text and "inv infra.destroy" in text


def test_database_exists_against_a_real_closed_port():
    db = Database(host="127.0.0.1", port=_free_port(), name="x", user="postgres", password="postgres")
    with pytest.raises(sql.Unreachable, match="(?i)refused"):
        sql.database_exists(db, sql.MAINTENANCE_DB)


def test_maintenance_refused_and_database_missing():
    def refused(error):
        return sql.Unreachable(error, "postgres").no_access

    assert refused(NO_POSTGRES_DB) and refused(NO_CONNECT)
    assert not refused(NO_DEV_DB) and not refused(NO_ROLE) and not refused(REFUSED)
    assert sql.Unreachable(NO_DEV_DB, "firezone_dev").missing
    assert not sql.Unreachable(NO_DEV_DB, "other").missing and not sql.Unreachable(NO_ROLE, "me").missing


# --------------------------------------------------------------------------- cancelled


def test_cancelled_stops_the_wait_at_the_next_poll():
    clock = FakeClock()
    probe = ScriptedProbe(clock, [REFUSED])
    asked = []

    def cancelled():
        asked.append(clock.now)
        return len(asked) > 3

    with pytest.raises(loop.Cancelled) as e:
        wait(clock, probe, timeout=60, cancelled=cancelled)
    assert str(e.value) == "stopped waiting for Postgres"
    assert isinstance(e.value, Exception) and not isinstance(e.value, Exit)
    assert probe.calls == 3  # asked before every probe
    assert clock.now - 100.0 < 0.2


def test_cancelled_before_the_first_probe_probes_nothing():
    clock = FakeClock()
    probe = ScriptedProbe(clock, [None])
    with pytest.raises(loop.Cancelled):
        wait(clock, probe, cancelled=lambda: True)
    assert probe.calls == 0


def test_never_cancelled_changes_nothing():
    clock = FakeClock()
    probe = ScriptedProbe(clock, [REFUSED, None])
    assert wait(clock, probe, cancelled=lambda: False) == pytest.approx(0.05)


# --------------------------------------------------------------------------- a network in the way

READY_LOG = """\
2025-01-01 10:00:00.000 UTC [1] LOG:  starting PostgreSQL 15.10 (Debian 15.10-0+deb12u1) on x86_64-pc-linux-gnu
2025-01-01 10:00:00.001 UTC [1] LOG:  listening on IPv4 address "0.0.0.0", port 5432
2025-01-01 10:00:00.001 UTC [1] LOG:  listening on IPv6 address "::", port 5432
2025-01-01 10:00:00.002 UTC [1] LOG:  listening on Unix socket "/var/run/postgresql/.s.PGSQL.5432"
2025-01-01 10:00:00.010 UTC [1] LOG:  database system is ready to accept connections"""

# The official image's first-run init server: ready, but on its socket only.
INIT_SERVER_LOG = """\
2025-01-01 10:00:00.000 UTC [48] LOG:  starting PostgreSQL 17.2 (Debian 17.2-1.pgdg120+1) on x86_64-pc-linux-gnu
2025-01-01 10:00:00.002 UTC [48] LOG:  listening on Unix socket "/var/run/postgresql/.s.PGSQL.5432"
2025-01-01 10:00:00.010 UTC [48] LOG:  database system is ready to accept connections"""

NO_ROUTE = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: No route to host Is the server running on that host and accepting TCP/IP connections?'
UNREACHABLE = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: Network is unreachable'


def test_log_says_ready_only_for_the_latest_tcp_start():
    assert readiness.log_says_ready(READY_LOG)
    assert not readiness.log_says_ready(INIT_SERVER_LOG)
    assert not readiness.log_says_ready("")
    stopped = READY_LOG + "\n2025-01-01 10:00:09.000 UTC [1] LOG:  database system is shut down"
    assert not readiness.log_says_ready(stopped)
    restarted = stopped + "\n" + READY_LOG
    assert readiness.log_says_ready(restarted)
    assert not readiness.log_says_ready(READY_LOG + "\n" + INIT_SERVER_LOG)


@pytest.mark.parametrize("error, words", [(NO_ROUTE, "No route to host"), (UNREACHABLE, "Network is unreachable")])
def test_timeout_with_a_ready_log_names_the_network_not_the_start(error, words):
    clock = FakeClock()
    with pytest.raises(Exit) as e:
        wait(clock, lambda d: error, timeout=1.0, logs=lambda: READY_LOG, container="fz-pg")
    first = e.value.message.splitlines()[0]
    assert "did not finish starting" not in first
    assert "Postgres is up inside container fz-pg (its log says ready)" in first
    assert f"localhost:5432 cannot be reached ({words})" in first
    assert "`docker port fz-pg`" in first and "firewall" in first


def test_a_network_error_without_a_ready_log_is_still_named():
    text = readiness.hint(NO_ROUTE, DB, INIT_SERVER_LOG, "fz-pg")
    assert "localhost:5432 cannot be reached (No route to host)" in text and "did not finish starting" not in text


def test_refused_while_the_log_says_ready_points_at_publishing():
    text = readiness.hint(REFUSED, DB, READY_LOG, "fz-pg")
    assert "its log says ready" in text and "Connection refused" in text


def test_refused_without_a_ready_log_is_still_starting():
    assert "did not finish starting" in readiness.hint(REFUSED, DB, INIT_SERVER_LOG, "fz-pg")


# --------------------------------------------------------------------------- diagnose


def test_diagnose_replaces_the_hint_and_sees_error_and_logs():
    clock = FakeClock()
    seen = []

    def diagnose(error, log_text):
        seen.append((error, log_text))
        return "the data volume v was left half-initialised: `inv infra.destroy --yes`"

    hba = 'connection failed: FATAL:  no pg_hba.conf entry for host "172.17.0.1", user "postgres", database "postgres", no encryption'
    with pytest.raises(Exit) as e:
        wait(clock, lambda d: hba, logs=lambda: "LOG: ready", diagnose=diagnose)
    assert "Fix: the data volume v was left half-initialised" in e.value.message
    assert seen == [(hba, "LOG: ready")]


def test_diagnose_that_finds_nothing_or_breaks_keeps_the_hint():
    clock = FakeClock()
    for diagnose in (lambda error, log_text: None, lambda error, log_text: 1 / 0):
        with pytest.raises(Exit) as e:
            wait(clock, lambda d: BAD_PASSWORD, diagnose=diagnose)
        assert "DATABASE_PASSWORD" in e.value.message


def test_diagnose_beats_the_stopped_container_hint():
    clock = FakeClock()
    with pytest.raises(Exit) as e:
        wait(
            clock, lambda d: REFUSED, alive=lambda: "container fz-pg stopped (exited)", diagnose=lambda error, log_text: "half-initialised"
        )
    assert "Fix: half-initialised" in e.value.message


def test_pg_hba_hint_without_a_diagnosis_names_destroy():
    text = readiness.hint('FATAL:  no pg_hba.conf entry for host "172.17.0.1"', DB)
    assert "first start" in text and "`inv infra.destroy --yes`" in text
