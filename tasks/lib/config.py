"""Settings: the one place the suite reads invoke's configuration.

Every default is declared once, by the task module that owns its section, with
``ns.configure`` (invoke's collection layer); invoke.yaml, ``~/.invoke.yaml`` and
``INVOKE_<SECTION>_<KEY>`` override it. An empty value counts as unset (the default
applies). Each getter checks the value's type and turns a bad one into one line that
names the setting, where its value came from, and the fix.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke import Exit

if TYPE_CHECKING:
    from tasks.lib.repo.derived import Derived, Repo

# The folder holding tasks.py: the Firezone repository root when the suite is in place.
PROJECT_ROOT = Path(__file__).resolve().parents[2]

# invoke's layers, highest precedence first, and how to name each in a message.
_LAYERS = (
    ("_overrides", "the command line"),
    ("_runtime", "the -f config file"),
    ("_env", "env"),
    ("_project", "invoke.yaml"),
    ("_user", "~/.invoke.yaml"),
    ("_system", "/etc/invoke.yaml"),
    ("_collection", "the default"),
)


def env_name(section: str, key: str) -> str:
    """The environment variable that overrides a setting: INVOKE_LINT_JOBS for lint.jobs."""
    return f"INVOKE_{section.upper()}_{key.upper()}"


_FALSE_WORDS = ("false", "no", "off")


def _typed_variables(settings: dict, environ: Mapping[str, str]) -> Iterator[tuple[str, str, str, Any, str]]:
    """``(name, section, key, current value, text)`` of each INVOKE_* variable set for a
    setting that is not a string (invoke casts those)."""
    for section, values in settings.items():
        if not isinstance(values, dict):
            continue
        for key, old in values.items():
            name = env_name(section, key)
            new = environ.get(name)
            if new is not None and old is not None and not isinstance(old, str):
                yield name, section, key, old, new


def empty_variables(settings: dict, environ: Mapping[str, str]) -> list[str]:
    """INVOKE_* variables set to an empty value for a setting that is not a string: like
    every empty value they mean "the default", so the caller drops them before invoke
    would cast "" (a traceback for numbers, false for booleans)."""
    return [name for name, _, _, _, new in _typed_variables(settings, environ) if new.strip() == ""]


def environment_problems(settings: dict, environ: Mapping[str, str]) -> list[str]:
    """``INVOKE_<SECTION>_<KEY>`` values that invoke would crash on or misread.

    invoke casts each to the type of the setting's current value before a task runs:
    ``int("two")`` is a traceback inside invoke, a list cannot come from the
    environment at all, and every string but ``0`` and the empty one reads as true
    (``false`` included). ``settings`` is the merged configuration, environment aside.
    """
    problems = []
    for name, section, key, old, new in _typed_variables(settings, environ):
        where = f"{name}={new!r} (setting {section}.{key})"
        if new.strip() == "":
            continue  # empty: the default (see empty_variables)
        if isinstance(old, bool):
            if new.strip().lower() in _FALSE_WORDS:
                problems.append(f"{where} would read as true (invoke takes only 0 or an empty value as false): set {name}=0")
            elif new.strip().lower() not in ("0", "1", "true", "yes", "on"):
                problems.append(f"{where} is not true or false: set {name}=1 or {name}=0")
        elif isinstance(old, (list, tuple, dict)) or hasattr(old, "items"):
            problems.append(f"{where}: a list cannot come from the environment; unset it and set {section}.{key} in invoke.yaml")
        elif isinstance(old, (int, float)):
            try:
                type(old)(new)
            except ValueError:
                kind = "a whole number" if isinstance(old, int) else "a number"
                problems.append(f"{where} is not {kind}: fix or unset it")
    return problems


def _layer(c, name: str) -> dict:
    try:
        data = getattr(c.config, name)
    except AttributeError:
        return {}
    return data if isinstance(data, dict) else {}


def is_set(c, section: str, key: str) -> bool:
    """True when a layer above the declared defaults gives ``section.key`` a non-empty value."""
    for name in ("_modifications", *(layer for layer, _ in _LAYERS[:-1])):
        data = _layer(c, name).get(section)
        if isinstance(data, dict) and data.get(key) not in (None, ""):
            return True
    return False


def repository(c) -> Repo:
    """The repository the suite sits in, read for the values it decides (tasks/lib/repo/)."""
    from tasks.lib.repo import derived

    try:
        elixir_root = path(c, "elixir", "root")
    except Exit:  # no elixir section (a bare context): Firezone's place
        elixir_root = PROJECT_ROOT / "elixir"
    return derived.repo(PROJECT_ROOT, elixir_root)


def derived(c, section: str, key: str) -> Derived | None:
    """What the repository says ``section.key`` is, when no setting says otherwise."""
    from tasks.lib.repo import derived as repo_derived

    if (section, key) not in repo_derived.SETTINGS or is_set(c, section, key):
        return None
    return repository(c).setting(section, key)


def origin(c, section: str, key: str) -> str:
    """Where the current value of ``section.key`` came from, for messages."""
    found = derived(c, section, key)
    if found is not None:
        return found.source
    for name, label in _LAYERS:
        data = _layer(c, name).get(section)
        if isinstance(data, dict) and key in data:
            if name == "_env":
                return env_name(section, key)
            path = getattr(c.config, f"{name}_path", None) if name in ("_project", "_user", "_system", "_runtime") else None
            return str(path) if path else label
    return "the default"


def _fix(section: str, key: str) -> str:
    return f"fix it in invoke.yaml ({section}: {{{key}: ...}}) or {env_name(section, key)}"


def raw(c, section: str, key: str) -> Any:
    """The value of ``section.key``; an empty value gives the declared default."""
    try:
        value = c.config[section].get(key)
    except (AttributeError, KeyError):
        value = None
    found = derived(c, section, key)
    if found is not None:
        return found.value
    if value is None or value == "":
        value = (_layer(c, "_collection").get(section) or {}).get(key)
    if value is None:
        raise Exit(f"setting {section}.{key} has no value and no default; {_fix(section, key)}")
    return value


def bad(c, section: str, key: str, value: Any, wanted: str) -> Exit:
    """One line: the setting, its value, where it came from, what it should be."""
    return Exit(f"setting {section}.{key} = {value!r} (from {origin(c, section, key)}) is not {wanted}; {_fix(section, key)}")


def text(c, section: str, key: str) -> str:
    return str(raw(c, section, key))


def optional(c, section: str, key: str) -> str:
    """A text setting where an empty value means "off" rather than the default."""
    try:
        value = c.config[section].get(key)
    except (AttributeError, KeyError):
        value = None
    return "" if value is None else str(value)


def number(c, section: str, key: str, *, positive: bool = False) -> float:
    """A number of seconds or such; ``positive``: greater than zero."""
    value = raw(c, section, key)
    try:
        if isinstance(value, bool):
            raise ValueError
        result = float(value)
        if result != result or (positive and result <= 0):  # NaN, or not > 0
            raise ValueError
    except (TypeError, ValueError):
        raise bad(c, section, key, value, "a positive number" if positive else "a number")
    return result


def positive(c, section: str, key: str) -> float:
    return number(c, section, key, positive=True)


def whole(c, section: str, key: str, *, minimum: int = 0) -> int:
    """A whole number at least ``minimum``."""
    value = raw(c, section, key)
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        result = int(str(value).strip()) if not isinstance(value, (int, float)) else int(value)
        if result < minimum:
            raise ValueError
    except (TypeError, ValueError):
        raise bad(c, section, key, value, f"a whole number >= {minimum}")
    return result


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def flag(c, section: str, key: str) -> bool:
    """true/false (YAML booleans, or the words from an environment variable)."""
    value = raw(c, section, key)
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise bad(c, section, key, value, "true or false")


def choice(c, section: str, key: str, choices: Sequence[str]) -> str:
    value = text(c, section, key)
    if value not in choices:
        raise bad(c, section, key, value, "one of " + ", ".join(choices))
    return value


def strings(c, section: str, key: str) -> list[str]:
    """A list of strings; one string counts as a list of one (YAML lets users write either)."""
    value = raw(c, section, key)
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    raise bad(c, section, key, value, "a list of strings")


def words(c, section: str, key: str) -> list[str]:
    """A command: a string split as a shell splits words, or a list of words."""
    value = raw(c, section, key)
    if isinstance(value, str):
        try:
            split = shlex.split(value)
        except ValueError as e:
            raise bad(c, section, key, value, f"a command line ({e})")
        if split:
            return split
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    raise bad(c, section, key, value, "a command (a string or a list of words)")


def commands(c, section: str, key: str) -> list[list[str]]:
    """Several commands: a list of strings (or of lists of words); one string is one command."""
    value = raw(c, section, key)
    items = [value] if isinstance(value, str) else value
    out = []
    if isinstance(items, (list, tuple)):
        for item in items:
            if isinstance(item, str) and item.strip():
                out.append(shlex.split(item))
            elif isinstance(item, (list, tuple)) and item and all(isinstance(v, str) for v in item):
                out.append([str(v) for v in item])
            else:
                out = []
                break
    if not out:
        raise bad(c, section, key, value, "a list of commands, e.g. [ecto.reset, ecto.seed]")
    return out


def path(c, section: str, key: str, base: Path | None = None) -> Path:
    """A path setting, relative to ``base`` (default: the project root) unless absolute."""
    return project_path(text(c, section, key), base)


def project_path(value: str | os.PathLike, base: Path | None = None) -> Path:
    """A path, ``~`` expanded, relative to ``base`` (default: the project root) unless absolute."""
    p = Path(os.path.expanduser(str(value)))
    return p if p.is_absolute() else (base or PROJECT_ROOT) / p


def state_dir(c) -> Path:
    """The suite's state folder (setting dev.state_dir, default .inv)."""
    return path(c, "dev", "state_dir")
