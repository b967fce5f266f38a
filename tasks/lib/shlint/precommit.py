"""The repository's own pre-commit configuration (Firezone's is
.github/pre-commit-config.yaml): where it is, what it says, and the files its shell
hooks leave out, so that `inv lint.sh` skips what the repository's hooks skip.

pre-commit matches ``files`` and ``exclude`` (Python regexes, ``re.search``) against
paths relative to the top of the git work tree: the config's top-level ones apply to
every hook, a hook's own to that hook. Here a file is left out when the top level
leaves it out, or when any of the repository's shellcheck or shfmt hooks does (our own
hook, which runs lint.sh, is not one of them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Where pre-commit configs live, relative to the top of the work tree: pre-commit's
# default, and Firezone's (its mise tasks run pre-commit with --config).
DEFAULT_CONFIGS = (".pre-commit-config.yaml", ".github/pre-commit-config.yaml")
OUR_HOOK_ID = "lint-sh"
# A hook whose id or entry holds one of these lints shell scripts.
SHELL_TOOLS = ("shellcheck", "shfmt", "shell-fmt")


class ConfigError(Exception):
    """A pre-commit config that cannot be read or understood; the message says where."""


@dataclass(frozen=True)
class Filter:
    """One ``files``/``exclude`` pair of a config, and which (for messages)."""

    where: str  # "the top level of X" or "hook shellcheck in X"
    files: re.Pattern[str] | None
    exclude: re.Pattern[str] | None

    def skips(self, path: str) -> str | None:
        """Why ``path`` is left out ("exclude of hook shellcheck in X"), None if it is not."""
        if self.files is not None and not self.files.search(path):
            return f"not in the files of {self.where}"
        if self.exclude is not None and self.exclude.search(path):
            return f"exclude of {self.where}"
        return None


def find(top: Path, names: Iterable[str]) -> list[Path]:
    """The configs among ``names`` (relative to ``top``) that exist, in that order."""
    return [top / name for name in names if (top / name).is_file()]


def parse(text: str, where: str) -> dict[str, Any]:
    """A config's YAML as a mapping ({} for an empty file), or ConfigError."""
    from invoke.util import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{where} is not valid YAML ({problem}{at})")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where} is not a pre-commit config (its top level is not a mapping)")
    return data


def load(path: Path, where: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{where} cannot be read ({e.__class__.__name__}: {e})")
    return parse(text, where)


def hooks(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every hook of every repo, as mappings (malformed entries left out)."""
    found = []
    repos = data.get("repos")
    for repo in repos if isinstance(repos, list) else []:
        entries = repo.get("hooks") if isinstance(repo, dict) else None
        found += [h for h in entries or [] if isinstance(h, dict)]
    return found


def is_our_hook(hook: dict[str, Any]) -> bool:
    """Our hook: by its id, or any hook whose entry runs `inv ... lint.sh`."""
    entry = str(hook.get("entry", ""))
    return hook.get("id") == OUR_HOOK_ID or ("inv" in entry and "lint.sh" in entry)


def is_shell_hook(hook: dict[str, Any]) -> bool:
    """A hook of the repository's that runs shellcheck or shfmt (not ours)."""
    if is_our_hook(hook):
        return False
    said = f"{hook.get('id', '')} {hook.get('entry', '')}".lower()
    return any(tool in said for tool in SHELL_TOOLS)


def _regex(value: Any, where: str) -> re.Pattern[str] | None:
    if value is None or value == "":
        return None
    try:
        return re.compile(str(value))
    except re.error as e:
        raise ConfigError(f"{where} is not a valid regex ({e})")


def filters(data: dict[str, Any], name: str) -> list[Filter]:
    """The ``files``/``exclude`` pairs that keep files from shell hooks in config ``name``."""

    def of(where: str, setting: str, holder: dict) -> Filter:
        files = _regex(holder.get("files"), f"{name}: {setting}files")
        return Filter(where, files, _regex(holder.get("exclude"), f"{name}: {setting}exclude"))

    found = [of(f"the top level of {name}", "", data)]
    for hook in hooks(data):
        if is_shell_hook(hook):
            label = f"hook {hook.get('id', '?')}"
            found.append(of(f"{label} in {name}", f"{label} ", hook))
    return [f for f in found if f.files or f.exclude]


def split(files: Sequence[str], rules: Sequence[Filter], prefix: str = "") -> tuple[list[str], dict[str, str]]:
    """``files`` (root-relative) as (kept, {skipped: why}); ``prefix`` turns a
    root-relative path into one relative to the top of the work tree."""
    kept: list[str] = []
    skipped: dict[str, str] = {}
    for rel in files:
        why = next((w for w in (r.skips(prefix + rel) for r in rules) if w), None)
        if why is None:
            kept.append(rel)
        else:
            skipped[rel] = why
    return kept, skipped
