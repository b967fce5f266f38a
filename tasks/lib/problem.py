"""The one error type: what is wrong, the fix, the setting; code that needs the parts reads the fields, never the text."""

from __future__ import annotations

from invoke import Exit


class Problem(Exit):
    joined = "{}. Fix: {}"  # how the message joins what and fix

    def __init__(self, what: str, fix: str = "", setting: str = "", code: int = 1) -> None:
        self.what = what.rstrip(". ") if fix else what
        self.fix = fix
        self.setting = setting
        super().__init__(self.joined.format(self.what, self.fix) if fix else what, code)

    def __str__(self) -> str:
        return self.message or ""


class Refused(Problem):
    """A step that refused before changing anything (dev.up's table says "refused", not "failed")."""


def what_and_fix(e: Exit) -> tuple[str, str]:
    """The parts of any one-line error: a Problem's fields, or an Exit's whole text."""
    if isinstance(e, Problem):
        return e.what, e.fix
    return e.message or "", ""
