"""The suite's files stay out of git, as a user sees it: `inv` run as a process in a
throwaway Firezone root that is a git checkout whose .gitignore, like Firezone's,
ignores only `**/.env`.

After a task `git status` offers nothing the suite made (the state folder ignores itself,
tasks/.gitignore its bytecode caches); the user's `.env.local` stays offered, and doctor
flags it: a warning while git would add it, a failure once it is tracked. Nothing edits
.git/info/exclude.
"""

from __future__ import annotations

import subprocess

import pytest

from .conftest import make_project, require_program

pytestmark = pytest.mark.integration

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
    git(p.root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "the Firezone checkout with the suite dropped in")
    p.write_env("STRIPE_SECRET_KEY=sk_test_0123456789abcdef\n", ".env.local")
    p.template = (p.root / ".git" / "info" / "exclude").read_text()
    return p


def doctor_ok(proc) -> None:
    """doctor answered: exit 0, or 1 for a required check (the fixture has no Elixir
    install of its own), never a traceback."""
    text = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1) and "Traceback" not in text, text
    assert "doctor: " in text, text


def row(proc, check: str) -> tuple[list[str], str]:
    """The row ``check`` of doctor's table (its words) and the line below it."""
    lines = proc.stdout.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith(check + " "))
    return lines[i].split(), lines[i + 1].strip() if i + 1 < len(lines) else ""


def test_after_a_task_git_offers_nothing_the_suite_made(checkout, require_mix):
    first = checkout.inv("doctor", env=WITH_PYC, timeout=120)
    doctor_ok(first)
    second = checkout.inv("elixir.deps", env=WITH_PYC, timeout=300)  # records a fingerprint in .inv/
    assert second.returncode == 0 and "Traceback" not in second.stderr, second.stdout + second.stderr

    assert (checkout.root / "tasks" / "__pycache__").is_dir() and list((checkout.root / ".inv").rglob("*.json"))
    assert offered(checkout.root) == ["?? .env.local"]  # the user's secrets: doctor's to flag
    assert (checkout.root / ".git" / "info" / "exclude").read_text() == checkout.template
    words, fix = row(first, "git: .env.local")
    assert words[2] == "warn" and "`git add .` would commit its secrets" in " ".join(words), first.stdout
    assert fix == "fix: echo '/.env.local' >> .git/info/exclude"
    assert "git: .env.local" not in first.stderr  # a warning does not fail doctor


def test_dry_and_list_change_nothing(checkout):
    for args in (("--list",), ("--dry", "dev.up")):
        proc = checkout.inv(*args, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (checkout.root / ".inv").exists()
    assert offered(checkout.root) == ["?? .env.local"]


def test_doctor_flags_a_secrets_file_git_has_and_the_fix_clears_it(checkout):
    git(checkout.root, "add", ".env.local")  # one `git add .` later
    failed = checkout.inv("doctor", timeout=120)
    assert failed.returncode == 1 and "Traceback" not in failed.stdout + failed.stderr
    words, fix = row(failed, "git: .env.local")
    assert words[2] == "FAIL" and ".env.local is tracked by git" in " ".join(words), failed.stdout
    assert fix.startswith("fix: git rm --cached .env.local and commit")
    assert fix.endswith("; then echo '/.env.local' >> .git/info/exclude")
    assert "git: .env.local" in failed.stderr  # named in doctor's verdict

    # The fix as printed clears it.
    git(checkout.root, "rm", "-q", "--cached", ".env.local")
    subprocess.run(["sh", "-c", "echo '/.env.local' >> .git/info/exclude"], cwd=checkout.root, check=True)
    fixed = checkout.inv("doctor", timeout=120)
    doctor_ok(fixed)
    assert "git: .env.local" not in fixed.stdout and "git ignores .env.local" in fixed.stdout
    assert offered(checkout.root) == []
