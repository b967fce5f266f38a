"""The scripting tips: the shebang a script starts with and the ``set`` options it turns on
before its first command, chosen by its shebang (sh: minimal, bash: dev) or lint.minimal_paths."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from tasks.lib.shlint.report import Tip
from tasks.lib.shlint.scripts import MINIMAL_SHELLS, SHELL_NAMES, dialect, interpreter

# How far into a file the tips look for the `set` line.
TIPS_HEAD_LINES = 60
_LONG = {"errexit": "e", "nounset": "u", "pipefail": "pipefail", "xtrace": "x"}


def set_options(command: str) -> set[str] | None:
    """The options a ``set`` command turns on (``e``, ``pipefail`` ...; ``+`` ones ignored), None if not ``set``."""
    words = command.split("#", 1)[0].replace(";", " ").split()
    if not words or words[0] != "set":
        return None
    on: set[str] = set()
    i = 1
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            break
        if not word.startswith("-") or len(word) < 2:
            continue
        for letter in word[1:]:
            if letter == "o":
                if i < len(words):
                    on.add(_LONG.get(words[i], words[i]))
                    i += 1
            else:
                on.add(letter)
    return on


def leading_set_options(lines: Sequence[str]) -> tuple[set[str], int]:
    """Options the ``set`` lines before a script's first other command turn on, and that
    command's line number (or the last line looked at)."""
    on: set[str] = set()
    number = 1
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if number == 1 and stripped.startswith("#!"):
            continue
        if not stripped or stripped.startswith("#"):
            continue
        opts = set_options(stripped)
        if opts is None:
            return on, number
        on |= opts
    return on, number


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
    """lint.minimal_paths first, then the script's shell: sh (dash, ash) minimal, bash (or a
    .sh with no shebang) dev; none for zsh, ksh, bats, nor sourced files (.bashrc) without a shebang."""
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
