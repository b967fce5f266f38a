"""Keeping the suite's files out of git, with real `git` in throwaway repositories: the
first task adds what git would offer to info/exclude and says so once; later runs are
silent and run no git; nothing is added twice; no repository, no git or a read-only
info folder never stop a task."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Config, Context

from tasks.lib import doctor as health
from tasks.lib import gitexclude
from tasks.lib.doctor import FAIL, OK, WARN

if shutil.which("git") is None:  # unit tests need nothing installed
    pytest.skip("needs git on PATH", allow_module_level=True)

ALL = "added .inv/, .env.local, __pycache__/, *.egg-info/ to .git/info/exclude so git never offers them"
# What the suite leaves in a Firezone checkout after `pip install .` and a first run.
LEFT_BEHIND = (
    ".inv/fingerprints/deps.json",
    ".env.local",
    "tasks/__pycache__/dev.cpython-311.pyc",
    "tasks/lib/__pycache__/state.cpython-311.pyc",
    "firezone_dev_tasks.egg-info/PKG-INFO",
)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    # A git hook running the tests would point every git call at its own repository.
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_CEILING_DIRECTORIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setattr(gitexclude, "_done", False)


def make_repo(path: Path) -> Path:
    """A Firezone-like checkout: a fresh repository whose .gitignore ignores only **/.env."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    (path / ".gitignore").write_text("**/.env\n")
    return path


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    r = make_repo(tmp_path / "firezone")
    monkeypatch.chdir(r)
    return r


def leave_files(root: Path) -> None:
    for rel in LEFT_BEHIND:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x\n")


def untracked(root: Path) -> list[str]:
    return git(root, "status", "--porcelain", "--untracked-files=all").splitlines()


def exclude(root: Path) -> Path:
    return root / ".git" / "info" / "exclude"


def context(root: Path, dry: bool = False) -> Context:
    return Context(Config(overrides={"run": {"dry": dry}, "dev": {"state_dir": str(root / ".inv")}}))


def run_first_task(root: Path, dry: bool = False) -> None:
    """What SuiteTask does before a task body, in a fresh `inv` process."""
    gitexclude._done = False
    gitexclude.ensure_once(context(root, dry), root)


# ------------------------------------------------------------------ the first task


def test_first_task_adds_what_git_would_offer_and_says_so_once(root, capsys):
    template = exclude(root).read_text()
    leave_files(root)
    run_first_task(root)
    assert capsys.readouterr().err == f"inv: {ALL}\n"
    text = exclude(root).read_text()
    assert text.startswith(template)  # git's own lines kept
    assert text[len(template) :] == f"{gitexclude.COMMENT}\n/.inv/\n/.env.local\n__pycache__/\n/*.egg-info/\n"
    assert untracked(root) == ["?? .gitignore"]
    assert (root / ".inv" / gitexclude.MARKER).is_file()

    run_first_task(root)
    assert capsys.readouterr().err == ""
    assert exclude(root).read_text() == text


def test_a_warm_run_runs_no_git(root, monkeypatch, capsys):
    run_first_task(root)
    capsys.readouterr()

    def no_process(*a, **kw):
        raise AssertionError("a warm run started a process")

    monkeypatch.setattr(subprocess, "run", no_process)
    monkeypatch.setattr(shutil, "which", no_process)
    run_first_task(root)
    gitexclude.ensure_once(context(root), root)  # and once per process anyway
    assert capsys.readouterr().err == ""


def test_lines_removed_by_hand_stay_removed(root, capsys):
    run_first_task(root)
    exclude(root).write_text(exclude(root).read_text().replace("/.env.local\n", ""))
    run_first_task(root)
    assert capsys.readouterr().err.count("inv: ") == 1
    assert "/.env.local" not in exclude(root).read_text()


def test_without_the_marker_nothing_is_added_twice(root, capsys):
    run_first_task(root)
    once = exclude(root).read_text()
    shutil.rmtree(root / ".inv")  # a user starting over
    run_first_task(root)
    assert capsys.readouterr().err == f"inv: {ALL}\n"
    assert exclude(root).read_text() == once


def test_what_git_ignores_already_is_not_added(root, capsys):
    (root / ".gitignore").write_text("**/.env\n.env.local\n.inv/\n*.pyc\n")
    run_first_task(root)
    assert capsys.readouterr().err == "inv: added *.egg-info/ to .git/info/exclude so git never offers them\n"
    # *.pyc covers the caches' contents: __pycache__/ is not needed
    assert exclude(root).read_text().endswith(f"{gitexclude.COMMENT}\n/*.egg-info/\n")


def test_everything_ignored_is_silent_and_leaves_the_file_alone(root, capsys):
    (root / ".gitignore").write_text("**/.env\n.env.local\n.inv/\n__pycache__/\n*.egg-info/\n")
    before = exclude(root).read_text()
    run_first_task(root)
    assert capsys.readouterr().err == ""
    assert exclude(root).read_text() == before


def test_a_line_present_is_never_added_again(root, capsys):
    # The line is there but a .gitignore re-includes the file: git offers it, yet
    # appending the same line again would change nothing.
    exclude(root).write_text("/.env.local\n")
    (root / ".gitignore").write_text("**/.env\n!.env.local\n")
    run_first_task(root)
    assert capsys.readouterr().err == "inv: added .inv/, __pycache__/, *.egg-info/ to .git/info/exclude so git never offers them\n"
    assert exclude(root).read_text().count("/.env.local") == 1


def test_a_last_line_without_newline_is_kept(root):
    exclude(root).write_text("*.log")
    run_first_task(root)
    assert exclude(root).read_text().startswith(f"*.log\n{gitexclude.COMMENT}\n")


def test_a_missing_info_folder_is_made(root, capsys):
    shutil.rmtree(root / ".git" / "info")
    leave_files(root)
    run_first_task(root)
    assert capsys.readouterr().err == f"inv: {ALL}\n"
    assert untracked(root) == ["?? .gitignore"]


def test_the_suite_in_a_subfolder_anchors_its_lines_there(tmp_path, monkeypatch, capsys):
    top = make_repo(tmp_path / "repo")
    root = top / "dev tools"
    root.mkdir()
    monkeypatch.chdir(root)
    leave_files(root)
    run_first_task(root)
    assert capsys.readouterr().err == f"inv: {ALL.replace('.git/info/exclude', str(exclude(top)))}\n"
    assert "/dev tools/.inv/\n/dev tools/.env.local\n" in exclude(top).read_text()
    assert untracked(top) == ["?? .gitignore"]


def test_the_venv_inside_the_checkout_is_excluded(root, capsys):
    venv = root / ".venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert gitexclude.apply(root, root / ".inv", venv)
    assert "/.venv/\n" in exclude(root).read_text()
    assert ".venv/" in capsys.readouterr().err
    assert not any(".venv" in line for line in untracked(root))


def test_a_venv_that_ignores_itself_is_left_alone(root, capsys):
    venv = root / ".venv"  # Python 3.13's venv writes this .gitignore
    venv.mkdir()
    (venv / ".gitignore").write_text("*\n")
    gitexclude.apply(root, root / ".inv", venv)
    assert "/.venv/" not in exclude(root).read_text()


def test_worktree_lines_go_to_the_common_exclude_file(tmp_path, monkeypatch, capsys):
    main = make_repo(tmp_path / "main")
    git(main, "add", ".gitignore")
    git(main, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    tree = tmp_path / "tree"
    git(main, "worktree", "add", "-q", str(tree))
    monkeypatch.chdir(tree)
    leave_files(tree)
    run_first_task(tree)
    assert capsys.readouterr().err == f"inv: {ALL.replace('.git/info/exclude', str(exclude(main)))}\n"
    assert "/.env.local\n" in exclude(main).read_text()
    assert untracked(tree) == []


# ------------------------------------------------------------------ never in the way


def test_not_a_repository_is_silent_and_leaves_no_marker(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = tmp_path / "plain"
    root.mkdir()
    if not gitexclude.in_checkout(root):  # tmp_path may itself sit in a checkout
        run_first_task(root)
        assert not (root / ".inv").exists()
    assert gitexclude.apply(root, root / ".inv", None) is False
    assert capsys.readouterr().err == ""


def test_git_not_installed_is_silent(root, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(root / "no-bin"))
    run_first_task(root)
    assert capsys.readouterr().err == ""
    assert not (root / ".inv").exists()  # looked at again once git is there


def test_a_read_only_info_folder_is_one_warning(root, monkeypatch, capsys):
    info = exclude(root).parent
    info.chmod(0o555)
    if os.geteuid() == 0:  # root writes anyway: a refused open stands in

        def refused(path):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(gitexclude, "_open_append", refused)
    try:
        run_first_task(root)
        run_first_task(root)
    finally:
        info.chmod(0o755)
    err = capsys.readouterr().err
    assert err == (
        "inv: warning: could not add .inv/, .env.local, __pycache__/, *.egg-info/ to .git/info/exclude"
        " (Permission denied); git will offer them: add them there or to a .gitignore\n"
    )


def test_a_repository_git_refuses_is_one_warning(root, capsys):
    (root / ".git" / "config").write_text("[core\n")  # as unusable as a safe.directory refusal
    run_first_task(root)
    run_first_task(root)
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("inv: warning: could not ask git what it ignores (git rev-parse: fatal: bad config line 1"), err


def test_a_dangling_git_file_is_no_repository(tmp_path, monkeypatch, capsys):
    root = tmp_path / "firezone"
    root.mkdir()
    (root / ".git").write_text("gitdir: /nonexistent/worktree\n")  # a moved worktree
    assert gitexclude.apply(root, root / ".inv", None) is False
    assert capsys.readouterr().err == ""


def test_dry_run_changes_nothing(root, capsys):
    before = exclude(root).read_text()
    run_first_task(root, dry=True)
    assert capsys.readouterr().err == ""
    assert exclude(root).read_text() == before and not (root / ".inv").exists()


def test_a_context_without_settings_is_skipped_quietly(root, capsys):
    gitexclude.ensure_once(Context(Config()), root)  # run.dry/dev.state_dir missing: no traceback
    assert capsys.readouterr().err == ""


def test_patterns_are_literal():
    assert gitexclude._escape("a*b?[c]\\d ") == "a\\*b\\?\\[c]\\\\d\\ "


# ------------------------------------------------------------------ doctor


@pytest.fixture
def doctor_root(root, monkeypatch):
    monkeypatch.setattr(health, "PROJECT_ROOT", root)
    return root


def test_doctor_ok_when_git_ignores_the_secrets(doctor_root):
    (doctor_root / ".env").write_text("A=1\n")
    run_first_task(doctor_root)
    (doctor_root / ".env.local").write_text("B=1\n")
    rows = health.git_rows()
    assert [(r.check, r.status, r.detail) for r in rows] == [("secrets in git", OK, "git ignores .env, .env.local")]


def test_doctor_warns_about_a_secrets_file_git_would_add(doctor_root):
    (doctor_root / ".env.local").write_text("STRIPE_SECRET_KEY=sk_test_x\n")
    [row] = health.git_rows()
    assert (row.check, row.status) == ("git: .env.local", WARN)
    assert row.detail == ".env.local is not ignored: `git add .` would commit its secrets"
    assert row.fix == "echo '/.env.local' >> .git/info/exclude"
    subprocess.run(["sh", "-c", row.fix], cwd=doctor_root, check=True)  # the fix works as printed
    assert health.git_rows()[0].status == OK


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


def test_doctor_has_no_git_row_outside_a_repository(tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setattr(health, "PROJECT_ROOT", plain)
    if gitexclude.in_checkout(plain):
        pytest.skip("the temporary folder is inside a git checkout")
    assert health.git_rows() == []


def test_doctor_without_git_has_no_git_row(doctor_root, monkeypatch):
    (doctor_root / ".env.local").write_text("B=1\n")
    monkeypatch.setenv("PATH", str(doctor_root / "no-bin"))
    assert health.git_rows() == []


def test_the_module_is_cheap_to_import():
    # Imported by every task run: plain stdlib and what SuiteTask loads anyway.
    code = (
        "import sys; before = set(sys.modules)\n"
        "import tasks.lib.config, tasks.lib.envfile\n"
        "mid = set(sys.modules)\n"
        "import tasks.lib.gitexclude\n"
        "print(sorted(set(sys.modules) - mid))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['tasks.lib.gitexclude']", out


def test_a_git_folder_beyond_the_ceiling_is_no_repository(tmp_path, monkeypatch, capsys):
    top = make_repo(tmp_path / "top")
    root = top / "firezone"
    root.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(top))
    assert gitexclude.repo(root) is None
    assert gitexclude.apply(root, root / ".inv", None) is False
    assert capsys.readouterr().err == ""


def test_a_venv_reached_through_a_link_is_still_ours(root, tmp_path):
    link = tmp_path / "link"
    link.symlink_to(root)
    (root / ".venv").mkdir()
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    items = gitexclude.wanted(gitexclude.repo(root), None, link / ".venv")
    assert [w.pattern for w in items][0] == "/.venv/"


def test_doctor_warns_when_git_refuses_the_checkout(doctor_root):
    (doctor_root / ".git" / "config").write_text("[core\n")
    [row] = health.git_rows()
    assert (row.check, row.status) == ("secrets in git", WARN)
    assert row.detail.startswith("cannot ask git (git rev-parse: fatal: bad config line 1")
