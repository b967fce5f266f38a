"""The scripting tips: the shebang a script starts with and the ``set`` options it
turns on before its first command. Which tip applies follows the script's own shebang
(``#!/bin/sh``: a minimal environment; bash: a dev or test script), or the setting
lint.minimal_paths.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from tasks.lib.shlint.results import Tip
from tasks.lib.shlint.shells import MINIMAL_SHELLS, SHELL_NAMES, dialect, interpreter

# How far into a file the tips look for the `set` line.
TIPS_HEAD_LINES = 60
DEV_SHEBANG = "#!/usr/bin/env bash"
MINIMAL_SHEBANG = "#!/bin/sh"
_LONG = {"errexit": "e", "nounset": "u", "pipefail": "pipefail", "xtrace": "x"}


def set_options(command: str) -> set[str] | None:
    """The options a ``set`` command turns on (``e``, ``u``, ``pipefail`` ...), None if
    the command is not ``set``. ``set -euxo pipefail``, ``set -e -o pipefail``,
    ``set -o errexit`` all count; ``+`` options are ignored."""
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
    """Options the ``set`` lines at the top of a script turn on (before its first other
    command), and the number of the line where that first other command sits (or the
    last line looked at)."""
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
    """Which tip a script is held to: the shebang it should start with and the
    ``set`` options it turns on, named in the tip's text."""

    name: str
    shebang: str
    options: tuple[str, ...]
    command: str


DEV = Kind("dev and test scripts", DEV_SHEBANG, ("e", "u", "pipefail"), "set -euo pipefail")
MINIMAL = Kind("sh scripts (minimal environments: Docker images, releases)", MINIMAL_SHEBANG, ("e", "u"), "set -eu")
MINIMAL_SETTING = Kind("scripts for Docker images and minimal systems (setting lint.minimal_paths)", MINIMAL_SHEBANG, ("e", "u"), "set -eu")


def kind_of(rel: str, first_line: str, minimal_path: bool = False) -> Kind | None:
    """The tip a script is held to: by lint.minimal_paths when listed there, else by the
    shell it is written for: sh (dash, ash) the minimal one, bash (or a .sh file with no
    shebang) the dev one; zsh, ksh and bats scripts none, nor files sourced rather
    than run (.bashrc, .envrc ...) unless they have a shebang."""
    if minimal_path:
        return MINIMAL_SETTING
    if os.path.basename(rel) in SHELL_NAMES and not interpreter(first_line):
        return None
    shell = dialect(rel, first_line)
    if shell in MINIMAL_SHELLS:
        return MINIMAL
    if shell in ("bash", ""):
        return DEV
    return None


def check_tips(rel: str, text: str, minimal_path: bool = False) -> list[Tip]:
    """The scripting tips: dev and test scripts (bash) start with ``#!/usr/bin/env bash``
    and ``set -euo pipefail`` (x optional); sh scripts, and those listed in
    lint.minimal_paths, with ``#!/bin/sh`` and ``set -eu``."""
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
