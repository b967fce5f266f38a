"""The suite's files stay out of git, as a user sees it: `inv` run as a process in a
throwaway Firezone root that is a git checkout whose .gitignore, like Firezone's,
ignores only `**/.env`.

After the first task (`inv doctor`, what every new user runs first) `git status` offers
none of .inv/, .env.local, the bytecode caches or the egg-info; the line saying so
appears once across runs; `inv --dry` and `inv --list` change nothing; and doctor flags
a `.env.local` that git would add (a warning: nothing is committed yet) or has tracked
(a failure: its secrets are in the next commit).
"""

from __future__ import annotations

import subprocess

import pytest

from .conftest import make_project, require_program

pytestmark = pytest.mark.integration

ADDED = "inv: added .inv/, .env.local, __pycache__/, *.egg-info/ to .git/info/exclude so git never offers them"
# The bytecode cache is written as in a user's shell (the harness turns it off).
WITH_PYC = {"PYTHONDONTWRITEBYTECODE": ""}


def git(root, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def offered(root) -> list[str]:
    """What `git add .` would take, as `git status` lists it."""
    return sorted(git(root, "status", "--porcelain", "--untracked-files=all").splitlines())


@pytest.fixture
def checkout(tmp_path):
    require_program("git", "apt-get install git")
    p = make_project(tmp_path)
    git(p.root, "init", "-q")
    (p.root / ".gitignore").write_text("**/.env\n")  # Firezone's root .gitignore
    git(p.root, "add", ".")
    git(p.root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "the Firezone checkout")
    p.write_env("STRIPE_SECRET_KEY=sk_test_0123456789abcdef\n", ".env.local")
    # What `pip install .` leaves in the root.
    (p.root / "firezone_dev_tasks.egg-info").mkdir()
    (p.root / "firezone_dev_tasks.egg-info" / "PKG-INFO").write_text("Name: firezone-dev-tasks\n")
    p.template = (p.root / ".git" / "info" / "exclude").read_text()
    return p


def doctor_ok(proc) -> None:
    """doctor answered: exit 0, or 1 for a required check (the fixture has no Elixir
    install of its own), never a traceback."""
    text = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1) and "Traceback" not in text, text
    assert "doctor: " in text, text


def test_after_the_first_task_git_offers_nothing_of_the_suites(checkout):
    before = offered(checkout.root)
    assert "?? .env.local" in before and "?? firezone_dev_tasks.egg-info/PKG-INFO" in before

    first = checkout.inv("doctor", env=WITH_PYC, timeout=120)
    doctor_ok(first)
    second = checkout.inv("dev.status", env=WITH_PYC, timeout=120)
    assert second.returncode == 0 and "Traceback" not in second.stderr, second.stderr

    assert (checkout.root / "tasks" / "__pycache__").is_dir() and (checkout.root / ".inv").is_dir()
    assert offered(checkout.root) == []
    both = first.stdout + first.stderr + second.stdout + second.stderr
    assert both.count(ADDED) == 1 and ADDED in first.stderr, both
    assert "inv: " not in second.stderr.replace("inv: warning", ""), second.stderr
    exclude = (checkout.root / ".git" / "info" / "exclude").read_text()
    assert exclude.startswith(checkout.template)  # git's own lines kept
    assert exclude.count("/.env.local\n") == 1
    # doctor's own row, with the exclude in place
    assert "secrets in git" in first.stdout and "git ignores .env.local" in first.stdout, first.stdout


def test_dry_and_list_change_nothing(checkout):
    for args in (("--list",), ("--dry", "dev.up")):
        proc = checkout.inv(*args, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "exclude" not in proc.stderr, proc.stderr
    assert (checkout.root / ".git" / "info" / "exclude").read_text() == checkout.template
    assert not (checkout.root / ".inv").exists()
    assert "?? .env.local" in offered(checkout.root)


def test_doctor_flags_a_secrets_file_git_would_add_or_has(checkout):
    doctor_ok(checkout.inv("doctor", timeout=120))
    exclude = checkout.root / ".git" / "info" / "exclude"
    exclude.write_text(checkout.template)  # the user removes our lines by hand

    warned = checkout.inv("doctor", timeout=120)
    doctor_ok(warned)
    assert exclude.read_text() == checkout.template  # removed by hand stays removed
    assert ADDED not in warned.stderr
    lines = warned.stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("git: .env.local"))
    assert lines[row].split()[2] == "warn", warned.stdout
    assert "`git add .` would commit its secrets" in lines[row]
    assert lines[row + 1].strip() == "fix: echo '/.env.local' >> .git/info/exclude"
    assert "git: .env.local" not in warned.stderr  # a warning does not fail doctor

    git(checkout.root, "add", ".env.local")  # one `git add .` later
    failed = checkout.inv("doctor", timeout=120)
    assert failed.returncode == 1 and "Traceback" not in failed.stdout + failed.stderr
    lines = failed.stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("git: .env.local"))
    assert lines[row].split()[2] == "FAIL" and ".env.local is tracked by git" in lines[row], failed.stdout
    assert lines[row + 1].strip().startswith("fix: git rm --cached .env.local and commit")
    assert "git: .env.local" in failed.stderr  # named in doctor's verdict

    # The fix as printed clears it.
    git(checkout.root, "rm", "-q", "--cached", ".env.local")
    subprocess.run(["sh", "-c", "echo '/.env.local' >> .git/info/exclude"], cwd=checkout.root, check=True)
    fixed = checkout.inv("doctor", timeout=120)
    doctor_ok(fixed)
    assert "git: .env.local" not in fixed.stdout and "git ignores .env.local" in fixed.stdout
