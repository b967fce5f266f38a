"""Seeding and resetting the dev database: the seed step dev.up, db.seed and db.reset share.

Firezone's seeds are not idempotent, so a database is seeded once: a successful seed
writes a marker into the database itself (tasks/lib/database/seeding.py). Later seeds
see it and only migrate (skipped while the migration files are unchanged); a reset
drops, re-creates and re-seeds.

Seeding, migrating and resetting hold the database's seed lock
(tasks/lib/database/locks.py), so runs in two terminals take turns: the second waits,
then finds the database seeded. A seed or reset is recorded as started in the state
folder before it runs and forgotten once the marker is written; a run that finds a
start with no end (the run was killed or interrupted) says so instead of seeding on
top of half a seed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from invoke import Exit

from tasks.lib import config, console, portal_env, programs, state
from tasks.lib.console import dry, is_dry
from tasks.lib.database import Database, database, locks, require_local, seeding
from tasks.lib.mix import fingerprints, steps, tool
from tasks.lib.stack import postgres

RESET_HINT = "Use `inv db.reset` to start over"
START_OVER = "`inv db.reset --yes` starts over (drops the database and seeds it again)"


def _say(text: str) -> None:
    print(f"seed: {text}", flush=True)


@contextmanager
def locked(c, db: Database, doing: str) -> Iterator[None]:
    """Hold the seed lock of ``db`` (not under `inv --dry`); a server that refuses the
    lock's connection costs only the protection, with a warning."""
    with ExitStack() as stack:
        if not is_dry(c):
            try:
                stack.enter_context(locks.held(db, doing, _say))
            except seeding.Unreachable as e:
                _say(f"warning: cannot take the seed lock ({e}); a second inv seeding at the same time would collide")
        yield


def _record_path(c, db: Database):
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{db.name}@{db.host}_{db.port}")
    return config.state_dir(c) / "seeding" / f"{safe}.json"


def _started(c, db: Database, doing: str) -> None:
    """Record that a seed or reset of ``db`` starts now (forgotten when it is marked seeded)."""
    if not is_dry(c):
        state.write_json(_record_path(c, db), seeding.start_record(doing))


def _finished(c, db: Database) -> None:
    if not is_dry(c):
        state.remove(_record_path(c, db))


def _failed(c, db: Database, doing: str, code: int | None) -> None:
    """The seed or reset failed: its record says so (it may have inserted part of the seed)."""
    if not is_dry(c):
        state.write_json(_record_path(c, db), {**seeding.start_record(doing), "failed": code})


def unfinished(c, db: Database) -> str | None:
    """What the record of a seed or reset of ``db`` that started and never finished says
    (for messages), or None."""
    record = state.read_json(_record_path(c, db), "the seed runs as if none had started")
    if record is None:
        return None
    if "failed" in record:
        return f"the {seeding.describe_start(record)} failed (exit code {record['failed']})"
    return f"the {seeding.describe_start(record)} was interrupted before it finished"


def _check_unfinished(c, db: Database) -> None:
    """Exit when a seed or reset of ``db`` started and never finished, and the database is
    there (it may hold part of a seed); a missing database just gets seeded."""
    said = None if is_dry(c) else unfinished(c, db)
    if said is None:
        return
    if not seeding.database_exists(db):
        _finished(c, db)
        return
    raise Exit(f"{said}, so {db.name} may hold part of the seed. {START_OVER}")


def static_from_env() -> bool:
    # The portal turns static seeds on only for the exact string "true".
    return os.environ.get("STATIC_SEEDS") == "true"


def always_static(c) -> str | None:
    """The seeds file when the portal's seeds ignore STATIC_SEEDS and always use the static
    ids (today's Firezone); None when they read it or no seeds file was found."""
    repo = config.repository(c)
    fact = repo.static_seeds_read
    return repo.show(fact.source) if fact is not None and not fact.value else None


def seeds_static(c) -> bool:
    """Whether the next seed uses the static ids."""
    return static_from_env() or always_static(c) is not None


def _read_marker(c, db: Database) -> dict | None:
    try:
        return seeding.read_marker(db)
    except seeding.Unreachable as e:
        if is_dry(c):
            print(
                f"seed: cannot check the seed marker ({db.where} does not answer: {e}); the plan assumes it is not seeded",
                flush=True,
            )
            return None
        raise Exit(f"cannot check whether {db.where} is seeded: {e}. Start it with `inv infra.up`")


def _mark_seeded(c, db: Database, static: bool, who: str) -> None:
    """Write the marker; seeding migrated too, so the migrate step is recorded as done."""
    if is_dry(c):
        dry(f"{who}: would mark {db.where} as seeded (static seeds: {'yes' if static else 'no'})")
        return
    marker = seeding.write_marker(db, static)
    fingerprints.record(config.state_dir(c), steps.migrate_step(c, marker, db.where))


def seed_once(c, force: bool = False) -> str:
    """Seed the database unless its marker says it was seeded; then only migrate.

    Returns "ran" (seeded) or "skipped" (migrated only). Expects Postgres to be up.
    """
    root = tool.elixir_root(c)
    db = database()
    state.require_writable(c)
    with locked(c, db, "seeding or migrating"):
        return _seed_once(c, root, db, force)


def _seed_once(c, root, db: Database, force: bool) -> str:
    env = portal_env.mix_env()
    marker = None if force else _read_marker(c, db)
    if marker is not None:
        _finished(c, db)  # seeded: a record left by a run killed after its marker means nothing
        step = steps.migrate_step(c, marker, db.where)
        folder = config.state_dir(c)
        fresh, _ = fingerprints.is_up_to_date(folder, step)
        if fresh:
            print(
                f"seed: {db.name} already seeded {seeding.describe(marker)}; migrations unchanged"
                f" since the last migrate, skipped. {RESET_HINT}",
                flush=True,
            )
            return "skipped"
        migrate = steps.mix_command(c, "migrate_task")
        programs.run(c, migrate, cwd=root, env=env, what=f"mix {' '.join(migrate[1:])}")
        if not is_dry(c):
            fingerprints.record(folder, step)
        print(f"seed: {db.name} already seeded {seeding.describe(marker)}; migrated only. {RESET_HINT}", flush=True)
        return "skipped"
    if not force:
        _check_unfinished(c, db)
    seed_argv = steps.mix_command(c, "seed_task")
    _started(c, db, "seed")
    try:
        programs.run(c, seed_argv, cwd=root, env=env, what=f"mix {' '.join(seed_argv[1:])}")
    except Exit as e:
        _failed(c, db, "seed", e.code)
        raise Exit(
            f"{e.message}\nIf {db.name} was seeded outside inv (duplicate rows), start over with `inv db.reset --yes`",
            code=e.code,
        )
    _mark_seeded(c, db, seeds_static(c), "seed")
    _finished(c, db)
    return "ran"


def check_reset(c, db: Database, yes: bool, rerun: str) -> None:
    """Refuse a database that is not local, then ask (``rerun``: the user's command with --yes)."""
    require_local(db, "refusing to reset", "db.reset drops the database whatever the flags")
    state.require_writable(c)  # a reset whose result cannot be recorded is refused before the drop
    if is_dry(c):
        if not yes:
            dry(f"reset: would ask before dropping {db.where} (--yes skips the question)")
        return
    console.confirm(f"Drop {db.where} and seed it again?", yes=yes, rerun=rerun, declined="db.reset: cancelled, nothing changed")


def reset(c, db: Database, static: bool) -> str:
    """Drop, re-create and seed (elixir.reset_tasks in one mix run), then mark it seeded.

    Postgres must be up and ``check_reset`` passed.
    """
    root = tool.elixir_root(c)
    argv = steps.mix_command(c, "reset_tasks")
    env = portal_env.mix_env()
    seeds_file = always_static(c)
    if static and seeds_file:
        print(
            f"reset: --static changes nothing here: {seeds_file} does not read STATIC_SEEDS"
            " (this portal's seeds always use the static ids)",
            flush=True,
        )
    if static:
        env["STATIC_SEEDS"] = "true"
    static = static or seeds_file is not None
    with locked(c, db, "resetting"):
        _started(c, db, "reset")
        try:
            programs.run(
                c,
                argv,
                cwd=root,
                env=env,
                unset=() if static else ("STATIC_SEEDS",),
                what="reset and seed (" + " ".join(argv[1:]) + ")",
            )
        except Exit as e:
            _failed(c, db, "reset", e.code)
            raise
        _mark_seeded(c, db, static, "reset")
        _finished(c, db)
    return "ran"


def reset_task(c, static: bool = False, yes: bool = False) -> str:
    """db.reset: refused or declined before Postgres is started or contacted; then
    Postgres up, then the reset."""
    db = database()
    check_reset(c, db, yes, reset_command(static))
    tool.mix_path(c)
    tool.elixir_root(c)
    postgres.bring_up(c)
    return reset(c, db, static)


def reset_command(static: bool) -> str:
    """The db.reset command line with --yes, keeping --static when given."""
    return "inv db.reset" + (" --static" if static else "") + " --yes"
