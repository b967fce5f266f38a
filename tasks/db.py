"""db.*: seeding and resetting the local dev database.

Firezone's seeds are not idempotent, so a database is seeded once: a successful seed
writes a marker into the database itself (tasks/seeding.py). Later seeds see it and
only migrate; `inv db.reset` drops, re-creates and re-seeds.
"""

from __future__ import annotations

import os
import sys

from invoke import Collection, Exit

from tasks import elixir, infra
from tasks.taskdef import is_dry, lazy, task

envfile = lazy("tasks.envfile")
fingerprints = lazy("tasks.fingerprints")
mixtool = lazy("tasks.mixtool")
portal_env = lazy("tasks.portal_env")
proc = lazy("tasks.proc")
seeding = lazy("tasks.seeding")
settings = lazy("tasks.settings")

RESET_HINT = "Use `inv db.reset` to start over"


def _static_from_env() -> bool:
    # The portal turns static seeds on only for the exact string "true".
    return os.environ.get("STATIC_SEEDS") == "true"


def _where(db: settings.Database) -> str:
    return f"database {db.name} on {db.host}:{db.port}"


def _read_marker(c, db: settings.Database) -> dict | None:
    try:
        return seeding.read_marker(db)
    except seeding.Unreachable as e:
        if is_dry(c):
            print(f"seed: cannot check the seed marker ({_where(db)} does not answer: {e});"
                  " the plan assumes it is not seeded", flush=True)
            return None
        raise Exit(f"cannot check whether {_where(db)} is seeded: {e}. Start it with `inv infra.up`")


def _mark_seeded(c, db: settings.Database, static: bool, who: str) -> None:
    """Write the marker; seeding migrated too, so the migrate step is recorded as done."""
    if is_dry(c):
        print(f"[dry] {who}: would mark {_where(db)} as seeded (static seeds: {'yes' if static else 'no'})")
        return
    marker = seeding.write_marker(db, static)
    fingerprints.record(mixtool.state_dir(c), elixir.migrate_step(c, marker, _where(db)))


def seed_once(c, force: bool = False) -> str:
    """Seed the database unless its marker says it was seeded; then only migrate.

    Returns "ran" (seeded) or "skipped" (migrated only). Expects Postgres to be up.
    """
    mix = mixtool.mix_path(c)
    root = mixtool.elixir_root(c)
    db = settings.database()
    env = portal_env.mix_env()
    marker = None if force else _read_marker(c, db)
    if marker is not None:
        step = elixir.migrate_step(c, marker, _where(db))
        state = mixtool.state_dir(c)
        fresh, _ = fingerprints.is_up_to_date(state, step)
        if fresh:
            print(
                f"seed: {db.name} already seeded {seeding.describe(marker)}; migrations unchanged"
                f" since the last migrate, skipped. {RESET_HINT}",
                flush=True,
            )
            return "skipped"
        migrate = mixtool.task_args(settings.setting(c, "elixir", "migrate_task"))
        proc.run(c, [mix, *migrate], cwd=root, env=env, what=f"mix {' '.join(migrate)}")
        if not is_dry(c):
            fingerprints.record(state, step)
        print(
            f"seed: {db.name} already seeded {seeding.describe(marker)}; migrated only. {RESET_HINT}",
            flush=True,
        )
        return "skipped"
    seed_words = mixtool.task_args(settings.setting(c, "elixir", "seed_task"))
    try:
        proc.run(c, [mix, *seed_words], cwd=root, env=env, what=f"mix {' '.join(seed_words)}")
    except Exit as e:
        raise Exit(
            f"{e.message}\nIf {db.name} was seeded outside inv (duplicate rows), start over with"
            " `inv db.reset`",
            code=e.code,
        )
    static = _static_from_env()
    _mark_seeded(c, db, static, "seed")
    return "ran"


def check_resettable(db: settings.Database) -> None:
    """Refuse to drop anything but a local database (checked before any connection)."""
    if not db.is_local():
        raise Exit(
            f"refusing to reset: DATABASE_HOST={db.host} (from {envfile.origin('DATABASE_HOST')})"
            " is not a local address, and db.reset drops the database whatever the flags."
            " Point DATABASE_HOST at localhost (.env) to reset the local dev database"
        )


def confirm_reset(c, db: settings.Database, yes: bool) -> None:
    """Ask on a terminal; without one, only --yes goes ahead."""
    if yes:
        return
    if is_dry(c):
        print(f"[dry] reset: would ask before dropping {_where(db)} (--yes skips the question)")
        return
    if not sys.stdin.isatty():
        raise Exit(
            f"db.reset drops {_where(db)} and there is no terminal to ask for confirmation;"
            " rerun with --yes: inv db.reset --yes"
        )
    answer = input(f"Drop {_where(db)} and seed it again? [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise Exit("db.reset: cancelled, nothing changed")


def _reset(c, db: settings.Database, static: bool) -> str:
    mix = mixtool.mix_path(c)
    root = mixtool.elixir_root(c)
    argv = mixtool.mix_do(c, settings.setting(c, "elixir", "reset_tasks"), mix)
    env = portal_env.mix_env()
    if static:
        env["STATIC_SEEDS"] = "true"
    proc.run(
        c,
        argv,
        cwd=root,
        env=env,
        unset=() if static else ("STATIC_SEEDS",),
        what="reset and seed (" + " ".join(argv[1:]) + ")",
    )
    _mark_seeded(c, db, static, "reset")
    return "ran"


def reset_database(c, static: bool = False, yes: bool = False) -> str:
    """Drop, re-create and seed the local database (for dev.up: Postgres must be up)."""
    db = settings.database()
    check_resettable(db)
    confirm_reset(c, db, yes)
    return _reset(c, db, static)


@task(pre=[infra.up], help={"force": "seed even when the database is marked as seeded (Firezone's seeds then fail on duplicates)"})
def seed(c, force=False):
    """Seed the dev database once (mix ecto.seed); afterwards only migrate."""
    return seed_once(c, force=force)


@task(
    help={
        "static": "seed the fixed ids that match the staging Stripe account (STATIC_SEEDS=true)",
        "yes": "do not ask before dropping the database",
    }
)
def reset(c, static=False, yes=False):
    """Drop the local dev database, re-create and seed it (mix do ecto.reset + ecto.seed)."""
    db = settings.database()
    # Both checks come before Postgres is started or contacted.
    check_resettable(db)
    confirm_reset(c, db, yes)
    mixtool.mix_path(c)
    mixtool.elixir_root(c)
    infra.bring_up(c)
    return _reset(c, db, static)


ns = Collection("db", seed, reset)
