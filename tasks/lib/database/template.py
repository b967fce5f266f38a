"""The seeded dev database kept as a template (``firezone_dev__seeded``, connections disallowed) with the key of what
made it; a reset whose key matches clones it instead of running mix. Also: ending a database's sessions and the
walsenders of its active slots, which a drop needs (Postgres refuses to drop a database an active logical slot uses,
even WITH (FORCE))."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tasks.lib.database import Database, sql
from tasks.lib.database.seeding import SEEDED_BY, parse_marker
from tasks.lib.database.sql import MAINTENANCE_DB, Unreachable
from tasks.lib.problem import Problem

SUFFIX = "__seeded"
KEY_GLOBS = ("priv/repo/**/*", "apps/*/priv/repo/**/*")  # migrations (manual ones too) and seeds


def name_for(dbname: str, suffix: str = SUFFIX) -> str:
    """The template of ``dbname`` (or another of our working names): a name a person reads as what it is."""
    return dbname[: 63 - len(suffix)] + suffix


def key(root: Path, static: bool, major: int, migrations_only: bool = False) -> dict[str, str]:
    """What the seeded (or only migrated) database depends on, part by part so that a changed part can be named."""
    files = hashlib.sha256()
    found = (p for pattern in KEY_GLOBS for p in root.glob(pattern) if p.is_file())
    for p in sorted(p for p in found if not migrations_only or "migrations" in p.relative_to(root).as_posix()):
        files.update(f"{p.relative_to(root).as_posix()}\0{hashlib.sha256(p.read_bytes()).hexdigest()}\n".encode())
    lock = root / "mix.lock"
    return {
        "migrations and seeds": files.hexdigest()[:16],
        "mix.lock": hashlib.sha256(lock.read_bytes()).hexdigest()[:16] if lock.is_file() else "absent",
        "static seeds": "yes" if static else "no",
        "postgres major": str(major),
    }


@dataclass(frozen=True)
class Template:
    name: str
    exists: bool
    record: dict | None  # ours: made_by, template_of, key, at; None when absent or not ours
    size: int
    major: int  # the server's

    def mismatch(self, want: dict[str, str]) -> str | None:
        """Why a reset cannot clone it for ``want``; None when it can."""
        if not self.exists:
            return f"no template {self.name} yet"
        if self.record is None:
            return f"{self.name} exists but inv did not make it (left alone)"
        have = self.record.get("key") or {}
        changed = [part for part in want if have.get(part) != want[part]]
        return f"{', '.join(changed)} changed since {self.name} was made" if changed else None

    def describe(self, root: Path, now: float | None = None) -> str:
        """``firezone_dev__seeded: 8.1 MB, made 3 min ago, matches the repository``"""
        if self.record is None:
            return f"{self.mismatch({})}{'' if self.exists else ' (the next seed or db.reset keeps one)'}"
        made = datetime.fromisoformat(str(self.record.get("at"))).timestamp() if self.record.get("at") else 0.0
        age = max(0.0, (now or time.time()) - made)
        ago = f"{age / 60:.0f} min" if age < 5400 else f"{age / 3600:.0f} h" if age < 172800 else f"{age / 86400:.0f} days"
        wrong = self.mismatch(key(root, self.record.get("key", {}).get("static seeds") == "yes", self.major))
        fits = f"stale: {wrong} (the next db.reset runs mix, then keeps a new one)" if wrong else "matches the repository"
        return f"{self.name}: {self.size / 1e6:.1f} MB, made {ago} ago, {fits}"


def status_row(db: Database, root: Path) -> tuple[str, str]:
    try:
        return ("template", describe(db).describe(root))
    except Unreachable as e:
        return ("template", f"unknown ({e})")


def describe(db: Database, suffix: str = SUFFIX) -> Template:
    """The template of ``db`` as the server has it (one a drop cut short left invalid counts as absent); Unreachable."""
    name = name_for(db.name, suffix)
    with sql.connect(db, MAINTENANCE_DB) as conn:
        major, is_template, comment, size = sql.fetch_one(
            conn,
            "SELECT current_setting('server_version_num')::int / 10000, d.datistemplate,"
            " shobj_description(d.oid, 'pg_database'), CASE WHEN has_database_privilege(d.oid, 'CONNECT') THEN pg_database_size(d.oid) END"
            " FROM (SELECT 1) one LEFT JOIN pg_database d ON d.datname = %s AND d.datconnlimit <> -2",  # -2: a drop cut short
            (name,),
        )
    record = _parse(comment, db.name) if is_template else None
    return Template(name, is_template is not None, record, size or 0, major)


def _parse(comment, dbname: str) -> dict | None:
    data = parse_marker(comment, {"made_by": SEEDED_BY, "template_of": dbname})
    return data if data and isinstance(data.get("key"), dict) else None


def _exists(conn, name: str) -> bool:
    """Whether ``name`` is there and valid (an interrupted drop leaves it invalid: only a drop may touch it)."""
    return sql.fetch_one(conn, "SELECT 1 FROM pg_database WHERE datname = %s AND datconnlimit <> -2", (name,)) is not None


def _drop(conn, name: str) -> None:
    """Drop ``name`` if there: the old template or a clone an interrupted run left (our names only); one an interrupted
    drop left invalid can only be dropped."""
    found = sql.fetch_one(conn, "SELECT datistemplate FROM pg_database WHERE datname = %s", (name,))
    if found and found[0]:
        sql.execute(conn, "ALTER DATABASE {} IS_TEMPLATE false", name)
    if found:
        sql.execute(conn, "DROP DATABASE {} WITH (FORCE)", name)


def end_sessions(conn, dbname: str) -> tuple[int, str]:
    """Refuse new connections to ``dbname``, then end its sessions and the walsenders of its active slots: how many, and
    ``pid 12 (iex), ...``."""
    sql.execute(conn, "ALTER DATABASE {} ALLOW_CONNECTIONS false", dbname)
    return sql.fetch_one(
        conn,
        "SELECT count(*), string_agg(format('pid %%s (%%s)', pid, who), ', ') FROM (SELECT pid, coalesce(nullif(application_name, ''),"
        " backend_type) AS who, pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND (datname = %s"
        " OR pid IN (SELECT active_pid FROM pg_replication_slots WHERE database = %s))) ended",
        (dbname, dbname),
    )


def reopen(db: Database, busy: Callable[[], str | None] = lambda: None) -> bool:
    """Undo what a reset killed mid-way left (quiet when the server does not answer): ``db`` refusing connections is
    opened again; ``db`` left invalid by an interrupted drop (Postgres lets one only drop it) is dropped: True. Nothing
    while ``busy()`` names a run that holds the seed lock (a reset under way refuses connections on purpose)."""
    with contextlib.suppress(Unreachable), sql.connect(db, MAINTENANCE_DB) as conn:
        query = "SELECT datconnlimit = -2 FROM pg_database WHERE datname = %s AND (NOT datallowconn OR datconnlimit = -2)"
        invalid = sql.fetch_one(conn, query, (db.name,))
        if invalid and busy():
            return False
        if invalid and invalid[0]:
            _drop(conn, db.name)
            return True
        if invalid:
            sql.execute(conn, "ALTER DATABASE {} ALLOW_CONNECTIONS true", db.name)
    return False


@contextlib.contextmanager
def evicted(db: Database, say: Callable[[str], None], conn: Any = None) -> Iterator[None]:
    """``db`` refusing connections, its sessions ended, for the block (through ``conn``, a maintenance connection, else
    one of its own: a server that does not answer is said, and the block runs); allowed again after it unless dropped."""
    own = conn is None
    try:
        conn = conn or sql.connect(db, MAINTENANCE_DB)
    except Unreachable as e:
        say(f"warning: cannot end the sessions of {db.name} ({e})")
        yield
        return
    with contextlib.closing(conn) if own else contextlib.nullcontext():
        count, ended = end_sessions(conn, db.name) if _exists(conn, db.name) else (0, "")
        if count:
            say(f"ended {count} session(s) of {db.name}: {ended}")
        try:
            yield
        finally:
            if _exists(conn, db.name):
                sql.execute(conn, "ALTER DATABASE {} ALLOW_CONNECTIONS true", db.name)


def restore(db: Database, marker: str | None, say: Callable[[str], None], source: str = "") -> None:
    """Replace ``db`` by a clone of its template (or ``source``), marked seeded (``marker``) before it takes the name: an
    interruption leaves the old database or the new one under it, never a marked one that is not seeded."""
    part = name_for(db.name, "__cloning")
    with sql.connect(db, MAINTENANCE_DB) as conn:
        _drop(conn, part)
        sql.execute(conn, "CREATE DATABASE {} TEMPLATE {}", part, source or name_for(db.name))
        if marker is not None:
            sql.comment_on_database(conn, part, marker)
        with evicted(db, say, conn):
            try:
                _drop(conn, db.name)
            except Unreachable:  # a walsender that ended late still held its slot: once more
                end_sessions(conn, db.name)
                _drop(conn, db.name)
            sql.execute(conn, "ALTER DATABASE {} RENAME TO {}", part, db.name)


def make(db: Database, parts: dict[str, str], say: Callable[[str], None], evict: bool = False, suffix: str = SUFFIX) -> None:
    """Keep ``db`` (just seeded) as its template under ``parts``, replacing an older one of ours; ``evict``: end the sessions
    that would stop the copy (a reset's), else a busy database is left as it is. Problem or Unreachable (one line)."""
    tmpl, part = name_for(db.name, suffix), name_for(db.name, suffix + "_part")
    record = {"made_by": SEEDED_BY, "template_of": db.name, "key": parts, "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    found = describe(db, suffix)
    if found.exists and found.record is None:
        raise Problem(f"{tmpl} exists but inv did not make it, so no template is kept", f"rename or drop {tmpl} yourself")
    with sql.connect(db, MAINTENANCE_DB) as conn:
        _drop(conn, part)
        if not evict and sql.fetch_one(conn, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (db.name,))[0]:
            raise Problem(f"other sessions are connected to {db.name}", "the next db.reset keeps it (it ends them first)")
        with evicted(db, say, conn) if evict else contextlib.nullcontext():
            sql.execute(conn, "CREATE DATABASE {} TEMPLATE {}", part, db.name)
        sql.comment_on_database(conn, part, json.dumps(record))
        sql.execute(conn, "ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false", part)
        _drop(conn, tmpl)
        sql.execute(conn, "ALTER DATABASE {} RENAME TO {}", part, tmpl)
