"""shellcheck and shfmt: found, run in batches, and their output read per file."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tasks.lib import programs
from tasks.lib.problem import Problem

INSTALL = "apt-get install shellcheck shfmt (Debian/Ubuntu), brew install shellcheck shfmt (macOS), or pip install '.[lint-tools]'"
INSTALL_HINT = "Install: " + INSTALL
# Files per process: long enough to pay process start-up once, short enough for argv.
MAX_BATCH = 200
TOOL_TIMEOUT = 600.0


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


def find_tool(program: str, setting: str, root: Path) -> str:
    return programs.require(program, f"lint.{setting}", INSTALL_HINT, root)


def batches(files: Sequence[str], parts: int, max_batch: int = MAX_BATCH) -> list[list[str]]:
    """``files`` in at least ``parts`` balanced batches (when there are enough files)."""
    n = min(len(files), max(parts, -(-len(files) // max_batch)))
    return [list(files[i::n]) for i in range(n)]


def _capture(what: str, argv: list[str], cwd: Path, ok: tuple[int, ...] = (0, 1)) -> subprocess.CompletedProcess:
    return programs.capture(argv, cwd=cwd, timeout=TOOL_TIMEOUT, what=f"{what} ({argv[0]})", ok=ok, hint=INSTALL_HINT)


def parse_shellcheck_json(text: str) -> list[Finding]:
    """shellcheck ``-f json1`` output -> findings; ValueError (one line) when it is not json1."""
    try:
        comments = json.loads(text)["comments"] if text.strip() else []
        return [Finding(c["file"], int(c["line"]), int(c["column"]), c["level"], f"SC{c['code']}", c["message"]) for c in comments]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{type(e).__name__}: {e}") from e


def run_shellcheck(tool: str, files: Sequence[str], severity: str, cwd: Path) -> list[Finding]:
    proc = _capture("shellcheck", [tool, f"--severity={severity}", "-f", "json1", "--", *files], cwd)
    try:
        return parse_shellcheck_json(proc.stdout)
    except ValueError as e:
        fix = f"lint.sh needs shellcheck 0.7 or newer (for -f json1; setting lint.shellcheck): {INSTALL}"
        raise Problem(f"shellcheck ({tool}) printed no -f json1 output lint.sh can read ({e})", fix, "lint.shellcheck")


def split_shfmt_diff(text: str) -> dict[str, str]:
    """shfmt ``-d`` output -> ``{file: diff}``; a header is ``--- NAME.orig`` then ``+++ NAME`` (a removed ``-- `` line is none)."""
    diffs: dict[str, str] = {}
    name = None
    lines = text.splitlines(keepends=True)
    for line, after in zip(lines, [*lines[1:], ""], strict=False):
        orig = line.rstrip("\r\n").removeprefix("--- ")
        if line.startswith("--- ") and orig.endswith(".orig") and after.rstrip("\r\n") == f"+++ {orig[:-5]}":
            name = orig[:-5]
            diffs[name] = ""
        if name is not None and not line.startswith("diff "):  # shfmt >= 3.7 starts each file with "diff a b"
            diffs[name] += line
    return diffs


def split_by_file(stderr: str, names: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Error lines ``file:line:col: message`` grouped by file (the longest name that fits); the rest apart."""
    by_file: dict[str, list[str]] = {}
    rest: list[str] = []
    for line in filter(str.strip, stderr.splitlines()):
        name = max((n for n in names if line.startswith(n + ":")), key=len, default=None)
        (rest if name is None else by_file.setdefault(name, [])).append(line)
    return by_file, rest


def run_shfmt_diff(tool: str, files: Sequence[str], indent: int, cwd: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """One ``shfmt -i N -d`` over ``files``: (diffs, parse errors) per file."""
    proc = _capture("shfmt", [tool, "-i", str(indent), "-d", "--", *files], cwd)
    diffs = split_shfmt_diff(proc.stdout)
    errors, rest = split_by_file(proc.stderr, files)
    if proc.returncode == 1 and not diffs and not errors:
        said = (rest or proc.stdout.strip().splitlines() or ["no output"])[-1]
        raise Problem(programs.failure(f"shfmt ({tool})", proc.returncode, said[-300:]), fix=INSTALL, setting="lint.shfmt")
    return diffs, errors


def shfmt_write(tool: str, files: Sequence[str], indent: int, cwd: Path) -> None:
    for batch in batches(files, 1):
        _capture("shfmt -w", [tool, "-i", str(indent), "-w", "--", *batch], cwd, ok=(0,))
