"""elixir.*: mix deps, web setup, seeds, iex and the Phoenix server."""

from __future__ import annotations

import glob
import sys
from pathlib import Path

from invoke import Collection

from tasks import infra
from tasks.taskdef import is_dry, lazy, task

fingerprints = lazy("tasks.fingerprints")
mixtool = lazy("tasks.mixtool")
portal_env = lazy("tasks.portal_env")
proc = lazy("tasks.proc")
settings = lazy("tasks.settings")

ENV_HELP = "extra KEY=VALUE for the process (repeatable), e.g. FZFF_SOME_FLAG=true"


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
    return [p for p in out if not (p in seen or seen.add(p))]


def lock_declares_deps(lock: Path) -> bool:
    """True when mix.lock lists at least one package (entries look like `"name": {...}`)."""
    try:
        text = lock.read_text(errors="replace")
    except OSError:
        return False
    return '":' in text


# Firezone keeps migrations in apps/domain/priv/repo/{migrations,manual_migrations}.
MIGRATE_INPUTS = ["apps/*/priv/repo/*migrations", "apps/*/priv/repo/*migrations/*.exs", "priv/repo/*migrations/*.exs"]


def deps_step(c) -> fingerprints.Step:
    """The deps step: inputs mix.lock + mix.exs files; output deps/ when mix.lock lists packages.

    A project whose mix.lock lists nothing (no hex or git deps, like the test
    fixture) has no deps/ to check: there the inputs alone decide.
    """
    root = mixtool.elixir_root(c)
    inputs = _paths(root, settings.setting(c, "elixir", "deps_inputs"))
    outputs = _paths(root, settings.setting(c, "elixir", "deps_outputs"))
    if not lock_declares_deps(root / "mix.lock"):
        outputs = []
    task_words = mixtool.task_args(settings.setting(c, "elixir", "deps_task"))
    return fingerprints.Step(
        "deps", inputs, outputs, salt=" ".join(task_words), base=root, summary="mix.lock unchanged"
    )


def setup_step(c) -> fingerprints.Step:
    """The web setup step: inputs the assets lock file(s) + web mix.exs; outputs node_modules, priv/static."""
    web = mixtool.web_app_dir(c)
    inputs = _paths(web, settings.setting(c, "elixir", "setup_inputs"))
    outputs = _paths(web, settings.setting(c, "elixir", "setup_outputs"))
    task_words = mixtool.task_args(settings.setting(c, "elixir", "setup_task"))
    lock = next((p for p in inputs if p.exists()), inputs[0] if inputs else None)
    summary = f"{web.name}: {lock.name} unchanged" if lock else None
    return fingerprints.Step("setup", inputs, outputs, salt=" ".join(task_words), base=web, summary=summary)


def migrate_step(c, marker: dict, where: str) -> fingerprints.Step:
    """The migrate step of an already seeded database: inputs the migration files.

    Its salt names the seeding (the marker's time) and the database, so a reseeded,
    reset or different database always migrates once.
    """
    root = mixtool.elixir_root(c)
    inputs = _paths(root, settings.setting(c, "elixir", "migrate_inputs"))
    task_words = mixtool.task_args(settings.setting(c, "elixir", "migrate_task"))
    salt = " ".join([*task_words, where, str(marker.get("at"))])
    return fingerprints.Step("migrate", inputs, (), salt=salt, base=root, summary="migrations unchanged")


def steps(c) -> list[fingerprints.Step]:
    """The fingerprinted steps (for dev.status)."""
    return [deps_step(c), setup_step(c)]


def _run_step(c, step: fingerprints.Step, argv: list[str], cwd: Path, force: bool, what: str) -> str:
    state = mixtool.state_dir(c)
    if not force:
        fresh, reason = fingerprints.is_up_to_date(state, step)
        if fresh:
            print(f"{step.name}: up to date ({reason}), skipped", flush=True)
            return "skipped"
        print(f"{step.name}: running ({reason})", flush=True)
    proc.run(c, argv, cwd=cwd, env=portal_env.mix_env(), what=what)
    if is_dry(c):
        print(f"[dry] {step.name}: would record its fingerprint in {proc.display_path(state)}", flush=True)
    else:
        fingerprints.record(state, step)
        missing = fingerprints.missing_outputs(step)
        if missing:
            names = ", ".join(step.show(p) for p in missing)
            print(
                f"{step.name}: warning: it succeeded but {names} is still missing, so it will run"
                f" again next time; check the setting elixir.{step.name}_outputs",
                file=sys.stderr,
                flush=True,
            )
    return "ran"


def run_deps(c, force: bool = False) -> str:
    """`mix deps.get` in the Elixir root unless up to date: "ran" or "skipped"."""
    mix = mixtool.mix_path(c)
    root = mixtool.elixir_root(c)
    argv = [mix, *mixtool.task_args(settings.setting(c, "elixir", "deps_task"))]
    return _run_step(c, deps_step(c), argv, root, force, "mix deps.get")


def run_setup(c, force: bool = False) -> str:
    """`mix setup` in the web app unless up to date: "ran" or "skipped"."""
    mix = mixtool.mix_path(c)
    web = mixtool.web_app_dir(c)
    argv = [mix, *mixtool.task_args(settings.setting(c, "elixir", "setup_task"))]
    return _run_step(c, setup_step(c), argv, web, force, "mix setup")


@task(help={"force": "run even when mix.lock and mix.exs are unchanged and deps/ is present"})
def deps(c, force=False):
    """Fetch the Elixir dependencies (mix deps.get), unless they are up to date."""
    return run_deps(c, force)


@task(help={"force": "run even when the assets lock file and mix.exs are unchanged and the outputs exist"})
def setup(c, force=False):
    """Set up the web app (mix setup: deps, assets), unless it is up to date."""
    return run_setup(c, force)


@task(
    pre=[infra.up],
    help={"force": "seed even when the database is marked as seeded (Firezone's seeds then fail on duplicates)"},
)
def seed(c, force=False):
    """Seed the dev database once (mix ecto.seed); afterwards only migrate. Same as db.seed."""
    from tasks import db

    return db.seed_once(c, force=force)


@task(iterable=["env"], help={"env": ENV_HELP})
def iex(c, env=None):
    """Start the portal in an interactive shell (iex -S mix in the Elixir root)."""
    argv, root, child_env = iex_command(c, env)
    proc.run(c, argv, cwd=root, env=child_env, what="iex -S mix", pty=proc.use_pty())
    return "ran"


def iex_command(c, env=None) -> tuple[list[str], Path, dict[str, str]]:
    """``(argv, cwd, env)`` of `iex -S mix` with the server environment plus ``env``."""
    program = mixtool.iex_path(c)
    mixtool.mix_path(c)  # `iex -S mix` needs mix too: say so before iex does
    return [program, "-S", "mix"], mixtool.elixir_root(c), portal_env.server_env(env or [])


@task(iterable=["env"], help={"env": ENV_HELP})
def server(c, env=None):
    """Run the Phoenix server without a shell (mix phx.server in the Elixir root)."""
    mix = mixtool.mix_path(c)
    root = mixtool.elixir_root(c)
    proc.run(
        c,
        [mix, *mixtool.task_args(settings.setting(c, "elixir", "server_task"))],
        cwd=root,
        env=portal_env.server_env(env or []),
        what="mix phx.server",
    )
    return "ran"


ns = Collection("elixir", deps, setup, seed, iex, server)
ns.configure(
    {
        "elixir": {
            "root": "elixir",
            "web_app": "apps/web",
            "mix": "mix",
            "iex": "iex",
            "deps_task": "deps.get",
            "setup_task": "setup",
            "seed_task": "ecto.seed",
            # Run instead of seeding when the database was seeded already.
            "migrate_task": "ecto.setup",
            "reset_tasks": ["ecto.reset", "ecto.seed"],
            "server_task": "phx.server",
            # Up-to-date checks (paths relative to the Elixir root / the web app; globs allowed).
            "deps_inputs": ["mix.lock", "mix.exs", "apps/*/mix.exs"],
            "deps_outputs": ["deps"],
            "setup_inputs": ["assets/pnpm-lock.yaml", "assets/package.json", "mix.exs"],
            "setup_outputs": ["assets/node_modules", "priv/static"],
            # A seeded database is migrated again only when these change.
            "migrate_inputs": MIGRATE_INPUTS,
        }
    }
)
