"""What `inv dev.status` shows: the container or local cluster, the database, and which steps are up to date."""

from __future__ import annotations

from pathlib import Path

from invoke import Exit

from tasks.lib import config, console, programs, state, vault
from tasks.lib.database import database, handshake, locks, seeding, template
from tasks.lib.database.server import spec_from_config
from tasks.lib.docker import service
from tasks.lib.mix import fingerprints, steps, tool
from tasks.lib.pglocal import cluster, server
from tasks.lib.repo import summary
from tasks.lib.stack import backend, seed


def local_row(spec, why: str) -> tuple[tuple[str, str], bool]:
    """The local cluster's row (backend local), and whether its server runs."""
    now = cluster.server(spec)
    where = programs.display_path(spec.data)
    if not cluster.initialised(spec):
        text = f"local cluster {where}: absent (inv infra.up makes it)"
    elif now.state == "running":
        text = f"local cluster {where}: running (pid {now.pid}), {spec.address}, PostgreSQL {spec.binaries.version}"
    else:
        text = f"local cluster {where}: {'not running (crashed; the next start recovers)' if now.state == 'crashed' else 'stopped'}"
    return ("postgres", f"{text} ({why})"), now.state == "running"


def container_row(spec) -> tuple[tuple[str, str], bool]:
    try:
        status = service.inspect(spec.service)
    except Exit as e:
        return ("container", f"unknown: {e.message or ''}"), False
    if status is None:
        return ("container", f"{spec.container}: absent (inv infra.up creates it)"), False
    health = f", health {status.health}" if status.health else ""
    other = f", made by the checkout at {status.checkout}" if status.checkout not in ("", spec.checkout) else ""
    return ("container", f"{status.name}: {status.state}, {status.published}, image {status.image}{health}{other}"), status.running


def database_rows(state_dir: Path, running: bool, root: Path | None = None) -> list[tuple[str, str]]:
    db = database()
    where = f"{db.user}@{db.host}:{db.port}/{db.name}"
    if not running and db.is_local():
        return [("database", f"{where}: not running")]
    answer = handshake.handshake(db)
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
    cut_off = seed.unfinished(state_dir, db)
    holder = locks.busy(db) if cut_off else None
    if marker:
        seeded = f"yes, {seeding.describe(marker)}" + (f"; but {cut_off}: {seed.START_OVER}" if cut_off and not holder else "")
    elif holder:
        seeded = f"not yet: {holder} is seeding, migrating or resetting it now"
    elif cut_off:
        seeded = f"no: {cut_off}; {seed.START_OVER}"
    else:
        seeded = "no (inv db.seed or inv dev.up seeds it)"
    return [("database", f"{where}: answers"), ("seeded", seeded), *([template.status_row(db, root)] if root else [])]


def show(c) -> None:
    s = config.settings(c)
    try:
        choice = backend.choose(s)
        if choice.local:
            try:
                row, running = local_row(server.local_spec(s, find_account=False), choice.why)
            except Exit as e:
                row, running = ("postgres", f"local cluster: unknown: {e.message or ''} ({choice.why})"), False
        else:
            row, running = container_row(spec_from_config(s))
    except Exit as e:
        row, running = ("postgres", f"unknown: {e.message or ''}"), False
    try:
        elixir = tool.settings(s)
        rows = [row, *database_rows(s.state_dir, running, elixir.root)]
        for step in (steps.deps_step(elixir), steps.setup_step(elixir)):
            fresh, reason = fingerprints.is_up_to_date(elixir.state_dir, step)
            rows.append((step.name, f"{'up to date' if fresh else 'will run'}: {reason}"))
    except Exit as e:
        rows = [row, *database_rows(s.state_dir, running), ("steps", f"unknown: {e.message or ''}")]
    try:
        state.check_writable(s.state_dir, create=False)
    except state.StateError as e:
        rows.append(("state", f"{e.what}. Fix: {e.fix}" if e.fix else e.what))
    if s.repository().uses_vault:
        rows.append(vault.status_row(s))
    print(console.table(rows))
    try:
        derived = summary.rows(s)
    except Exit as e:
        derived = [("repository", e.message or "")]
    print("\nRead from the repository (a setting or environment variable wins):")
    print(console.table(derived))
