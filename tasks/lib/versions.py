"""Reading `.tool-versions` (asdf/mise) and comparing installed versions with it."""

from __future__ import annotations

import re
from pathlib import Path

# asdf names -> the names the suite uses for the programs.
ALIASES = {"nodejs": "node", "erlang": "erl"}


def read(path: Path) -> dict[str, str]:
    """``{"elixir": "1.18.4-otp-27", "shfmt": "3.9.0", ...}``; empty when the file is absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    wanted: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2:
            wanted[fields[0]] = fields[1]
    return wanted


def is_pin(wanted: str | None) -> bool:
    """True for a version to compare with; False for none, `system`, `ref:...`, `path:...`."""
    return bool(wanted) and wanted != "system" and not wanted.startswith(("ref:", "path:"))


def numeric(version: str) -> tuple[int, ...]:
    """``"v20.14.0"`` -> (20, 14, 0); ``"1.18.4-otp-27"`` -> (1, 18, 4)."""
    m = re.search(r"\d+(?:\.\d+)*", version)
    return tuple(int(p) for p in m.group(0).split(".")) if m else ()


def matches(wanted: str, installed: str) -> bool:
    """True when ``installed`` agrees with ``wanted`` on every part both name.

    ``27.3.4.1`` is met by an OTP release ``27``; ``3.9.0`` is not met by ``3.6.0``.
    """
    w, i = numeric(wanted), numeric(installed)
    if not w or not i:
        return False
    n = min(len(w), len(i))
    return w[:n] == i[:n]
