"""`inv lint.sh` and `inv lint.install-hook`: settings read once, both tools and the tips run, the report printed."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from invoke import Exit

from tasks.lib import config, programs, versions
from tasks.lib.config import PROJECT_ROOT, project_path
from tasks.lib.shlint import hook, precommit, scripts, tools
from tasks.lib.shlint.tips import Tip, check_tips
from tasks.lib.shlint.tools import Finding

# Skipped files listed by name before the summary; past this many, only counted.
SHOW_SKIPPED = 10


@dataclass(frozen=True)
class Settings:
    shellcheck: str = "shellcheck"  # the setting, until lint_sh finds the program
    shfmt: str = "shfmt"
    severity: str = "warning"
    indent: int = 4
    jobs: int = 0  # shellcheck processes at once; 0: one per CPU
    exclude: tuple[str, ...] = ()
    minimal_paths: tuple[str, ...] = ()
    pre_commit_configs: tuple[str, ...] = (".pre-commit-config.yaml", ".github/pre-commit-config.yaml")
    strict: bool = False
    tool_versions: str = ".tool-versions"  # "": no version check
    dry: bool = False

    @classmethod
    def read(cls, s: config.Settings) -> Settings:
        """Every lint.* setting, so that a bad one is one line before anything runs."""
        return cls(
            shellcheck=s.text("lint", "shellcheck"),
            shfmt=s.text("lint", "shfmt"),
            severity=s.choice("lint", "severity"),
            indent=s.whole("lint", "indent"),
            jobs=s.whole("lint", "jobs"),
            exclude=tuple(s.strings("lint", "exclude")),
            minimal_paths=tuple(s.strings("lint", "minimal_paths")),
            pre_commit_configs=tuple(s.strings("lint", "pre_commit_configs")),
            strict=s.flag("lint", "strict"),
            tool_versions=s.optional("lint", "tool_versions"),
            dry=s.dry,
        )


def install_hook(c, create: bool) -> None:
    """`inv lint.install-hook`."""
    s = Settings.read(config.settings(c))
    hook.install(s.pre_commit_configs, create, s.dry)


def lint_sh(c, path: Sequence[str] | None, fix: bool, strict: bool, staged: bool) -> None:
    """`inv lint.sh`: exit 1 (with the fix) when a script fails."""
    s = Settings.read(config.settings(c))
    strict = strict or s.strict
    root = PROJECT_ROOT
    s = dataclasses.replace(s, shellcheck=tools.find_tool(s.shellcheck, "shellcheck", root), shfmt=tools.find_tool(s.shfmt, "shfmt", root))
    if s.tool_versions:
        for line in pin_warnings({"shellcheck": s.shellcheck, "shfmt": s.shfmt}, s.tool_versions):
            print(line, file=sys.stderr, flush=True)
    wanted = [scripts.to_relative(root, p) for p in path] if path else None
    files = scripts.discover(root, s.exclude, wanted, staged, skip=scripts.suite_folder(root))
    skipped = skipped_by_pre_commit(root, files, s.pre_commit_configs)
    files = [rel for rel in files if not all(rel in skipped[tool] for tool in precommit.TOOLS)]
    done = lint(root, files, s, fix=fix, skip=skipped)
    for line in [*render(done, strict, s.dry), *render_skipped(skipped), summary(done, strict, s.dry)]:
        print(line)
    sys.stdout.flush()
    if done.failed(strict):
        hint = []
        if any(f.diff or f.parse_errors for f in done.files) and not fix:
            hint.append("`inv lint.sh --fix` rewrites the formatting")
        if any(f.findings for f in done.files):
            hint.append("shellcheck findings need editing (or a `# shellcheck disable=SCxxxx` with a reason)")
        raise Exit("; ".join(hint) or None, code=1)


def lint(
    root: Path, files: Sequence[str], s: Settings, *, fix: bool = False, skip: Mapping[str, Mapping[str, str]] | None = None
) -> Report:
    """Check ``files`` with shfmt first (so ``fix`` rewrites before shellcheck reads), shellcheck in batches, and the tips."""
    checked = {tool: [rel for rel in files if rel not in (skip or {}).get(tool, {})] for tool in precommit.TOOLS}
    results = {rel: FileResult(rel) for rel in files}
    for rel in checked["shellcheck"]:
        results[rel].tips = check_tips(rel, scripts.head(root / rel), scripts.matches_any(rel, s.minimal_paths))
    for batch in tools.batches(checked["shfmt"], 1):
        diffs, errors = tools.run_shfmt_diff(s.shfmt, batch, s.indent, root)
        for rel in diffs.keys() & results.keys():
            results[rel].diff = diffs[rel]
        for rel in errors.keys() & results.keys():
            results[rel].parse_errors = errors[rel]
    changed = [rel for rel in files if results[rel].diff]
    if fix and changed and not s.dry:
        tools.shfmt_write(s.shfmt, changed, s.indent, root)
        for rel in changed:
            results[rel].diff, results[rel].reformatted = "", True
    jobs = s.jobs or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        found = pool.map(lambda b: tools.run_shellcheck(s.shellcheck, b, s.severity, root), tools.batches(checked["shellcheck"], jobs))
        for finding in (f for batch in found for f in batch if f.path in results):
            results[finding.path].findings.append(finding)
    for r in results.values():
        r.findings.sort(key=lambda f: (f.line, f.column))
    return Report(list(results.values()), fix=fix, indent=s.indent)


def skipped_by_pre_commit(root: Path, files: Sequence[str], names: Sequence[str]) -> dict[str, dict[str, str]]:
    """The files the repository's pre-commit configs keep from each tool; an unreadable config is one warning."""
    if not names or not files:
        return precommit.skips(files, [])
    top, prefix = scripts.work_tree(root)
    rules: list[precommit.Filter] = []
    for path in precommit.find(top, names):
        where = path.relative_to(top).as_posix()
        try:
            rules += precommit.filters(precommit.load(path, where)[1], where)
        except precommit.ConfigError as e:
            print(f"warning: {e.what}; lint.sh does not apply its excludes", file=sys.stderr, flush=True)
    return precommit.skips(files, rules, prefix)


def pin_warnings(paths: Mapping[str, str], pins_file: str) -> list[str]:
    """A warning per tool (name -> path) whose version differs from its pin in ``pins_file``."""
    pins = versions.read(project_path(pins_file))
    said = {name: programs.version([tool, "--version"]) for name, tool in paths.items() if name in pins}
    found = [versions.version_warning(name, paths[name], v, pins[name], pins_file, f"lint.{name}") for name, v in said.items()]
    return [line for line in found if line]


@dataclass
class FileResult:
    path: str
    findings: list[Finding] = field(default_factory=list)
    diff: str = ""  # shfmt -d's
    parse_errors: list[str] = field(default_factory=list)  # shfmt's
    tips: list[Tip] = field(default_factory=list)
    reformatted: bool = False  # by --fix

    def failed(self, strict: bool = False) -> bool:
        return bool(self.findings or self.diff or self.parse_errors or (strict and self.tips))


@dataclass
class Report:
    files: list[FileResult]
    fix: bool = False
    indent: int = 4

    def failed(self, strict: bool = False) -> bool:
        return any(f.failed(strict) for f in self.files)


def render(report: Report, strict: bool, dry: bool = False) -> list[str]:
    """Per file, what is wrong: shellcheck findings, shfmt's diff or parse error, tips."""
    out: list[str] = []
    for f in report.files:
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
    files = report.files
    checked = len(files)
    unformatted = sum(bool(f.diff or f.parse_errors) for f in files)
    parts = [f"{checked} {'file' if checked == 1 else 'files'} checked"]
    if report.fix:
        parts.append(f"{unformatted} would be reformatted" if dry else f"{sum(f.reformatted for f in files)} reformatted")
    detail = [f"{sum(len(f.findings) for f in files)} shellcheck"]
    if not report.fix or dry:
        detail.append(f"{unformatted} not formatted")
    parts.append(f"{sum(f.failed(strict) for f in files)} with findings ({', '.join(detail)})")
    parts.append(f"{sum(len(f.tips) for f in files)} tip {'errors' if strict else 'warnings'}")
    return "lint.sh: " + ", ".join(parts)


def render_skipped(skipped: Mapping[str, Mapping[str, str]]) -> list[str]:
    """One line per file the repository's pre-commit config keeps from a tool ({tool: {file: why}})."""
    lines = []
    for rel in sorted(set().union(*skipped.values())):
        by = [tool for tool, files in skipped.items() if rel in files]
        label = "skipped" if len(by) == len(skipped) else f"{' and '.join(by)} skipped"
        lines.append(f"{rel}: {label} ({skipped[by[0]][rel]})")
    if len(lines) > SHOW_SKIPPED:
        lines[SHOW_SKIPPED:] = [f"... and {len(lines) - SHOW_SKIPPED} more skipped by the repository's pre-commit config"]
    return lines
