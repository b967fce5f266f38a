"""Tool pins: ``.tool-versions`` and ``mise.toml`` at the root and in the Elixir root (whose pins win: mix runs there)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tasks.lib import versions
from tasks.lib.repo.mixproject import read_text


@dataclass(frozen=True)
class Pin:
    version: str
    source: Path


def _mise_tools(path: Path) -> dict[str, str]:
    """``[tools]`` entries of a mise.toml: ``name = "version"`` (other shapes are skipped)."""
    text = read_text(path)
    tools: dict[str, str] = {}
    section = None
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        header = re.fullmatch(r"\[([^\]]+)\]", line)
        if header:
            section = header.group(1).strip()
            continue
        m = re.fullmatch(r'"?([A-Za-z0-9_.:/@-]+)"?\s*=\s*"([^"]+)"', line)
        if section == "tools" and m:
            tools[m.group(1).split(":")[-1]] = m.group(2)
    return tools


def read(project_root: Path, elixir_root: Path | None = None) -> dict[str, Pin]:
    # Later files win: the Elixir root over the repository root and, as in mise, mise.toml over .tool-versions.
    files: list[Path] = [project_root / ".tool-versions", project_root / "mise.toml"]
    if elixir_root is not None and elixir_root.resolve() != project_root.resolve():
        files += [elixir_root / ".tool-versions", elixir_root / "mise.toml"]
    pins: dict[str, Pin] = {}
    for f in files:
        found = _mise_tools(f) if f.name == "mise.toml" else versions.read(f)
        for name, version in found.items():
            pins[name] = Pin(version, f)
    return pins
