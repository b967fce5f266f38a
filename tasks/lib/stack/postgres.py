"""The Postgres step of the stack (dev.up, db.*, billing.serve, elixir.test share it) and what infra.* does to it, on
whichever backend this run chose (backend.py)."""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Callable

from invoke import Exit

from tasks.lib import config, console, programs, readiness, state
from tasks.lib.console import dry
from tasks.lib.database import Database, handshake, require_local
from tasks.lib.database.server import spec_from_config, warnings
from tasks.lib.pglocal import server as local
from tasks.lib.problem import Problem, what_and_fix
from tasks.lib.stack import backend, bump


def bring_up(c, cancelled: Callable[[], bool] | None = None) -> Database:
    """Start Postgres and wait until it answers; one summary line (under --dry: the plan). ``cancelled``
    (dev.up's background step), asked before anything is touched and at every poll, raises readiness.Cancelled."""
    start = time.monotonic()
    if cancelled is not None and cancelled():
        raise readiness.Cancelled()
    s = config.settings(c)
    spec = spec_from_config(s)
    be, db = backend.choose(s, spec), spec.db
    why = "infra manages a local Postgres (a container or a cluster): it would wait on a database it does not run"
    require_local(db, "refusing to start Postgres", why)
    for line in warnings(spec):
        print(line, file=sys.stderr, flush=True)
    why = f"; {be.why}" if be.auto else ""
    if s.dry:
        dry(be.plan() + why)
        probe = f"psycopg connect + SELECT 1 every {spec.poll_interval:g} s"
        dry(f"would wait up to {spec.ready_timeout:g} s for Postgres at {db.host}:{db.port} ({probe})")
        return db
    bump.refuse_under_way(s.state_dir)
    started = be.start()
    backend.settle(s, be)
    waited = readiness.wait(handshake.target(db, started), spec.ready_timeout, spec.poll_interval, cancelled=cancelled)
    from tasks.lib.database import locks, template

    # A reset killed mid-way left the dev database refusing connections (opened again), or invalid (dropped: seeded again).
    # dev.up, the one caller with ``cancelled``, does this in its seed step, under the seed lock.
    if cancelled is None and template.reopen(db, busy=lambda: locks.busy(db)):
        print(f"postgres: {db.name} was left invalid by a reset cut short: dropped, the next seed makes it again", flush=True)
    took = f"in {time.monotonic() - start:.2f} s (handshake after {waited:.2f} s of waiting)"
    print(f"Postgres ready at {db.host}:{db.port} ({started.described}) {took}{why}", flush=True)
    return db


def stop(c, with_vault: bool = False) -> None:
    """Stop the container (or the local server), keep the data; ``with_vault`` (infra.down): then Vault's, if any."""
    s = config.settings(c)
    for line in backend.choose(s).stop(s.dry):
        (dry if s.dry else print)(line)
    if with_vault:
        from tasks.lib import vault  # urllib: only infra.* needs it

        if s.repository().uses_vault:
            vault.stop(vault.spec_from_config(s), s.dry)


def destroy(c, yes: bool) -> None:
    """infra.destroy: remove the container and its volume (or the local cluster) after asking, then Vault's container."""
    from tasks.lib import vault

    s = config.settings(c)
    be = backend.choose(s)
    what = be.destroy_what()
    if s.dry:
        dry(f"would {be.removing} {what}")
    else:
        console.confirm(f"Remove {what}?", yes=yes, rerun="inv infra.destroy --yes", declined="not removed (answer was not yes)")
        for line in be.destroy():
            print(line)
        shutil.rmtree(s.state_dir / "seeding", ignore_errors=True)  # records of seeds in the data just removed
        state.remove(bump.record_path(s.state_dir))  # an upgrade cut off: started over instead
    if s.repository().uses_vault:
        vault.stop(vault.spec_from_config(s), s.dry, remove=True)


def use(c, name: str) -> None:
    """infra.use: postgres.backend=auto uses ``name`` for this repository from now on; the one left is stopped, data kept."""
    s = config.settings(c)
    if name not in backend.NAMES:
        raise Problem(f"inv infra.use {name}: expected docker or local", "`inv infra.use docker` or `inv infra.use local`")
    if (setting := s.choice("postgres", "backend")) != "auto":
        what = f"postgres.backend={setting} (from {s.origin('postgres', 'backend')}) decides the backend, not `inv infra.use`"
        raise Problem(what, f"remove that setting (auto is the default), then `inv infra.use {name}` again", "postgres.backend")
    spec = spec_from_config(s)
    before, say = backend.choose(s, spec), dry if s.dry else print
    if before.name != name:
        try:
            for line in before.stop(s.dry):
                say(line)
        except Exit as e:  # no engine to ask: its container, if any, keeps its data
            say(f"{before.name}: not stopped ({what_and_fix(e)[0]})")
    if not s.dry:
        backend.remember(s, name, "chosen with `inv infra.use`", by="infra.use")
    other = "local" if name == "docker" else "docker"
    base = programs.display_path(local.base_dir(s))
    where = {"docker": f"the container's data stays in volume {spec.volume}", "local": f"the local clusters' data stays in {base}"}
    say(f"postgres.backend=auto uses {name} for this repository from now on (`inv infra.up` starts it)")
    say(f"nothing is copied: {where[name]}, {where[other]}; `inv infra.use {other}` goes back")


def upgrade(c, yes: bool) -> None:
    """infra.upgrade: move the data to the PostgreSQL major the repository now runs (asks first), then bring it up."""
    from tasks.lib.stack import upgrade

    s = config.settings(c)
    waiting = "infra.upgrade: waiting for another inv that is upgrading"
    with contextlib.nullcontext() if s.dry else state.held(s.state_dir / "upgrade.lock", waiting):
        done = upgrade.run(s, backend.choose(s), yes)  # the second of two at once finds nothing left to do
    if done:
        bring_up(c)


def print_status(c) -> None:
    """infra.status: the backend, its container or cluster, whether Postgres answers, and Vault's row."""
    from tasks.lib import vault

    s = config.settings(c)
    spec = spec_from_config(s)
    db, answer = spec.db, handshake.handshake(spec.db)
    where = f"{db.host}:{db.port} ({db.name} as {db.user})"
    if answer.error is not None:
        row = ("database", f"does not answer at {where}: {answer.error}")
    elif answer.database_exists is False:
        seed = "not seeded (`inv dev.up` or `inv db.seed` creates and seeds it)"
        row = ("database", f"the server answers at {db.host}:{db.port} (as {db.user}), but database {db.name} does not exist: {seed}")
    else:
        row = ("database", f"answers at {where}")
    rows = [*backend.choose(s, spec).status_rows(), row]
    if answer.error is None:
        from tasks.lib.database import template
        from tasks.lib.mix import tool

        with contextlib.suppress(Exit):  # no Elixir root: no key to compare with
            rows.append(template.status_row(db, tool.settings(s).root))
    print(console.table([*rows, *([vault.status_row(s)] if s.repository().uses_vault else [])]))


def print_logs(c, tail: str, follow: bool) -> None:
    """infra.logs: the last ``tail`` lines, then (``follow``) new ones until Ctrl-C."""
    if not str(tail).isdecimal():
        raise Problem(f"--tail {tail!r}: expected a whole number of lines", "e.g. --tail 50")
    last = ""
    with contextlib.suppress(KeyboardInterrupt):
        for text in backend.choose(config.settings(c)).logs(int(tail), follow):
            sys.stdout.write(text)
            sys.stdout.flush()
            last = text or last
    if last and not last.endswith("\n"):
        sys.stdout.write("\n")
