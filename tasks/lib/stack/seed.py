"""Seed the dev database once (then only migrate), reset it, run `mix setup`; a started seed is recorded until its marker."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from pathlib import Path

from invoke import Exit

from tasks.lib import console, portal_env, state
from tasks.lib.console import dry
from tasks.lib.database import Database, database, locks, require_local, seeding, sql, template
from tasks.lib.mix import fingerprints, steps, tool
from tasks.lib.mix.tool import Elixir
from tasks.lib.problem import Problem, Refused
from tasks.lib.stack import postgres

RESET_HINT = "Use `inv db.reset` to start over"
START_OVER = "`inv db.reset --yes` starts over (drops the database and seeds it again)"


def _say(text: str) -> None:
    print(f"seed: {text}", flush=True)


@contextmanager
def locked(dry_run: bool, db: Database, doing: str) -> Iterator[None]:
    """Hold the seed lock of ``db`` (not under --dry); a server refusing the lock's connection costs only the protection."""
    with ExitStack() as stack:
        if not dry_run:
            try:
                stack.enter_context(locks.held(db, doing, _say))
            except seeding.Unreachable as e:
                _say(f"warning: cannot take the seed lock ({e}); a second inv seeding at the same time would collide")
        yield


def _record_path(state_dir: Path, db: Database) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{db.name}@{db.host}_{db.port}")
    return state_dir / "seeding" / f"{safe}.json"


@contextmanager
def recorded(state_dir: Path, db: Database, doing: str, dry_run: bool = False) -> Iterator[None]:
    """Record a seed or reset of ``db`` as started for the block (not under --dry); a failure is recorded as failed."""
    if dry_run:
        yield
        return
    path, record = _record_path(state_dir, db), seeding.start_record(doing, cluster=seeding.cluster_id(db))
    state.write_json(path, record)
    try:
        yield
    except Exit as e:
        state.write_json(path, {**record, "failed": e.code})
        raise
    state.remove(path)


def unfinished(state_dir: Path, db: Database, dry: bool = False) -> str | None:
    """What the record of a seed or reset of ``db`` that never finished says, or None (a record about data that is
    gone is dropped, unless ``dry``)."""
    found = state.read_json(_record_path(state_dir, db), "the seed runs as if none had started")
    if found is None:
        return None
    now = found.get("cluster") and seeding.cluster_id(db)
    if now and now != found["cluster"]:  # about data that is gone (a destroyed volume or cluster): dropped, not obeyed
        if not dry:
            state.remove(_record_path(state_dir, db))
        return None
    if "failed" in found:
        return f"the {seeding.describe_start(found)} failed (exit code {found['failed']})"
    return f"the {seeding.describe_start(found)} was interrupted before it finished"


def always_static(e: Elixir) -> str | None:
    """The seeds file when it ignores STATIC_SEEDS and always uses the static ids (today's Firezone), else None."""
    fact = e.repo.static_seeds_read
    return e.repo.show(fact.source) if fact is not None and not fact.value else None


def _mark_seeded(e: Elixir, db: Database, static: bool, who: str, written: dict | None = None) -> None:
    """Write the marker (unless ``written``: a clone's); seeding migrated too, so the migrate step is recorded as done."""
    if e.dry:
        dry(f"{who}: would mark {db.where} as seeded (static seeds: {'yes' if static else 'no'})")
        return
    marker = written or seeding.write_marker(db, static)
    fingerprints.record(e.state_dir, steps.migrate_step(e, marker, db.where))


def template_way(e: Elixir, db: Database, static: bool) -> tuple[dict[str, str] | None, str | None]:
    """The template key of a seed of ``db`` now (None: the server cannot say), and why a clone cannot stand in for the
    seed (None: it can)."""
    try:
        found = template.describe(db)
    except sql.Unreachable as err:
        return None, f"cannot look at the template ({err})"
    parts = template.key(e.root, static, found.major)
    return parts, found.mismatch(parts)


def _clone(e: Elixir, db: Database, static: bool, who: str) -> str:
    """``db`` replaced by a clone of its template, marked seeded; after ``template_way`` said it matches."""
    tmpl = template.name_for(db.name)
    if e.dry:
        dry(f"{who}: would clone {db.name} from {tmpl} (its key matches: migrations, seeds, mix.lock, --static, Postgres major)")
        return "dry"
    start = time.monotonic()
    marker = seeding.make_marker(static)
    try:
        template.restore(db, json.dumps(marker), _say)
    except sql.Unreachable as err:
        raise Problem(f"{who}: cloning {tmpl} failed: {err}", f"`{reset_command(static, fresh=True)}` runs mix instead") from None
    _mark_seeded(e, db, static, who, marker)
    took = time.monotonic() - start
    print(f"{who}: {db.name} cloned from {tmpl} in {took:.2f} s (its key matches; `--fresh` runs mix instead)", flush=True)
    return "ran"


def _keep(e: Elixir, db: Database, parts: dict[str, str] | None, evict: bool = False) -> None:
    """Keep the just-seeded ``db`` as its template; a failure costs only the next reset's speed."""
    tmpl = template.name_for(db.name)
    if e.dry or parts is None:
        (dry if e.dry else _say)(f"would keep {db.name} as template {tmpl}" if e.dry else "no template kept: the server did not answer")
        return
    try:
        template.make(db, parts, _say, evict)
    except (Problem, sql.Unreachable) as err:
        _say(f"warning: {db.name} not kept as a template: {err}; the next db.reset runs mix")
        return
    _say(f"kept {db.name} as template {tmpl}; the next db.reset clones it")


def seed_once(e: Elixir, force: bool = False) -> str:
    """Seed unless the marker says seeded, then only migrate: "ran" or "skipped". Postgres must be up."""
    _ = e.root
    db = database()
    e.writable_state()
    with locked(e.dry, db, "seeding or migrating"):
        answers = True
        try:
            marker = None if force else seeding.read_marker(db)
        except seeding.Unreachable as err:
            answers = False
            if not e.dry:
                raise Problem(f"cannot check whether {db.where} is seeded: {err}", "start it with `inv infra.up`")
            _say(f"cannot check the seed marker ({db.where} does not answer: {err}); the plan assumes it is not seeded")
            marker = None
        if marker is not None and not e.dry and template.reopen(db):
            marker = None  # a drop cut short left it invalid: dropped now, so cloned or seeded again
        if marker is not None:
            return _migrate(e, db, marker)
        said = None if force else unfinished(e.state_dir, db, e.dry)
        if said is not None and answers:  # under --dry too: the real run would refuse
            if seeding.database_exists(db):
                raise Refused(f"{said}, so {db.name} may hold part of the seed", START_OVER)
            if not e.dry:
                state.remove(_record_path(e.state_dir, db))  # a missing database just gets seeded
        static = os.environ.get("STATIC_SEEDS") == "true" or always_static(e) is not None
        parts, why_not = template_way(e, db, static)
        argv = e.command("seed_task")
        with recorded(e.state_dir, db, "seed", e.dry):
            if not force and why_not is None and not seeding.database_exists(db):
                return _clone(e, db, static, "seed")
            try:
                e.run(argv, cwd=e.root, env=portal_env.mix_env(), what=f"mix {' '.join(argv[1:])}")
            except Exit as err:
                fix = f"if {db.name} was seeded outside inv (duplicate rows), start over with `inv db.reset --yes`"
                raise Problem(err.message or "the seed failed", fix, code=err.code if err.code is not None else 1)
            _mark_seeded(e, db, static, "seed")
            _keep(e, db, parts)
    return "dry" if e.dry else "ran"


def _migrate(e: Elixir, db: Database, marker: dict) -> str:
    if not e.dry:
        state.remove(_record_path(e.state_dir, db))  # seeded: a record left by a run killed after its marker means nothing
    step = steps.migrate_step(e, marker, db.where)
    seeded = f"seed: {db.name} already seeded {seeding.describe(marker)};"
    if fingerprints.is_up_to_date(e.state_dir, step)[0]:
        print(f"{seeded} migrations unchanged since the last migrate, skipped. {RESET_HINT}", flush=True)
        return "skipped"
    argv = e.command("migrate_task")
    e.run(argv, cwd=e.root, env=portal_env.mix_env(), what=f"mix {' '.join(argv[1:])}")
    if not e.dry:
        fingerprints.record(e.state_dir, step)
    print(f"{seeded} migrated only. {RESET_HINT}", flush=True)
    return "skipped"


def check_reset(e: Elixir, db: Database, yes: bool, rerun: str) -> None:
    """Refuse a database that is not local, then ask (``rerun``: the user's command with --yes)."""
    require_local(db, "refusing to reset", "db.reset drops the database whatever the flags")
    e.writable_state()  # a reset whose result cannot be recorded is refused before the drop
    if not e.dry:
        console.confirm(f"Drop {db.where} and seed it again?", yes=yes, rerun=rerun, declined="db.reset: cancelled, nothing changed")
    elif not yes:
        dry(f"reset: would ask before dropping {db.where} (--yes skips the question)")


def reset(e: Elixir, db: Database, static: bool, fresh: bool = False) -> str:
    """Clone the template when its key matches (not ``fresh``); else drop, re-create and seed (elixir.reset_tasks in one mix
    run), mark it seeded and keep it as the template; after ``check_reset``, Postgres up."""
    argv = e.command("reset_tasks")
    env = portal_env.mix_env()
    seeds_file = always_static(e)
    if static and seeds_file:
        why = f"{seeds_file} does not read STATIC_SEEDS (this portal's seeds always use the static ids)"
        print(f"reset: --static changes nothing here: {why}", flush=True)
    if static:
        env["STATIC_SEEDS"] = "true"
    static = static or seeds_file is not None
    with locked(e.dry, db, "resetting"), recorded(e.state_dir, db, "reset", e.dry):
        parts, why_not = template_way(e, db, static)
        if why_not is None and not fresh:
            return _clone(e, db, static, "reset")
        said = f"reset: {'would run' if e.dry else 'running'} mix ({'--fresh' if fresh and why_not is None else why_not})"
        dry(said) if e.dry else print(said, flush=True)
        unset = () if static else ("STATIC_SEEDS",)
        with nullcontext() if e.dry else template.evicted(db, _say):  # the portal's sessions and slots would block the drop
            e.run(argv, cwd=e.root, env=env, unset=unset, what="reset and seed (" + " ".join(argv[1:]) + ")")
        _mark_seeded(e, db, static, "reset")
        _keep(e, db, parts, evict=True)
    return "dry" if e.dry else "ran"


def reset_task(c, static: bool = False, yes: bool = False, fresh: bool = False) -> str:
    """db.reset: refused or declined before Postgres is touched; then Postgres up, then the reset."""
    e, db = tool.settings(c), database()
    check_reset(e, db, yes, reset_command(static, fresh))
    _ = e.mix, e.root
    postgres.bring_up(c)
    return reset(e, db, static, fresh)


def reset_command(static: bool, fresh: bool = False) -> str:
    return "inv db.reset" + (" --static" if static else "") + (" --fresh" if fresh else "") + " --yes"


def mix_setup(e: Elixir, force: bool = False, needs_database: str | None = None) -> str:
    """`mix setup` unless up to date; under the seed lock when it needs the database (two runs migrating at once collide)."""
    with locked(e.dry or needs_database is None, database(), "setting up"):
        return steps.run(e, "setup", force=force)
