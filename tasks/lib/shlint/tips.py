"""The scripting tips: the shebang and the ``set`` options a script starts with, by its shell or lint.minimal_paths."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from tasks.lib.shlint.scripts import MINIMAL_SHELLS, SHELL_NAMES, dialect, interpreter

# How far into a file the tips look for the `set` line.
TIPS_HEAD_LINES = 60
_LONG = {"errexit": "e", "nounset": "u", "pipefail": "pipefail", "xtrace": "x"}


def set_options(command: str) -> set[str] | None:
    """The options a ``set`` command turns on (``e``, ``pipefail`` ...; ``+`` ones ignored), None if not ``set``."""
    words = iter(command.split("#", 1)[0].replace(";", " ").split())
    if next(words, None) != "set":
        return None
    on: set[str] = set()
    for word in words:
        if word == "--":
            break
        for letter in word[1:] if word.startswith("-") else "":
            if letter != "o":
                on.add(letter)
            elif (name := next(words, None)) is not None:
                on.add(_LONG.get(name, name))
    return on


def leading_set_options(lines: Sequence[str]) -> tuple[set[str], int]:
    """The options the ``set`` lines before a script's first other command turn on, and that command's line number."""
    on: set[str] = set()
    number = 1
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):  # the shebang too
            continue
        opts = set_options(stripped)
        if opts is None:
            return on, number
        on |= opts
    return on, number


@dataclass(frozen=True)
class Tip:
    path: str
    line: int
    message: str

    def render(self, strict: bool) -> str:
        return f"{self.path}:{self.line}: tip {'error' if strict else 'warning'}: {self.message}"


@dataclass(frozen=True)
class Kind:
    name: str
    shebang: str
    options: tuple[str, ...]
    command: str


DEV = Kind("dev and test scripts", "#!/usr/bin/env bash", ("e", "u", "pipefail"), "set -euo pipefail")
MINIMAL = Kind("sh scripts (minimal environments: Docker images, releases)", "#!/bin/sh", ("e", "u"), "set -eu")
MINIMAL_SETTING = Kind("scripts for Docker images and minimal systems (setting lint.minimal_paths)", "#!/bin/sh", ("e", "u"), "set -eu")


def kind_of(rel: str, first_line: str, minimal_path: bool = False) -> Kind | None:
    """lint.minimal_paths, else by shell: sh (dash, ash) minimal, bash (or a .sh without shebang) dev; none for zsh, ksh, bats, dotfiles."""
    if minimal_path:
        return MINIMAL_SETTING
    if os.path.basename(rel) in SHELL_NAMES and not interpreter(first_line):
        return None
    shell = dialect(rel, first_line)
    return MINIMAL if shell in MINIMAL_SHELLS else DEV if shell in ("bash", "") else None


def check_tips(rel: str, text: str, minimal_path: bool = False) -> list[Tip]:
    lines = text.splitlines()[:TIPS_HEAD_LINES]
    first = lines[0].strip() if lines else ""
    kind = kind_of(rel, first, minimal_path)
    if kind is None:
        return []
    tips = []
    if first != kind.shebang:
        has = f"starts with {first!r}" if first.startswith("#!") else "has no shebang"
        tips.append(Tip(rel, 1, f"{has}; {kind.name} start with {kind.shebang!r}"))
    on, line = leading_set_options(lines)
    missing = [w for w in kind.options if w not in on]
    if missing:
        shown = ", ".join(m if m == "pipefail" else f"-{m}" for m in missing)
        tips.append(Tip(rel, line, f"no {kind.command!r} before the first command (missing {shown}); {kind.name} use it"))
    return tips
