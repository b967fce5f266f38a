"""`.tool-versions` (asdf/mise), and ``matches``: the one rule for "the installed version agrees with the pin"."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TypeGuard

# asdf names -> the names the suite uses for the programs.
ALIASES = {"nodejs": "node", "erlang": "erl"}


def read(path: Path) -> dict[str, str]:
    """``{"elixir": "1.18.4-otp-27", "shfmt": "3.9.0", ...}``; empty when the file is absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    wanted: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2:
            wanted[fields[0]] = fields[1]
    return wanted


def is_pin(wanted: str | None) -> TypeGuard[str]:
    """True for a version to compare with; False for none, `system`, `ref:...`, `path:...`."""
    return wanted is not None and wanted not in ("", "system") and not wanted.startswith(("ref:", "path:"))


def numeric(version: str) -> tuple[int, ...]:
    """``"v20.14.0"`` -> (20, 14, 0); ``"1.18.4-otp-27"`` -> (1, 18, 4)."""
    m = re.search(r"\d+(?:\.\d+)*", version)
    return tuple(int(p) for p in m.group(0).split(".")) if m else ()


def matches(wanted: str, installed: str) -> bool:
    """True when ``installed`` agrees with ``wanted`` on every part both name (OTP ``27`` meets ``27.3.4.1``)."""
    w, i = numeric(wanted), numeric(installed)
    if not w or not i:
        return False
    n = min(len(w), len(i))
    return w[:n] == i[:n]


def version_warning(name: str, path: str, installed: str | None, wanted: str | None, source: str, setting: str) -> str | None:
    """A warning when ``installed`` (None: unknown) does not match the pin in ``source``, else None; ``setting`` names the program."""
    if not is_pin(wanted):
        return None
    if installed and matches(wanted, installed):
        return None
    found, fix = installed or "of unknown version", f"install {name} {wanted} or point setting {setting} at it"
    return f"warning: {name} {found} ({path}) differs from {source} ({name} {wanted}): results may differ from CI; {fix}"


def meets(requirement: str, installed: str) -> bool:
    """Elixir's Version.match?: ``~> 1.15`` (< 2.0.0), ``~> 1.15.2`` (< 1.16.0), >=, >, <=, <, ==, !=, joined by and/or."""
    have = (numeric(installed) + (0, 0, 0))[:3]

    def clause(text: str) -> bool:
        op, _, ver = text.strip().rpartition(" ")
        parts = numeric(ver)
        want = (parts + (0, 0, 0))[:3]
        if op.strip() == "~>":
            upper = (parts[0] + 1, 0, 0) if len(parts) < 3 else (parts[0], parts[1] + 1, 0)
            return want <= have < upper
        ops = {">=": have >= want, ">": have > want, "<=": have <= want, "<": have < want, "!=": have != want}
        return ops.get(op.strip(), have == want)

    return any(all(clause(c) for c in alt.split(" and ")) for alt in requirement.split(" or "))
