"""`inv lint.sh`: the settings read, the scripts found, both tools run, the report printed."""

from __future__ import annotations

import sys

from invoke import Exit

from tasks.lib import config, versions
from tasks.lib.config import PROJECT_ROOT, project_path
from tasks.lib.console import is_dry
from tasks.lib.shlint import scripts as ss


def lint_sh(c, path: list[str] | None, fix: bool, strict: bool, staged: bool) -> None:
    """Lint the shell scripts; Exit 1 (with the fix) when any fails."""
    strict = strict or config.flag(c, "lint", "strict")
    root = PROJECT_ROOT
    indent = config.whole(c, "lint", "indent")
    severity = config.choice(c, "lint", "severity", ("error", "warning", "info", "style"))
    shellcheck = ss.find_tool(config.text(c, "lint", "shellcheck"), "shellcheck", root)
    shfmt = ss.find_tool(config.text(c, "lint", "shfmt"), "shfmt", root)
    pins_file = config.optional(c, "lint", "tool_versions")
    if pins_file:
        pins = versions.read(project_path(pins_file))
        for name, tool in (("shellcheck", shellcheck), ("shfmt", shfmt)):
            if name in pins:
                line = ss.version_warning(name, tool, ss.tool_version(tool), pins[name], pins_file)
                if line:
                    print(line, file=sys.stderr, flush=True)

    wanted = [ss.to_relative(root, p) for p in path] if path else None
    files = ss.discover(root, exclude=config.strings(c, "lint", "exclude"), paths=wanted, staged=staged)
    dry = is_dry(c)
    report = ss.lint(
        root,
        files,
        shellcheck=shellcheck,
        shfmt=shfmt,
        severity=severity,
        indent=indent,
        jobs=config.whole(c, "lint", "jobs"),
        fix=fix,
        dry=dry,
        minimal_paths=config.strings(c, "lint", "minimal_paths"),
    )
    for line in render(report, strict, dry):
        print(line)
    print(summary(report, strict, dry), flush=True)
    if report.failed(strict):
        hint = []
        if any(f.diff or f.parse_errors for f in report.files) and not fix:
            hint.append("`inv lint.sh --fix` rewrites the formatting")
        if any(f.findings for f in report.files):
            hint.append("shellcheck findings need editing (or a `# shellcheck disable=SCxxxx` with a reason)")
        raise Exit("; ".join(hint) if hint else None, code=1)


def render(report, strict: bool, dry: bool = False) -> list[str]:
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


def summary(report, strict: bool, dry: bool = False) -> str:
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
