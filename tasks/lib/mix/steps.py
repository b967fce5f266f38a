"""The mix steps skipped when up to date (deps, setup, migrate of a seeded database), the dev cert, iex and the server."""

from __future__ import annotations

import glob
import os
import re
import sys
from contextlib import nullcontext
from pathlib import Path

from invoke import Exit

from tasks.lib import portal_env, programs
from tasks.lib.console import dry
from tasks.lib.mix.fingerprints import Step, is_up_to_date, missing_outputs, record
from tasks.lib.mix.tool import Elixir, settings, task_args
from tasks.lib.problem import Problem
from tasks.lib.repo import mixproject
from tasks.lib.state import held

WHAT = {"deps": "mix deps.get", "setup": "mix setup"}
HEX_FIX = "mix local.hex --force (Hex fetches the packages in mix.lock)"


def hex_archive(mix: str) -> str | None:
    """The installed Hex archive (``hex-2.1.1``): in mix's archives folder, else as `mix archive` lists it."""
    folder = Path(os.environ.get("MIX_ARCHIVES") or Path(os.environ.get("MIX_HOME") or Path.home() / ".mix") / "archives")
    found = [p.name for p in folder.glob("hex-*")]
    if not found:
        found = re.findall(r"\bhex-\S+", programs.capture([mix, "archive"], ok=None, what="mix archive").stdout)
    return found[0] if found else None


def _paths(base: Path, patterns) -> list[Path]:
    """Settings' paths (globs allowed) under ``base``, sorted, duplicates dropped."""
    out: list[Path] = []
    for pattern in patterns:
        p = base / pattern
        out += sorted(Path(m) for m in glob.glob(str(p))) if glob.has_magic(str(pattern)) else [p]
    return list(dict.fromkeys(out))


def lock_declares_deps(lock: Path) -> bool:
    """True when mix.lock lists at least one package (entries look like `"name": {...}`)."""
    try:
        return '":' in lock.read_text(errors="replace")
    except OSError:
        return False


def _salt(e: Elixir, key: str, *more: str) -> str:
    return " ".join([*e.tasks[key], *more])


def deps_step(e: Elixir) -> Step:
    """Inputs mix.lock and the mix.exs files; output deps/ only when mix.lock lists packages."""
    inputs = _paths(e.root, e.paths["deps_inputs"])
    outputs = _paths(e.root, e.paths["deps_outputs"]) if lock_declares_deps(e.root / "mix.lock") else []
    return Step("deps", inputs, outputs, salt=_salt(e, "deps_task"), base=e.root, summary="mix.lock unchanged")


def setup_step(e: Elixir) -> Step:
    """Inputs the assets lock file(s) and the web app's mix.exs; outputs node_modules, priv/static."""
    inputs = _paths(e.web, e.paths["setup_inputs"])
    outputs = _paths(e.web, e.paths["setup_outputs"])
    lock = next((p for p in inputs if p.exists()), inputs[0] if inputs else None)
    summary = f"{e.web.name}: {lock.name} unchanged" if lock else None
    return Step("setup", inputs, outputs, salt=_salt(e, "setup_task"), base=e.web, summary=summary)


def migrate_step(e: Elixir, marker: dict, where: str) -> Step:
    """A seeded database's migrations; the salt names the seeding and the database, so another one migrates once."""
    salt = _salt(e, "migrate_task", where, str(marker.get("at")))
    return Step("migrate", _paths(e.root, e.paths["migrate_inputs"]), (), salt=salt, base=e.root, summary="migrations unchanged")


def setup_needs_database(e: Elixir) -> str | None:
    """Why `mix setup` needs the database (today's root `setup` alias runs ecto.setup), or None."""
    words = e.tasks["setup_task"]
    name = words[0] if words else ""
    if name in mixproject.DATABASE_TASKS:
        return f"elixir.setup_task runs {name}"
    mix = e.repo.mix
    if not name or mix.setup_file is None or mix.setup_file.parent.resolve() != e.web.resolve():
        return None
    found = mixproject.alias(mixproject.read_text(mix.setup_file), name)
    opens = [t for t in found or () if t.split()[0] in mixproject.DATABASE_TASKS]
    return f"the {name} alias in {e.repo.show(mix.setup_file)} runs {', '.join(opens)}" if opens else None


def cert(e: Elixir) -> str:
    """`mix phx.gen.cert` when the dev config's cert is missing; under a lock: Phoenix's task would ask to overwrite."""
    files, named_in = e.repo.cert
    if not files or not e.cert_task:
        return "skipped"
    folder = programs.display_path(files[0].parent)
    if all(f.exists() for f in files):
        print(f"cert: up to date ({folder} has the dev https cert)", flush=True)
        return "skipped"
    waiting = "cert: waiting for another inv that is making the dev https cert"
    with held(e.writable_state() / "cert.lock", waiting) if not e.dry else nullcontext():
        if all(f.exists() for f in files):
            print(f"cert: made meanwhile by another inv ({folder})", flush=True)
            return "skipped"
        shown = ", ".join(programs.display_path(f) for f in files if not f.exists())
        print(
            f"cert: {'would run' if e.dry else 'running'} ({shown} missing; {e.repo.show(named_in or e.root)} serves https from it)",
            flush=True,
        )
        e.run([e.mix, *task_args(e.cert_task)], cwd=e.root, env=portal_env.mix_env(), what=f"mix {e.cert_task}")
    return "dry" if e.dry else "ran"


def hex_registry_unreachable() -> str | None:
    """The registry's address when a connection to it fails (HEX_MIRROR, else repo.hex.pm); None when it answers."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(os.environ.get("HEX_MIRROR") or "https://repo.hex.pm")
    try:
        socket.create_connection((url.hostname or "", url.port or (80 if url.scheme == "http" else 443)), timeout=3).close()
    except OSError:
        return url.geturl()
    return None


def run(e: Elixir, name: str, force: bool = False) -> str:
    """Step ``deps`` (in the Elixir root) or ``setup`` (in the web app) unless up to date: "ran" or "skipped"."""
    step = deps_step(e) if name == "deps" else setup_step(e)
    argv = e.command(f"{name}_task")
    folder = e.writable_state()  # before the step: its success must be recordable
    if not force:
        fresh, reason = is_up_to_date(folder, step)
        if fresh:
            print(f"{name}: up to date ({reason}), skipped", flush=True)
            return "skipped"
        print(f"{name}: {'would run' if e.dry else 'running'} ({reason})", flush=True)
    try:
        e.run(argv, cwd=e.root if name == "deps" else e.web, env=portal_env.mix_env(), what=WHAT[name])
    except Exit as err:
        if name != "deps" or not lock_declares_deps(e.root / "mix.lock"):
            raise
        if hex_archive(e.mix) is None:
            raise Problem(
                f"{WHAT[name]} failed: Hex is not installed, and mix needs it for the packages in mix.lock", HEX_FIX, code=err.code
            )
        registry = hex_registry_unreachable()
        if registry:
            fix = "check the network or proxy (HTTPS_PROXY), or set HEX_MIRROR to a mirror you can reach"
            raise Problem(f"{WHAT[name]} failed: the Hex registry {registry} cannot be reached from here", fix, code=err.code)
        raise
    if e.dry:
        dry(f"{name}: would record its fingerprint in {programs.display_path(folder)}")
        return "dry"
    record(folder, step)
    missing = ", ".join(step.show(p) for p in missing_outputs(step))
    if missing:
        warning = f"it succeeded but {missing} is still missing, so it will run again next time; check the setting elixir.{name}_outputs"
        print(f"{name}: warning: {warning}", file=sys.stderr, flush=True)
    return "ran"


def start(c, env=None, shell: bool = False) -> str:
    """elixir.iex (``shell``: `iex -S mix`, replacing this process) or elixir.server (`mix phx.server`), in the Elixir root."""
    e = settings(c)
    if shell:
        argv, cwd, child_env = iex_command(e, env)
        e.exec_in(argv, cwd=cwd, env=child_env)
        return "dry"
    argv, cwd, child_env = server_command(e, env)
    e.run(argv, cwd=cwd, env=child_env, what="mix phx.server", interactive=True)
    return "ran"


def iex_command(e: Elixir, env=None) -> tuple[list[str], Path, dict[str, str]]:
    program = e.program("iex")
    _ = e.mix  # `iex -S mix` needs mix too: say so before iex does
    return [program, "-S", "mix"], e.root, portal_env.server_env(env or [])


def server_command(e: Elixir, env=None) -> tuple[list[str], Path, dict[str, str]]:
    return e.command("server_task"), e.root, portal_env.server_env(env or [])
