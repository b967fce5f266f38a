"""What linting found: shellcheck findings and tips, per file, and the whole report
(which files failed, and the counts the summary line gives).
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    """Everything said about one script."""

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
    """The files checked, in order, and how (``fix``, shfmt's ``indent``)."""

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
