"""Whether a database was seeded: a JSON marker in the database's own comment (``COMMENT ON DATABASE``), so it goes
away with a dropped database or a destroyed volume."""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime, timezone

from tasks.lib.database import Database, sql
from tasks.lib.database.sql import MAINTENANCE_DB, Unreachable
from tasks.lib.problem import Problem

SEEDED_BY = "inv"


def parse_marker(comment: str | None, ours: dict | None = None) -> dict | None:
    """The marker in a database comment, or None when it is not ours: it lacks the values in ``ours`` (by default a seed's)."""
    if isinstance(comment, (bytes, bytearray, memoryview)):  # a SQL_ASCII database hands text back as bytes
        comment = bytes(comment).decode("utf-8", "replace")
    try:
        data = json.loads(comment) if comment else None
    except ValueError:
        return None
    want = ours or {"seeded_by": SEEDED_BY}
    return data if isinstance(data, dict) and all(data.get(k) == v for k, v in want.items()) else None


def make_marker(static: bool, now: float | None = None) -> dict:
    at = datetime.fromtimestamp(now if now is not None else time.time(), timezone.utc)
    return {"seeded_by": SEEDED_BY, "static": bool(static), "at": at.isoformat(timespec="seconds")}


def read_marker(db: Database) -> dict | None:
    """The seed marker of ``db``; None when the database does not exist or is unmarked; Unreachable."""
    query = "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s"
    try:
        conn = sql.connect(db, MAINTENANCE_DB)
    except Unreachable as first:
        if not first.no_access:
            raise
        # No access to the maintenance database: ask the database itself.
        try:
            conn = sql.connect(db, db.name)
        except Unreachable as e:
            if e.missing:
                return None
            raise
    with conn:
        row = sql.fetch_one(conn, query, (db.name,))
    return parse_marker(row[0]) if row else None


def write_marker(db: Database, static: bool) -> dict:
    marker = make_marker(static)
    try:
        conn = sql.connect(db, db.name)
    except Unreachable as e:
        what = f"seeded, but could not record it in database {db.name} on {db.host}:{db.port}: {e}; the next seed would run again"
        raise Problem(what, "check the database with `inv infra.status`") from None
    with conn:
        sql.comment_on_database(conn, db.name, json.dumps(marker))
    return marker


def database_exists(db: Database) -> bool:
    """Whether ``db`` exists (asked on the maintenance database; True when we cannot tell)."""
    try:
        return sql.database_exists(db, MAINTENANCE_DB)
    except Unreachable:
        return True


def cluster_id(db: Database) -> str:
    """Which cluster answers for ``db`` (see sql.cluster_id); "" when we cannot tell."""
    try:
        return sql.cluster_id(db, MAINTENANCE_DB)
    except Unreachable:
        return ""


def start_record(doing: str, now: float | None = None, cluster: str = "") -> dict:
    """What the state folder keeps while a seed or reset runs; ``cluster`` ties it to the data it is about."""
    at = datetime.fromtimestamp(now if now is not None else time.time()).astimezone()
    return {
        "doing": doing,
        "started": at.isoformat(timespec="seconds"),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "cluster": cluster,
    }


def describe_start(record: dict) -> str:
    """``"seed of 14:02 (pid 123)"`` (or of 2026-11-20 14:02 when not today)."""
    doing = record.get("doing") if record.get("doing") in ("seed", "reset") else "seed"
    when = "an unknown time"
    try:
        at = datetime.fromisoformat(str(record.get("started")))
        today = datetime.now(at.tzinfo).date() == at.date()
        when = at.strftime("%H:%M" if today else "%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        pass
    pid = record.get("pid")
    who = f" (pid {pid})" if isinstance(pid, int) else ""
    return f"{doing} of {when}{who}"


def describe(marker: dict) -> str:
    """``"on 2026-11-21 20:15 UTC (static seeds: yes)"``"""
    at = marker.get("at") or "an unknown date"
    try:
        at = datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        pass
    return f"on {at} (static seeds: {'yes' if marker.get('static') else 'no'})"
