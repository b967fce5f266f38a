"""Loading `.env` and `.env.local` into the process environment (python-dotenv).

Precedence, highest first: the shell's environment, then `.env.local`, then `.env`.
Loading happens once per process, when the first task starts (not at import, so
`inv --list` stays fast and never fails on a broken `.env`).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import MutableMapping

# Later files win over earlier ones; the shell wins over both.
FILES = (".env", ".env.local")

_loaded = False
_origins: dict[str, str] = {}


class EnvFileError(Exception):
    """A `.env` file that cannot be read; the message is one line for the user."""


def parse_file(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Return ``(values, line_of_key)`` for one dotenv file, or raise EnvFileError."""
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise EnvFileError(f"{path} is not UTF-8 text: re-save it as UTF-8")
    except OSError as e:
        raise EnvFileError(f"cannot read {path}: {e.strerror}")
    lines: dict[str, int] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise EnvFileError(
                f"{path} line {binding.original.line}: not a KEY=VALUE line;"
                " fix it or comment it out with #"
            )
        if binding.key is not None:
            lines[binding.key] = binding.original.line
    values = dotenv_values(stream=io.StringIO(text), interpolate=True)
    return {k: v for k, v in values.items() if v is not None}, lines


def load(root: Path, environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Load the dotenv files under ``root`` into ``environ`` without overriding it.

    Returns where each key's value came from (for error messages).
    """
    environ = os.environ if environ is None else environ
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    for name in FILES:
        path = root / name
        if not path.is_file():
            continue
        values, lines = parse_file(path)
        for key, value in values.items():
            merged[key] = value
            origin[key] = f"{name} line {lines.get(key, '?')}"
    origins: dict[str, str] = {}
    for key, value in merged.items():
        if key in environ:
            origins[key] = "the shell environment"
        else:
            environ[key] = value
            origins[key] = origin[key]
    return origins


def ensure_loaded(root: Path) -> None:
    """Load the dotenv files once per process."""
    global _loaded
    if _loaded:
        return
    _origins.update(load(root))
    _loaded = True


def origin(key: str) -> str:
    """Where the current value of ``key`` came from, for messages."""
    if key in _origins:
        return _origins[key]
    if key in os.environ:
        return "the shell environment"
    return "the default"
