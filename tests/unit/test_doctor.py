import shutil
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tasks.lib import doctor as health
from tasks.lib.config import settings
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


# ------------------------------------------------------------------ the framework


def test_a_failed_row_reads_the_problems_fields():
    from invoke import Exit

    from tasks.lib.problem import Problem
    from tasks.lib.stack.backend import failed_row

    assert failed_row("x", Problem("it broke", "mend it")) == ("x", FAIL, "it broke", "mend it")
    assert failed_row("x", Exit("it broke. Fix: not parsed"), WARN) == ("x", WARN, "it broke. Fix: not parsed", "")


def test_settings_rows_one_per_bad_value():
    from invoke import Config

    cfg = Config(overrides={"lint": {"jobs": "two", "jbos": 1}})
    cfg.load_collection({"lint": {"jobs": 0}})
    rows = health.settings_rows(settings(cfg))
    assert [(r.check, r.status, r.fix) for r in rows] == [
        ("lint.jbos", FAIL, "rename it to lint.jobs"),
        ("lint.jobs", FAIL, "fix it in invoke.yaml (lint: {jobs: ...}) or INVOKE_LINT_JOBS"),
    ]
    assert rows[1].detail == "setting lint.jobs = 'two' (from the command line) is not a whole number >= 0"
    good = Config()
    good.load_collection({"lint": {"jobs": 0}})
    assert [r.status for r in health.settings_rows(settings(good))] == [OK]


# ------------------------------------------------------------------ git (real git in throwaway repositories)

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="needs git on PATH")


def git(cwd, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def doctor_root(tmp_path, monkeypatch):
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_CEILING_DIRECTORIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    root = tmp_path / "firezone"
    root.mkdir()
    git(root, "init", "-q")
    (root / ".gitignore").write_text("**/.env\n")  # Firezone's
    monkeypatch.chdir(root)
    monkeypatch.setattr(health, "PROJECT_ROOT", root)
    monkeypatch.setattr(sys, "prefix", sys.base_prefix)  # the test's own venv is not in the root
    return root


@needs_git
def test_doctor_ok_when_git_ignores_the_secrets(doctor_root):
    (doctor_root / ".env").write_text("A=1\n")
    (doctor_root / ".gitignore").write_text("**/.env\n/.env.local\n")
    (doctor_root / ".env.local").write_text("B=1\n")
    rows = health.git_rows()
    assert [(r.check, r.status, r.detail) for r in rows] == [("secrets in git", OK, "git ignores .env, .env.local")]


@needs_git
def test_doctor_warns_about_a_secrets_file_git_would_add(doctor_root):
    (doctor_root / ".env.local").write_text("STRIPE_SECRET_KEY=sk_test_x\n")
    [row] = health.git_rows()
    assert (row.check, row.status) == ("git: .env.local", WARN)
    assert row.detail == ".env.local is not ignored: `git add .` would commit its secrets"
    assert row.fix == "echo '/.env.local' >> .git/info/exclude"
    subprocess.run(["sh", "-c", row.fix], cwd=doctor_root, check=True)  # the fix works as printed
    assert health.git_rows()[0].status == OK


@needs_git
def test_doctor_fails_on_a_tracked_secrets_file(doctor_root):
    (doctor_root / ".env").write_text("A=1\n")
    (doctor_root / ".env.local").write_text("B=1\n")
    git(doctor_root, "add", "-f", ".env", ".env.local")
    rows = {r.check: r for r in health.git_rows()}
    assert rows["git: .env"].status == FAIL
    assert rows["git: .env"].detail == ".env is tracked by git: the secrets in it are committed or will be"
    assert rows["git: .env"].fix == "git rm --cached .env and commit (rotate any key in it that was pushed)"
    # .env.local is tracked and no pattern covers it: the exclude line is part of the fix
    assert rows["git: .env.local"].fix.endswith("; then echo '/.env.local' >> .git/info/exclude")


@needs_git
def test_doctor_warns_about_an_in_tree_venv_and_egg_info_git_would_add(doctor_root, monkeypatch):
    venv = doctor_root / ".venv"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (doctor_root / "firezone_dev_tasks.egg-info").mkdir()
    (doctor_root / "firezone_dev_tasks.egg-info" / "PKG-INFO").write_text("Name: x\n")
    monkeypatch.setattr(sys, "prefix", str(venv))
    rows = {r.check: r for r in health.git_rows()}
    assert rows["git: .venv/"].status == WARN and rows["git: .venv/"].fix == "echo '/.venv/' >> .git/info/exclude"
    assert rows["git: firezone_dev_tasks.egg-info/"].fix == "echo '/firezone_dev_tasks.egg-info/' >> .git/info/exclude"
    (venv / ".gitignore").write_text("*\n")  # what Python 3.13's venv writes
    assert "git: .venv/" not in {r.check for r in health.git_rows()}


@needs_git
def test_the_suite_in_a_subfolder_anchors_its_lines_there(doctor_root, monkeypatch):
    sub = doctor_root / "dev tools"
    sub.mkdir()
    (sub / ".env.local").write_text("B=1\n")
    monkeypatch.setattr(health, "PROJECT_ROOT", sub)
    monkeypatch.chdir(sub)
    [row] = health.git_rows()
    assert row.fix == f"echo '/dev tools/.env.local' >> {doctor_root / '.git' / 'info' / 'exclude'}"  # outside the current folder


@needs_git
def test_doctor_has_no_git_row_outside_a_repository_or_without_git(doctor_root, tmp_path, monkeypatch):
    (doctor_root / ".env.local").write_text("B=1\n")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    inner = doctor_root / "inner"
    inner.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(doctor_root))
    monkeypatch.setattr(health, "PROJECT_ROOT", inner)
    assert health.git_rows() == []  # the .git is beyond the ceiling
    monkeypatch.setattr(health, "PROJECT_ROOT", doctor_root)
    monkeypatch.setenv("PATH", str(doctor_root / "no-bin"))
    assert health.git_rows() == []


@needs_git
def test_doctor_warns_when_git_refuses_the_checkout(doctor_root):
    (doctor_root / ".git" / "config").write_text("[core\n")
    [row] = health.git_rows()
    assert (row.check, row.status) == ("secrets in git", WARN)
    assert row.detail.startswith("cannot ask git (git rev-parse: fatal: bad config line 1")
