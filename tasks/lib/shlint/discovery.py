"""Finding the shell scripts to lint: git's tracked (or staged) files, or the tree
walked outside git, kept when they are shell scripts as pre-commit types them
(``shells``), minus the excluded patterns and the suite's own test fixtures.
"""

from __future__ import annotations

import fnmatch
import os
import stat
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from invoke import Exit

from tasks.lib import programs
from tasks.lib.config import PROJECT_ROOT
from tasks.lib.shlint import shells

# Never descended into when the tree is walked (no git): build output, dependencies, venvs.
SKIP_DIRS = frozenset({".git", "deps", "_build", "node_modules", ".venv", "__pycache__"})
# The suite's own test fixtures (deliberately bad scripts among them), beside tasks/:
# never Firezone's scripts, so never linted unless a path inside is named.
SUITE_FIXTURES = PROJECT_ROOT / "tests" / "fixtures"


def head(path: Path, size: int = 16384) -> str:
    """The file's first ``size`` bytes as text, '' when unreadable."""
    try:
        with open(path, "rb") as f:
            data = f.read(size)
    except OSError:
        return ""
    return data.decode("utf-8", "replace")


def first_line(path: Path) -> str:
    """The file's first line (at most 256 bytes), '' when unreadable."""
    return head(path, 256).split("\n", 1)[0]


def patterns(value) -> list[str]:
    """A patterns setting as a list: YAML may give one string instead of a list."""
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def matches_any(rel: str, patterns: Iterable[str]) -> bool:
    """Whether a root-relative POSIX path matches one of the glob ``patterns``.

    A pattern matches the path itself or any folder above it, so ``vendor`` and
    ``vendor/*`` both exclude everything under vendor/. ``*`` also crosses ``/``.
    """
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in patterns:
        pattern = str(pattern).strip().rstrip("/")
        if pattern.startswith("./"):
            pattern = pattern[2:]
        if not pattern:
            continue
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes):
            return True
    return False


def _git(root: Path, *args: str) -> subprocess.CompletedProcess | None:
    """``git ARGS`` run in ``root`` (its exit code left to the caller); None without git."""
    git = programs.which("git")
    if not git:
        return None
    # surrogateescape: file names that are not UTF-8 survive, as with os.fsdecode.
    return programs.capture([git, *args], cwd=root, what=f"git {args[0]}", ok=None, errors="surrogateescape")


def _nul_separated(output: str) -> list[str]:
    return [name for name in output.split("\0") if name]


def git_toplevel(root: Path) -> Path | None:
    """The top of the git work tree holding ``root``, or None outside one."""
    proc = _git(root, "rev-parse", "--show-toplevel")
    if proc is None or proc.returncode != 0 or not proc.stdout.strip():
        return None
    return Path(proc.stdout.strip())


def git_files(root: Path) -> list[str] | None:
    """Tracked files under ``root`` (relative to it), or None outside a git work tree."""
    # Run in root, git prints paths relative to it, even when root is a subfolder.
    proc = _git(root, "ls-files", "-z", "--cached")
    if proc is None or proc.returncode != 0:
        return None
    return _nul_separated(proc.stdout)


def staged_files(root: Path) -> list[str]:
    """Files added, copied, modified or renamed in the index, relative to ``root``."""
    proc = _git(root, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMR", "--relative")
    if proc is None or proc.returncode != 0:
        raise Exit(f"--staged needs a git work tree at {root} (git diff --cached failed)")
    return _nul_separated(proc.stdout)


def walk_files(root: Path) -> list[str]:
    """Every file under ``root`` (relative), skipping .git, deps, _build, node_modules."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        base = Path(dirpath).relative_to(root)
        found += [(base / name).as_posix() for name in filenames]
    return found


def is_script(root: Path, rel: str) -> bool:
    """A regular file (not a symlink) that is a shell script (see ``shells``)."""
    if shells.by_name(rel) is False:
        return False  # no stat for the many files whose name says another type
    path = root / rel
    try:
        mode = path.lstat().st_mode
    except OSError:
        return False
    if not stat.S_ISREG(mode):
        return False
    return shells.is_shell_script(rel, os.access(path, os.X_OK), lambda: first_line(path))


def suite_folders(root: Path, fixtures: Path | None = None) -> list[str]:
    """The suite's own fixtures folder relative to ``root``, when it is there ([] if not)."""
    fixtures = fixtures or SUITE_FIXTURES
    try:
        rel = fixtures.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return []
    return [rel] if fixtures.is_dir() else []


def _skipped(rel: str, skip: Sequence[str], named: Sequence[str]) -> bool:
    """Whether ``rel`` lies in a ``skip`` folder that no named path reaches into."""
    for folder in skip:
        if rel == folder or rel.startswith(folder + "/"):
            inside = [p for p in named if p == folder or p.startswith(folder + "/")]
            if not any(rel == p or rel.startswith(p + "/") for p in inside):
                return True
    return False


def to_relative(root: Path, given: str, cwd: Path | None = None) -> str:
    """A path the user typed (relative to ``cwd``) as a root-relative POSIX path, or Exit."""
    cwd = Path.cwd() if cwd is None else cwd
    path = (cwd / given).resolve() if not os.path.isabs(given) else Path(given).resolve()
    if not path.exists():
        raise Exit(f"{given}: no such file or folder (inv lint.sh --path takes files and folders)")
    try:
        rel = path.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise Exit(f"{given} is outside the project root {root}: lint.sh only checks the project's scripts")
    return "" if rel == "." else rel


def discover(
    root: Path,
    exclude: Sequence[str] = (),
    paths: Sequence[str] | None = None,
    staged: bool = False,
    skip: Sequence[str] = (),
) -> list[str]:
    """The shell scripts to check, as sorted root-relative POSIX paths.

    Git-tracked files (the whole tree when ``root`` is not in git), limited to the
    given root-relative ``paths`` (files or folders) and to staged files when asked.
    A file named explicitly is checked even when untracked. Excluded patterns
    always apply, explicit files included, so the hook and the task agree. The
    ``skip`` folders (the suite's fixtures) are left out unless a path inside one is
    named.
    """
    root = root.resolve()
    tracked = git_files(root)
    candidates = set(tracked if tracked is not None else walk_files(root))
    if staged:
        candidates &= set(staged_files(root))
    if paths:
        wanted = [p.strip("/") for p in paths]
        explicit = [p for p in wanted if p and (root / p).is_file()]
        folders = [p for p in wanted if p not in explicit]
        chosen = set(explicit)
        for rel in candidates:
            if any(not d or rel == d or rel.startswith(d + "/") for d in folders):
                chosen.add(rel)
        if staged:
            chosen &= candidates
        candidates = chosen
    named = [p.strip("/") for p in paths or () if p.strip("/")]
    return sorted(rel for rel in candidates if not matches_any(rel, exclude) and not _skipped(rel, skip, named) and is_script(root, rel))
