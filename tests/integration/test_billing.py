"""billing.serve end to end: real Postgres container, the fixture umbrella's phx.server
(a webhook receiver started through a BEAM port, in a process group of its own), and
the Stripe CLI stand-in (tests/fixtures/stripe/stripe) on the billing.stripe setting.
Also billing.listen alone, and workos.check --request against a local server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import NamedTuple

import psutil
import pytest

from tests import fake_workos

from .conftest import FIXTURES, free_port, require_program

pytestmark = pytest.mark.integration

STANDIN = FIXTURES / "stripe" / "stripe"
RECEIVER = FIXTURES / "umbrella" / "fixture" / "webhook_receiver.py"


class Seen(NamedTuple):
    pgid: int
    start: float


def _still_running(pid: int, start: float) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.create_time() == start and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _key() -> str:
    return "sk_test_51" + uuid.uuid4().hex + "Zz"


def _secret() -> str:
    return "whsec_" + uuid.uuid4().hex + "Qq"


class Running:
    """`inv ...` started like a user would, with its output and process tree recorded."""

    def __init__(self, project, *args: str, env: dict | None = None):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "invoke", *args],
            cwd=project.root,
            env={**project.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self.seen: dict[int, Seen] = {}
        # Every argv each pid had (exec changes it: mix -> erlexec -> beam.smp).
        self.argvs: dict[int, set[bytes]] = {}
        self._done = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._watch, daemon=True).start()

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            self.lines.append(raw.decode("utf-8", "replace"))
        self.proc.stdout.close()

    def _watch(self):
        # Every process below inv, as often as we can: the leftovers check needs them all.
        while not self._done.is_set() and self.proc.poll() is None:
            self.snapshot()
            time.sleep(0.1)

    def snapshot(self):
        try:
            below = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return
        for proc in below:
            pid = proc.pid
            try:
                self.seen[pid] = Seen(os.getpgid(pid), proc.create_time())
            except (OSError, psutil.NoSuchProcess):
                continue
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if cmdline:
                self.argvs.setdefault(pid, set()).add(cmdline)

    @property
    def cmdlines(self) -> dict[int, bytes]:
        """All argvs seen per pid, joined (for `in` checks)."""
        return {pid: b"\n".join(sorted(v)) for pid, v in self.argvs.items()}

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.proc.poll() is not None:
                time.sleep(0.3)  # let the reader catch up
                raise AssertionError(f"inv exited ({self.proc.returncode}) before {what}:\n{self.output}")
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"timed out waiting for {what}:\n{self.output}")

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._done.set()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._done.set()

    def leftovers(self, grace: float = 5.0) -> list[str]:
        """Processes seen below inv that still run (same pid and start time) ``grace`` s after inv is gone: the
        run's watchdog outlives inv by design until it has stopped what is left (SIGTERM, SIGKILL 3 s later)."""
        deadline = time.monotonic() + grace
        while True:
            left = [
                f"{pid}: {self.cmdlines.get(pid, b'?').replace(bytes(1), b' ').decode(errors='replace')}"
                for pid, info in self.seen.items()
                if _still_running(pid, info.start)
            ]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.1)


def _events(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@pytest.fixture
def billing_project(pg_project, tmp_path):
    require_program("mix", "apt-get install elixir")
    require_program("psql", "apt-get install postgresql-client")
    port = free_port()
    key, secret = _key(), _secret()
    log = tmp_path / "webhooks.jsonl"
    pg_project.env.update(
        {
            "INVOKE_BILLING_STRIPE": str(STANDIN),
            "INVOKE_BILLING_FORWARD_HOST": "127.0.0.1",
            "INVOKE_BILLING_FORWARD_PORT": str(port),
            "INVOKE_BILLING_GRACE_PERIOD": "4",
            "FIXTURE_WEBHOOK_LOG": str(log),
            "FIXTURE_PYTHON": sys.executable,
            "FAKE_STRIPE_SIGNING_SECRET": secret,
        }
    )
    pg_project.write_env(f"STRIPE_SECRET_KEY={key}\n")
    pg_project.port, pg_project.key, pg_project.secret, pg_project.log = port, key, secret, log
    return pg_project


def _assert_no_secrets(run: Running, *secrets: str):
    out = run.output
    for s in secrets:
        assert s not in out, f"secret {s[:8]}… printed:\n{out}"
        for pid, cmdline in run.cmdlines.items():
            assert s.encode() not in cmdline, f"secret {s[:8]}… in argv of {pid}: {cmdline!r}"


def test_serve_delivers_a_verified_event_and_ctrl_c_leaves_nothing(billing_project):
    p = billing_project
    run = Running(p, "billing.serve", "--env", f"PORT={p.port}")
    try:
        run.wait_for(lambda: _events(p.log), 240, "a verified webhook")
        run.wait_for(lambda: "<--  [200] POST" in run.output, 30, "the stand-in's delivery line")
        run.snapshot()
        names = {a.split(b"\0")[0].rsplit(b"/", 1)[-1] for v in run.argvs.values() for a in v}
        assert b"beam.smp" in names, run.argvs
        assert any(RECEIVER.name.encode() in c for c in run.cmdlines.values()), "receiver not found below inv"
        assert any(b"stripe" in c and b"--forward-to" in c for c in run.cmdlines.values())
        # The receiver sits in a process group of its own (started through a BEAM port).
        receiver = [pid for pid, c in run.cmdlines.items() if RECEIVER.name.encode() in c][0]
        beam = [pid for pid, v in run.argvs.items() if any(b"beam.smp" in a.split(b"\0")[0] for a in v)][0]
        assert run.seen[receiver].pgid != run.seen[beam].pgid
        run.proc.send_signal(signal.SIGINT)
        assert run.wait(60) == 130, run.output
    finally:
        run.stop()
    time.sleep(0.2)
    assert run.leftovers() == [], run.output
    out = run.output
    assert _events(p.log)[0]["verified"] is True
    assert "phx    | [info] POST /integrations/stripe/webhooks verified" in out
    assert "stripe | > Ready!" in out and "whsec_…" in out
    assert "SIGINT received" in out
    assert "\033[" not in out  # not a terminal: no colour
    _assert_no_secrets(run, p.key, p.secret)


def test_crashing_server_stops_the_listener(billing_project):
    p = billing_project
    # A stale secret in .env: reported, and the CLI's is used (the event still verifies).
    stale = _secret()
    p.write_env(f"STRIPE_SECRET_KEY={p.key}\nSTRIPE_WEBHOOK_SIGNING_SECRET={stale}\n")
    run = Running(p, "billing.serve", "--env", f"PORT={p.port}", "--env", "FIXTURE_CRASH_AFTER=3")
    try:
        code = run.wait(240)
    finally:
        run.stop()
    time.sleep(0.2)
    out = run.output
    assert code == 3, out  # PHX_EXITED: the server stopped first
    assert "differs from the secret `stripe listen` signs with" in out
    assert "crashed on purpose" in out
    assert "phx exited with code" in out and "stopping stripe" in out
    assert any(b"--forward-to" in c for c in run.cmdlines.values()), "the listener never ran"
    assert run.leftovers() == [], out
    _assert_no_secrets(run, p.key, p.secret, stale)


def test_live_key_is_refused_before_anything_starts(billing_project, docker_client):
    p = billing_project
    live = "sk_live_51" + uuid.uuid4().hex
    p.write_env(f"STRIPE_SECRET_KEY={live}\n")
    out = p.inv("billing.serve", "--reset-static", "--yes", timeout=60)
    assert out.returncode == 1
    assert "LIVE key" in out.stderr + out.stdout
    assert live not in out.stdout + out.stderr
    assert docker_client.containers.list(all=True, filters={"name": f"^/{p.container_name}$"}) == []


def test_cli_error_output_is_not_taken_for_a_secret(project):
    project.write_env(f"STRIPE_SECRET_KEY={_key()}\n")
    env = {
        "INVOKE_BILLING_STRIPE": str(STANDIN),
        "FAKE_STRIPE_OUTPUT": 'Post "https://api.stripe.com/v1/stripecli/sessions": dial tcp: no such host',
        # No container may be made: point Docker settings somewhere harmless.
        "INVOKE_POSTGRES_CONTAINER": f"fzdev-test-{uuid.uuid4().hex[:8]}",
    }
    out = project.inv("billing.serve", env=env, timeout=60)
    assert out.returncode == 1
    err = out.stderr.strip()
    assert err.startswith("`stripe listen --print-secret` gave no signing secret") and "\n" not in err
    assert "Postgres ready" not in out.stdout


def test_missing_cli_is_one_line(project):
    project.write_env(f"STRIPE_SECRET_KEY={_key()}\n")
    out = project.inv("billing.serve", env={"INVOKE_BILLING_STRIPE": "/nonexistent/stripe"}, timeout=60)
    assert out.returncode == 1
    assert "npm install -g @stripe/cli" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_listen_forwards_to_a_server_started_elsewhere(project, tmp_path):
    port, key, secret = free_port(), _key(), _secret()
    log = tmp_path / "events.jsonl"
    receiver = subprocess.Popen(
        [sys.executable, str(RECEIVER)],
        env={
            **project.env,
            "BILLING_ENABLED": "true",
            "STRIPE_WEBHOOK_SIGNING_SECRET": secret,
            "PORT": str(port),
            "FIXTURE_WEBHOOK_LOG": str(log),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    project.write_env(f"STRIPE_SECRET_KEY={key}\n")
    env = {
        "INVOKE_BILLING_STRIPE": str(STANDIN),
        "INVOKE_BILLING_FORWARD_HOST": "127.0.0.1",
        "INVOKE_BILLING_FORWARD_PORT": str(port),
        "FAKE_STRIPE_SIGNING_SECRET": secret,
    }
    run = Running(project, "billing.listen", env=env)
    try:
        run.wait_for(lambda: _events(log), 60, "a verified webhook")
        run.wait_for(lambda: "<--  [200] POST" in run.output, 30, "the delivery line")
        run.proc.send_signal(signal.SIGINT)
        assert run.wait(30) == 130
    finally:
        run.stop()
        receiver.terminate()
        receiver.wait(10)
    assert run.leftovers() == []
    assert "stripe | > Ready!" in run.output
    _assert_no_secrets(run, key, secret)


# ---------------------------------------------------------------- workos.check --request


@pytest.fixture
def workos_api():
    with fake_workos.serve("sk_test_" + uuid.uuid4().hex) as server:
        yield server


def _workos_env(project, url: str, key: str) -> None:
    project.write_env(f"WORKOS_API_KEY={key}\nWORKOS_CLIENT_ID=client_01HABCDEFGHJKMN\nWORKOS_BASE_URL={url}\n")


def test_workos_check_request_ok(project, workos_api):
    _workos_env(project, workos_api.url, workos_api.key)
    out = project.inv("workos.check", "--request", timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1].startswith("ok: GET ")
    assert workos_api.seen == [("/directories?limit=1", f"Bearer {workos_api.key}")]
    assert workos_api.key not in out.stdout + out.stderr


def test_workos_check_request_bad_key(project, workos_api):
    wrong = "sk_test_" + uuid.uuid4().hex
    _workos_env(project, workos_api.url, wrong)
    out = project.inv("workos.check", "--request", timeout=60)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("bad key: GET ") and "401" in out.stderr
    assert wrong not in out.stdout + out.stderr


def test_workos_check_request_unreachable(project):
    key = "sk_test_" + uuid.uuid4().hex
    _workos_env(project, f"http://127.0.0.1:{free_port()}", key)
    out = project.inv("workos.check", "--request", env={"INVOKE_WORKOS_TIMEOUT": "3"}, timeout=60)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("unreachable: GET ")
    assert key not in out.stdout + out.stderr
