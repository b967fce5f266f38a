"""Waiting until Postgres really answers: a psycopg handshake plus one query, polled fast.

A TCP connect is not enough: Docker's port proxy accepts connections ~0.2 s after
the container starts, long before Postgres does (and the official image's first-run
init server listens on its socket only). Only a completed handshake with the
configured credentials counts.

Ready means the *server* answers: the handshake is made on the maintenance database
``postgres``, so a dropped dev database (`mix ecto.drop`, a reset cut off between drop
and create) is only "not seeded", which the seed step repairs. A user who may not use
``postgres`` is tried once on the dev database instead; there, "database ... does not
exist" comes after authentication, so the server answered too.

The clock, the sleep and the probe are parameters so that tests (and the benchmark)
can drive `wait_ready` with a fake clock or time it for real.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

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
    "permission denied",  # no CONNECT right on the database
    "authentication method",
    "sslmode",
    "invalid connection option",
    "could not translate host name",
)

# Errors that say the address cannot be reached at all (a route, a firewall), not "not up yet".
NETWORK_MARKERS = ("no route to host", "network is unreachable", "host is unreachable")


class Cancelled(Exception):
    """``wait_ready`` stopped because its ``cancelled()`` said so (another step failed, Ctrl-C)."""

    def __init__(self, message: str = "stopped waiting for Postgres"):
        super().__init__(message)


@dataclass(frozen=True)
class Handshake:
    """One probe's outcome: whether the server answered, and whether the dev database exists."""

    error: str | None  # why no handshake completed, one line; None: the server answered
    dbname: str  # the database the handshake was made on
    database_exists: bool | None = None  # whether db.name exists; None when not known


def handshake(db: Database, connect_timeout: int = 2) -> Handshake:
    """A handshake on the maintenance database (else once on the dev database), saying whether db.name exists."""
    try:
        exists = sql.database_exists(db, sql.MAINTENANCE_DB, connect_timeout=connect_timeout)
    except sql.Unreachable as e:
        first = str(e)
    else:
        return Handshake(None, sql.MAINTENANCE_DB, exists)
    if not sql.maintenance_refused(first):
        return Handshake(first, sql.MAINTENANCE_DB)
    # The user may not use `postgres`: its own database is the next best handshake.
    try:
        sql.select_one(db, db.name, connect_timeout=connect_timeout)
    except sql.Unreachable as e:
        if sql.database_missing(str(e), db.name):  # said after authenticating us: the server answers
            return Handshake(None, db.name, False)
        return Handshake(str(e), db.name)
    return Handshake(None, db.name, True)


def probe(db: Database, connect_timeout: int = 2) -> str | None:
    """None when the server completes a real handshake; else the error as one line."""
    return handshake(db, connect_timeout).error


def is_transient(error: str) -> bool:
    """True for errors that mean 'not up yet' (refused, reset, starting up), False for a 'no'."""
    low = error.lower()
    return not any(marker in low for marker in FATAL_MARKERS)


def is_network_error(error: str) -> bool:
    """True when the address cannot be reached (no route, unreachable network), whatever Postgres does."""
    low = (error or "").lower()
    return any(marker in low for marker in NETWORK_MARKERS)


def log_says_ready(log_text: str) -> bool:
    """True when the container's log says its latest server start listens on TCP and is ready.

    The official image's first-run init server also says "ready to accept connections",
    but listens on its socket only, and shuts down before the real start.
    """
    lines = (log_text or "").splitlines()
    starts = [i for i, ln in enumerate(lines) if "starting PostgreSQL" in ln]
    latest = lines[starts[-1] :] if starts else lines
    ready = [i for i, ln in enumerate(latest) if "ready to accept connections" in ln]
    if not ready:
        return False
    before, after = latest[: ready[-1]], latest[ready[-1] + 1 :]
    listens_on_tcp = any("listening on IPv" in ln for ln in before)
    stopped_since = any(w in ln for ln in after for w in ("shut down", "shutting down", "terminating"))
    return listens_on_tcp and not stopped_since


def hint(error: str, db: Database, log_text: str = "", container: str = "") -> str:
    """What to do about ``error`` (the last probe's), given the container's last log lines."""
    low = (error or "").lower()
    if "password authentication failed" in low:
        return (
            "the data volume was initialised with another password: set DATABASE_PASSWORD back to that one,"
            " or `inv infra.destroy` then `inv infra.up` to start over (deletes the data)"
        )
    if "role" in low and "does not exist" in low:
        return (
            f"the data volume was initialised with another DATABASE_USER than {db.user}:"
            " set it back, or `inv infra.destroy` then `inv infra.up` to start over (deletes the data)"
        )
    if "does not exist" in low:
        return (
            f"the data volume was initialised with another DATABASE_USER/DATABASE_NAME than {db.user}/{db.name}:"
            " set them back, or `inv infra.destroy` then `inv infra.up` to start over (deletes the data)"
        )
    if "permission denied" in low:
        return (
            f"user {db.user} may not connect to database {sql.MAINTENANCE_DB} nor {db.name}:"
            f" grant it CONNECT, or set DATABASE_USER to the user the volume was initialised with"
        )
    if "no pg_hba.conf entry" in low:
        return (
            "Postgres's pg_hba.conf does not let this user in from this address. A container stopped during"
            " its very first start leaves it so: then `inv infra.destroy --yes` and `inv infra.up` start over"
        )
    network = is_network_error(error)
    ready_inside = log_says_ready(log_text)
    if ready_inside and (network or "refused" in low or "closed the connection" in low or "timeout" in low):
        where = f"container {container}" if container else "the container"
        check = f"`docker port {container}`" if container else "`docker port <container>`"
        return (
            f"Postgres is up inside {where} (its log says ready) but {db.host}:{db.port} cannot be reached"
            f" ({_reason(error)}): the engine's port publishing or a firewall is in the way."
            f" Check {check}, the firewall's rules for that port, and that DATABASE_HOST={db.host} is this machine"
        )
    if network:
        return (
            f"{db.host}:{db.port} cannot be reached ({_reason(error)}): a network problem, not Postgres."
            f" Check that DATABASE_HOST={db.host} is this machine, the firewall's rules for port {db.port},"
            " and that the engine publishes the container's port (`inv infra.status`)"
        )
    if "refused" in low or "closed the connection" in low or "starting up" in low or "timeout" in low:
        return (
            "Postgres did not finish starting: check the log lines below; if it is only slow,"
            " raise postgres.ready_timeout (INVOKE_POSTGRES_READY_TIMEOUT)"
        )
    return "check the log lines below and `inv infra.status`"


def _reason(error: str) -> str:
    """The OS's or libpq's words at the end of a connection error ("No route to host")."""
    low = error.lower()
    for marker in (*NETWORK_MARKERS, "connection refused", "server closed the connection unexpectedly", "timeout expired"):
        at = low.find(marker)
        if at >= 0:
            return error[at : at + len(marker)]
    return error.rsplit(": ", 1)[-1] if error else "no answer"


def wait_ready(
    db: Database,
    timeout: float = 60.0,
    interval: float = 0.05,
    logs: Callable[[], str] | None = None,
    *,
    probe: Callable[[Database], str | None] = probe,
    alive: Callable[[], str | None] | None = None,
    alive_every: float = 0.5,
    diagnose: Callable[[str, str], str | None] | None = None,
    container: str = "",
    cancelled: Callable[[], bool] | None = None,
    stopped_hint: str = "the container stopped: the log lines below say why; fix that (often postgres.command"
    " or the data volume) and rerun `inv infra.up`",
    log_source: str = "the container",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Poll ``probe`` every ``interval`` s until it succeeds; return the seconds waited.

    Retries only transient errors. Raises Exit with the last error, a hint and the
    last log lines (``logs()``) on timeout, on a non-transient error, or when
    ``alive()`` says the container stopped (checked every ``alive_every`` s).
    ``diagnose(last_error, log_text)`` may name the cause better than the generic hint
    (``container`` names the container in it). Raises Cancelled as soon as
    ``cancelled()`` (asked before every probe) returns True.
    """
    start = clock()
    deadline = start + timeout
    next_alive = start + alive_every
    last = None

    def failure(what: str, hint_text: str = "") -> Exit:
        return _failure(db, what, last or "", logs, hint_text, diagnose=diagnose, container=container, log_source=log_source)

    while True:
        if cancelled is not None and cancelled():
            raise Cancelled()
        last = probe(db)
        if last is None:
            return clock() - start
        now = clock()
        if not is_transient(last):
            raise failure(f"Postgres at {db.host}:{db.port} refused the handshake: {last}")
        if alive is not None and now >= next_alive:
            gone = alive()
            if gone:
                raise failure(
                    f"Postgres at {db.host}:{db.port} will not answer: {gone} (last error: {last})",
                    hint_text=stopped_hint,
                )
            next_alive = now + alive_every
        if now + interval > deadline - _EPSILON:
            if now >= deadline - _EPSILON:
                raise failure(f"Postgres at {db.host}:{db.port} did not answer within {timeout:g} s: {last}")
            sleep(max(0.0, deadline - now))  # one last try at the deadline
            continue
        sleep(interval)


def _failure(
    db: Database,
    what: str,
    last: str,
    logs: Callable[[], str] | None,
    hint_text: str = "",
    *,
    diagnose: Callable[[str, str], str | None] | None = None,
    container: str = "",
    log_source: str = "the container",
) -> Exit:
    secrets = secret_values(db.env())
    what = what.rstrip(".?! ")
    tail = ""
    if logs is not None:
        try:
            tail = logs() or ""
        except Exception:
            tail = ""
    better = None
    if diagnose is not None:
        try:
            better = diagnose(last, tail)
        except Exception:  # a diagnosis is a better hint, never a reason to lose the error
            better = None
    message = mask_text(f"{what}. Hint: {better or hint_text or hint(last, db, tail, container)}", secrets)
    if tail.strip():
        tail = mask_text(tail, secrets)
        message += f"\nLast log lines of {log_source}:\n" + "\n".join("  " + ln for ln in tail.splitlines())
    return Exit(message)
