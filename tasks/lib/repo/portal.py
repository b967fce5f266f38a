"""Facts about the portal from plain text searches of its config and seeds, each with the file that gave it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tasks.lib.repo.mixproject import read_text


@dataclass(frozen=True)
class Fact:
    value: bool
    source: str  # a path relative to the Elixir root's parent, or what was looked at


def config_files(root: Path) -> list[Path]:
    return sorted((root / "config").glob("*.exs"))


def cert_files(root: Path) -> tuple[list[Path], Path | None]:
    """The ``priv/cert/*.pem`` files the dev config serves https from (relative to the Elixir root), and that file."""
    for f in [root / "config" / "dev.exs", *config_files(root)]:
        found = re.findall(r'"(priv/cert/[^"\s]+)"', read_text(f))
        if found:
            return [root / p for p in dict.fromkeys(found)], f
    return [], None


def replication_hardwired(root: Path) -> Fact | None:
    """True when a config file wires replication to a literal port 5432; None when no config mentions replication."""
    seen = None
    for f in config_files(root):
        text = read_text(f)
        for m in re.finditer(r"replication", text, re.I):
            seen = seen or f
            window = text[m.start() : m.start() + 800]
            if re.search(r"\bport:\s*5432\b", window):
                return Fact(True, str(f))
    return Fact(False, str(seen)) if seen else None


def static_seeds_read(root: Path, apps_path: str | None) -> Fact | None:
    found = [root / "priv" / "repo" / "seeds.exs", *(sorted((root / apps_path).glob("*/priv/repo/seeds.exs")) if apps_path else [])]
    files = [p for p in found if p.is_file()]
    for f in files:
        if "STATIC_SEEDS" in read_text(f):
            return Fact(True, str(f))
    return Fact(False, str(files[0])) if files else None


def workos_referenced(root: Path, apps_path: str | None) -> Fact:
    files = [*config_files(root), root / "mix.exs"]
    if apps_path:
        files += sorted((root / apps_path).glob("*/mix.exs"))
    for f in files:
        if re.search(r"workos", read_text(f), re.I):
            return Fact(True, str(f))
    return Fact(False, "config/*.exs and mix.exs")


_LITERAL = re.compile(r'\b(hostname|username|password|port):\s*(?:"([^"]*)"|(\d+))')


def test_connection(root: Path) -> dict[str, tuple[str, Path]]:
    """The hostname/username/password/port a Repo in config.exs or test.exs hard-codes for the tests, each with its file."""
    found: dict[str, tuple[str, Path]] = {}
    for f in (root / "config" / "config.exs", root / "config" / "test.exs"):
        for chunk in re.split(r"^\s*config\s+", read_text(f), flags=re.M):
            if re.match(r":\w+,\s*[\w.]*Repo\b", chunk):
                found |= {m[1]: (m[2] if m[2] is not None else m[3], f) for m in _LITERAL.finditer(chunk)}
    return found
