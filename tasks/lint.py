"""lint.*: shell-script linting with shellcheck and shfmt."""

from __future__ import annotations

import sys

from invoke import Collection, Exit

from tasks.taskdef import is_dry, task


@task(
    load_env=False,
    iterable=["path"],
    help={
        "path": "Only check these files or folders (repeatable: -p scripts -p tests/run.sh)",
        "fix": "Rewrite the formatting with shfmt -w and report which files changed",
        "strict": "Treat scripting-tips warnings as errors (setting lint.strict)",
        "staged": "Only check scripts staged in git (what the pre-commit hook runs)",
    },
)
def sh(c, path=None, fix=False, strict=False, staged=False):
    """Lint the shell scripts: shellcheck, shfmt -d and the scripting tips."""
    from tasks import shell_scripts as ss
    from tasks import toolversions
    from tasks.settings import PROJECT_ROOT, project_path

    cfg = c.config.lint
    strict = strict or bool(cfg.get("strict", False))
    root = PROJECT_ROOT
    try:
        indent = int(cfg.indent)
    except (TypeError, ValueError):
        raise Exit(f"setting lint.indent={cfg.indent!r} is not a number: use e.g. 4 (0 means tabs)")
    severity = str(cfg.severity)
    if severity not in ("error", "warning", "info", "style"):
        raise Exit(f"setting lint.severity={severity!r}: use error, warning, info or style")

    shellcheck = ss.find_tool(cfg.shellcheck, "shellcheck", root)
    shfmt = ss.find_tool(cfg.shfmt, "shfmt", root)
    pins_file = str(cfg.get("tool_versions") or "")
    if pins_file:
        pins = toolversions.read(project_path(pins_file))
        for name, tool in (("shellcheck", shellcheck), ("shfmt", shfmt)):
            if name in pins:
                line = ss.version_warning(name, tool, ss.tool_version(tool), pins[name], pins_file)
                if line:
                    print(line, file=sys.stderr, flush=True)

    wanted = [ss.to_relative(root, p) for p in path] if path else None
    files = ss.discover(root, exclude=ss.patterns(cfg.exclude), paths=wanted, staged=staged)
    dry = is_dry(c)
    report = ss.lint(
        root,
        files,
        shellcheck=shellcheck,
        shfmt=shfmt,
        severity=severity,
        indent=indent,
        jobs=int(cfg.get("jobs") or 0),
        fix=fix,
        dry=dry,
        minimal_paths=ss.patterns(cfg.minimal_paths),
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


ns = Collection("lint")
ns.add_task(sh)
ns.configure(
    {
        "lint": {
            "shellcheck": "shellcheck",
            "shfmt": "shfmt",
            "severity": "warning",
            "indent": 4,
            "exclude": [],
            # Scripts for Docker images and minimal systems: #!/bin/sh + set -eu.
            "minimal_paths": [],
            # Scripting-tips warnings fail the run (as --strict does).
            "strict": False,
            # Processes running at once (shellcheck batches); 0 = one per CPU.
            "jobs": 0,
            # Pins compared with the tools' versions; "" turns the check off.
            "tool_versions": ".tool-versions",
        }
    }
)
