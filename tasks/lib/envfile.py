"""`.env` and `.env.local` loaded once (python-dotenv): the shell wins over `.env.local`, which wins over `.env`."""

from __future__ import annotations

import io
import os
import re
from collections.abc import MutableMapping
from pathlib import Path

# Later files win over earlier ones; the shell wins over both.
FILES = (".env", ".env.local")


class EnvFileError(Exception):
    """A `.env` file that cannot be read; the message is one line for the user."""


_NEWLINE = re.compile(r"\r\n|\n|\r")  # what python-dotenv counts as a line break

_loaded = False
_doubted = False
_error: EnvFileError | None = None
_origins: dict[str, str] = {}


def _decode(path: Path, data: bytes) -> tuple[str, EnvFileError | None]:
    """The file's text; a line that is not UTF-8 is blanked and the first one reported."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    out: list[str] = []
    first = 0
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        try:
            out.append(line.decode("utf-8"))
        except UnicodeDecodeError:
            first = first or number
            out.append(line[len(line.rstrip(b"\r\n")) :].decode())  # keep the line count
    return "".join(out), EnvFileError(f"{path} line {first} is not UTF-8: re-save the file as UTF-8")


def _line(string: str, first_line: int) -> int:
    """The line a binding's text starts on: dotenv counts from the blank lines before it."""
    blank = string[: len(string) - len(string.lstrip())]
    return first_line + len(_NEWLINE.findall(blank))


def read_file(path: Path) -> tuple[dict[str, str], dict[str, int], EnvFileError | None]:
    """``(values, line_of_key, error)`` of one dotenv file; the error names the first bad line, never its content."""
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        data = path.read_bytes()
    except OSError as e:
        return {}, {}, EnvFileError(f"cannot read {path}: {e.strerror}")
    text, error = _decode(path, data)
    lines: dict[str, int] = {}
    kept: list[str] = []
    for binding in parse_stream(io.StringIO(text)):
        line = _line(binding.original.string, binding.original.line)
        if binding.error or (binding.key is not None and binding.value is None):
            # `sk_test_...`, `FOO` or `export FOO` parse as a key without a value.
            no_equals = "" if binding.error else " (no `=`)"
            error = error or EnvFileError(f"{path} line {line}: not a KEY=VALUE line{no_equals}; fix it or comment it out with #")
            kept.append("\n" * binding.original.string.count("\n"))
            continue
        if binding.key is not None:
            lines[binding.key] = line
        kept.append(binding.original.string)
    # Only the good lines reach dotenv (which would log a warning for a bad one).
    values = dotenv_values(stream=io.StringIO("".join(kept)), interpolate=True)
    return {k: v for k, v in values.items() if v is not None}, lines, error


def parse_file(path: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Return ``(values, line_of_key)`` for one dotenv file, or raise EnvFileError."""
    values, lines, error = read_file(path)
    if error is not None:
        raise error
    return values, lines


# What the suite and the portal read: an unknown key close to one of these is a misspelling.
KNOWN = (
    *(f"DATABASE_{k}" for k in ("HOST", "PORT", "NAME", "USER", "PASSWORD")),
    *("STATIC_SEEDS", "BILLING_ENABLED", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SIGNING_SECRET", "STRIPE_DEFAULT_PRICE_ID"),
    *("WORKOS_API_KEY", "WORKOS_CLIENT_ID", "WORKOS_BASE_URL", "DOCKER_HOST", "DOCKER_CONTEXT", "PHOENIX_WEB_PORT", "PHOENIX_API_PORT"),
)


def doubts(path: Path) -> list[tuple[str, str]]:
    """``(what, fix)`` for each doubtful line of one dotenv file (a key set twice, a misspelt key, a value
    with stray spaces or quotes); values are never shown."""
    import difflib

    from dotenv.parser import parse_stream

    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    seen: dict[str, int] = {}
    out = []
    for binding in parse_stream(io.StringIO(text)):
        key, value = binding.key, binding.value
        if key is None or value is None:
            continue  # a bad line: read_file reports it
        line = _line(binding.original.string, binding.original.line)
        if key in seen:
            out.append((f"{path.name}: {key} is set twice (lines {seen[key]} and {line}); the last wins", "delete one of the two lines"))
        seen[key] = line
        near = [] if key in KNOWN else difflib.get_close_matches(key, KNOWN, n=1, cutoff=0.85)
        if near:
            out.append((f"{path.name} line {line}: {key} is read by neither the suite nor the portal", f"rename it to {near[0]}"))
        if value and (value != value.strip() or value[0] in "'\"" or value[-1] in "'\""):
            out.append(
                (f"{path.name} line {line}: the value of {key} has stray spaces or quotes", "remove them: the value is used as written")
            )
    return out


def doubts_once(root: Path) -> list[tuple[str, str]]:
    """The doubts of both files under ``root`` the first time it is asked in a run; none after."""
    global _doubted
    first, _doubted = not _doubted, True
    return [d for name in FILES for d in doubts(root / name)] if first else []


def load_partial(root: Path, environ: MutableMapping[str, str] | None = None) -> tuple[dict[str, str], EnvFileError | None]:
    """Load the good lines of the dotenv files under ``root`` without overriding ``environ``: (origins, first error)."""
    environ = os.environ if environ is None else environ
    found: dict[str, tuple[str, str]] = {}  # key: (value, where)
    first: EnvFileError | None = None
    for name in FILES:
        if (root / name).is_file():
            values, lines, error = read_file(root / name)
            first = first or error
            found |= {key: (value, f"{name} line {lines.get(key, '?')}") for key, value in values.items()}
    origins = {key: "the shell environment" if key in environ else where for key, (_, where) in found.items()}
    for key, (value, _) in found.items():
        environ.setdefault(key, value)
    return origins, first


def load(root: Path, environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """``load_partial``, raising its error after the good lines were loaded."""
    origins, error = load_partial(root, environ)
    if error is not None:
        raise error
    return origins


def ensure_loaded(root: Path) -> None:
    """Load the dotenv files once per process; every call raises a bad line's error."""
    global _loaded, _error
    if not _loaded:
        origins, _error = load_partial(root)
        _origins.update(origins)
        _loaded = True
    if _error is not None:
        raise _error


def origin(key: str) -> str:
    """Where the current value of ``key`` came from, for messages."""
    return _origins.get(key) or ("the shell environment" if key in os.environ else "the default")
