"""The repository's pre-commit configs and the files their ``files``/``exclude`` keep from shellcheck and shfmt."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.lib.problem import Problem

OUR_HOOK_ID = "lint-sh"
TOOLS = ("shellcheck", "shfmt")
# A hook whose id or entry holds one of these runs that tool.
_TOOL_WORDS = {"shellcheck": ("shellcheck",), "shfmt": ("shfmt", "shell-fmt")}


class ConfigError(Problem):
    """A pre-commit config that cannot be read or understood; ``what`` says where."""


@dataclass(frozen=True)
class Filter:
    where: str  # "the top level of X" or "hook shellcheck in X"
    tools: tuple[str, ...]
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
    return [top / name for name in names if (top / name).is_file()]


def parse(text: str, where: str) -> dict[str, Any]:
    """A config's YAML as a mapping ({} for an empty file), or ConfigError."""
    from invoke.util import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where} is not valid YAML ({getattr(e, 'problem', None) or str(e).splitlines()[0]}{at})")
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{where} is not a pre-commit config (its top level is not a mapping)")
    return data or {}


def load(path: Path, where: str) -> tuple[str, dict[str, Any]]:
    """The config's text ('' when there is none yet) and its data."""
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{where} cannot be read ({e.__class__.__name__}: {e})")
    return text, parse(text, where)


def hooks(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every hook of every repo (malformed entries left out)."""
    repos = data.get("repos")
    found: list[dict[str, Any]] = []
    for repo in repos if isinstance(repos, list) else []:
        found += [h for h in (repo.get("hooks") if isinstance(repo, dict) else None) or [] if isinstance(h, dict)]
    return found


def is_our_hook(hook: dict[str, Any]) -> bool:
    entry = str(hook.get("entry", ""))
    return hook.get("id") == OUR_HOOK_ID or ("inv" in entry and "lint.sh" in entry)


def tools_of(hook: dict[str, Any]) -> tuple[str, ...]:
    """The tools of ours a hook of the repository runs (none for our own hook)."""
    said = f"{hook.get('id', '')} {hook.get('entry', '')}".lower()
    return () if is_our_hook(hook) else tuple(t for t in TOOLS if any(w in said for w in _TOOL_WORDS[t]))


def _regex(value: Any, where: str) -> re.Pattern[str] | None:
    try:
        return re.compile(str(value)) if value not in (None, "") else None
    except re.error as e:
        raise ConfigError(f"{where} is not a valid regex ({e})")


def filters(data: dict[str, Any], name: str) -> list[Filter]:
    """The ``files``/``exclude`` pairs of config ``name`` that keep files from our tools."""
    found = [Filter(f"the top level of {name}", TOOLS, *(_regex(data.get(k), f"{name}: {k}") for k in ("files", "exclude")))]
    for hook in hooks(data):
        if tools := tools_of(hook):
            label = f"hook {hook.get('id', '?')}"
            files, exclude = (_regex(hook.get(k), f"{name}: {label} {k}") for k in ("files", "exclude"))
            found.append(Filter(f"{label} in {name}", tools, files, exclude))
    return [f for f in found if f.files or f.exclude]


def skips(files: Sequence[str], rules: Sequence[Filter], prefix: str = "") -> dict[str, dict[str, str]]:
    """Per tool, the root-relative files the rules keep from it, and why; ``prefix``: the root's folder in the work tree."""
    skipped: dict[str, dict[str, str]] = {tool: {} for tool in TOOLS}
    for rel in files:
        for rule in rules:
            why = rule.skips(prefix + rel)
            if why:
                for tool in rule.tools:
                    skipped[tool].setdefault(rel, why)
    return skipped
