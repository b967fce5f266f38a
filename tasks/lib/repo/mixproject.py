"""The Elixir project's shape, read from its mix.exs files without running mix.

Contract-era Firezone is an umbrella (``apps_path: "apps"``) whose web app's ``setup``
alias builds assets; today's is one Mix app whose root ``setup`` alias also runs
``ecto.setup``, so it needs the database. ``read`` tells which, where the web app is
and what the ``setup`` alias runs. The parsing is deliberately shallow (keyword lists
of strings); an alias written as a function is "unknown", never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Tasks in a setup alias that open the database.
DATABASE_TASKS = ("ecto.setup", "ecto.create", "ecto.migrate", "ecto.reset", "ecto.seed", "ecto.load")


@dataclass(frozen=True)
class MixProject:
    root: Path
    umbrella: bool
    apps_path: str | None
    # The folder (relative to root) whose mix.exs holds the `setup` alias; "." for one app.
    web_app: str
    # What `setup` runs, or None when there is no such alias (or it is not a list).
    setup: tuple[str, ...] | None
    setup_file: Path | None

    @property
    def setup_needs_database(self) -> bool:
        return any(_task_name(t) in DATABASE_TASKS for t in self.setup or ())

    def describe(self) -> str:
        shape = f"an umbrella (apps_path: {self.apps_path!r})" if self.umbrella else "one Mix app (no apps_path)"
        return shape


def _task_name(entry: str) -> str:
    return entry.split()[0] if entry.split() else ""


def read_text(path: Path) -> str:
    """The file's text; empty when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def apps_path(text: str) -> str | None:
    m = re.search(r'^\s*apps_path:\s*"([^"]+)"', text, re.M)
    return m.group(1) if m else None


def _list_after(text: str, start: int) -> str | None:
    """The text of the ``[...]`` list that opens at or after ``start`` (brackets balanced)."""
    i = text.find("[", start)
    if i < 0 or text[start:i].strip():
        return None
    depth = 0
    for j in range(i, len(text)):
        ch = text[j]
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None


def alias(text: str, name: str) -> tuple[str, ...] | None:
    """The tasks of alias ``name`` (``setup:`` or ``"ecto.seed":``) when it is a list of strings."""
    key = re.escape(name)
    pattern = rf'(?:^|[\s\[,])(?:{key}|"{key}"):\s*' if re.fullmatch(r"[a-z_]+", name) else rf'(?:^|[\s\[,])"{key}":\s*'
    for m in re.finditer(pattern, text, re.M):
        body = _list_after(text, m.end())
        if body is None:
            continue
        without_comments = "\n".join(line.split("#", 1)[0] for line in body.splitlines())
        return tuple(re.findall(r'"([^"]*)"', without_comments))
    return None


def read(root: Path) -> MixProject:
    """The project at ``root`` (the Elixir root, which has a mix.exs)."""
    text = read_text(root / "mix.exs")
    apps = apps_path(text)
    if apps is None:
        return MixProject(root, False, None, ".", alias(text, "setup"), root / "mix.exs")
    # An umbrella: the web app is the one whose mix.exs has a `setup` alias (web first).
    folders = sorted((p for p in (root / apps).glob("*/mix.exs")), key=lambda p: (p.parent.name != "web", p.parent.name))
    for mix_exs in folders:
        found = alias(read_text(mix_exs), "setup")
        if found is not None:
            return MixProject(root, True, apps, f"{apps}/{mix_exs.parent.name}", found, mix_exs)
    root_setup = alias(text, "setup")
    if root_setup is not None:
        return MixProject(root, True, apps, ".", root_setup, root / "mix.exs")
    web = f"{apps}/web" if (root / apps / "web").is_dir() else (f"{apps}/{folders[0].parent.name}" if folders else ".")
    return MixProject(root, True, apps, web, None, None)
