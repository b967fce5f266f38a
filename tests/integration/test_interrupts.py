"""What users do to a running `inv`: Ctrl-C twice in a terminal, SIGTERM, kill -9, two or
three `dev.up` at once, a port left held by a killed `billing.serve`.

Real processes, a real pty, real signals, a real Postgres container. Timing comes from
the fixture's hooks, not sleeps: with FIXTURE_SEED_GATE the seed writes "seed waiting"
to FIXTURE_LOG and waits for the gate file before inserting; FIXTURE_LOG also names
the BEAM's and the seed's pids, which must be gone after inv is.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import socket
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import accounts, connect, container, require_program, volume_exists
from .test_billing import Running, billing_project  # noqa: F401 (a fixture)

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(pg_project, tmp_path):
    require_program("mix", "apt-get install elixir")
    require_program("psql", "apt-get install postgresql-client")
    log = tmp_path / "fixture.log"
    gate = tmp_path / "gate"
    pg_project.env["FIXTURE_LOG"] = str(log)
    pg_project.log, pg_project.gate = log, gate
    return pg_project


def log_lines(p) -> list[str]:
    return p.log.read_text().splitlines() if p.log.exists() else []


def logged_pids(p) -> dict[str, list[int]]:
    pids: dict[str, list[int]] = {}
    for line in log_lines(p):
        name, _, value = line.partition(" ")
        if value.isdigit():
            pids.setdefault(name, []).append(int(value))
    return pids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(predicate, timeout: float, what: str, output=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}\n{output()}")


def assert_gone(p, timeout: float = 10.0) -> None:
    """The BEAM and the seed the fixture logged are gone (the watchdog's grace is 3 s)."""
    pids = [pid for name in ("beam", "seed") for pid in logged_pids(p).get(name, [])]
    assert pids, f"the fixture logged no pids: {log_lines(p)}"
    wait_until(lambda: not any(alive(pid) for pid in pids), timeout, f"pids {pids} to exit")


def marker(p) -> str | None:
    with connect(p, dbname="postgres") as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = 'firezone_dev'").fetchone()
    return row[0] if row else None


class Terminal:
    """`inv ...` on a pty of its own, as in a terminal: Ctrl-C is the line discipline's SIGINT."""

    def __init__(self, project, *args: str, env: dict | None = None):
        master, slave = pty.openpty()

        def controlling_terminal():
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "invoke", *args],
            cwd=project.root,
            env={**project.env, **(env or {})},
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=controlling_terminal,
        )
        os.close(slave)
        self.master = master
        self.buf = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        while True:
            try:
                data = os.read(self.master, 4096)
            except OSError:
                return
            if not data:
                return
            self.buf += data

    @property
    def output(self) -> str:
        return self.buf.decode("utf-8", "replace")

    def ctrl_c(self) -> None:
        os.write(self.master, b"\x03")

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._reader.join(timeout=5)
            os.close(self.master)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def started(p, *args: str, env: dict | None = None, out: Path) -> subprocess.Popen:
    """`inv ...` with no terminal, its output in ``out``."""
    with out.open("w") as f:
        return subprocess.Popen(
            [sys.executable, "-m", "invoke", *args],
            cwd=p.root,
            env={**p.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextmanager
def reaped(*procs: subprocess.Popen) -> Iterator[list[subprocess.Popen]]:
    """The processes (a list the block may add to); each still running when the block
    ends, however it ends, is killed and reaped."""
    running = list(procs)
    try:
        yield running
    finally:
        for proc in running:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# kill -9 without Docker: the watchdog ------------------------------------------------


def test_kill_9_of_inv_stops_even_what_left_our_session(tmp_path):
    """programs.run's child dies by its parent-death signal; a grandchild in a session
    of its own (like the BEAM's port programs) is stopped by the watchdog."""
    pids = tmp_path / "pids"
    script = tmp_path / "run.py"
    repo = Path(__file__).resolve().parents[2]
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(repo)!r})\n"
        "from pathlib import Path\n"
        "from invoke import MockContext\n"
        "from tasks.lib import programs\n"
        f"programs.run(MockContext(), ['sh', '-c', 'setsid sleep 300 & echo $$ $! > {pids}; wait'], cwd=Path('.'))\n"
    )
    with reaped(subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, stdout=subprocess.DEVNULL)) as (proc,):
        wait_until(lambda: pids.exists() and len(pids.read_text().split()) == 2, 20, "the children to start")
        shell, sleeper = map(int, pids.read_text().split())
        assert alive(shell) and alive(sleeper)
        proc.kill()
        proc.wait()
        wait_until(lambda: not alive(shell) and not alive(sleeper), 10, f"pids {shell} {sleeper} to exit")


# Ctrl-C ----------------------------------------------------------------------


def test_ctrl_c_twice_during_the_seed_is_interrupted_never_seeded(stack):
    p = stack
    term = Terminal(p, "dev.up", "--no-iex", env={"FIXTURE_SEED_GATE": str(p.gate)})
    try:
        wait_until(lambda: "seed waiting" in log_lines(p), 240, "the seed to start", lambda: term.output)
        term.ctrl_c()  # the BEAM runs without its BREAK menu (+Bd): it stops at once
        time.sleep(0.2)
        term.ctrl_c()  # and a second Ctrl-C while inv finishes changes nothing
        code = term.wait(60)
    finally:
        term.kill()
    out = term.output
    if os.environ.get("FZ_TEST_SHOW"):
        print(out)
    assert code == 130, out
    assert "interrupted" in out
    table = out[out.index("step") :]
    assert "seed" in table and "interrupted" in table.split("seed", 1)[1].splitlines()[0], out
    assert "Traceback" not in out
    assert_gone(p)
    assert marker(p) is None
    assert accounts(p) == []  # the gate never opened: no insert, and no orphan to insert later
    # The next run says what happened instead of seeding on top of it.
    status = p.inv("dev.status")
    assert "was interrupted before it finished; `inv db.reset --yes` starts over" in status.stdout, status.stdout
    doctor = p.inv("doctor")
    assert "dev database seed" in doctor.stdout and "was interrupted before it finished" in doctor.stdout, doctor.stdout
    dry = p.inv("--dry", "dev.up", "--no-iex")  # --dry refuses where the real run does
    assert dry.returncode == 1 and "was interrupted before it finished" in dry.stderr, dry.stdout + dry.stderr
    again = p.inv("dev.up", "--no-iex")
    assert again.returncode == 1, again.stdout + again.stderr
    assert "was interrupted before it finished" in again.stderr
    assert "`inv db.reset --yes` starts over" in again.stderr
    assert [line.split()[1] for line in again.stderr.splitlines() if line.startswith("seed ")] == ["refused"]  # no seed ran
    reset = p.inv("db.reset", "--yes")
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert len(accounts(p)) == 2
    ok = p.inv("dev.up", "--no-iex")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "already seeded" in ok.stdout


# A script's background job: SIGINT arrives ignored-by-inheritance -----------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGHUP])
def test_a_signal_to_a_scripts_background_job_during_the_seed_is_never_a_success(stack, tmp_path, sig):
    """`inv dev.up --no-iex &` in a script starts with SIGINT ignored; the BEAM used to abort from
    its BREAK menu with exit 0, and the seed was recorded as done with no rows."""
    p = stack
    out, rc, pid = tmp_path / "inv.out", tmp_path / "rc", tmp_path / "pid"
    script = f"{sys.executable} -m invoke dev.up --no-iex >{out} 2>&1 & echo $! >{pid}; wait $!; echo $? >{rc}"
    env = {**p.env, "FIXTURE_SEED_GATE": str(p.gate)}
    with reaped(subprocess.Popen(["sh", "-c", script], cwd=p.root, env=env, start_new_session=True)) as (shell,):
        try:
            wait_until(lambda: "seed waiting" in log_lines(p), 240, "the seed to start", lambda: out.read_text())
            os.kill(int(pid.read_text()), sig)
            shell.wait(60)
        except BaseException:  # a failing run leaves nothing of the script's session behind either
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGKILL)
            raise
    text = out.read_text()
    assert rc.read_text().strip() == str(128 + sig), text
    assert "interrupted by" in text and "nothing was recorded as done" in text and "Traceback" not in text
    assert_gone(p)
    assert marker(p) is None and accounts(p) == []
    again = p.inv("dev.up", "--no-iex")
    assert again.returncode == 1 and "was interrupted before it finished" in again.stderr, again.stdout + again.stderr


# SIGTERM and kill -9 during the seed ------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_inv_killed_during_the_seed_takes_the_beam_and_the_seed_with_it(stack, tmp_path, sig):
    p = stack
    out = tmp_path / "inv.out"
    with reaped(started(p, "dev.up", "--no-iex", env={"FIXTURE_SEED_GATE": str(p.gate)}, out=out)) as (proc,):
        wait_until(lambda: "seed waiting" in log_lines(p), 240, "the seed to start", out.read_text)
        proc.send_signal(sig)
        code = proc.wait(60)
    text = out.read_text()
    assert code == (143 if sig == signal.SIGTERM else -9), text
    if sig == signal.SIGTERM:
        assert "interrupted by SIGTERM" in text and "Traceback" not in text
    assert_gone(p)  # no orphan is left to insert once the gate opens
    assert accounts(p) == [] and marker(p) is None
    again = p.inv("dev.up", "--no-iex")
    assert again.returncode == 1
    assert "the seed of" in again.stderr and f"(pid {proc.pid})" in again.stderr
    assert "was interrupted before it finished" in again.stderr


# two or three at once ------------------------------------------------------------


def test_three_dev_ups_at_once_take_turns_and_all_succeed(stack, tmp_path, docker_client):
    p = stack
    outs = [tmp_path / f"inv{i}.out" for i in range(3)]
    first = started(p, "dev.up", "--no-iex", env={"FIXTURE_SEED_GATE": str(p.gate)}, out=outs[0])
    with reaped(first) as procs:
        wait_until(lambda: "seed waiting" in log_lines(p), 240, "the first seed", outs[0].read_text)
        procs += [started(p, "dev.up", "--no-iex", out=o) for o in outs[1:]]
        for o in outs[1:]:
            wait_until(lambda o=o: "waiting for inv dev.up seeding or migrating" in o.read_text(), 240, f"{o.name} to wait", o.read_text)
        p.gate.touch()
        codes = [proc.wait(120) for proc in procs]
    texts = [o.read_text() for o in outs]
    assert codes == [0, 0, 0], "\n=====\n".join(texts)
    assert len(accounts(p)) == 2
    for text in texts[1:]:
        assert f"pid {first.pid}" in text
        assert "already seeded" in text
    assert len(docker_client.containers.list(all=True, filters={"name": f"^/{p.container_name}$"})) == 1


# billing.serve killed with kill -9 ------------------------------------------------


def test_billing_serve_killed_leaves_nothing_and_a_held_port_is_named(billing_project):  # noqa: F811
    p = billing_project
    run = Running(p, "billing.serve", "--env", f"PORT={p.port}")
    try:
        run.wait_for(lambda: "> Ready!" in run.output, 240, "stripe listen to be ready")
        run.wait_for(lambda: _listening(p.port), 60, "the server to listen")
        run.snapshot()
        assert len(run.seen) >= 3, run.seen
        run.proc.kill()
        run.wait(30)
    finally:
        run.stop()
    wait_until(lambda: run.leftovers() == [], 10, "no leftovers", lambda: "\n".join(run.leftovers()))
    assert not _listening(p.port)
    # A port held by something else is named, with the command that stops it.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            # SO_REUSEADDR as every server sets it: the killed server's connections may sit in TIME_WAIT.
            "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
            f"s.bind(('127.0.0.1',{p.port})); s.listen(); time.sleep(120)",
        ]
    )
    try:
        wait_until(lambda: _listening(p.port), 10, "the stand-in holder")
        res = p.inv("billing.serve", "--env", f"PORT={p.port}")
    finally:
        holder.kill()
        holder.wait()
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"held by pid {holder.pid}" in res.stderr and f"`kill {holder.pid}`" in res.stderr


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


# a mix step fails while Postgres is still starting ---------------------------------


def test_a_fast_mix_failure_lets_postgres_finish_and_tells_its_error(stack, docker_client):
    p = stack
    failing = {"INVOKE_ELIXIR_DEPS_TASK": "fz.no.such.task"}
    res = p.inv("dev.up", "--no-iex", env=failing)
    assert res.returncode != 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    table = res.stderr[res.stderr.index("step") :]
    assert "deps" in table and "failed" in table
    # Never cut off half-made (a volume without its container): both or neither.
    made = container(docker_client, p.container_name) is not None
    assert volume_exists(docker_client, f"{p.container_name}-data") == made, res.stdout + res.stderr
    assert p.inv("infra.up").returncode == 0
    assert p.inv("infra.down").returncode == 0
    # When Postgres fails on its own meanwhile, its reason is printed, not hidden.
    with socket.socket() as holder:
        p.inv("infra.destroy", "--yes", check=True)
        # As servers do: the stopped proxy's connections may sit in TIME_WAIT.
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", int(p.env["DATABASE_PORT"])))
        holder.listen()
        res = p.inv("dev.up", "--no-iex", env=failing)
    assert res.returncode != 0
    assert "postgres: " in res.stderr and "already taken" in res.stderr, res.stderr


@pytest.mark.parametrize("removal", ["infra.destroy", "by hand"])
def test_an_interrupted_seeds_record_goes_with_the_data_it_was_about(stack, tmp_path, docker_client, removal):
    """The record of a seed cut off used to outlive the volume: the next dev.up on a new, empty volume refused to seed."""
    p = stack
    out = tmp_path / "inv.out"
    with reaped(started(p, "dev.up", "--no-iex", env={"FIXTURE_SEED_GATE": str(p.gate)}, out=out)) as (proc,):
        wait_until(lambda: "seed waiting" in log_lines(p), 240, "the seed to start", out.read_text)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 143, out.read_text()
    assert list((p.root / ".inv" / "seeding").glob("*.json"))
    if removal == "infra.destroy":
        p.inv("infra.destroy", "--yes", check=True)
        assert not list((p.root / ".inv" / "seeding").glob("*.json"))
    else:  # `docker rm -f` and `docker volume rm`: the record stays, but names a cluster that is gone
        container(docker_client, p.container_name).remove(force=True)
        docker_client.volumes.get(f"{p.container_name}-data").remove(force=True)
    again = p.inv("dev.up", "--no-iex")
    assert again.returncode == 0, again.stdout + again.stderr
    assert len(accounts(p)) == 2 and marker(p) is not None


# Every step that changes state, stopped every way a user stops it ----------------------

# The command, and what the fixture logs once the step's BEAM waits at its gate (elixir.test: a hanging test).
STEPS = {
    "deps": (("elixir.deps",), "deps waiting"),
    "setup": (("elixir.setup",), "setup waiting"),
    "reset": (("db.reset", "--yes"), "seed waiting"),
    "test": (("elixir.test",), ""),
}
# Ctrl-C on a terminal (SIGINT, default disposition), SIGINT to a script's background job (inherited ignored),
# SIGTERM from an IDE, SIGHUP from a closed terminal.
WAYS = {"ctrl-c": signal.SIGINT, "script-sigint": signal.SIGINT, "sigterm": signal.SIGTERM, "sighup": signal.SIGHUP}


def stop_at_gate(p, tmp_path, args, ready, way) -> tuple[int, str]:
    """Run ``inv ARGS`` until ``ready()``, stop it ``way``; its exit code and output."""
    env, out = {"FIXTURE_SEED_GATE": str(p.gate)}, tmp_path / "inv.out"
    if way == "ctrl-c":
        term = Terminal(p, *args, env=env)
        try:
            wait_until(ready, 240, "the step to wait at its gate", lambda: term.output)
            term.ctrl_c()
            return term.wait(60), term.output
        finally:
            term.kill()
    if way == "script-sigint":
        rc, pid = tmp_path / "rc", tmp_path / "pid"
        script = f"{sys.executable} -m invoke {' '.join(args)} >{out} 2>&1 & echo $! >{pid}; wait $!; echo $? >{rc}"
        with reaped(subprocess.Popen(["sh", "-c", script], cwd=p.root, env={**p.env, **env}, start_new_session=True)) as (shell,):
            try:
                wait_until(ready, 240, "the step to wait at its gate", lambda: out.read_text() if out.exists() else "")
                os.kill(int(pid.read_text()), signal.SIGINT)
                shell.wait(60)
            except BaseException:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(shell.pid, signal.SIGKILL)
                raise
        return int(rc.read_text()), out.read_text()
    with reaped(started(p, *args, env=env, out=out)) as (proc,):
        wait_until(ready, 240, "the step to wait at its gate", out.read_text)
        proc.send_signal(WAYS[way])
        return proc.wait(60), out.read_text()


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("step", STEPS)
def test_every_step_stopped_any_way_is_interrupted_and_never_recorded_as_done(stack, tmp_path, step, way):
    p = stack
    args, waiting = STEPS[step]
    hung = tmp_path / "hung"
    hung.mkdir()
    p.env.update({"FIXTURE_GATE_STEP": step, "FIXTURE_HANG_DIR": str(hung) if step == "test" else ""})
    ready = (lambda: any(hung.iterdir())) if step == "test" else (lambda: waiting in log_lines(p))
    code, text = stop_at_gate(p, tmp_path, args, ready, way)
    assert code == 128 + WAYS[way], text
    assert "interrupted" in text and "Traceback" not in text, text
    beams = [int(f.name.split("-")[1]) for f in hung.iterdir()] if step == "test" else logged_pids(p).get("beam", [])
    assert beams, text
    wait_until(lambda: not any(alive(pid) for pid in beams), 10, f"the BEAMs {beams} to exit")
    if step in ("deps", "setup"):
        rows = p.inv("dev.status").stdout
        assert f"{step}" in rows and "will run" in rows.split(f"\n{step}", 1)[1].splitlines()[0], rows
    if step == "reset":
        assert marker(p) is None
