"""The Postgres step of the stack: bring it up and wait for a real handshake (dev.up, db.*,
billing.serve, elixir.test share it), and what infra.* does to it, on whichever backend
this run chose (backend.py).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from tasks.lib import config, console, readiness
from tasks.lib.console import dry, is_dry
from tasks.lib.database import Database, handshake, require_local
from tasks.lib.database.server import spec_from_config, warnings
from tasks.lib.stack import backend


def bring_up(c, cancelled: Callable[[], bool] | None = None) -> Database:
    """Start Postgres and wait until it answers; prints one summary line (under --dry: the plan).

    ``cancelled`` (dev.up's background step): asked before anything is touched and at every
    poll of the wait; when it returns True, readiness.Cancelled is raised. A create or start
    already under way is finished first, so nothing is left half-made.
    """
    start = time.monotonic()
    if cancelled is not None and cancelled():
        raise readiness.Cancelled()
    spec = spec_from_config(c)
    be = backend.choose(c, spec)
    db = spec.db
    require_local(
        db,
        "refusing to start Postgres",
        "infra manages a local Postgres (a container or a cluster): it would wait on a database it does not run",
    )
    for line in warnings(spec):
        print(line, file=sys.stderr, flush=True)
    why = f"; {be.why}" if be.auto else ""
    if is_dry(c):
        dry(be.plan() + why)
        dry(
            f"would wait up to {spec.ready_timeout:g} s for Postgres at {db.host}:{db.port}"
            f" (psycopg connect + SELECT 1 every {spec.poll_interval:g} s)"
        )
        return db
    started = be.start()
    target = handshake.target(db, started.server)
    waited = readiness.wait(target, spec.ready_timeout, spec.poll_interval, cancelled=cancelled)
    print(
        f"Postgres ready at {db.host}:{db.port} ({started.described}) in {time.monotonic() - start:.2f} s"
        f" (handshake after {waited:.2f} s of waiting){why}",
        flush=True,
    )
    return db


def stop(c) -> None:
    """Stop the container (or the local server), keep the data (dev.down; infra.down with Vault)."""
    say = dry if is_dry(c) else print
    for line in backend.choose(c).stop(is_dry(c)):
        say(line)


def down(c) -> None:
    """infra.down: stop Postgres (data kept), then the Vault container (silent when there is none)."""
    from tasks.lib import vault

    stop(c)
    if config.settings(c).repository().uses_vault:
        vault.stop(vault.spec_from_config(c), is_dry(c))


def destroy(c, yes: bool) -> None:
    """infra.destroy: remove the container and its volume (or the local cluster), after asking, then
    the Vault container. Declining removes nothing."""
    from tasks.lib import vault

    be = backend.choose(c)
    what = be.destroy_what()
    if is_dry(c):
        dry(f"would {be.removing} {what}")
    else:
        console.confirm(f"Remove {what}?", yes=yes, rerun="inv infra.destroy --yes", declined="not removed (answer was not yes)")
        for line in be.destroy():
            print(line)
    if config.settings(c).repository().uses_vault:
        vault.remove(vault.spec_from_config(c), is_dry(c))


def print_status(c) -> None:
    """infra.status: the backend, its container or cluster, whether Postgres answers, and Vault's row."""
    from tasks.lib import vault  # urllib: only infra.status needs it

    spec = spec_from_config(c)
    vault_rows = [vault.status_row(c)] if config.settings(c).repository().uses_vault else []
    print(console.table([*backend.choose(c, spec).status_rows(), _database_row(spec.db), *vault_rows]))


def _database_row(db: Database) -> tuple[str, str]:
    answer = handshake.handshake(db)
    where = f"{db.host}:{db.port} ({db.name} as {db.user})"
    if answer.error is not None:
        return ("database", f"does not answer at {where}: {answer.error}")
    if answer.database_exists is False:
        text = (
            f"the server answers at {db.host}:{db.port} (as {db.user}), but database {db.name} does not exist:"
            " not seeded (`inv dev.up` or `inv db.seed` creates and seeds it)"
        )
        return ("database", text)
    return ("database", f"answers at {where}")


def print_logs(c, tail: int, follow: bool) -> None:
    """infra.logs: the last ``tail`` lines, then (``follow``) new ones until Ctrl-C."""
    last = ""
    try:
        for text in backend.choose(c).logs(tail, follow):
            sys.stdout.write(text)
            sys.stdout.flush()
            last = text or last
    except KeyboardInterrupt:
        pass
    if last and not last.endswith("\n"):
        sys.stdout.write("\n")
