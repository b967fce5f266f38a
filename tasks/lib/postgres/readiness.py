"""Waiting until Postgres really answers: a psycopg handshake plus `SELECT 1`, polled fast.

A TCP connect is not enough: Docker's port proxy accepts connections ~0.2 s after
the container starts, long before Postgres does (and the official image's first-run
init server listens on its socket only). Only a completed handshake with the
configured credentials counts.

The clock, the sleep and the probe are parameters so that tests (and the benchmark)
can drive `wait_ready` with a fake clock or time it for real.
"""

from __future__ import annotations

import time
from typing import Callable

from invoke import Exit

from tasks.lib.database import Database
from tasks.lib.masking import mask_text, secret_values
from tasks.lib.postgres import sql

_EPSILON = 1e-6  # float slack, so a deadline reached by summed intervals counts as reached

# Errors that retrying cannot fix: the server is up and said no.
FATAL_MARKERS = (
    "password authentication failed",
    "no pg_hba.conf entry",
    "does not exist",  # role or database
    "authentication method",
    "sslmode",
    "invalid connection option",
    "could not translate host name",
)


def probe(db: Database, connect_timeout: int = 2) -> str | None:
    """None when a real handshake and `SELECT 1` succeed; else the error as one line."""
    try:
        sql.select_one(db, connect_timeout=connect_timeout)
    except sql.Unreachable as e:
        return str(e)
    return None


def is_transient(error: str) -> bool:
    """True for errors that mean 'not up yet' (refused, reset, starting up), False for a 'no'."""
    low = error.lower()
    return not any(marker in low for marker in FATAL_MARKERS)


def hint(error: str, db: Database) -> str:
    low = (error or "").lower()
    if "password authentication failed" in low:
        return (
            "the data volume was initialised with another password: set DATABASE_PASSWORD back to that one,"
            " or `inv infra.destroy` then `inv infra.up` to start over (deletes the data)"
        )
    if "does not exist" in low:
        return (
            f"the data volume was initialised with another DATABASE_USER/DATABASE_NAME than {db.user}/{db.name}:"
            " set them back, or `inv infra.destroy` then `inv infra.up` to start over (deletes the data)"
        )
    if "refused" in low or "closed the connection" in low or "starting up" in low or "timeout" in low:
        return (
            "Postgres did not finish starting: check the log lines below; if it is only slow,"
            " raise postgres.ready_timeout (INVOKE_POSTGRES_READY_TIMEOUT)"
        )
    return "check the log lines below and `inv infra.status`"


def wait_ready(
    db: Database,
    timeout: float = 60.0,
    interval: float = 0.05,
    logs: Callable[[], str] | None = None,
    *,
    probe: Callable[[Database], str | None] = probe,
    alive: Callable[[], str | None] | None = None,
    alive_every: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Poll ``probe`` every ``interval`` s until it succeeds; return the seconds waited.

    Retries only transient errors. Raises Exit with the last error, a hint and the
    last log lines (``logs()``) on timeout, on a non-transient error, or when
    ``alive()`` says the container stopped (checked every ``alive_every`` s).
    """
    start = clock()
    deadline = start + timeout
    next_alive = start + alive_every
    last = None
    while True:
        last = probe(db)
        if last is None:
            return clock() - start
        now = clock()
        if not is_transient(last):
            raise _failure(db, f"Postgres at {db.host}:{db.port} refused the handshake: {last}", last, logs)
        if alive is not None and now >= next_alive:
            gone = alive()
            if gone:
                raise _failure(
                    db,
                    f"Postgres at {db.host}:{db.port} will not answer: {gone} (last error: {last})",
                    last,
                    logs,
                    hint_text="the container stopped: the log lines below say why; fix that (often postgres.command"
                    " or the data volume) and rerun `inv infra.up`",
                )
            next_alive = now + alive_every
        if now + interval > deadline - _EPSILON:
            if now >= deadline - _EPSILON:
                raise _failure(
                    db, f"Postgres at {db.host}:{db.port} did not answer within {timeout:g} s: {last}", last, logs
                )
            sleep(max(0.0, deadline - now))  # one last try at the deadline
            continue
        sleep(interval)


def _failure(db: Database, what: str, last: str, logs: Callable[[], str] | None, hint_text: str = "") -> Exit:
    secrets = secret_values(db.env())
    what = what.rstrip(".?! ")
    message = mask_text(f"{what}. Hint: {hint_text or hint(last, db)}", secrets)
    tail = ""
    if logs is not None:
        try:
            tail = logs() or ""
        except Exception:
            tail = ""
    if tail.strip():
        tail = mask_text(tail, secrets)
        message += "\nLast log lines of the container:\n" + "\n".join("  " + ln for ln in tail.splitlines())
    return Exit(message)
