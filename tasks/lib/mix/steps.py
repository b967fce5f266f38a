"""The mix steps the suite skips when up to date: deps, setup, and migrate of a seeded database.

Each is a ``fingerprints.Step`` built from the elixir.* settings (inputs, outputs, the
mix task) plus the command that runs it. ``run`` runs one unless it is up to date and
records it only after it succeeded.
"""

from __future__ import annotations

import glob
import sys
from dataclasses import dataclass
from pathlib import Path

from tasks.lib import config, portal_env, programs
from tasks.lib.console import dry, is_dry
from tasks.lib.mix import tool
from tasks.lib.mix.fingerprints import Step, is_up_to_date, missing_outputs, record
from tasks.lib.repo import mixproject
from tasks.lib.state import held, require_writable


def _paths(base: Path, patterns) -> list[Path]:
    """Settings' paths (globs allowed) under ``base``, sorted, duplicates dropped."""
    out: list[Path] = []
    for pattern in patterns:
        p = base / pattern
        if glob.has_magic(str(pattern)):
            out += sorted(Path(m) for m in glob.glob(str(p)))
        else:
            out.append(p)
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def lock_declares_deps(lock: Path) -> bool:
    """True when mix.lock lists at least one package (entries look like `"name": {...}`)."""
    try:
        text = lock.read_text(errors="replace")
    except OSError:
        return False
    return '":' in text


@dataclass(frozen=True)
class MixStep:
    """A fingerprinted step and the mix command that does it."""

    step: Step
    argv: list[str]
    cwd: Path
    what: str


def task_words(c, key: str) -> list[str]:
    """A mix task setting (``elixir.deps_task``...) as argv words."""
    return config.words(c, "elixir", key)


def mix_command(c, key: str) -> list[str]:
    """The mix argv for the task setting ``elixir.<key>``: the one place mix command lines
    are made. ``reset_tasks`` (a list of tasks) becomes one `mix do` line."""
    tasks = config.commands(c, "elixir", key) if key == "reset_tasks" else [task_words(c, key)]
    return tool.mix_do(c, tasks)


def deps_step(c) -> Step:
    """The deps step: inputs mix.lock + mix.exs files; output deps/ when mix.lock lists packages.

    A project whose mix.lock lists nothing (no hex or git deps, like the test
    fixture) has no deps/ to check: there the inputs alone decide.
    """
    root = tool.elixir_root(c)
    inputs = _paths(root, config.strings(c, "elixir", "deps_inputs"))
    outputs = _paths(root, config.strings(c, "elixir", "deps_outputs"))
    if not lock_declares_deps(root / "mix.lock"):
        outputs = []
    salt = " ".join(task_words(c, "deps_task"))
    return Step("deps", inputs, outputs, salt=salt, base=root, summary="mix.lock unchanged")


def setup_step(c) -> Step:
    """The web setup step: inputs the assets lock file(s) + web mix.exs; outputs node_modules, priv/static."""
    web = tool.web_app_dir(c)
    inputs = _paths(web, config.strings(c, "elixir", "setup_inputs"))
    outputs = _paths(web, config.strings(c, "elixir", "setup_outputs"))
    lock = next((p for p in inputs if p.exists()), inputs[0] if inputs else None)
    summary = f"{web.name}: {lock.name} unchanged" if lock else None
    salt = " ".join(task_words(c, "setup_task"))
    return Step("setup", inputs, outputs, salt=salt, base=web, summary=summary)


def migrate_step(c, marker: dict, where: str) -> Step:
    """The migrate step of an already seeded database: inputs the migration files.

    Its salt names the seeding (the marker's time) and the database, so a reseeded,
    reset or different database always migrates once.
    """
    root = tool.elixir_root(c)
    inputs = _paths(root, config.strings(c, "elixir", "migrate_inputs"))
    salt = " ".join([*task_words(c, "migrate_task"), where, str(marker.get("at"))])
    return Step("migrate", inputs, (), salt=salt, base=root, summary="migrations unchanged")


def setup_needs_database(c) -> str | None:
    """Why the setup step needs the database (for messages), or None when it does not.

    Today's Firezone's root `setup` alias runs `ecto.setup`; the contract-era web app's
    does not. The alias is read from the mix.exs of the folder setup runs in.
    """
    words = task_words(c, "setup_task")
    name = words[0] if words else ""
    if name in mixproject.DATABASE_TASKS:
        return f"elixir.setup_task runs {name}"
    repo = config.repository(c)
    mix = repo.mix
    if mix.setup_file is None or mix.setup_file.parent.resolve() != tool.web_app_dir(c).resolve():
        return None
    found = mixproject.alias(mixproject.read_text(mix.setup_file), name) if name else None
    opens = [t for t in found or () if t.split()[0] in mixproject.DATABASE_TASKS]
    if opens:
        return f"the {name} alias in {repo.show(mix.setup_file)} runs {', '.join(opens)}"
    return None


def cert_files(c) -> list[Path]:
    """The dev https cert and key the portal's config names (priv/cert/*.pem), if any."""
    files, _ = config.repository(c).cert
    return files


def cert(c) -> str:
    """`mix phx.gen.cert` (setting elixir.cert_task) when the dev config serves https from
    a cert that is not there yet; "skipped" when it is (or nothing expects one). Two `inv`
    at once make it once: the second waits, then finds it made (Phoenix's task would ask
    whether to overwrite)."""
    files = cert_files(c)
    task = config.optional(c, "elixir", "cert_task").strip()
    if not files or not task:
        return "skipped"
    if all(f.exists() for f in files):
        print(f"cert: up to date ({programs.display_path(files[0].parent)} has the dev https cert)", flush=True)
        return "skipped"
    if is_dry(c):
        return _make_cert(c, files, task)
    with held(require_writable(c) / "cert.lock", "cert: waiting for another inv that is making the dev https cert"):
        if all(f.exists() for f in files):
            print(f"cert: made meanwhile by another inv ({programs.display_path(files[0].parent)})", flush=True)
            return "skipped"
        return _make_cert(c, files, task)


def _make_cert(c, files: list[Path], task: str) -> str:
    missing = [f for f in files if not f.exists()]
    shown = ", ".join(programs.display_path(f) for f in missing)
    _, named_in = config.repository(c).cert
    print(f"cert: running ({shown} missing; {config.repository(c).show(named_in or tool.elixir_root(c))} serves https from it)", flush=True)
    programs.run(c, mix_command(c, "cert_task"), cwd=tool.elixir_root(c), env=portal_env.mix_env(), what=f"mix {task}")
    return "ran"


def steps(c) -> list[Step]:
    """The fingerprinted steps dev.status reports."""
    return [deps_step(c), setup_step(c)]


def mix_step(c, name: str) -> MixStep:
    """``deps`` (mix deps.get in the Elixir root) or ``setup`` (mix setup in the web app)."""
    if name == "deps":
        return MixStep(deps_step(c), mix_command(c, "deps_task"), tool.elixir_root(c), "mix deps.get")
    if name == "setup":
        return MixStep(setup_step(c), mix_command(c, "setup_task"), tool.web_app_dir(c), "mix setup")
    raise ValueError(f"no mix step {name!r}")


def run(c, name: str, force: bool = False) -> str:
    """Run step ``name`` unless up to date (or ``force``): "ran" or "skipped"."""
    ms = mix_step(c, name)
    step = ms.step
    state = require_writable(c)  # before the step: its success must be recordable
    if not force:
        fresh, reason = is_up_to_date(state, step)
        if fresh:
            print(f"{step.name}: up to date ({reason}), skipped", flush=True)
            return "skipped"
        print(f"{step.name}: running ({reason})", flush=True)
    programs.run(c, ms.argv, cwd=ms.cwd, env=portal_env.mix_env(), what=ms.what)
    if is_dry(c):
        dry(f"{step.name}: would record its fingerprint in {programs.display_path(state)}")
        return "ran"
    record(state, step)
    missing = missing_outputs(step)
    if missing:
        names = ", ".join(step.show(p) for p in missing)
        print(
            f"{step.name}: warning: it succeeded but {names} is still missing, so it will run"
            f" again next time; check the setting elixir.{step.name}_outputs",
            file=sys.stderr,
            flush=True,
        )
    return "ran"


def iex_command(c, env=None) -> tuple[list[str], Path, dict[str, str]]:
    """``(argv, cwd, env)`` of `iex -S mix` with the server environment plus ``env``."""
    program = tool.iex_path(c)
    tool.mix_path(c)  # `iex -S mix` needs mix too: say so before iex does
    return [program, "-S", "mix"], tool.elixir_root(c), portal_env.server_env(env or [])


def server_command(c, env=None) -> tuple[list[str], Path, dict[str, str]]:
    """``(argv, cwd, env)`` of `mix phx.server` (setting elixir.server_task) with the server environment."""
    return mix_command(c, "server_task"), tool.elixir_root(c), portal_env.server_env(env or [])


def iex(c, env=None) -> str:
    """elixir.iex: `iex -S mix` in the Elixir root, replacing this process (as dev.up's last step)."""
    argv, root, child_env = iex_command(c, env)
    programs.exec_in(c, argv, cwd=root, env=child_env)
    return "dry"


def server(c, env=None) -> str:
    """elixir.server: `mix phx.server` in the Elixir root."""
    argv, root, child_env = server_command(c, env)
    programs.run(c, argv, cwd=root, env=child_env, what="mix phx.server")
    return "ran"
