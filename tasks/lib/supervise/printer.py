"""The supervisor's output: each line as ``name | text``, secrets masked, one at a time.

Names are padded to the longest (``system`` included, the supervisor's own voice) and
coloured with ANSI codes when the output is a terminal and NO_COLOR is not set.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable
from typing import TextIO

from tasks.lib.masking import mask_text

SYSTEM = "system"
# ANSI colours for the prefixes, by program order: cyan, yellow, magenta, green, blue, red.
COLOURS = ("36", "33", "35", "32", "34", "31")


class Printer:
    """Prefixed, masked lines to ``out`` for the programs ``names`` (and ``system``)."""

    def __init__(
        self,
        names: Iterable[str],
        *,
        out: TextIO | None = None,
        secrets: Iterable[str] = (),
        colour: bool | None = None,
    ):
        self.names = list(names)
        self.out = out if out is not None else sys.stdout
        self.secrets = sorted(set(secrets), key=len, reverse=True)
        if colour is None:
            colour = _isatty(self.out) and not os.environ.get("NO_COLOR")
        self.colour = colour
        self._width = max([len(n) for n in self.names] + [len(SYSTEM)])
        self._lock = threading.Lock()

    def prefix(self, name: str) -> str:
        text = f"{name.ljust(self._width)} |"
        if not self.colour:
            return text
        if name == SYSTEM:
            return f"\033[1m{text}\033[0m"
        index = self.names.index(name)
        return f"\033[{COLOURS[index % len(COLOURS)]}m{text}\033[0m"

    def emit(self, name: str, text: str) -> None:
        """One line from program ``name``."""
        text = mask_text(text, self.secrets)
        with self._lock:
            self.out.write(f"{self.prefix(name)} {text}\n")
            self.out.flush()

    def say(self, text: str) -> None:
        """One line from the supervisor itself."""
        self.emit(SYSTEM, text)


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
