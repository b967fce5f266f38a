"""The seeded template through `inv`: warm resets clone it, a changed migration takes the mix path, a busy database
(a reconnecting client, a streaming logical slot) is reset anyway, a dropped database comes back from it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from tests.integration.conftest import accounts, connect, require_program

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("require_mix")]
TEMPLATE = "firezone_dev__seeded"


def out(proc) -> str:
    return proc.stdout + proc.stderr


def template_row(project, name: str = TEMPLATE):
    with connect(project, "postgres") as conn:
        return conn.execute("SELECT datistemplate, datallowconn FROM pg_database WHERE datname = %s", (name,)).fetchone()


def test_warm_reset_clones_and_a_changed_migration_takes_the_mix_path(stack_project):
    seeded = stack_project.inv("db.seed", check=True)
    assert f"kept firezone_dev as template {TEMPLATE}" in seeded.stdout
    assert template_row(stack_project) == (True, False)
    rows = accounts(stack_project)
    with connect(stack_project) as conn:
        conn.execute("INSERT INTO accounts (id, slug, name) VALUES (gen_random_uuid(), 'mine', 'made by hand')")
    dry = stack_project.inv("--dry", "db.reset", check=True)
    assert f"would clone firezone_dev from {TEMPLATE}" in dry.stdout
    warm = stack_project.inv("db.reset", "--yes", check=True)
    assert f"cloned from {TEMPLATE}" in warm.stdout and "$ " not in warm.stdout  # mix did not run
    assert accounts(stack_project) == rows
    assert "already seeded" in stack_project.inv("db.seed", check=True).stdout
    status = stack_project.inv("dev.status", check=True).stdout
    assert f"{TEMPLATE}: " in status and "matches the repository" in status

    migrations = stack_project.root / "elixir" / "apps" / "domain" / "priv" / "repo" / "migrations"
    migrations.mkdir(parents=True, exist_ok=True)
    (migrations / "20260101000000_add_things.exs").write_text("# a new migration\n")
    assert "stale: migrations and seeds changed" in stack_project.inv("infra.status", check=True).stdout
    assert "would run mix (migrations and seeds changed" in stack_project.inv("--dry", "db.reset", check=True).stdout
    cold = stack_project.inv("db.reset", "--yes", check=True)
    assert "reset: running mix (migrations and seeds changed" in cold.stdout and "seeded 2 accounts" in cold.stdout
    assert f"kept firezone_dev as template {TEMPLATE}" in cold.stdout
    again = stack_project.inv("db.reset", "--yes", check=True)
    assert f"cloned from {TEMPLATE}" in again.stdout
    fresh = stack_project.inv("db.reset", "--fresh", "--yes", check=True)
    assert "reset: running mix (--fresh)" in fresh.stdout and "seeded 2 accounts" in fresh.stdout
    static = stack_project.inv("db.reset", "--static", "--yes", check=True)
    assert "running mix (static seeds changed" in static.stdout

    # infra.destroy takes the template with the rest: a new cluster seeds with mix.
    stack_project.inv("infra.destroy", "--yes", check=True)
    first = stack_project.inv("db.seed", check=True)
    assert "seeded 2 accounts" in first.stdout and "kept firezone_dev as template" in first.stdout


def test_dev_up_brings_a_dropped_database_back_from_the_template(pg_project):
    pg_project.inv("db.seed", check=True)
    rows = accounts(pg_project)
    with connect(pg_project, "postgres") as conn:
        conn.execute("DROP DATABASE firezone_dev")
    up = pg_project.inv("dev.up", "--no-iex", check=True)
    assert f"seed: firezone_dev cloned from {TEMPLATE}" in up.stdout and "seeded 2 accounts" not in up.stdout
    assert accounts(pg_project) == rows
    assert "already seeded" in pg_project.inv("db.seed", check=True).stdout
    # A drop cut short leaves it invalid (Postgres 15.4+ allows only DROP DATABASE on it), its seed marker still on it.
    with connect(pg_project, "postgres") as conn:
        conn.execute("UPDATE pg_database SET datconnlimit = -2 WHERE datname = 'firezone_dev'")
    again = pg_project.inv("db.seed", check=True)
    assert "seed: firezone_dev cloned from" in again.stdout and accounts(pg_project) == rows


def test_a_foreign_database_with_the_templates_name_is_left_alone(pg_project):
    pg_project.inv("infra.up", check=True)
    with connect(pg_project, "postgres") as conn:
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    seeded = pg_project.inv("db.seed", check=True)
    assert f"not kept as a template: {TEMPLATE} exists but inv did not make it" in seeded.stdout
    reset = pg_project.inv("db.reset", "--yes", check=True)
    assert f"running mix ({TEMPLATE} exists but inv did not make it (left alone))" in reset.stdout
    assert template_row(pg_project) == (False, True)  # still there, untouched
    doctor = pg_project.inv("doctor").stdout
    assert "db template" in doctor and f"{TEMPLATE} exists but inv did not make it" in doctor
    assert f"fix: rename or drop {TEMPLATE}" in doctor


def _reconnecting_client(project, stop: threading.Event, connected: list[int]) -> None:
    """A pooled connection as the portal holds one: a query every 50 ms; when it is cut, a new one 50 ms later."""
    while not stop.is_set():
        try:
            with connect(project, connect_timeout=1, application_name="reconnecting-client") as conn:
                connected.append(1)
                while not stop.wait(0.05):
                    conn.execute("SELECT 1")
        except psycopg.Error:
            stop.wait(0.05)


def _start_slot_stream(project) -> subprocess.Popen:
    """pg_recvlogical streaming a logical slot of firezone_dev (as the portal's replication connections do)."""
    program = require_program("pg_recvlogical", "apt-get install postgresql-client")
    base = [program, "-h", "127.0.0.1", "-p", project.env["DATABASE_PORT"], "-U", "postgres", "-d", "firezone_dev", "--slot", "t_slot"]
    env = {**os.environ, "PGPASSWORD": "postgres", "PGAPPNAME": "slot-stream"}
    subprocess.run([*base, "--create-slot", "--if-not-exists"], env=env, check=True, capture_output=True)
    return subprocess.Popen([*base, "--start", "-f", "-"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _slot_active(project) -> bool:
    with connect(project, "postgres") as conn:
        row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = 't_slot'").fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize("flags", [(), ("--fresh",)], ids=["template", "mix"])
def test_reset_ends_a_reconnecting_client_and_a_streaming_slot(pg_project, flags):
    pg_project.inv("db.seed", check=True)
    stop, connected = threading.Event(), []
    client = threading.Thread(target=_reconnecting_client, args=(pg_project, stop, connected), daemon=True)
    client.start()
    stream = _start_slot_stream(pg_project)
    try:
        deadline = time.monotonic() + 10
        while not _slot_active(pg_project) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _slot_active(pg_project) and connected
        proc = pg_project.inv("db.reset", *flags, "--yes", check=True)
        assert "session(s) of firezone_dev" in proc.stdout and "(slot-stream)" in proc.stdout, out(proc)
        assert "(reconnecting-client)" in proc.stdout
        assert [s for _, s in accounts(pg_project)] == ["firezone", "not_firezone"]
        deadline = time.monotonic() + 5  # cut, then let back in: it reconnects 50 ms after (more on a loaded machine)
        while len(connected) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(connected) >= 2
        query = "SELECT count(*) FROM pg_stat_activity WHERE datname = 'firezone_dev' AND application_name = 'reconnecting-client'"
        with connect(pg_project, "postgres") as conn:
            deadline = time.monotonic() + 2
            while conn.execute(query).fetchone()[0] != 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert conn.execute(query).fetchone()[0] == 1
    finally:
        stop.set()
        stream.send_signal(signal.SIGTERM)
        stream.wait(10)
        client.join(5)


@pytest.mark.parametrize("how", ["kill -9", "ctrl-c"])
def test_a_warm_reset_interrupted_leaves_the_old_database_or_the_new_one(pg_project, how):
    from tests.integration.test_interrupts import Terminal

    pg_project.inv("db.reset", "--yes", check=True)  # seeded, and the template kept
    rows = accounts(pg_project)
    rng = random.Random(7)
    for _ in range(6):
        term = Terminal(pg_project, "db.reset", "--yes")
        deadline = time.monotonic() + 20
        while "Postgres ready" not in term.output and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.2))  # the lock, the clone, the swap
        if how == "kill -9":
            term.kill()
        else:
            term.ctrl_c()
        code = term.wait(30)
        assert "Traceback" not in term.output, term.output
        assert code in (-9, -2, 0, 1, 130), term.output  # invoke exits 1 on a Ctrl-C before the task starts
        # infra.up alone (all elixir.iex or elixir.server run first) lets the dev database answer again, if it is there.
        pg_project.inv("infra.up", check=True)
        try:
            with connect(pg_project) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError as e:
            assert "does not exist" in str(e), e
        # Whichever it left: a seeded database under the name, answering, with the seed's rows.
        after = pg_project.inv("db.seed", check=True)
        assert "already seeded" in after.stdout or "cloned from" in after.stdout, out(after)
        assert accounts(pg_project) == rows


def test_two_warm_resets_at_once_take_turns(pg_project):
    pg_project.inv("db.seed", check=True)
    rows = accounts(pg_project)
    argv = [sys.executable, "-m", "invoke", "db.reset", "--yes"]
    procs = [subprocess.Popen(argv, cwd=pg_project.root, env=pg_project.env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert all(f"cloned from {TEMPLATE}" in o for o in outs)
    assert accounts(pg_project) == rows and template_row(pg_project) == (True, False)


def test_test_partitions_are_cloned_from_one_migrated_template(pg_project):
    p = pg_project
    first = p.inv("elixir.test", "-n", "3", check=True)
    assert "tests: no template firezone_test__migrated yet; migrating firezone_test once, then cloning it" in first.stdout
    for i in (1, 2, 3):
        assert f"tests: firezone_test_p{i} cloned from firezone_test__migrated" in first.stdout
    assert "mix test: all 3 partitions passed" in first.stdout
    again = p.inv("elixir.test", "-n", "3", check=True)
    assert "cloned" not in again.stdout and "migrating firezone_test once" not in again.stdout
    with connect(p, "postgres") as conn:
        conn.execute("DROP DATABASE firezone_test_p2")
    one = p.inv("elixir.test", "-n", "3", check=True)
    assert "tests: firezone_test_p2 cloned from" in one.stdout and "migrating" not in one.stdout
    migrations = p.root / "elixir" / "apps" / "domain" / "priv" / "repo" / "migrations"
    migrations.mkdir(parents=True, exist_ok=True)
    (migrations / "20260101000000_add_things.exs").write_text("# a new migration\n")
    with connect(p, "postgres") as conn:
        for i in (1, 2, 3):
            conn.execute(f"DROP DATABASE firezone_test_p{i}")
    changed = p.inv("elixir.test", "-n", "3", check=True)
    assert "migrations and seeds changed since firezone_test__migrated was made; migrating firezone_test once" in changed.stdout
    assert changed.stdout.count("cloned from firezone_test__migrated") == 3
