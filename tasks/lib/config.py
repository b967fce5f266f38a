"""The suite's settings: typed getters, where a value came from, and the one validator (an empty value means the default)."""

from __future__ import annotations

import difflib
import math
import os
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasks.lib.problem import Problem

if TYPE_CHECKING:
    from tasks.lib.repo.derived import Derived, Repo

# The folder holding tasks.py: the Firezone repository root when the suite is in place.
PROJECT_ROOT = Path(__file__).resolve().parents[2]

# invoke's layers, highest precedence first, as messages name them.
_LAYERS: tuple[tuple[str, str], ...] = (("_overrides", "the command line"), ("_runtime", "the -f config file"), ("_env", "env"))
_LAYERS += (("_project", "invoke.yaml"), ("_user", "~/.invoke.yaml"), ("_system", "/etc/invoke.yaml"), ("_collection", "the default"))
_USER_LAYERS = ("_modifications", *(name for name, _ in _LAYERS[:-1]))

# The settings whose value is one of a list; the validator and ``choice`` both use these.
CHOICES = {
    ("postgres", "backend"): ("auto", "docker", "local"),
    ("lint", "severity"): ("error", "warning", "info", "style"),
}
# Text settings that are commands (a string split as a shell does, or a list of words).
_WORDS = {("elixir", k) for k in ("deps_task", "setup_task", "seed_task", "migrate_task", "server_task", "test_task")}
_SHELL_LINES = {("postgres", "command"), ("elixir", "test_args"), ("elixir", "acceptance_args")}
_COMMANDS = {("elixir", "reset_tasks")}

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_FALSE_WORDS = ("false", "no", "off")


class SettingError(Problem):
    """A bad setting: "setting S = V (from WHERE) is not W; fix it in ..."."""

    joined = "{}; {}"


def env_name(section: str, key: str) -> str:
    """The environment variable that overrides a setting: INVOKE_LINT_JOBS for lint.jobs."""
    return f"INVOKE_{section.upper()}_{key.upper()}"


def _fix(section: str, key: str) -> str:
    return f"fix it in invoke.yaml ({section}: {{{key}: ...}}) or {env_name(section, key)}"


# Each parser returns the value, or raises ValueError with what the value should be.
def _as_number(value: Any, positive: bool = False) -> float:
    wanted = "a positive number" if positive else "a number"
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ValueError(wanted) from None
    if isinstance(value, bool) or math.isnan(result) or (positive and result <= 0):
        raise ValueError(wanted)
    return result


def _as_whole(value: Any, minimum: int = 0) -> int:
    wanted = f"a whole number >= {minimum}"
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(wanted)
    try:
        result = int(value) if isinstance(value, (int, float)) else int(str(value).strip())
    except (TypeError, ValueError):
        raise ValueError(wanted) from None
    if result < minimum:
        raise ValueError(wanted)
    return result


def _as_flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError("true or false")


def _as_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    raise ValueError("a list of strings")


def _as_words(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            split = shlex.split(value)
        except ValueError as e:
            raise ValueError(f"a command line ({e})") from None
        if split:
            return split
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, (str, int, float)) for v in value):
        return [str(v) for v in value]
    raise ValueError("a command (a string or a list of words)")


def _as_commands(value: Any) -> list[list[str]]:
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
        raise ValueError("a list of commands, e.g. [ecto.reset, ecto.seed]")
    return out


def _as_text(value: Any) -> str:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise ValueError("a text value")


def _parse(section: str, key: str, value: Any, default: Any) -> Any:
    """``value`` read as the declared default's type (and the setting's choices); ValueError if it is not."""
    if (section, key) in CHOICES:
        choices = CHOICES[section, key]
        if str(value) not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return str(value)
    if isinstance(default, bool):
        return _as_flag(value)
    if isinstance(default, int):
        return _as_whole(value)
    if isinstance(default, float):
        return _as_number(value, positive=True)
    if (section, key) in _COMMANDS:
        return _as_commands(value)
    if isinstance(default, (list, tuple)):
        return _as_strings(value)
    if (section, key) in _WORDS:
        return _as_words(value)
    text = _as_text(value)
    if (section, key) in _SHELL_LINES:
        try:
            shlex.split(text)
        except ValueError as e:
            raise ValueError(f"a command line ({e})") from None
    return text


@dataclass(frozen=True)
class Settings:
    """invoke's configuration read through typed getters; ``settings(c)`` makes one where a task enters the library."""

    config: Any

    def layer(self, name: str) -> dict:
        data = getattr(self.config, name, None)
        return data if isinstance(data, dict) else {}

    @property
    def dry(self) -> bool:
        """True under `inv --dry`: print the plan, touch nothing."""
        return self.flag("run", "dry")

    def is_set(self, section: str, key: str) -> bool:
        """True when a layer above the declared defaults gives ``section.key`` a non-empty value."""
        return any(isinstance(data := self.layer(name).get(section), dict) and data.get(key) not in (None, "") for name in _USER_LAYERS)

    def repository(self) -> Repo:
        """The repository the suite sits in, read for the values it decides (tasks/lib/repo/)."""
        from tasks.lib.repo import derived

        try:
            elixir_root = self.path("elixir", "root")
        except Problem:  # no elixir section (a bare context): Firezone's place
            elixir_root = PROJECT_ROOT / "elixir"
        return derived.repo(PROJECT_ROOT, elixir_root)

    def derived(self, section: str, key: str) -> Derived | None:
        """What the repository says ``section.key`` is, when no setting says otherwise."""
        from tasks.lib.repo import derived as repo_derived

        if (section, key) not in repo_derived.SETTINGS or self.is_set(section, key):
            return None
        return self.repository().setting(section, key)

    def origin(self, section: str, key: str) -> str:
        """Where the current value of ``section.key`` came from, for messages."""
        found = self.derived(section, key)
        if found is not None:
            return found.source
        for name, label in _LAYERS:
            data = self.layer(name).get(section)
            if isinstance(data, dict) and key in data:
                if name == "_env":
                    return env_name(section, key)
                path = getattr(self.config, f"{name}_path", None) if name in ("_project", "_user", "_system", "_runtime") else None
                return str(path) if path else label
        return "the default"

    def raw(self, section: str, key: str) -> Any:
        """The value of ``section.key``; an empty value gives the declared default."""
        try:
            value = self.config[section].get(key)
        except (AttributeError, KeyError):
            value = None
        found = self.derived(section, key)
        if found is not None:
            return found.value
        if value is None or value == "":
            value = (self.layer("_collection").get(section) or {}).get(key)
        if value is None:
            raise SettingError(f"setting {section}.{key} has no value and no default", _fix(section, key), f"{section}.{key}")
        return value

    def bad(self, section: str, key: str, value: Any, wanted: str) -> SettingError:
        """One line: the setting, its value, where it came from, what it should be."""
        where = self.origin(section, key)
        return SettingError(f"setting {section}.{key} = {value!r} (from {where}) is not {wanted}", _fix(section, key), f"{section}.{key}")

    def _get(self, section: str, key: str, parse: Any, *args: Any) -> Any:
        value = self.raw(section, key)
        try:
            return parse(value, *args)
        except ValueError as e:
            raise self.bad(section, key, value, str(e)) from None

    def text(self, section: str, key: str) -> str:
        return str(self.raw(section, key))

    def optional(self, section: str, key: str) -> str:
        """A text setting where an empty value means "off" rather than the default."""
        try:
            value = self.config[section].get(key)
        except (AttributeError, KeyError):
            value = None
        return "" if value is None else str(value)

    def number(self, section: str, key: str, *, positive: bool = False) -> float:
        return self._get(section, key, _as_number, positive)

    def positive(self, section: str, key: str) -> float:
        return self.number(section, key, positive=True)

    def whole(self, section: str, key: str, *, minimum: int = 0) -> int:
        return self._get(section, key, _as_whole, minimum)

    def flag(self, section: str, key: str) -> bool:
        """true/false (YAML booleans, or the words from an environment variable)."""
        return self._get(section, key, _as_flag)

    def choice(self, section: str, key: str, choices: Sequence[str] | None = None) -> str:
        choices = choices or CHOICES[section, key]
        value = self.text(section, key)
        if value not in choices:
            raise self.bad(section, key, value, "one of " + ", ".join(choices))
        return value

    def strings(self, section: str, key: str) -> list[str]:
        """A list of strings; one string counts as a list of one."""
        return self._get(section, key, _as_strings)

    def words(self, section: str, key: str) -> list[str]:
        """A command: a string split as a shell splits words, or a list of words."""
        return self._get(section, key, _as_words)

    def commands(self, section: str, key: str) -> list[list[str]]:
        """Several commands: a list of strings (or of lists of words); one string is one command."""
        return self._get(section, key, _as_commands)

    def path(self, section: str, key: str, base: Path | None = None) -> Path:
        """A path setting, relative to ``base`` (default: the project root) unless absolute."""
        return project_path(self.text(section, key), base)

    @property
    def state_dir(self) -> Path:
        """The suite's state folder (setting dev.state_dir, default .inv)."""
        return self.path("dev", "state_dir")

    def problems(self) -> list[SettingError]:
        """Every bad value under the suite's sections, read layer by layer: a wrong type, a value not among the choices, an unknown key."""
        out = []
        for section, declared in sorted(self.layer("_collection").items()):
            if not isinstance(declared, dict):
                continue
            found: dict[str, tuple[Any, str]] = {}  # key: (value, where), the highest layer's
            for name, label in _LAYERS[:-1]:
                data = self.layer(name).get(section)
                where = env_name(section, "*") if name == "_env" else str(getattr(self.config, f"{name}_path", None) or label)
                if data is not None and not isinstance(data, dict):
                    what = f"setting {section} = {data!r} (from {where}) is not a section"
                    out.append(SettingError(what, f"write it as {section}: {{key: value}}", section))
                for key, value in (data or {}).items() if isinstance(data, dict) else ():
                    if value not in (None, "") and key not in found:
                        found[key] = (value, env_name(section, key) if name == "_env" else where)
            for key, (value, where) in sorted(found.items()):
                setting = f"{section}.{key}"
                if key not in declared:
                    near = difflib.get_close_matches(key, list(declared), n=1)
                    fix = f"remove it (the {section} settings: {', '.join(sorted(declared))})"
                    fix = f"rename it to {section}.{near[0]}" if near else fix
                    out.append(SettingError(f"setting {setting} (from {where}) is not a setting of the suite", fix, setting))
                    continue
                try:
                    _parse(section, key, value, declared[key])
                except ValueError as e:
                    out.append(SettingError(f"setting {setting} = {value!r} (from {where}) is not {e}", _fix(section, key), setting))
        return out


def settings(c: Any) -> Settings:
    """The settings of a task's Context (or of an invoke Config)."""
    return Settings(getattr(c, "config", c))


def _typed_variables(defaults: dict, environ: Mapping[str, str]) -> Iterator[tuple[str, str, str, Any, str]]:
    """``(name, section, key, value, text)`` of each INVOKE_* variable set for a setting invoke casts (not a string)."""
    for section, values in defaults.items():
        if not isinstance(values, dict):
            continue
        for key, old in values.items():
            new = environ.get(env_name(section, key))
            if new is not None and old is not None and not isinstance(old, str):
                yield env_name(section, key), section, key, old, new


def empty_variables(defaults: dict, environ: Mapping[str, str]) -> list[str]:
    """INVOKE_* variables set empty for a setting invoke casts: they mean "the default", so the caller drops them."""
    return [name for name, _, _, _, new in _typed_variables(defaults, environ) if new.strip() == ""]


def environment_errors(defaults: dict, environ: Mapping[str, str]) -> list[SettingError]:
    """INVOKE_* values invoke would crash on or misread when it casts them to the type of the value in ``defaults``."""
    out = []
    for name, section, key, old, new in _typed_variables(defaults, environ):
        word = new.strip().lower()
        if not word:
            continue  # empty: the default (see empty_variables)
        what = f"setting {section}.{key} = {new!r} (from {name})"
        if isinstance(old, bool) and word in _FALSE_WORDS:
            what += " would read as true (invoke takes only 0 or an empty value as false)"
            out.append(SettingError(what, f"set {name}=0", f"{section}.{key}"))
        elif isinstance(old, bool) and word not in _TRUE + _FALSE:
            out.append(SettingError(f"{what} is not true or false", f"set {name}=1 or {name}=0", f"{section}.{key}"))
        elif isinstance(old, (list, tuple, dict)) or hasattr(old, "items"):
            fix = f"unset it and set {section}.{key} in invoke.yaml"
            out.append(SettingError(f"{what}: a list cannot come from the environment", fix, f"{section}.{key}"))
        elif isinstance(old, (int, float)) and not isinstance(old, bool):
            try:  # invoke's cast must not fail; the getters and doctor check the range
                _as_whole(new, minimum=-(2**63)) if isinstance(old, int) else _as_number(new)
            except ValueError:
                kind = "a whole number" if isinstance(old, int) else "a number"
                out.append(SettingError(f"{what} is not {kind}", f"fix or unset {name}", f"{section}.{key}"))
    return out


def project_path(value: str | os.PathLike, base: Path | None = None) -> Path:
    """A path, ``~`` expanded, relative to ``base`` (default: the project root) unless absolute."""
    p = Path(os.path.expanduser(str(value)))
    return p if p.is_absolute() else (base or PROJECT_ROOT) / p
