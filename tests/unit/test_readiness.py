"""tasks/lib/postgres/readiness.py: the wait loop on a fake clock, and the probe against local sockets."""

from __future__ import annotations

import socket
import threading

import pytest
from invoke import Exit

from tasks.lib.postgres import readiness, sql
from tasks.lib.database import Database

DB = Database(host="localhost", port=5432, name="firezone_dev", user="postgres", password="postgres")

REFUSED = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused Is the server running?'
CLOSED = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: server closed the connection unexpectedly'
STARTING = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system is starting up'
BAD_PASSWORD = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "postgres"'


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


def wait(clock, probe, **kw):
    kw.setdefault("timeout", 5.0)
    kw.setdefault("interval", 0.05)
    return readiness.wait_ready(DB, probe=probe, clock=clock, sleep=clock.sleep, **kw)


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
    readiness.wait_ready(DB, probe=probe, clock=clock, sleep=clock.sleep)
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
    assert "Hint: the container stopped" in e.value.message
    assert "FATAL: bad setting" in e.value.message
    assert clock.now - 100.0 < 1.5


def test_logs_and_message_are_masked():
    db = Database(host="localhost", port=5432, name="firezone_dev", user="postgres", password="very-secret-pw")
    clock = FakeClock()
    with pytest.raises(Exit) as e:
        readiness.wait_ready(
            db, timeout=0.1, probe=lambda d: "refused very-secret-pw", clock=clock, sleep=clock.sleep,
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
        ("could not translate host name \"nope\" to address", False),
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
    assert sql.one_line(text) == (
        "host: 'localhost', port: 5432, hostaddr: '127.0.0.1': connection failed: server closed the connection"
    )
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
