"""The elixir.* settings, read once per task run, and mix command lines (`mix do`'s separator depends on Elixir's version)."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING

from tasks.lib import config, programs, state
from tasks.lib.config import PROJECT_ROOT, project_path
from tasks.lib.problem import Problem
from tasks.lib.repo.mixproject import read_text
from tasks.lib.versions import numeric

if TYPE_CHECKING:
    from tasks.lib.repo.derived import Repo

INSTALL_HINT = (
    "Install Elixir: `asdf install` in the repository root (reads .tool-versions), or `apt-get install elixir` on Debian/Ubuntu,"
    " or set elixir.{key} in invoke.yaml (INVOKE_ELIXIR_{KEY}) to its full path"
)
PLUS_SINCE = (1, 14)  # `mix do a + b` is understood since this version
TASKS = ("deps_task", "setup_task", "seed_task", "migrate_task", "server_task", "test_task")
OPTIONAL_ARGS = ("test_args", "acceptance_args")  # may be empty: no filters
PATHS = ("deps_inputs", "deps_outputs", "setup_inputs", "setup_outputs", "migrate_inputs")


@dataclass(frozen=True)
class Elixir:
    """The elixir.* settings and the run's dry flag; ``run``/``exec_in`` run programs for the task."""

    root_setting: str
    web_app_setting: str
    programs: dict[str, str]  # mix, iex, chromedriver, chrome ("" = look on PATH) as set
    tasks: dict[str, list[str]]  # TASKS and OPTIONAL_ARGS as argv words
    reset_tasks: list[list[str]]
    cert_task: str  # "" turns the cert step off
    paths: dict[str, list[str]]  # PATHS, globs allowed
    state_dir: Path
    dry: bool
    repo: Repo
    run: Callable[..., int | None]
    exec_in: Callable[..., None]

    @cached_property
    def root(self) -> Path:
        """The Elixir root (elixir.root, relative to the project root), checked."""
        root = project_path(self.root_setting)
        fix = (
            "point elixir.root at Firezone's elixir/ folder: INVOKE_ELIXIR_ROOT=path/to/elixir"
            f" or `elixir: {{root: path/to/elixir}}` in invoke.yaml (relative to {PROJECT_ROOT})"
        )
        why = "does not exist" if not root.is_dir() else "has no mix.exs" if not (root / "mix.exs").is_file() else ""
        if why:
            raise Problem(f"Elixir root {root} {why} (setting elixir.root = {self.root_setting!r})", fix, "elixir.root")
        return root

    @cached_property
    def web(self) -> Path:
        """The Phoenix web app (elixir.web_app, relative to the Elixir root), checked."""
        path = Path(os.path.expanduser(self.web_app_setting))
        web = path if path.is_absolute() else self.root / path
        if not (web / "mix.exs").is_file():
            what = f"web app {web} has no mix.exs (setting elixir.web_app = {self.web_app_setting!r}, relative to {self.root})"
            raise Problem(what, "set INVOKE_ELIXIR_WEB_APP or elixir.web_app in invoke.yaml", "elixir.web_app")
        return web

    def program(self, key: str) -> str:
        """``mix`` or ``iex`` found, or a Problem saying how to install it."""
        return programs.require(self.programs[key], f"elixir.{key}", INSTALL_HINT.format(key=key, KEY=key.upper()))

    @cached_property
    def mix(self) -> str:
        return self.program("mix")

    def command(self, key: str) -> list[str]:
        """The mix argv of the task setting ``elixir.<key>``; ``reset_tasks`` is one `mix do` line."""
        tasks = self.reset_tasks if key == "reset_tasks" else [self.tasks[key]]
        version = elixir_version(self.mix, self.state_dir, self.repo.elixir_root, self.dry) if len(tasks) > 1 else None
        return [self.mix, *do_args(version, tasks)]

    def writable_state(self) -> Path:
        """The state folder, made and checked writable (not under --dry): before a step whose result is recorded."""
        state.check_writable(self.state_dir, create=not self.dry)
        return self.state_dir


def settings(c) -> Elixir:
    """The elixir.* settings of this run (a bad value is one line naming it)."""
    s = config.settings(c)

    def optional_words(key: str) -> list[str]:
        text = s.optional("elixir", key)
        try:
            return shlex.split(text)
        except ValueError as e:
            raise s.bad("elixir", key, text, f"mix arguments ({e})")

    return Elixir(
        root_setting=s.text("elixir", "root"),
        web_app_setting=s.text("elixir", "web_app"),
        programs={k: s.text("elixir", k) for k in ("mix", "iex", "chromedriver")} | {"chrome": s.optional("elixir", "chrome").strip()},
        tasks={k: s.words("elixir", k) for k in TASKS} | {k: optional_words(k) for k in OPTIONAL_ARGS},
        reset_tasks=s.commands("elixir", "reset_tasks"),
        cert_task=s.optional("elixir", "cert_task").strip(),
        paths={k: s.strings("elixir", k) for k in PATHS},
        state_dir=s.state_dir,
        dry=s.dry,
        repo=s.repository(),
        run=partial(programs.run, c),
        exec_in=partial(programs.exec_in, c),
    )


def task_args(task: str | Sequence[str]) -> list[str]:
    return shlex.split(task) if isinstance(task, str) else [str(w) for w in task]


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``"Mix 1.18.4 (compiled with Erlang/OTP 27)"`` or ``"1.14.0"`` -> ``(1, 18, 4)``."""
    parts = numeric(text or "")
    return (parts[0], parts[1], (parts + (0,))[2]) if len(parts) >= 2 else None


def do_args(version: tuple[int, ...] | None, tasks: Iterable[str | Sequence[str]]) -> list[str]:
    """``["do", "a", "+", "b"]`` on Elixir >= 1.14 (or unknown), ``["do", "a,", "b"]`` before; one task needs no `do`."""
    words = [w for w in (task_args(t) for t in tasks) if w]
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
    """The .tool-versions files that pick a version behind an asdf/mise shim (the Elixir root's first)."""
    h = hashlib.sha256()
    for var in ("ASDF_ELIXIR_VERSION", "MISE_ELIXIR_VERSION"):
        h.update(f"{var}={os.environ.get(var, '')}\n".encode())
    own = elixir_root / ".tool-versions"
    found = [own] if own.is_file() else []
    found += [f for f in (d / ".tool-versions" for d in (PROJECT_ROOT, *PROJECT_ROOT.parents)) if f.is_file()][:1]
    for f in found:
        h.update(str(f).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def _valid_cache(data: dict) -> bool:
    v = data.get("version")
    return isinstance(data.get("key"), str) and isinstance(v, list) and 2 <= len(v) <= 3 and all(type(n) is int and n >= 0 for n in v)


def elixir_version(mix: str, state_dir: Path, elixir_root: Path, dry: bool = False) -> tuple[int, int, int] | None:
    """The Elixir version behind ``mix`` (cached in ``state_dir``; None when it cannot be told)."""
    real = Path(mix).resolve()
    try:
        st = real.stat()
    except OSError:
        return None
    key = f"{real}|{st.st_mtime_ns}|{st.st_size}|{_tool_versions_key(elixir_root)}"
    cache = state_dir / "elixir-version.json"
    cached = state.read_json(cache, "the Elixir version is detected again", _valid_cache)
    if cached is not None and cached["key"] == key:
        return parse_version(".".join(map(str, cached["version"])))
    # <prefix>/bin/mix beside <prefix>/lib/elixir/ebin/elixir.app, which holds {vsn,"1.14.0"}
    app = read_text(real.parent.parent / "lib" / "elixir" / "ebin" / "elixir.app")
    m = re.search(r'\{\s*vsn\s*,\s*"([^"]+)"', app)
    # Else a shim's way: "Mix 1.18.4 (compiled with Erlang/OTP 27)" after the Erlang banner.
    found = m.group(1) if m else programs.version([mix, "--version"], timeout=60, pattern=r"^Mix (\S+)", cwd=PROJECT_ROOT)
    version = parse_version(found) if found else None
    if version is not None and not dry:
        try:
            state.write_json(cache, {"key": key, "version": list(version)})
        except state.StateError:
            pass  # a cache that cannot be written only costs time
    return version
