"""Whether Postgres really answers (a psycopg handshake plus one query: Docker's port proxy accepts TCP long before
Postgres does), and what to do when not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tasks.lib import readiness
from tasks.lib.database import Database, sql
from tasks.lib.masking import secret_values

# Errors retrying cannot fix: the server is up and said no ("does not exist": a role or database; "permission denied": no CONNECT right).
FATAL_MARKERS: tuple[str, ...] = ("password authentication failed", "no pg_hba.conf entry", "does not exist", "permission denied")
FATAL_MARKERS += ("sslmode", "authentication method", "invalid connection option", "could not translate host name")

# Errors that say the address cannot be reached at all (a route, a firewall), not "not up yet".
NETWORK_MARKERS = ("no route to host", "network is unreachable", "host is unreachable")


@dataclass(frozen=True)
class Handshake:
    error: str | None  # why no handshake completed, one line; None: the server answered
    dbname: str  # the database the handshake was made on
    database_exists: bool | None = None  # whether db.name exists; None when not known


def handshake(db: Database, connect_timeout: int = 2) -> Handshake:
    """A handshake on the maintenance database (so a dropped dev database is only "not seeded"), else
    once on the dev database, saying whether db.name exists."""
    try:
        return Handshake(None, sql.MAINTENANCE_DB, sql.database_exists(db, sql.MAINTENANCE_DB, connect_timeout=connect_timeout))
    except sql.Unreachable as e:
        if not e.no_access:
            return Handshake(str(e), sql.MAINTENANCE_DB)
    # The user may not use `postgres`: its own database is the next best handshake.
    try:
        sql.select_one(db, db.name, connect_timeout=connect_timeout)
    except sql.Unreachable as e:
        if e.missing:  # said after authenticating us: the server answers
            return Handshake(None, db.name, False)
        return Handshake(str(e), db.name)
    return Handshake(None, db.name, True)


def probe(db: Database, connect_timeout: int = 2) -> str | None:
    """None when the server completes a real handshake; else the error as one line."""
    return handshake(db, connect_timeout).error


def is_transient(error: str) -> bool:
    """True for errors that mean 'not up yet' (refused, reset, starting up), False for a 'no'."""
    return not any(marker in error.lower() for marker in FATAL_MARKERS)


def log_says_ready(log_text: str) -> bool:
    """True when the log says its latest server start listens on TCP and is ready (the official
    image's first-run init server also says ready, but on its socket only, and shuts down)."""
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
    """What to do about ``error`` (the last probe's), given the server's last log lines."""
    low = (error or "").lower()
    over = " or `inv infra.destroy` then `inv infra.up` to start over (deletes the data)"
    if "password authentication failed" in low:
        return "the data volume was initialised with another password: set DATABASE_PASSWORD back to that one," + over
    if "role" in low and "does not exist" in low:
        return f"the data volume was initialised with another DATABASE_USER than {db.user}: set it back," + over
    if "does not exist" in low:
        return f"the data volume was initialised with another DATABASE_USER/DATABASE_NAME than {db.user}/{db.name}: set them back," + over
    if "permission denied" in low:
        grant = "grant it CONNECT, or set DATABASE_USER to the user the volume was initialised with"
        return f"user {db.user} may not connect to database {sql.MAINTENANCE_DB} nor {db.name}: {grant}"
    if "no pg_hba.conf entry" in low:
        why = "A container stopped during its very first start leaves it so: then `inv infra.destroy --yes` and `inv infra.up` start over"
        return f"Postgres's pg_hba.conf does not let this user in from this address. {why}"
    network = any(marker in low for marker in NETWORK_MARKERS)
    slow = "refused" in low or "closed the connection" in low or "timeout" in low
    unreachable, host_is_here = f"{db.host}:{db.port} cannot be reached ({_reason(error)})", f"DATABASE_HOST={db.host} is this machine"
    if log_says_ready(log_text) and (network or slow):
        where, port = (f"container {container}", container) if container else ("the container", "<container>")
        inside = f"Postgres is up inside {where} (its log says ready) but {unreachable}: the engine's port publishing or a firewall is in"
        return f"{inside} the way. Check `docker port {port}`, the firewall's rules for that port, and that {host_is_here}"
    if network:
        check = f"Check that {host_is_here}, the firewall's rules for port {db.port}, and that the engine"
        return f"{unreachable}: a network problem, not Postgres. {check} publishes the container's port (`inv infra.status`)"
    if slow or "starting up" in low:
        slow_fix = "if it is only slow, raise postgres.ready_timeout (INVOKE_POSTGRES_READY_TIMEOUT)"
        return f"Postgres did not finish starting: check the log lines below; {slow_fix}"
    return "check the log lines below and `inv infra.status`"


def _reason(error: str) -> str:
    """The OS's or libpq's words in a connection error ("No route to host")."""
    low = error.lower()
    for marker in (*NETWORK_MARKERS, "connection refused", "server closed the connection unexpectedly", "timeout expired"):
        at = low.find(marker)
        if at >= 0:
            return error[at : at + len(marker)]
    return error.rsplit(": ", 1)[-1] if error else "no answer"


@dataclass(frozen=True)
class Server:
    """What a backend tells the readiness loop about the server it started."""

    logs: Callable[[], str]
    alive: Callable[[], str | None]
    diagnose: Callable[[str, str], str | None]  # a better fix than the generic hint, or None
    stopped_hint: str
    log_source: str
    container: str = ""
    described: str = ""  # for the ready line: "container X created, image I, published on A"


def target(db: Database, server: Server, check: Callable[[Database], str | None] | None = None) -> readiness.Target:
    """The readiness loop's target for Postgres at ``db`` (``check``: another probe, for tests)."""

    def fix(error: str, tail: str, stopped: bool) -> str:
        try:
            better = server.diagnose(error, tail)
        except Exception:  # a diagnosis is a better hint, never a reason to lose the error
            better = None
        return better or (server.stopped_hint if stopped else hint(error, db, tail, server.container))

    what, secrets = f"Postgres at {db.host}:{db.port}", tuple(secret_values(db.env()))
    answer, fatal = (lambda: (check or probe)(db)), (lambda error: not is_transient(error))
    return readiness.Target(what, answer, fix, fatal, server.alive, server.logs, server.log_source, secrets)
