"""Keeping what the suite makes and reads out of git: `.git/info/exclude`.

Firezone's .gitignore ignores only `**/.env`, so the state folder, `.env.local` (secrets),
bytecode caches, the suite's venv and `pip install .`'s egg-info would all show as
untracked, one `git add .` from a commit. On the first task that runs in a git checkout,
``ensure_once`` appends the missing ones to the repository's own exclude file (local,
never committed; the common one for a worktree) under a comment naming the suite, and
says so in one line. A marker in the state folder then skips all of it, git included:
a warm run pays one stat. Lines removed by hand later stay removed (doctor still flags
a secrets file git would add, see ``secrets``).

Nothing here may stop a task: no git, not a repository, an exclude file that cannot be
written are silence or one warning. `inv --dry` changes nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tasks.lib import config
from tasks.lib.envfile import FILES as SECRETS  # .env, .env.local

# Marks the state folder of a checkout whose exclude file was seen to. A new entry in
# ``wanted`` must come with a new name, so that existing checkouts get it too.
MARKER = "git-exclude.v1.json"
COMMENT = "# added by inv (the Firezone dev tasks): its state, secrets and caches"
EGG_INFO_PROBE = "firezone_dev_tasks.egg-info/PKG-INFO"
GIT_TIMEOUT = 10.0
NO_GIT = "git not found"

_done = False


class GitError(Exception):
    """git answered with an error; the message is its first line."""


# Plain classes: this module is imported by every task run, and defining a dataclass
# or a NamedTuple costs 0.2 to 0.5 ms each here.
class Repo:
    """The repository the root is in."""

    __slots__ = ("root", "prefix", "exclude")

    def __init__(self, root: Path, prefix: str, exclude: Path) -> None:
        self.root = root  # the folder holding tasks.py
        self.prefix = prefix  # root relative to the work tree's top ("" or "sub/")
        self.exclude = exclude  # its info/exclude (the common one for a worktree)


class Wanted:
    """A line for the exclude file, the path (relative to the root) git is asked about,
    and how the message names it."""

    __slots__ = ("pattern", "probe", "name")

    def __init__(self, pattern: str, probe: str, name: str) -> None:
        self.pattern, self.probe, self.name = pattern, probe, name

    def __repr__(self) -> str:
        return f"Wanted({self.pattern!r}, {self.probe!r}, {self.name!r})"


class Secrets:
    """The secrets files present under the root, by what git would do with them."""

    __slots__ = ("repo", "present", "tracked", "addable", "uncovered")

    def __init__(self, repo: Repo, present: list[str], tracked: set[str], covered: set[str]) -> None:
        self.repo = repo
        self.present = present
        self.tracked = [n for n in present if n in tracked]
        self.uncovered = [n for n in present if n not in covered]  # no ignore pattern matches
        self.addable = [n for n in self.uncovered if n not in tracked]  # `git add .` takes them


# ------------------------------------------------------------------ git


def in_checkout(root: Path) -> bool:
    """Whether ``root`` may be in a git work tree, without running git: a `.git` (folder,
    or file for worktrees and submodules) in it or a parent, or GIT_DIR set."""
    if os.environ.get("GIT_DIR"):
        return True
    return any(os.path.lexists(p / ".git") for p in (root, *root.parents))


def _git(root: Path, *args: str, paths: list[str] | None = None) -> subprocess.CompletedProcess:
    """``git -C root ARGS``, ``paths`` NUL-separated on its stdin when given; GitError
    when git is missing, hangs or fails (exit 1 is an answer: check-ignore's "nothing
    ignored")."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), *args],
            input="\0".join(paths) if paths is not None else "",
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
        )
    except FileNotFoundError:
        raise GitError(NO_GIT) from None
    except (OSError, subprocess.SubprocessError) as e:
        raise GitError(f"git {args[0]} failed ({e.__class__.__name__})") from None
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and args[0] != "check-ignore"):
        first = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[0]
        raise GitError(f"git {args[0]}: {first}")
    return proc


def repo(root: Path) -> Repo | None:
    """The repository ``root`` is in, or None when it is in none (git not run when no
    `.git` is in sight). Raises GitError when git is missing or refuses."""
    if not in_checkout(root):
        return None
    if shutil.which("git") is None:  # a stat per PATH entry; a failed spawn forks first
        raise GitError(NO_GIT)
    try:
        proc = _git(root, "rev-parse", "--is-inside-work-tree", "--show-prefix", "--git-path", "info/exclude")
    except GitError as e:
        if "not a git repository" in str(e):  # a `.git` beyond GIT_CEILING_DIRECTORIES
            return None
        raise
    lines = proc.stdout.splitlines()
    if proc.returncode != 0 or len(lines) < 3 or lines[0] != "true":
        return None  # a bare repository, or inside .git itself
    return Repo(root=root, prefix=lines[1], exclude=root / lines[2])


def ignored_paths(r: Repo, probes: list[str]) -> set[str]:
    """Which of ``probes`` (paths relative to the root) an ignore pattern matches, tracked
    or not (--no-index: the patterns alone)."""
    if not probes:
        return set()
    out = _git(r.root, "check-ignore", "--no-index", "--stdin", "-z", paths=probes).stdout
    return {p for p in out.split("\0") if p}


def tracked_paths(r: Repo, paths: list[str]) -> set[str]:
    """Which of ``paths`` (relative to the root) are in the index."""
    if not paths:
        return set()
    out = _git(r.root, "ls-files", "-z", "--", *paths).stdout
    return {p for p in out.split("\0") if p}


# ------------------------------------------------------------------ what to exclude


def _escape(rel: str) -> str:
    """A path as a literal gitignore pattern."""
    out = "".join("\\" + ch if ch in "*?[\\" else ch for ch in rel)
    if out.endswith(" "):
        out = out[:-1] + "\\ "
    return out


def _inside(path: Path, root: Path) -> str | None:
    """``path`` relative to ``root`` as a posix string when strictly inside it; its
    folder's symbolic links resolved when that is what puts it there (``root`` is
    resolved; ``sys.prefix`` is not)."""
    full = os.path.abspath(path)
    for candidate in (full, os.path.join(os.path.realpath(os.path.dirname(full)), os.path.basename(full))):
        try:
            rel = Path(candidate).relative_to(root)
        except ValueError:
            continue
        return rel.as_posix() if rel.parts else None
    return None


def wanted(r: Repo, state_folder: Path | None, venv: Path | None) -> list[Wanted]:
    """What the suite creates or reads under the root, as patterns anchored there."""
    anchor = "/" + _escape(r.prefix)
    items: list[Wanted] = []
    for folder in (state_folder, venv):
        rel = _inside(folder, r.root) if folder is not None else None
        if rel:
            probe = f"{rel}/pyvenv.cfg" if folder is venv else f"{rel}/{MARKER}"
            items.append(Wanted(f"{anchor}{_escape(rel)}/", probe, f"{rel}/"))
    items += [Wanted(exclude_line(r, name), name, name) for name in SECRETS]
    items.append(Wanted("__pycache__/", "tasks/__pycache__/taskdef.cpython.pyc", "__pycache__/"))
    items.append(Wanted(f"{anchor}*.egg-info/", EGG_INFO_PROBE, "*.egg-info/"))
    return items


def missing(r: Repo, items: list[Wanted]) -> list[Wanted]:
    """The items git does not ignore yet and whose line is not in the exclude file."""
    covered = ignored_paths(r, [w.probe for w in items])
    present = set(_lines(r.exclude))
    return [w for w in items if w.probe not in covered and w.pattern not in present]


def _lines(path: Path) -> list[str]:
    try:
        return [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError:
        return []


def _open_append(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)


def append(path: Path, patterns: list[str]) -> list[str]:
    """Append the patterns not in ``path`` yet (after the comment line), keeping every
    other line; return those appended. Locked, so two first runs add each line once.
    Raises OSError."""
    path.parent.mkdir(exist_ok=True)  # `git init --template=` leaves info/ out
    fd = _open_append(path)
    with os.fdopen(fd, "r+b") as f:
        try:
            import fcntl

            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        except (ImportError, OSError):
            pass  # no locking here: a duplicate line at worst
        f.seek(0)
        text = f.read().decode("utf-8", errors="replace")
        have = {ln.strip() for ln in text.splitlines()}
        new = [p for p in dict.fromkeys(patterns) if p not in have]
        if new:
            block = ([COMMENT] if COMMENT not in have else []) + new
            lead = "\n" if text and not text.endswith("\n") else ""
            f.write((lead + "\n".join(block) + "\n").encode("utf-8"))
    return new


def secrets(root: Path, names: tuple[str, ...] = SECRETS) -> Secrets | None:
    """What git would do with each secrets file present under ``root``; None outside a
    repository. Raises GitError."""
    r = repo(root)
    if r is None:
        return None
    present = [n for n in names if os.path.lexists(root / n)]
    return Secrets(r, present, tracked=tracked_paths(r, present), covered=ignored_paths(r, present))


def exclude_line(r: Repo, name: str) -> str:
    """The exclude file's line for a file at the root."""
    return "/" + _escape(r.prefix + name)


# ------------------------------------------------------------------ the first run


def display(path: Path) -> str:
    """``path`` as typed in the current folder: relative when inside it (the usual
    `.git/info/exclude`), else absolute."""
    try:
        rel = _inside(path, Path.cwd())
    except OSError:  # the current folder was removed
        rel = None
    return rel if rel else os.path.abspath(path)


def _say(text: str) -> None:
    print(f"inv: {text}", file=sys.stderr, flush=True)


def apply(root: Path, state_folder: Path | None, venv: Path | None) -> bool:
    """Add what git would offer to the exclude file, saying so in one line (or warning
    once when it cannot be written). Returns whether the job is settled (a marker may
    be written): False when there is no repository or no git, to look again next run."""
    try:
        r = repo(root)
        if r is None:
            return False
        todo = missing(r, wanted(r, state_folder, venv))
    except GitError as e:
        if str(e) == NO_GIT:
            return False
        # e.g. safe.directory: said once (the marker follows); doctor says it again
        _say(f"warning: could not ask git what it ignores ({e}); nothing added to the exclude file")
        return True
    if not todo:
        return True
    where = display(r.exclude)
    try:
        added = append(r.exclude, [w.pattern for w in todo])
    except OSError as e:
        names = ", ".join(w.name for w in todo)
        why = e.strerror or e.__class__.__name__
        _say(f"warning: could not add {names} to {where} ({why}); git will offer them: add them there or to a .gitignore")
        return True
    if added:
        names = ", ".join(w.name for w in todo if w.pattern in added)
        _say(f"added {names} to {where} so git never offers them")
    return True


def ensure_once(c, root: Path | None = None) -> None:
    """At the first task of a run: unless `inv --dry`, or the state folder's marker says
    it was done, run ``apply`` for ``root`` (default: the project root) and leave the
    marker. Never raises (but Ctrl-C)."""
    global _done
    if _done:
        return
    _done = True
    try:
        if config.flag(c, "run", "dry"):
            return
        folder = config.state_dir(c)
        marker = folder / MARKER
        if os.path.exists(marker):
            return
        venv = Path(sys.prefix) if sys.prefix != sys.base_prefix else None
        if apply(root or config.PROJECT_ROOT, folder, venv):
            from tasks.lib import state

            state.write_json(marker, {"root": str(root or config.PROJECT_ROOT), "checked": "info/exclude"})
    except Exception:  # housekeeping must never stop the task it runs before
        pass
