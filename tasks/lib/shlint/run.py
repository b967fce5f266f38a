"""`inv lint.sh`: the lint.* settings read once, the scripts found, both tools and the tips
run, the report printed."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from invoke import Exit

from tasks.lib import programs, versions
from tasks.lib.config import PROJECT_ROOT, project_path
from tasks.lib.shlint import precommit, report, scripts, tools
from tasks.lib.shlint.report import FileResult, Report
from tasks.lib.shlint.tips import check_tips


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
    def read(cls, c) -> Settings:
        """Every lint.* setting, so that a bad one is one line before anything runs."""
        from tasks.lib import config
        from tasks.lib.console import is_dry

        def strings(key: str) -> tuple[str, ...]:
            return tuple(config.strings(c, "lint", key))

        return cls(
            shellcheck=config.text(c, "lint", "shellcheck"),
            shfmt=config.text(c, "lint", "shfmt"),
            severity=config.choice(c, "lint", "severity", ("error", "warning", "info", "style")),
            indent=config.whole(c, "lint", "indent"),
            jobs=config.whole(c, "lint", "jobs"),
            exclude=strings("exclude"),
            minimal_paths=strings("minimal_paths"),
            pre_commit_configs=strings("pre_commit_configs"),
            strict=config.flag(c, "lint", "strict"),
            tool_versions=config.optional(c, "lint", "tool_versions"),
            dry=is_dry(c),
        )


def install_hook(c, create: bool) -> None:
    """`inv lint.install-hook`."""
    from tasks.lib.shlint import hook

    s = Settings.read(c)
    hook.install(s.pre_commit_configs, create, s.dry)


def lint_sh(c, path: Sequence[str] | None, fix: bool, strict: bool, staged: bool) -> None:
    """`inv lint.sh`: exit 1 (with the fix) when a script fails."""
    s = Settings.read(c)
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
    for line in [*report.render(done, strict, s.dry), *report.render_skipped(skipped), report.summary(done, strict, s.dry)]:
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
    """Check ``files`` with both tools (each without the files ``skip`` keeps from it) and
    the tips (which go with shellcheck); with ``fix``, shfmt -w first (not under dry).
    shellcheck, the slow one, runs one batch per core, shfmt one batch beside."""
    skip = skip or {}
    checked = {tool: [rel for rel in files if rel not in skip.get(tool, {})] for tool in precommit.TOOLS}
    results = {rel: FileResult(rel) for rel in files}
    for rel in checked["shellcheck"]:
        results[rel].tips = check_tips(rel, scripts.head(root / rel), scripts.matches_any(rel, s.minimal_paths))
    jobs = s.jobs or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=jobs + 1) as pool:

        def shellcheck() -> list:
            return [
                pool.submit(tools.run_shellcheck, s.shellcheck, b, s.severity, root) for b in tools.batches(checked["shellcheck"], jobs)
            ]

        shfmt = [pool.submit(tools.run_shfmt_diff, s.shfmt, b, s.indent, root) for b in tools.batches(checked["shfmt"], 1)]
        # With --fix, formatted first, so shellcheck's line numbers are the rewritten files'.
        checks = [] if fix else shellcheck()
        for diffs, errors in (f.result() for f in shfmt):
            for rel in diffs.keys() & results.keys():
                results[rel].diff = diffs[rel]
            for rel in errors.keys() & results.keys():
                results[rel].parse_errors = errors[rel]
        changed = [rel for rel in files if results[rel].diff]
        if fix and changed and not s.dry:
            tools.shfmt_write(s.shfmt, changed, s.indent, root)
            for rel in changed:
                results[rel].diff, results[rel].reformatted = "", True
        for future in checks or shellcheck():
            for finding in future.result():
                if finding.path in results:
                    results[finding.path].findings.append(finding)
    for r in results.values():
        r.findings.sort(key=lambda f: (f.line, f.column))
    return Report(list(results.values()), fix=fix, indent=s.indent)


def skipped_by_pre_commit(root: Path, files: Sequence[str], names: Sequence[str]) -> dict[str, dict[str, str]]:
    """The files the repository's pre-commit configs (``names``, from the top of the work
    tree) keep from each tool. A config that cannot be read is one warning, and skips nothing."""
    if not names or not files:
        return precommit.skips(files, [])
    top = scripts.git_toplevel(root) or root
    try:
        prefix = root.resolve().relative_to(top.resolve()).as_posix() + "/"
    except ValueError:
        prefix = ""
    rules: list[precommit.Filter] = []
    for path in precommit.find(top, names):
        where = path.relative_to(top).as_posix()
        try:
            rules += precommit.filters(precommit.load(path, where), where)
        except precommit.ConfigError as e:
            print(f"warning: {e.what}; lint.sh does not apply its excludes", file=sys.stderr, flush=True)
    return precommit.skips(files, rules, "" if prefix == "./" else prefix)


def pin_warnings(paths: Mapping[str, str], pins_file: str) -> list[str]:
    """A warning per tool (name -> path) whose version differs from its pin in ``pins_file``."""
    pins = versions.read(project_path(pins_file))
    said = {name: programs.version([tool, "--version"]) for name, tool in paths.items() if name in pins}
    found = [versions.version_warning(name, paths[name], v, pins[name], pins_file, f"lint.{name}") for name, v in said.items()]
    return [line for line in found if line]
