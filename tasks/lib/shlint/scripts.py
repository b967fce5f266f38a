"""Which files are shell scripts (typed as pre-commit's identify does) and which ones `inv lint.sh` checks."""

from __future__ import annotations

import fnmatch
import os
import string
from collections.abc import Iterable, Sequence
from pathlib import Path

from tasks.lib import programs
from tasks.lib.config import PROJECT_ROOT
from tasks.lib.problem import Problem

# Extension or whole file name -> the shell it names ("" = sh-family, dialect unsaid).
SHELL_EXTENSIONS = {"sh": "", "bash": "bash", "zsh": "zsh", "ksh": "ksh", "bats": "bats"}
SHELL_NAMES = {
    **dict.fromkeys((".bash_aliases", ".bash_profile", ".bashrc", ".envrc", "direnvrc"), "bash"),
    **dict.fromkeys((".zlogin", ".zlogout", ".zprofile", ".zshenv", ".zshrc"), "zsh"),
    ".profile": "",
}
# Shebang programs shellcheck and shfmt read (not csh, tcsh: neither tool does).
SHELL_INTERPRETERS = frozenset({"sh", "bash", "dash", "ash", "ksh", "zsh", "bats"})
MINIMAL_SHELLS = frozenset({"sh", "dash", "ash"})
# Extensions naming another type: never a shell script, whatever it holds. Unlike identify,
# templates are known, so Firezone's executable `elixir/rel/env.sh.eex` is not a script.
OTHER_EXTENSIONS = frozenset(
    """
    eex heex leex sface erb ejs j2 jinja jinja2 tpl tmpl template mustache hbs in example sample dist ex exs erl hrl py pyi pyw rb pl
    pm php js mjs cjs ts mts cts tsx jsx rs go swift kt kts java scala groovy gradle c h cc cpp cxx hpp m mm cs fs lua r dart zig nim
    elm hs ml clj cljs awk sed ps1 psm1 bat cmd fish nix tf tfvars hcl sql proto graphql gql vue svelte md markdown rst txt adoc org
    json jsonc json5 yaml yml toml xml html htm xhtml css scss sass less svg csv tsv ini cfg conf env properties plist lock patch diff
    log service socket timer desktop mk make cmake dockerfile containerfile png jpg jpeg gif ico webp pdf zip gz tgz bz2 xz zst tar
    jar wasm so dylib dll exe
    """.split()
)
# Never descended into when the tree is walked (no git).
SKIP_DIRS = frozenset({".git", "deps", "_build", "node_modules", ".venv", "__pycache__"})
# The suite's own fixtures (bad scripts on purpose): linted only when a path inside is named.
SUITE_FIXTURES = PROJECT_ROOT / "tests" / "fixtures"
_PRINTABLE = frozenset(string.printable)


def _extension(name: str) -> str:
    return os.path.splitext(os.path.basename(name))[1][1:].lower()


def interpreter(first_line: str) -> str:
    """The shell a shebang names ('' for none), env and its options skipped; like identify, ``sh.static`` is tried as ``sh``."""
    line = first_line.rstrip("\r\n")
    if not line.startswith("#!") or not set(line) <= _PRINTABLE:
        return ""
    words = line[2:].split()
    if words and os.path.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    name = os.path.basename(words[0]) if words else ""
    while name and name not in SHELL_INTERPRETERS:
        name = name.rpartition(".")[0]
    return name


def by_name(name: str) -> bool | None:
    """True (a shell script), False (another type), None (the shebang decides)."""
    ext = _extension(name)
    if os.path.basename(name) in SHELL_NAMES or ext in SHELL_EXTENSIONS:
        return True
    return False if ext in OTHER_EXTENSIONS else None


def dialect(name: str, first_line: str) -> str:
    """The shell a script is written for: its shebang's, else its name's ('' when neither says)."""
    base = os.path.basename(name)
    return interpreter(first_line) or SHELL_NAMES.get(base, SHELL_EXTENSIONS.get(_extension(base), ""))


def head(path: Path, size: int = 16384) -> str:
    """The file's first ``size`` bytes as text, '' when unreadable."""
    try:
        with open(path, "rb") as f:
            return f.read(size).decode("utf-8", "replace")
    except OSError:
        return ""


def is_script(root: Path, rel: str) -> bool:
    """A regular file (not a symlink) that is a shell script; the first line is read only for an executable the name says nothing of."""
    said = by_name(rel)
    path = root / rel
    if said is False or path.is_symlink() or not path.is_file():
        return False
    return said or (os.access(path, os.X_OK) and bool(interpreter(head(path, 256).split("\n", 1)[0])))


def matches_any(rel: str, patterns: Iterable[str]) -> bool:
    """Whether a root-relative path, or a folder above it, matches a glob (``*`` crosses ``/``)."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in patterns:
        pattern = str(pattern).strip().rstrip("/").removeprefix("./")
        if pattern and any(fnmatch.fnmatchcase(p, pattern) for p in prefixes):
            return True
    return False


def _git(root: Path, *args: str) -> str | None:
    """``git ARGS``'s output run in ``root``; None without git or when it fails."""
    git = programs.which("git")
    if not git:
        return None
    # surrogateescape: file names that are not UTF-8 survive, as with os.fsdecode.
    proc = programs.capture([git, *args], cwd=root, what=f"git {args[0]}", ok=None, errors="surrogateescape")
    return proc.stdout if proc.returncode == 0 else None


def git_toplevel(root: Path) -> Path | None:
    said = (_git(root, "rev-parse", "--show-toplevel") or "").strip()
    return Path(said) if said else None


def work_tree(root: Path) -> tuple[Path, str]:
    """The top of the git work tree holding ``root`` (else ``root``), and ``root``'s folder from there ("" or "sub/")."""
    top = git_toplevel(root) or root
    rel = root.resolve().relative_to(top.resolve()).as_posix()
    return top, "" if rel == "." else rel + "/"


def git_files(root: Path) -> list[str] | None:
    """Tracked files relative to ``root`` (git prints them so when run there); None outside git."""
    said = _git(root, "ls-files", "-z", "--cached")
    return None if said is None else [name for name in said.split("\0") if name]


def staged_files(root: Path) -> list[str]:
    said = _git(root, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMR", "--relative")
    if said is None:
        raise Problem(f"--staged needs a git work tree at {root} (git diff --cached failed)")
    return [name for name in said.split("\0") if name]


def walk_files(root: Path) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        base = Path(dirpath).relative_to(root)
        found += [(base / name).as_posix() for name in filenames]
    return found


def suite_folder(root: Path, fixtures: Path | None = None) -> str:
    """The suite's fixtures folder relative to ``root``; '' when absent or elsewhere."""
    fixtures, root = (fixtures or SUITE_FIXTURES).resolve(), root.resolve()
    return fixtures.relative_to(root).as_posix() if fixtures.is_dir() and fixtures.is_relative_to(root) else ""


def to_relative(root: Path, given: str, cwd: Path | None = None) -> str:
    """A path the user typed (relative to ``cwd``) as a root-relative POSIX path."""
    path = ((cwd or Path.cwd()) / given).resolve()
    if not path.exists():
        raise Problem(f"{given}: no such file or folder (inv lint.sh --path takes files and folders)")
    if not path.is_relative_to(root.resolve()):
        raise Problem(f"{given} is outside the project root {root}: lint.sh only checks the project's scripts")
    rel = path.relative_to(root.resolve()).as_posix()
    return "" if rel == "." else rel


def _under(rel: str, folder: str) -> bool:
    return not folder or rel == folder or rel.startswith(folder + "/")


def discover(
    root: Path, exclude: Sequence[str] = (), paths: Sequence[str] | None = None, staged: bool = False, skip: str = ""
) -> list[str]:
    """The scripts to check, sorted, root-relative: git's files (or the tree) in ``paths``, or staged; a named file even untracked.
    ``exclude`` always applies; the ``skip`` folder only unless a path names something inside it."""
    root = root.resolve()
    tracked = git_files(root)
    candidates = set(tracked if tracked is not None else walk_files(root))
    if staged:
        candidates &= set(staged_files(root))
    named = [p.strip("/") for p in paths or ()]
    if paths:
        explicit = {p for p in named if p and (root / p).is_file()}
        chosen = explicit | {rel for rel in candidates if any(_under(rel, d) for d in named if d not in explicit)}
        candidates = chosen & candidates if staged else chosen
    if skip:
        inside = [p for p in named if p and _under(p, skip)]
        candidates = {rel for rel in candidates if not _under(rel, skip) or any(_under(rel, p) for p in inside)}
    return sorted(rel for rel in candidates if not matches_any(rel, exclude) and is_script(root, rel))
