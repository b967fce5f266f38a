"""Tool pins: ``.tool-versions`` at the repository root and in the Elixir root, and ``mise.toml``.

Firezone moved the Elixir, Erlang, Node and pnpm pins to ``elixir/.tool-versions``
(asdf takes the nearest file; mise's ``[monorepo] config_roots`` lists ``elixir``); the
root file keeps the linters'. The Elixir root's pins win for what they name: that is
the file asdf and mise read where mix runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tasks.lib import versions


@dataclass(frozen=True)
class Pin:
    version: str
    source: Path


def _mise_tools(path: Path) -> dict[str, str]:
    """``[tools]`` entries of a mise.toml: ``name = "version"`` (other shapes are skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
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


def config_roots(project_root: Path) -> list[str]:
    """mise.toml's ``[monorepo] config_roots`` (empty when absent)."""
    try:
        text = (project_root / "mise.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    m = re.search(r"^\s*config_roots\s*=\s*\[([^\]]*)\]", text, re.M)
    return re.findall(r'"([^"]+)"', m.group(1)) if m else []


def read(project_root: Path, elixir_root: Path | None = None) -> dict[str, Pin]:
    """Every pin, asdf names (``nodejs``, ``erlang``), each with the file it came from."""
    # Later files win: the Elixir root over the repository root and, as mise does,
    # mise.toml over .tool-versions in the same folder.
    files: list[Path] = [project_root / ".tool-versions", project_root / "mise.toml"]
    if elixir_root is not None and elixir_root.resolve() != project_root.resolve():
        files += [elixir_root / ".tool-versions", elixir_root / "mise.toml"]
    pins: dict[str, Pin] = {}
    for f in files:
        found = _mise_tools(f) if f.name == "mise.toml" else versions.read(f)
        for name, version in found.items():
            pins[name] = Pin(version, f)
    return pins


def wanted(project_root: Path, elixir_root: Path | None = None) -> dict[str, str]:
    """``{"elixir": "1.20.3-otp-29", ...}``: the pins alone."""
    return {name: pin.version for name, pin in read(project_root, elixir_root).items()}
