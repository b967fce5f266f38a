"""What the suite prints and asks: dry-run lines, tables, the confirm prompt, prefixed lines."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from invoke import Exit

from tasks.lib.problem import Problem

# The start of every line that says what `inv --dry` would have done.
DRY = "[dry] "


def dry(text: str, file: TextIO | None = None) -> None:
    """Print one plan line of `inv --dry`."""
    print(DRY + text, file=file or sys.stdout, flush=True)


def table(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None, right: Sequence[int] = (), sep: str = "  ") -> str:
    """Rows as aligned columns ``sep`` apart (``right``: right-aligned); the last column is never padded."""
    all_rows = [list(map(str, r)) for r in ([header] if header else []) + list(rows)]
    n = max(map(len, all_rows), default=0)
    widths = [max((len(r[i]) for r in all_rows if i < len(r) and i < n - 1), default=0) for i in range(n)]

    def cell(i: int, text: str, last: bool) -> str:
        return text.rjust(widths[i]) if i in right else (text if last else text.ljust(widths[i]))

    return "\n".join(sep.join(cell(i, text, i == len(r) - 1) for i, text in enumerate(r)).rstrip() for r in all_rows)


def confirm(question: str, *, yes: bool, rerun: str, declined: str) -> None:
    """Ask ``question [y/N]``; ``yes`` skips it; without a terminal, Exit saying to ``rerun`` with --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise Problem(f"{question.rstrip('?')}: there is no terminal to ask for confirmation", f"rerun with --yes: {rerun}")
    try:
        answer = input(f"{question} [y/N] ").strip().lower()
    except EOFError:
        answer = ""
    if answer not in ("y", "yes"):
        raise Exit(declined)


class PrefixedOutput:
    """A stdout stand-in: lines written by registered threads get a ``name | `` prefix."""

    def __init__(self, target: TextIO):
        self.target = target
        self.prefixes: dict[int, str] = {}
        self._partial: dict[int, str] = {}
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        ident = threading.get_ident()
        prefix = self.prefixes.get(ident)
        if prefix is None:
            return self.target.write(text)
        with self._lock:
            buffered = self._partial.pop(ident, "") + text
            *lines, rest = buffered.split("\n")
            self.target.write("".join(f"{prefix} | {line}\n" for line in lines))
            if rest:
                self._partial[ident] = rest
            self.target.flush()
        return len(text)

    def release(self, ident: int) -> None:
        """Stop prefixing thread ``ident``'s lines, writing out any unfinished one."""
        with self._lock:
            prefix = self.prefixes.pop(ident, None)
            rest = self._partial.pop(ident, "")
            if prefix is not None and rest:
                self.target.write(f"{prefix} | {rest}\n")
                self.target.flush()

    def __getattr__(self, name):
        return getattr(self.target, name)
