"""psycopg, wrapped: the one module that imports it (inside functions: tasks that never
connect skip its ~0.1 s import). Connections, errors as ``Unreachable``, our few statements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasks.lib.database import Database

if TYPE_CHECKING:
    import psycopg

MAINTENANCE_DB = "postgres"


class Unreachable(Exception):
    """The server did not answer or refused us (one line); ``missing``: it said the database does not
    exist (so it answered); ``no_access``: we may not use that database (absent, or no CONNECT right)."""

    def __init__(self, text: str, dbname: str = ""):
        super().__init__(text)
        low = text.lower()
        self.missing = bool(dbname) and f'database "{dbname.lower()}" does not exist' in low
        self.no_access = self.missing or any(w in low for w in ("permission denied", "connect privilege", "not permitted"))


def one_line(text: str) -> str:
    """psycopg's multi-line connection error as one line (the last attempt's reason)."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if lines and lines[0].startswith("Multiple connection attempts failed"):
        attempts = [ln[2:] for ln in lines if ln.startswith("- ")]
        lines = attempts[-1:] or lines[1:]
    return " ".join(" ".join(lines).split())


def connect(db: Database, dbname: str | None = None, connect_timeout: int = 2) -> psycopg.Connection:
    """An autocommit connection to ``dbname`` (default: the dev database), or Unreachable."""
    import psycopg

    try:
        return psycopg.connect(**db.conninfo(dbname=dbname, connect_timeout=connect_timeout), autocommit=True)
    except (psycopg.Error, OSError) as e:
        raise Unreachable(one_line(str(e)) or e.__class__.__name__, dbname or db.name) from None


def select_one(db: Database, dbname: str | None = None, connect_timeout: int = 2) -> None:
    """Connect and run ``SELECT 1``; Unreachable when it fails."""
    with connect(db, dbname, connect_timeout) as conn:
        fetch_one(conn, "SELECT 1")


def database_exists(db: Database, dbname: str, connect_timeout: int = 2) -> bool:
    """Connect to ``dbname`` and say whether database ``db.name`` exists; Unreachable when that fails."""
    with connect(db, dbname, connect_timeout) as conn:
        return fetch_one(conn, "SELECT 1 FROM pg_database WHERE datname = %s", (db.name,)) is not None


def cluster_id(db: Database, dbname: str) -> str:
    """The answering cluster's system identifier, new with every initdb (a new volume or local cluster); "" when the role
    may not read it; Unreachable."""
    import psycopg

    with connect(db, dbname) as conn:
        try:
            return str(fetch_one(conn, "SELECT system_identifier FROM pg_control_system()")[0])
        except psycopg.errors.InsufficientPrivilege:
            return ""


def fetch_one(conn: psycopg.Connection, query: str, params: tuple = ()) -> Any:
    """The first row of ``query``; Unreachable when the server fails us meanwhile."""
    import psycopg

    try:
        return conn.execute(query, params).fetchone()
    except psycopg.OperationalError as e:
        raise Unreachable(one_line(str(e)) or e.__class__.__name__) from None


def execute(conn: psycopg.Connection, statement: str, *names: str, text: str | None = None) -> None:
    """``statement`` with each ``{}`` a quoted identifier from ``names`` (and ``text`` as the literal after them);
    Unreachable with the server's one line when it fails (a database in use, no right, gone)."""
    import psycopg
    from psycopg import sql as pgsql

    parts = [pgsql.Identifier(n) for n in names] + ([pgsql.Literal(text)] if text is not None else [])
    try:
        conn.execute(pgsql.SQL(statement).format(*parts))
    except psycopg.Error as e:
        raise Unreachable(one_line(str(e)) or e.__class__.__name__) from None


def comment_on_database(conn: psycopg.Connection, name: str, text: str) -> None:
    execute(conn, "COMMENT ON DATABASE {} IS {}", name, text=text)
