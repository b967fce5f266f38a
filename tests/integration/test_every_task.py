"""Every task `inv --list` shows runs as a user runs it: a separate `python -m invoke`
process in a throwaway Firezone root, against the real engine, Postgres and mix.

Why: `inv doctor` once crashed on start for new users (Python < 3.12.3) while every
test passed, because no test started it as a process. Here:

- every listed task must be named as a command in some integration test file, so a new
  task without a process test fails CI;
- `inv --help TASK` works for every listed task;
- `inv doctor` runs 20 times in a row, with and without a bytecode cache;
- the tasks no other file ran as a process (doctor, dev.down, billing.env) run here,
  with the stack's everyday path around them (dev.status, dev.up, infra.status,
  infra.logs, elixir.iex, elixir.seed, elixir.server).
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import uuid

import psutil
import pytest

from .conftest import REPO, TEST_IMAGE, free_port

pytestmark = pytest.mark.integration

INTEGRATION = REPO / "tests" / "integration"


def out(proc) -> str:
    return proc.stdout + proc.stderr


def no_traceback(proc, what: str) -> None:
    assert "Traceback" not in out(proc), f"{what}:\n{out(proc)}"


def listed_tasks(project) -> dict[str, str]:
    """Task name -> its help line, as `inv --list` shows them (checked against the JSON listing)."""
    shown = project.inv("--list", check=True)
    no_traceback(shown, "inv --list")
    names = [m.group(1) for m in re.finditer(r"^  (\S+)(?: {2,}|$)", shown.stdout, re.M)]
    # invoke's machine-readable listing of the same collection: the text parse missed nothing.
    listing = json.loads(project.inv("--list", "--list-format=json", check=True).stdout)
    helps: dict[str, str] = {}

    def walk(coll, prefix: str) -> None:
        for t in coll["tasks"]:
            helps[prefix + t["name"]] = t["help"] or ""
        for sub in coll["collections"]:
            walk(sub, prefix + sub["name"] + ".")

    walk(listing, "")
    assert sorted(names) == sorted(helps), (names, sorted(helps))
    assert len(names) == len(set(names))
    return helps


def commands_named(path) -> set[str]:
    """First words of the string literals in a test file that read as a command
    ("db.seed", "db.reset --yes"), not as expected output ("doctor: ...", "`inv db.reset`")."""
    words = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
            first = node.value.split()[0]
            if node.value == first or node.value.startswith(first + " "):
                words.add(first)
    return words


# ------------------------------------------------------------------------ the task list


def test_every_listed_task_is_run_by_some_integration_test(project):
    tasks = listed_tasks(project)
    assert tasks and all(re.fullmatch(r"[a-z_-]+(\.[a-z_-]+)?", t) for t in tasks), tasks
    named: dict[str, list[str]] = {}
    for path in sorted(INTEGRATION.glob("test_*.py")):
        for word in commands_named(path):
            named.setdefault(word, []).append(path.name)
    unrun = sorted(t for t in tasks if t not in named)
    assert unrun == [], (
        f"tasks no integration test runs as a process: {unrun}; add a test that runs"
        " `project.inv(TASK, ...)` (tests/integration/conftest.py) for each"
    )


def test_help_for_every_task(project):
    for name, summary in listed_tasks(project).items():
        proc = project.inv("--help", name)
        no_traceback(proc, f"inv --help {name}")
        assert proc.returncode == 0, f"inv --help {name}:\n{out(proc)}"
        text = proc.stdout
        assert text.startswith(f"Usage: inv[oke] [--core-opts] {name} "), text
        assert "Docstring:" in text and "Options:" in text, text
        # The docstring's first line is what --list summarised.
        docstring = text.split("Docstring:", 1)[1].split("Options:", 1)[0]
        assert " ".join(summary.split()) in " ".join(docstring.split()), (name, summary, text)
        # Every option says what it does (a flag line with nothing after it has no help).
        options = text.split("Options:", 1)[1].splitlines()
        for line in options:
            if line.startswith("  -"):
                assert len(re.split(r" {2,}", line.strip())) >= 2, f"inv --help {name}: no help for {line.strip()}"


# ------------------------------------------------------------------------------ doctor


def doctor_rows(stdout: str) -> list[tuple[str, str]]:
    """(check, status) per table row; fix lines and the summary are not rows."""
    rows = []
    for line in stdout.splitlines():
        m = re.match(r"^(\S.*?)\s{2,}(ok|warn|FAIL)\b", line)
        if m:
            rows.append((m.group(1), m.group(2)))
    return rows


def check_doctor(proc, port: int) -> list[tuple[str, str]]:
    """What a user sees from `inv doctor`: a table, then one summary line; exit 0, or 1
    when a required check failed (the summary names exactly the FAIL rows)."""
    no_traceback(proc, "inv doctor")
    assert proc.returncode in (0, 1), out(proc)
    rows = doctor_rows(proc.stdout)
    checks = [c for c, _ in rows]
    for required in ("docker engine", "elixir root", "mix", "elixir", "erl"):
        assert required in checks, (required, proc.stdout)
    failed = [c for c, s in rows if s == "FAIL"]
    if proc.returncode == 0:
        assert failed == [], proc.stdout
        assert proc.stdout.strip().splitlines()[-1].startswith("doctor: all required checks pass ("), proc.stdout
    else:
        assert failed, out(proc)
        summary = proc.stderr.strip().splitlines()[-1]
        assert summary == f"doctor: {len(failed)} required check(s) failed: {', '.join(failed)}", out(proc)
    if ("docker engine", "ok") in rows:
        assert f"127.0.0.1:{port} " in proc.stdout, proc.stdout  # the port row names the configured port
    return rows


def test_doctor_twenty_times_in_a_row(project):
    port = free_port()
    project.env.update(
        {
            "DATABASE_PORT": str(port),
            "INVOKE_POSTGRES_IMAGE": TEST_IMAGE,
            # never created: doctor only looks
            "INVOKE_POSTGRES_CONTAINER": f"fzdev-test-{uuid.uuid4().hex[:8]}",
        }
    )
    results = []
    for i in range(20):
        # The first ten compile the suite every time (a new user's first run); the rest
        # write the bytecode cache once and then use it.
        env = {"PYTHONDONTWRITEBYTECODE": "1" if i < 10 else ""}
        start = time.monotonic()
        proc = project.inv("doctor", env=env, timeout=120)
        elapsed = time.monotonic() - start
        rows = check_doctor(proc, port)
        if ("docker engine", "ok") in rows:
            assert ("database port", "ok") in rows and f"127.0.0.1:{port} free" in proc.stdout, proc.stdout
        results.append((proc.returncode, rows))
        assert elapsed < 60, f"run {i + 1}: doctor took {elapsed:.1f} s"
    assert list((project.root / "tasks").rglob("*.pyc")), "runs with caching on wrote no bytecode"
    # The same answer every time: a race would show up as a different row or exit code.
    assert all(r == results[0] for r in results), results


def test_doctor_with_a_failing_required_check_exits_1_with_the_summary(project, tmp_path):
    port = free_port()
    proc = project.inv(
        "doctor",
        env={
            "DOCKER_HOST": f"unix://{tmp_path}/no-such-docker.sock",
            "DATABASE_PORT": str(port),
            "INVOKE_POSTGRES_BACKEND": "docker",
        },  # with auto, no engine means the local cluster
        timeout=120,
    )
    rows = check_doctor(proc, port)
    assert proc.returncode == 1 and ("docker engine", "FAIL") in rows, out(proc)
    assert "docker engine" in proc.stderr.strip().splitlines()[-1]


def test_doctor_names_every_bad_setting_with_its_source_and_fix(project, tmp_path):
    yaml = project.root / "invoke.yaml"
    yaml.write_text(yaml.read_text() + "billing:\n  grace_period: soon\npostgres:\n  imag: x\n")
    extra = tmp_path / "extra.yaml"
    extra.write_text("lint:\n  severity: loud\n")
    proc = project.inv("-f", str(extra), "doctor", timeout=120)
    no_traceback(proc, "inv doctor with bad settings")
    assert proc.returncode == 1, out(proc)
    lines = proc.stdout.splitlines()
    for check, text, fix in (
        (
            "billing.grace_period",
            f"setting billing.grace_period = 'soon' (from {yaml}) is not a positive number",
            "INVOKE_BILLING_GRACE_PERIOD",
        ),
        ("postgres.imag", f"setting postgres.imag (from {yaml}) is not a setting of the suite", "fix: rename it to postgres.image"),
        (
            "lint.severity",
            f"setting lint.severity = 'loud' (from {extra}) is not one of error, warning, info, style",
            "INVOKE_LINT_SEVERITY",
        ),
    ):
        i = next(i for i, line in enumerate(lines) if line.startswith(check + " ") and "FAIL" in line)
        assert text in lines[i] and fix in lines[i + 1], proc.stdout
        assert check in proc.stderr.strip().splitlines()[-1]


def test_a_yaml_syntax_error_is_one_line_from_every_command(project, tmp_path):
    yaml = project.root / "invoke.yaml"
    yaml.write_text(yaml.read_text() + "postgres:\n  image: [postgres:17\n")
    for args in (("--list",), ("doctor",), ("dev.status",)):
        proc = project.inv(*args, timeout=120)
        no_traceback(proc, f"inv {' '.join(args)} with a broken invoke.yaml")
        assert proc.returncode == 1 and proc.stdout == "", out(proc)
        [line] = proc.stderr.splitlines()
        assert line.startswith(f"{yaml} line ") and ", column " in line and "expected ',' or ']'" in line, line
    yaml.write_text(yaml.read_text().replace("[postgres:17", "postgres:17"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("lint: {jobs: 2\n")
    proc = project.inv("-f", str(broken), "doctor", timeout=120)
    no_traceback(proc, "inv -f broken.yaml doctor")
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(f"{broken} line "), out(proc)


# ------------------------------------------------------------------- the stack, in order


def test_the_stack_as_a_user_drives_it(pg_project, docker_client, require_mix):
    p, name = pg_project, pg_project.container_name
    port = int(p.env["DATABASE_PORT"])

    before = p.inv("dev.status", check=True)
    assert f"container  {name}: absent" in before.stdout
    assert "deps       will run" in before.stdout and "setup      will run" in before.stdout

    up = p.inv("dev.up", "--no-iex", check=True)
    assert "seeded 2 accounts" in up.stdout and "total" in up.stdout
    assert "Interactive Elixir" not in up.stdout  # --no-iex

    after = p.inv("dev.status", check=True)
    assert f"container  {name}: running, 127.0.0.1:{port}" in after.stdout
    assert "answers" in after.stdout and "seeded     yes" in after.stdout
    assert "will run" not in after.stdout

    # doctor beside a running stack: the port is ours now, not "taken".
    doctor = p.inv("doctor", timeout=120)
    rows = check_doctor(doctor, port)
    assert ("database port", "ok") in rows
    assert f"127.0.0.1:{port} published by our container {name} (running)" in doctor.stdout

    status = p.inv("infra.status", check=True)
    assert "state      running" in status.stdout and "database   answers" in status.stdout

    logs = p.inv("infra.logs", "--tail", "20", check=True)
    assert "database system is ready to accept connections" in logs.stdout
    assert len(logs.stdout.splitlines()) <= 20

    iex = p.inv("elixir.iex", timeout=120)  # stdin closed: iex exits at end of input
    assert iex.returncode == 0, out(iex)
    assert "-S mix" in iex.stdout and "Interactive Elixir" in iex.stdout
    assert "DATABASE_PASSWORD=****" in iex.stdout

    seed = p.inv("elixir.seed", check=True)
    assert "already seeded on" in seed.stdout and "Use `inv db.reset` to start over" in seed.stdout

    down = p.inv("dev.down", check=True)
    assert down.stdout.strip() == f"stopped container {name}; data kept in volume {name}-data"
    ct = docker_client.containers.get(name)
    assert ct.status == "exited"
    again = p.inv("dev.down", check=True)
    assert "already stopped" in again.stdout

    stopped = p.inv("dev.status", check=True)
    assert f"container  {name}: exited" in stopped.stdout and "not running" in stopped.stdout

    # dev.down kept the data: the next dev.up starts the container and seeds nothing.
    back = p.inv("dev.up", "--no-iex", check=True)
    assert "started" in back.stdout and "already seeded" in back.stdout
    assert "seeded 2 accounts" not in back.stdout
    for proc in (before, up, after, status, logs, iex, seed, down, again, stopped, back):
        no_traceback(proc, "the stack")
        assert "DATABASE_PASSWORD=postgres" not in out(proc)  # masked wherever a command is shown


def test_server_runs_the_fixture_phoenix_until_it_stops(pg_project, require_mix):
    """elixir.server with the fixture's real phx.server alias: create and migrate the
    database through psql, then serve HTTP until the server process is stopped."""
    p = pg_project
    p.inv("infra.up", check=True)
    http_port, secret = free_port(), "whsec_" + uuid.uuid4().hex
    env = {**p.env, "STRIPE_WEBHOOK_SIGNING_SECRET": secret, "FIXTURE_PYTHON": sys.executable}
    inv = subprocess.Popen(
        [sys.executable, "-m", "invoke", "elixir.server", "--env", f"PORT={http_port}", "--env", "BILLING_ENABLED=true"],
        cwd=p.root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: dict[int, psutil.Process] = {}
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and inv.poll() is None:
            try:
                for child in psutil.Process(inv.pid).children(recursive=True):
                    seen.setdefault(child.pid, child)
            except psutil.Error:
                pass
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=2) as answer:
                    status = answer.status
                break
            except OSError:
                time.sleep(0.1)
        assert inv.poll() is None, f"inv exited ({inv.returncode}) before the server answered:\n{inv.communicate()[0]}"
        assert status == 200
        receivers = []
        for proc in psutil.Process(inv.pid).children(recursive=True):
            seen.setdefault(proc.pid, proc)
            try:
                if any("webhook_receiver.py" in a for a in proc.cmdline()):
                    receivers.append(proc)
            except psutil.Error:
                pass
        assert len(receivers) == 1, seen
        receivers[0].terminate()  # the server stops (SIGTERM: exit 0); mix, then inv, follow
        output, _ = inv.communicate(timeout=60)
    finally:
        if inv.poll() is None:
            for proc in seen.values():
                try:
                    proc.kill()
                except psutil.Error:
                    pass
            inv.kill()
            inv.communicate(timeout=30)
    assert inv.returncode == 0, output
    assert "Traceback" not in output
    assert re.search(rf"^\$ \(elixir\) DATABASE_HOST=localhost .*PORT={http_port} .*mix phx\.server$", output, re.M), output
    assert "[info] Running Web.Endpoint (fixture)" in output
    assert f"[info] Access Api.Endpoint at http://127.0.0.1:{http_port}" in output
    assert secret not in output and "DATABASE_PASSWORD=postgres" not in output


# ----------------------------------------------------------------------------- billing


def test_billing_env_shows_what_serve_would_give(project):
    key = "sk_test_51" + uuid.uuid4().hex + "Zz"
    project.write_env(f"STRIPE_SECRET_KEY={key}\n")
    proc = project.inv("billing.env", env={"DATABASE_PORT": "54329"}, check=True)
    no_traceback(proc, "inv billing.env")
    text = proc.stdout
    assert key not in out(proc)
    assert re.search(r"^  STRIPE_SECRET_KEY\s+= sk_test_\S*\s+\[\.env line 1\]$", text, re.M), text
    assert re.search(r"^  BILLING_ENABLED\s+= true\b", text, re.M), text
    assert re.search(r"^  DATABASE_PORT\s+= 54329\s+\[the shell environment\]$", text, re.M), text
    assert re.search(r"^  DATABASE_PASSWORD\s+= \*{4}", text, re.M), text
    assert "forwards to http://localhost:13001/integrations/stripe/webhooks" in text
    assert "problem:" not in text

    os.remove(project.root / ".env")
    missing = project.inv("billing.env")
    no_traceback(missing, "inv billing.env without a key")
    assert "problem: STRIPE_SECRET_KEY is not set" in out(missing)


def test_output_piped_into_a_reader_that_left_ends_quietly(project):
    # `inv dev.status | head`: the reader is gone before the first line (`true` reads
    # nothing). No traceback; the shell's 141, as for any writer into a closed pipe.
    proc = subprocess.run(
        ["bash", "-c", f'"{sys.executable}" -m invoke dev.status | true; echo "status ${{PIPESTATUS[0]}}" >&2'],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "status 141", proc.stderr


def test_invokes_own_output_into_a_closed_pipe_ends_quietly(project):
    # `inv --list | head`, `inv --help TASK | head`: invoke prints these before any task runs.
    for args in ("--list", "--help infra.up"):
        proc = subprocess.run(
            ["bash", "-c", f'"{sys.executable}" -m invoke {args} | true; echo "status ${{PIPESTATUS[0]}}" >&2'],
            cwd=project.root,
            env=project.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
        assert proc.stderr.strip().splitlines()[-1] in ("status 141", "status 0"), proc.stderr
