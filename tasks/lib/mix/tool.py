"""Finding mix/iex and the Elixir project, and composing mix command lines.

The Elixir version decides how `mix do` separates tasks: `+` since Elixir 1.14
(`mix help do`), a trailing comma before that (newer versions warn about the comma).
Detecting the version must cost nothing on a warm run: it is read from the
installation's `elixir.app` when the `mix` on PATH resolves to a real install, and
otherwise (asdf/mise shims) from `mix --version` once, cached in the state folder
keyed by the program's path, mtime and the `.tool-versions` files that choose it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path

from invoke import Exit

from tasks.lib import config, programs, state
from tasks.lib.config import PROJECT_ROOT, project_path
from tasks.lib.console import is_dry
from tasks.lib.versions import numeric

INSTALL_HINT = (
    "Install Elixir: `asdf install` in the repository root (reads .tool-versions),"
    " or `apt-get install elixir` on Debian/Ubuntu, or set elixir.{key} in invoke.yaml"
    " (INVOKE_ELIXIR_{KEY}) to its full path"
)

# `mix do a + b` is understood since this version.
PLUS_SINCE = (1, 14)


def mix_path(c) -> str:
    """The `mix` program (setting elixir.mix), or a one-line Exit saying how to install it."""
    return programs.require(config.text(c, "elixir", "mix"), "elixir.mix", INSTALL_HINT.format(key="mix", KEY="MIX"))


def iex_path(c) -> str:
    """The `iex` program (setting elixir.iex), or a one-line Exit saying how to install it."""
    return programs.require(config.text(c, "elixir", "iex"), "elixir.iex", INSTALL_HINT.format(key="iex", KEY="IEX"))


def elixir_root(c) -> Path:
    """The Elixir umbrella (setting elixir.root, relative to the project root)."""
    value = config.text(c, "elixir", "root")
    root = project_path(value)
    fix = (
        "point elixir.root at Firezone's elixir/ folder: INVOKE_ELIXIR_ROOT=path/to/elixir"
        f" or `elixir: {{root: path/to/elixir}}` in invoke.yaml (relative to {PROJECT_ROOT})"
    )
    if not root.is_dir():
        raise Exit(f"Elixir root {root} does not exist (setting elixir.root = {value!r}); {fix}")
    if not (root / "mix.exs").is_file():
        raise Exit(f"Elixir root {root} has no mix.exs (setting elixir.root = {value!r}); {fix}")
    return root


def web_app_dir(c) -> Path:
    """The Phoenix web app (setting elixir.web_app, relative to the Elixir root)."""
    root = elixir_root(c)
    value = config.text(c, "elixir", "web_app")
    path = Path(os.path.expanduser(value))
    web = path if path.is_absolute() else root / path
    if not (web / "mix.exs").is_file():
        raise Exit(
            f"web app {web} has no mix.exs (setting elixir.web_app = {value!r}, relative to"
            f" {root}); set INVOKE_ELIXIR_WEB_APP or elixir.web_app in invoke.yaml"
        )
    return web


def task_args(task: str | Sequence[str]) -> list[str]:
    """A mix task setting ("ecto.create --quiet" or a list) as argv words."""
    return shlex.split(task) if isinstance(task, str) else [str(w) for w in task]


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"Mix 1.18.4 (compiled with Erlang/OTP 27)"`` or ``"1.14.0"`` -> ``(1, 18, 4)``."""
    parts = numeric(text or "")
    if len(parts) < 2:
        return None
    major, minor, patch = (parts + (0,))[:3]
    return major, minor, patch


def do_args(version: tuple[int, ...] | None, tasks: Iterable[str | Sequence[str]]) -> list[str]:
    """mix arguments running ``tasks`` in order: ``["do", "a", "+", "b"]`` on Elixir >= 1.14,
    ``["do", "a,", "b"]`` before. One task needs no `do`. An unknown version gets `+`
    (what every supported Elixir understands)."""
    words = [task_args(t) for t in tasks]
    words = [w for w in words if w]
    if not words:
        raise ValueError("do_args needs at least one task")
    if len(words) == 1:
        return words[0]
    plus = version is None or tuple(version[:2]) >= PLUS_SINCE
    out = ["do"]
    for i, w in enumerate(words):
        if i and plus:
            out.append("+")
        if not plus and i < len(words) - 1:
            w = [*w[:-1], w[-1] + ","]
        out += w
    return out


def _tool_versions_key(elixir_root: Path) -> str:
    """The .tool-versions files that pick a version behind an asdf/mise shim (the Elixir
    root's first: today's Firezone pins Elixir there)."""
    h = hashlib.sha256()
    for var in ("ASDF_ELIXIR_VERSION", "MISE_ELIXIR_VERSION"):
        h.update(f"{var}={os.environ.get(var, '')}\n".encode())
    own = elixir_root / ".tool-versions"
    if own.is_file():
        h.update(str(own).encode() + b"\0" + own.read_bytes())
    for folder in (PROJECT_ROOT, *PROJECT_ROOT.parents):
        f = folder / ".tool-versions"
        if f.is_file():
            h.update(str(f).encode() + b"\0" + f.read_bytes())
            break
    return h.hexdigest()[:16]


def _version_from_install(real: Path) -> tuple[int, int, int] | None:
    # <prefix>/bin/mix -> <prefix>/lib/elixir/ebin/elixir.app holds {vsn,"1.14.0"}
    app = real.parent.parent / "lib" / "elixir" / "ebin" / "elixir.app"
    try:
        text = app.read_text(errors="replace")
    except OSError:
        return None
    m = re.search(r'\{\s*vsn\s*,\s*"([^"]+)"', text)
    return parse_version(m.group(1)) if m else None


def _valid_cache(data: dict) -> bool:
    version = data.get("version")
    return (
        isinstance(data.get("key"), str)
        and isinstance(version, list)
        and 2 <= len(version) <= 3
        and all(type(n) is int and n >= 0 for n in version)
    )


def elixir_version(c, mix: str | None = None) -> tuple[int, int, int] | None:
    """The Elixir version behind ``mix`` (cached; None when it cannot be told)."""
    mix = mix or mix_path(c)
    real = Path(mix).resolve()
    try:
        st = real.stat()
    except OSError:
        return None
    key = f"{real}|{st.st_mtime_ns}|{st.st_size}|{_tool_versions_key(config.repository(c).elixir_root)}"
    cache = config.state_dir(c) / "elixir-version.json"
    cached = state.read_json(cache, "the Elixir version is detected again", _valid_cache)
    if cached is not None and cached["key"] == key:
        return parse_version(".".join(map(str, cached["version"])))
    version = _version_from_install(real)
    if version is None:
        # "Mix 1.18.4 (compiled with Erlang/OTP 27)"; the Erlang banner comes first.
        found = programs.version([mix, "--version"], timeout=60, pattern=r"^Mix (\S+)", cwd=PROJECT_ROOT)
        version = parse_version(found) if found else None
    if version is None:
        return None
    if not is_dry(c):
        try:
            state.write_json(cache, {"key": key, "version": list(version)})
        except state.StateError:
            pass  # a cache that cannot be written only costs time
    return version


def mix_do(c, tasks: Iterable[str | Sequence[str]], mix: str | None = None) -> list[str]:
    """Full argv for running ``tasks`` in one mix invocation."""
    tasks = list(tasks)
    mix = mix or mix_path(c)
    words = [task_args(t) for t in tasks]
    if len([w for w in words if w]) == 1:
        return [mix, *do_args(None, tasks)]
    return [mix, *do_args(elixir_version(c, mix), tasks)]
