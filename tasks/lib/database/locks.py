"""One seeder at a time: a session-level Postgres advisory lock (on the maintenance database, keyed
by the dev database's name) around seeding, migrating and resetting; it dies with its connection."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from tasks.lib.database import Database, sql

POLL = 0.2  # how often a waiting run asks again
REMIND = 30.0  # and says it is still waiting


def key(db: Database) -> int:
    digest = hashlib.sha256(f"fz-inv seed {db.name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def holder_name(doing: str) -> str:
    """Our application_name while we hold the lock: ``inv dev.up seed, pid 123 on host``."""
    task = " ".join(["inv", *sys.argv[1:2]]) if sys.argv[1:2] else "inv"
    return f"{task} {doing}, pid {os.getpid()} on {socket.gethostname()}"[:63]


def _holder(conn, lock_key: int) -> str:
    row = sql.fetch_one(
        conn,
        "SELECT a.application_name, a.client_addr::text, a.backend_start"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        " AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        ((lock_key >> 32) & 0xFFFFFFFF, lock_key & 0xFFFFFFFF),
    )
    if not row:
        return "another run"
    name, _addr, since = row
    when = f" since {since.astimezone().strftime('%H:%M:%S')}" if isinstance(since, datetime) else ""
    return f"{name or 'another client'}{when}"


def busy(db: Database) -> str | None:
    """Who holds ``db``'s seed lock (None: nobody, or the server cannot say)."""
    lock_key = key(db)
    try:
        with sql.connect(db, sql.MAINTENANCE_DB) as conn:
            if sql.fetch_one(conn, "SELECT pg_try_advisory_lock(%s)", (lock_key,))[0]:
                sql.fetch_one(conn, "SELECT pg_advisory_unlock(%s)", (lock_key,))
                return None
            return _holder(conn, lock_key)
    except sql.Unreachable:
        return None


@contextmanager
def held(db: Database, doing: str, say: Callable[[str], None], *, clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """Hold ``db``'s seed lock for the block (``doing``: "seeding", ...), waiting and saying for whom
    while another holds it; sql.Unreachable when the server cannot be reached."""
    conn = sql.connect(db, sql.MAINTENANCE_DB)
    lock_key = key(db)
    try:
        sql.fetch_one(conn, "SELECT set_config('application_name', %s, false)", (holder_name(doing),))
        if not sql.fetch_one(conn, "SELECT pg_try_advisory_lock(%s)", (lock_key,))[0]:
            start = clock()
            say(f"waiting for {_holder(conn, lock_key)}, which is seeding, migrating or resetting {db.name}")
            next_word = start + REMIND
            while not sql.fetch_one(conn, "SELECT pg_try_advisory_lock(%s)", (lock_key,))[0]:
                time.sleep(POLL)
                if clock() >= next_word:
                    say(f"still waiting for {_holder(conn, lock_key)} ({clock() - start:.0f} s)")
                    next_word = clock() + REMIND
            say(f"the other run finished after {clock() - start:.1f} s; going on")
        yield
    finally:
        with contextlib.suppress(Exception):
            conn.close()  # closing the session releases the lock
