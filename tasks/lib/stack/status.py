"""What `inv dev.status` shows: the container or local cluster, the database, and which steps are up to date."""

from __future__ import annotations

from invoke import Exit

from tasks.lib import config, console, programs, state
from tasks.lib import vault as vault_container
from tasks.lib.database import database, locks, seeding
from tasks.lib.database import handshake as readiness
from tasks.lib.database import server as container
from tasks.lib.database.server import spec_from_config
from tasks.lib.docker.service import Status
from tasks.lib.mix import fingerprints, steps
from tasks.lib.pglocal import cluster, server
from tasks.lib.repo import summary
from tasks.lib.stack import backend, seed


def local_row(c, why: str) -> tuple[tuple[str, str], bool]:
    """The local cluster's row (backend local), and whether its server runs."""
    try:
        spec = server.local_spec(c, find_account=False)
    except Exit as e:
        return ("postgres", f"local cluster: unknown: {e.message} ({why})"), False
    now = cluster.server(spec)
    where = programs.display_path(spec.data)
    if not cluster.initialised(spec):
        text = f"local cluster {where}: absent (inv infra.up makes it)"
    elif now.state == "running":
        text = f"local cluster {where}: running (pid {now.pid}), {spec.address}, PostgreSQL {spec.binaries.version}"
    else:
        text = f"local cluster {where}: {'not running (crashed; the next start recovers)' if now.state == 'crashed' else 'stopped'}"
    return ("postgres", f"{text} ({why})"), now.state == "running"


def postgres_row(c) -> tuple[tuple[str, str], bool]:
    """The container's or local cluster's row, and whether Postgres runs."""
    try:
        choice = backend.choose(c)
    except Exit as e:
        return ("postgres", f"unknown: {e.message}"), False
    if choice.local:
        return local_row(c, choice.why)
    row, status = container_row(c)
    return row, bool(status and status.running)


def container_row(c) -> tuple[tuple[str, str], Status | None]:
    spec = spec_from_config(c)
    try:
        status = container.inspect(spec)
    except Exit as e:
        return ("container", f"unknown: {e.message}"), None
    if status is None:
        return ("container", f"{spec.container}: absent (inv infra.up creates it)"), None
    health = f", health {status.health}" if status.health else ""
    return ("container", f"{status.name}: {status.state}, {status.published}, image {status.image}{health}"), status


def database_rows(c, running: bool) -> list[tuple[str, str]]:
    db = database()
    where = f"{db.user}@{db.host}:{db.port}/{db.name}"
    if not running and db.is_local():
        return [("database", f"{where}: not running")]
    answer = readiness.handshake(db)
    if answer.error:
        return [("database", f"{where}: not answering ({answer.error})")]
    if answer.database_exists is False:
        return [
            ("database", f"{where}: does not exist (the server answers)"),
            ("seeded", "no: the database does not exist (inv dev.up or inv db.seed creates and seeds it)"),
        ]
    try:
        marker = seeding.read_marker(db)
    except Exception as e:  # a status line must not fail the whole report
        return [("database", f"{where}: answers"), ("seeded", f"unknown ({e.__class__.__name__})")]
    if marker:
        seeded = f"yes, {seeding.describe(marker)}"
    else:
        cut_off = seed.unfinished(c, db)
        holder = locks.busy(db) if cut_off else None
        if holder:
            seeded = f"not yet: {holder} is seeding, migrating or resetting it now"
        elif cut_off:
            seeded = f"no: {cut_off}; {seed.START_OVER}"
        else:
            seeded = "no (inv db.seed or inv dev.up seeds it)"
    return [("database", f"{where}: answers"), ("seeded", seeded)]


def step_rows(c) -> list[tuple[str, str]]:
    try:
        found = steps.steps(c)
    except Exit as e:
        return [("steps", f"unknown: {e.message}")]
    folder = config.state_dir(c)
    lines = []
    for step in found:
        fresh, reason = fingerprints.is_up_to_date(folder, step)
        lines.append((step.name, f"{'up to date' if fresh else 'will run'}: {reason}"))
    try:
        state.check_writable(folder, create=False)
    except state.StateError as e:
        lines.append(("state", e.message or ""))
    return lines


def show(c) -> None:
    row, running = postgres_row(c)
    rows = [row, *database_rows(c, running=running), *step_rows(c)]
    rows.append(vault_container.status_row(c))
    print(console.table(rows))
    try:
        derived = summary.rows(c)
    except Exit as e:
        derived = [("repository", e.message or "")]
    print("\nRead from the repository (a setting or environment variable wins):")
    print(console.table(derived))
