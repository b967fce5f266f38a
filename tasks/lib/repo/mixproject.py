"""The Elixir project's shape, read from its mix.exs files without running mix (an alias written as a function: unknown)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Tasks in a setup alias that open the database.
DATABASE_TASKS = ("ecto.setup", "ecto.create", "ecto.migrate", "ecto.reset", "ecto.seed", "ecto.load")
_KEY_BEFORE = r"(?:^|(?<=[\s\[,(]))"  # a keyword starts a line or follows `[`, `,`, `(` or a space
_TOKENS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|#[^\n]*')  # strings, charlists, comments


@dataclass(frozen=True)
class MixProject:
    root: Path
    umbrella: bool
    apps_path: str | None
    web_app: str  # the folder (relative to root) whose mix.exs holds the `setup` alias; "." for one app
    setup: tuple[str, ...] | None  # what `setup` runs; None when there is no such alias (or not a list)
    setup_file: Path | None

    @property
    def setup_needs_database(self) -> bool:
        return any(t.split()[0] in DATABASE_TASKS for t in self.setup or () if t.split())

    def describe(self) -> str:
        return f"an umbrella (apps_path: {self.apps_path!r})" if self.umbrella else "one Mix app (no apps_path)"


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def code(text: str) -> str:
    """``text`` without its comments (a ``#`` outside strings to the end of the line)."""
    return _TOKENS.sub(lambda m: "" if m.group(0).startswith("#") else m.group(0), text)


def apps_path(text: str) -> str | None:
    m = re.search(_KEY_BEFORE + r'apps_path:\s*"([^"]+)"', code(text), re.M)
    return m.group(1) if m else None


def _list_after(text: str, start: int) -> str | None:
    """The text of the ``[...]`` list that opens at ``start`` (after blanks; brackets balanced)."""
    i = text.find("[", start)
    if i < 0 or text[start:i].strip():
        return None
    depth = 0
    for j in range(i, len(text)):
        depth += {"[": 1, "]": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j]
    return None


def alias(text: str, name: str) -> tuple[str, ...] | None:
    """The tasks of alias ``name`` (``setup:`` or ``"ecto.seed":``) when it is a list of strings."""
    text = code(text)
    key = re.escape(name)
    keys = rf'(?:{key}|"{key}")' if re.fullmatch(r"[a-z_]+", name) else rf'"{key}"'
    for m in re.finditer(_KEY_BEFORE + keys + r":\s*", text, re.M):
        body = _list_after(text, m.end())
        if body is not None:
            return tuple(re.findall(r'"([^"]*)"', body))
    return None


def read(root: Path) -> MixProject:
    text = read_text(root / "mix.exs")
    apps = apps_path(text)
    if apps is None:
        return MixProject(root, False, None, ".", alias(text, "setup"), root / "mix.exs")
    # An umbrella: the web app is the one whose mix.exs has a `setup` alias (web first).
    folders = sorted((root / apps).glob("*/mix.exs"), key=lambda p: (p.parent.name != "web", p.parent.name))
    for mix_exs in folders:
        found = alias(read_text(mix_exs), "setup")
        if found is not None:
            return MixProject(root, True, apps, f"{apps}/{mix_exs.parent.name}", found, mix_exs)
    root_setup = alias(text, "setup")
    if root_setup is not None:
        return MixProject(root, True, apps, ".", root_setup, root / "mix.exs")
    web = f"{apps}/web" if (root / apps / "web").is_dir() else (f"{apps}/{folders[0].parent.name}" if folders else ".")
    return MixProject(root, True, apps, web, None, None)
