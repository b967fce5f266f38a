"""A damaged state folder and a damaged `.env`, through `inv` as a user runs it.

Unreadable state is unknown state: one warning naming the file, and the step runs.
Unwritable state is one line naming the path and the fix, exit 1, no traceback and no
temporary file left behind. A bad `.env` line is named by file and line, never echoed,
and the good lines still count (doctor checks the configured port).
"""

from __future__ import annotations

import json
import os
import uuid

import pytest

from tests.integration.conftest import free_port

pytestmark = pytest.mark.integration

FIX = "remove it or set dev.state_dir (INVOKE_DEV_STATE_DIR)"
SECRET = "sk_test_51HdamagedSecretValue0123"


@pytest.fixture(autouse=True)
def _own_container_name(project):
    # dev.status and doctor only look at the container; make sure it is nobody's.
    project.env["INVOKE_POSTGRES_CONTAINER"] = f"fzdev-test-absent-{uuid.uuid4().hex[:8]}"


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


def assert_no_traceback(proc) -> None:
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr


def tmp_files(project) -> list[str]:
    state = project.root / ".inv"
    return [str(p) for p in state.rglob("*.tmp")] if state.is_dir() else []


def warnings(proc) -> list[str]:
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("warning: ")]


def errors(proc) -> list[str]:
    """stderr lines that are neither warnings nor mix's own output."""
    return [ln for ln in lines(proc.stderr) if not ln.startswith("warning: ")]


# ------------------------------------------------------------------ unwritable state


def test_state_folder_that_is_a_file(project, require_mix):
    state = project.root / ".inv"
    state.write_text("not a folder")
    proc = project.inv("elixir.deps")
    assert proc.returncode == 1, proc.stderr
    assert_no_traceback(proc)
    assert errors(proc) == [f"cannot write the state folder {state} (a file is in the way): {FIX}"]
    assert state.read_text() == "not a folder"

    status = project.inv("dev.status")
    assert status.returncode == 0, status.stderr
    assert_no_traceback(status)
    assert f"state      cannot write the state folder {state} (a file is in the way)" in status.stdout
    assert "deps       will run" in status.stdout
    assert warnings(status) == [
        "warning: ignoring .inv/backend.json (.inv is a file, not a folder): postgres.backend=auto decides again",
        "warning: ignoring .inv/fingerprints/deps.json (.inv is a file, not a folder): the step runs",
        "warning: ignoring .inv/fingerprints/setup.json (.inv is a file, not a folder): the step runs",
    ]


def test_fingerprints_folder_that_is_a_file(project, require_mix):
    folder = project.root / ".inv" / "fingerprints"
    folder.parent.mkdir()
    folder.write_text("")
    proc = project.inv("elixir.setup")
    assert proc.returncode == 1, proc.stderr
    assert_no_traceback(proc)
    assert errors(proc) == [f"cannot write the state folder {folder} (a file is in the way): {FIX}"]
    assert tmp_files(project) == []


def test_state_file_that_is_a_folder(project, require_mix):
    record = project.root / ".inv" / "fingerprints" / "deps.json"
    (record / "inside").mkdir(parents=True)
    proc = project.inv("elixir.deps")
    assert proc.returncode == 1, proc.stderr
    assert_no_traceback(proc)
    # Checked before the step runs: its success could not be recorded.
    assert "mix deps.get" not in proc.stdout
    assert errors(proc) == [f"cannot write the state file {record} (a folder is in the way): {FIX}"]
    assert tmp_files(project) == []
    assert sorted(p.name for p in record.parent.iterdir()) == ["deps.json"]

    status = project.inv("dev.status")
    assert status.returncode == 0 and "deps       will run: its record cannot be read" in status.stdout
    assert f"state      cannot write the state file {record} (a folder is in the way)" in status.stdout
    assert_no_traceback(status)


def test_read_only_state_folder(project, require_mix):
    state = project.root / ".inv"
    state.mkdir()
    state.chmod(0o555)
    try:
        proc = project.inv("elixir.deps")
    finally:
        state.chmod(0o755)
    assert_no_traceback(proc)
    assert tmp_files(project) == []
    if os.geteuid() == 0:
        # root writes into a read-only folder: nothing to refuse (the unit tests simulate it)
        assert proc.returncode == 0, proc.stderr
    else:
        assert proc.returncode == 1, proc.stderr
        assert errors(proc) == [
            f"cannot write the state folder {state} (permission denied): chmod u+w {state} or set dev.state_dir (INVOKE_DEV_STATE_DIR)"
        ]


# ------------------------------------------------------------------ unreadable state


@pytest.mark.parametrize("content", ['{"inputs": [1, 2]}', '{"salt": 5}', "[1, 2]", "{not json"])
def test_record_of_the_wrong_shape_is_unknown_and_the_step_runs(project, require_mix, content):
    record = project.root / ".inv" / "fingerprints" / "deps.json"
    record.parent.mkdir(parents=True)
    record.write_text(content)
    why = "not valid JSON" if content.startswith("{not") else "not a JSON object with the expected fields"
    warning = f"warning: ignoring .inv/fingerprints/deps.json ({why}): the step runs"

    status = project.inv("dev.status")
    assert status.returncode == 0, status.stderr
    assert_no_traceback(status)
    assert "deps       will run: its record cannot be read" in status.stdout
    assert warnings(status) == [warning]

    proc = project.inv("elixir.deps")
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    assert warnings(proc) == [warning]
    assert "deps: running (its record cannot be read)" in proc.stdout
    assert isinstance(json.loads(record.read_text())["inputs"], dict)  # replaced by a good record
    again = project.inv("elixir.deps", check=True)
    assert "deps: up to date" in again.stdout and warnings(again) == []
    assert tmp_files(project) == []


@pytest.mark.parametrize("version", ['"x"', '[1, "a"]'])
def test_bad_version_cache_is_detected_again(project, require_mix, version):
    cache = project.root / ".inv" / "elixir-version.json"
    cache.parent.mkdir()
    cache.write_text('{"key": "whatever", "version": %s}' % version)
    proc = project.inv("--dry", "db.reset", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    assert "mix do ecto.reset + ecto.seed" in proc.stdout
    assert warnings(proc) == [
        "warning: ignoring .inv/elixir-version.json (not a JSON object with the expected fields): the Elixir version is detected again"
    ]


def test_bad_version_cache_on_a_real_reset(pg_project, require_mix):
    # The case: the cache's key matches, its version is garbage; the reset used
    # to drop and reseed the database and then die with a TypeError.
    pg_project.inv("db.reset", "--yes", check=True)
    cache = pg_project.root / ".inv" / "elixir-version.json"
    good = json.loads(cache.read_text())
    cache.write_text(json.dumps({"key": good["key"], "version": "x"}))
    proc = pg_project.inv("db.reset", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert_no_traceback(proc)
    assert "warning: ignoring .inv/elixir-version.json" in proc.stderr
    assert json.loads(cache.read_text()) == good
    assert tmp_files(pg_project) == []


# ------------------------------------------------------------------ .env


def test_env_line_without_equals_names_the_line_not_the_content(project):
    project.write_env(f"DATABASE_HOST=localhost\n\n# pasted below\n{SECRET}\n")
    proc = project.inv("dev.status")
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert lines(proc.stderr) == [f"{project.root / '.env'} line 4: not a KEY=VALUE line (no `=`); fix it or comment it out with #"]
    assert SECRET not in proc.stdout + proc.stderr and "DamagedSecret" not in proc.stdout + proc.stderr


def test_env_not_utf8_names_the_first_bad_line(project):
    (project.root / ".env").write_bytes(b"DATABASE_HOST=localhost\n# ok\nDATABASE_NAME=caf\xe9\nX=\xff\n")
    proc = project.inv("dev.status")
    assert proc.returncode == 1
    assert_no_traceback(proc)
    assert lines(proc.stderr) == [f"{project.root / '.env'} line 3 is not UTF-8: re-save the file as UTF-8"]


def test_doctor_with_a_bad_env_line_still_checks_the_configured_port(project, docker_client):
    port = free_port()
    project.write_env(f"DATABASE_PORT={port}\n{SECRET}\n")
    proc = project.inv("doctor", timeout=120)
    assert_no_traceback(proc)
    assert proc.returncode == 1  # the .env row fails
    rows = proc.stdout.splitlines()
    port_row = next(ln for ln in rows if ln.startswith("database port"))
    assert f"127.0.0.1:{port}" in port_row and ":5432" not in port_row
    env_row = next(ln for ln in rows if ln.startswith(".env "))
    assert "FAIL" in env_row and f"{project.root / '.env'} line 2: not a KEY=VALUE line (no `=`)" in env_row
    assert SECRET not in proc.stdout + proc.stderr


def test_env_typos_duplicates_and_stray_quotes_are_named_by_every_task_and_doctor(project):
    """`DATABSE_PORT=...` passed doctor and --dry, then the real run met another port; a duplicated key won silently."""
    project.write_env('DATABSE_PORT=55433\nDATABASE_USER=postgres\nDATABASE_USER=other\nDATABASE_PASSWORD=" postgres"\n')
    expected = [
        "warning: .env line 1: DATABSE_PORT is read by neither the suite nor the portal. Fix: rename it to DATABASE_PORT",
        "warning: .env: DATABASE_USER is set twice (lines 2 and 3); the last wins. Fix: delete one of the two lines",
        "warning: .env line 4: the value of DATABASE_PASSWORD has stray spaces or quotes. Fix: remove them: the value is used as written",
    ]
    dry = project.inv("--dry", "dev.up")
    assert_no_traceback(dry)
    assert [ln for ln in lines(dry.stderr) if ln.startswith("warning: .env")] == expected  # once, though pre-tasks run too
    doctor = project.inv("doctor", timeout=120)
    env_rows = [ln for ln in doctor.stdout.splitlines() if ln.startswith(".env ")]
    assert any("DATABSE_PORT is read by neither the suite nor the portal" in ln and "warn" in ln for ln in env_rows), doctor.stdout
    assert any("rename it to DATABASE_PORT" in ln for ln in doctor.stdout.splitlines())
    assert 'postgres"' not in doctor.stdout + dry.stdout + dry.stderr  # values are never shown
