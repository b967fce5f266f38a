"""What `inv lint.sh` found, per file, and the lines it prints about it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Skipped files listed by name before the summary; past this many, only counted.
SHOW_SKIPPED = 10


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
    path: str
    line: int
    message: str

    def render(self, strict: bool) -> str:
        return f"{self.path}:{self.line}: tip {'error' if strict else 'warning'}: {self.message}"


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
