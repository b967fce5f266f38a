"""The scripting tips: the shebang a script starts with and the ``set`` options it
turns on before its first command (dev and test scripts, or minimal ones).
"""

from __future__ import annotations

from typing import Sequence

from tasks.lib.shlint.results import Tip

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


def check_tips(rel: str, text: str, minimal: bool) -> list[Tip]:
    """The scripting tips: dev and test scripts start with ``#!/usr/bin/env bash`` and
    ``set -euo pipefail`` (x optional); minimal ones with ``#!/bin/sh`` and ``set -eu``."""
    lines = text.splitlines()[:TIPS_HEAD_LINES]
    first = lines[0].strip() if lines else ""
    tips = []
    want_shebang = MINIMAL_SHEBANG if minimal else DEV_SHEBANG
    kind = (
        "scripts for Docker images and minimal systems (setting lint.minimal_paths)"
        if minimal
        else "dev and test scripts"
    )
    if first != want_shebang:
        has = f"starts with {first!r}" if first.startswith("#!") else "has no shebang"
        tips.append(Tip(rel, 1, f"{has}; {kind} start with {want_shebang!r}"))
    on, line = leading_set_options(lines)
    want = ("e", "u") if minimal else ("e", "u", "pipefail")
    missing = [w for w in want if w not in on]
    if missing:
        want_cmd = "set -eu" if minimal else "set -euo pipefail"
        shown = ", ".join(m if m == "pipefail" else f"-{m}" for m in missing)
        tips.append(Tip(rel, line, f"no {want_cmd!r} before the first command (missing {shown}); {kind} use it"))
    return tips
