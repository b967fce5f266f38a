"""`inv lint.sh`: the settings read, the scripts found, both tools run, the report printed."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from invoke import Exit

from tasks.lib import config, programs, versions
from tasks.lib.config import PROJECT_ROOT, project_path
from tasks.lib.console import is_dry
from tasks.lib.shlint import discovery, precommit, runners
from tasks.lib.shlint.results import Report

# Skipped files listed by name before the summary; past this many, only counted.
SHOW_SKIPPED = 10


def lint_sh(c, path: list[str] | None, fix: bool, strict: bool, staged: bool) -> None:
    """Lint the shell scripts; Exit 1 (with the fix) when any fails."""
    # Every setting first: a bad one is reported before anything runs.
    strict = strict or config.flag(c, "lint", "strict")
    root = PROJECT_ROOT
    indent = config.whole(c, "lint", "indent")
    severity = config.choice(c, "lint", "severity", ("error", "warning", "info", "style"))
    jobs = config.whole(c, "lint", "jobs")
    exclude = config.strings(c, "lint", "exclude")
    minimal_paths = config.strings(c, "lint", "minimal_paths")
    pre_commit_configs = config.strings(c, "lint", "pre_commit_configs")
    pins_file = config.optional(c, "lint", "tool_versions")
    shellcheck = runners.find_tool(config.text(c, "lint", "shellcheck"), "shellcheck", root)
    shfmt = runners.find_tool(config.text(c, "lint", "shfmt"), "shfmt", root)
    if pins_file:
        for line in pin_warnings({"shellcheck": shellcheck, "shfmt": shfmt}, pins_file):
            print(line, file=sys.stderr, flush=True)

    wanted = [discovery.to_relative(root, p) for p in path] if path else None
    files = discovery.discover(root, exclude=exclude, paths=wanted, staged=staged, skip=discovery.suite_folders(root))
    files, skipped = skipped_by_pre_commit(root, files, pre_commit_configs)
    dry = is_dry(c)
    report = runners.lint(
        root,
        files,
        shellcheck=shellcheck,
        shfmt=shfmt,
        severity=severity,
        indent=indent,
        jobs=jobs,
        fix=fix,
        dry=dry,
        minimal_paths=minimal_paths,
    )
    for line in render(report, strict, dry):
        print(line)
    for line in render_skipped(skipped):
        print(line)
    print(summary(report, strict, dry), flush=True)
    if report.failed(strict):
        hint = []
        if any(f.diff or f.parse_errors for f in report.files) and not fix:
            hint.append("`inv lint.sh --fix` rewrites the formatting")
        if any(f.findings for f in report.files):
            hint.append("shellcheck findings need editing (or a `# shellcheck disable=SCxxxx` with a reason)")
        raise Exit("; ".join(hint) if hint else None, code=1)


def skipped_by_pre_commit(root: Path, files: list[str], names: list[str]) -> tuple[list[str], dict[str, str]]:
    """``files`` without those the repository's pre-commit configs (``names``, relative
    to the top of the work tree) keep from its shell hooks: (kept, {skipped: why}). A
    config that cannot be read is one warning, and skips nothing."""
    if not names or not files:
        return files, {}
    top = discovery.git_toplevel(root) or root
    try:
        prefix = root.resolve().relative_to(top.resolve()).as_posix() + "/"
    except ValueError:
        prefix = ""
    prefix = "" if prefix == "./" else prefix
    rules: list[precommit.Filter] = []
    for path in precommit.find(top, names):
        where = path.relative_to(top).as_posix()
        try:
            rules += precommit.filters(precommit.load(path, where), where)
        except precommit.ConfigError as e:
            print(f"warning: {e}; lint.sh does not apply its excludes", file=sys.stderr, flush=True)
    return precommit.split(files, rules, prefix)


def render_skipped(skipped: Mapping[str, str]) -> list[str]:
    """One line per file the repository's pre-commit config skips (the first few)."""
    out = [f"{rel}: skipped ({why})" for rel, why in list(skipped.items())[:SHOW_SKIPPED]]
    if len(skipped) > SHOW_SKIPPED:
        out.append(f"... and {len(skipped) - SHOW_SKIPPED} more skipped by the repository's pre-commit config")
    return out


def pin_warnings(tools: Mapping[str, str], pins_file: str) -> list[str]:
    """A warning line per tool (name -> full path) whose version does not agree with
    its pin in ``pins_file`` (relative to the project root); the rule is doctor's."""
    pins = versions.read(project_path(pins_file))
    lines = []
    for name, tool in tools.items():
        if name in pins:
            installed = programs.version([tool, "--version"])
            line = versions.version_warning(name, tool, installed, pins[name], pins_file, f"lint.{name}")
            if line:
                lines.append(line)
    return lines


def render(report: Report, strict: bool, dry: bool = False) -> list[str]:
    """Per file, what is wrong: shellcheck findings, shfmt's diff or parse error, tips."""
    out: list[str] = []
    for f in report.files:
        if not (f.findings or f.diff or f.parse_errors or f.tips or f.reformatted):
            continue
        out += [str(finding) for finding in f.findings]
        if f.reformatted:
            out.append(f"{f.path}: reformatted (shfmt -i {report.indent} -w)")
        elif f.diff:
            verb = "would be reformatted" if report.fix and dry else "not formatted"
            out.append(f"{f.path}: {verb} (shfmt -i {report.indent} -d):")
            out += ["    " + line for line in f.diff.rstrip("\n").splitlines()]
        out += [f"{line} (shfmt could not parse it)" for line in f.parse_errors]
        out += [tip.render(strict) for tip in f.tips]
    return out


def summary(report: Report, strict: bool, dry: bool = False) -> str:
    """One line: files checked, files with findings, and the counts behind them."""
    n = report.counts(strict)
    parts = [f"{n['checked']} {'file' if n['checked'] == 1 else 'files'} checked"]
    if report.fix:
        parts.append(f"{n['reformatted']} reformatted" if not dry else f"{n['unformatted']} would be reformatted")
    detail = [f"{n['findings']} shellcheck"]
    if not report.fix or dry:
        detail.append(f"{n['unformatted']} not formatted")
    tips = f"{n['tips']} tip {'errors' if strict else 'warnings'}"
    parts.append(f"{n['failed']} with findings ({', '.join(detail)})")
    parts.append(tips)
    return "lint.sh: " + ", ".join(parts)
