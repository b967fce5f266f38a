"""The Postgres step of the stack: bring it up and wait for it, and what infra.* does to it.

``bring_up`` is the step dev.up, db.seed, db.reset and billing.serve share: get, create
or start the container (tasks/lib/postgres/container.py) or the local cluster
(tasks/lib/pglocal/server.py), whichever postgres.backend picks (backend.py), then
wait for a real handshake (tasks/lib/postgres/readiness.py), then one summary line.
Everything after the handshake (seeding, markers, locks) is the same for both.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from invoke import Exit

from tasks.lib import console, programs
from tasks.lib.console import dry, is_dry
from tasks.lib.database import Database, database, require_local
from tasks.lib.pglocal import cluster, server
from tasks.lib.postgres import container, engine, readiness
from tasks.lib.postgres.attrs import Status
from tasks.lib.postgres.spec import LABEL, PostgresSpec, spec_from_config
from tasks.lib.postgres.spec import warnings as setting_warnings
from tasks.lib.stack import backend


def _warn(spec: PostgresSpec) -> None:
    for line in setting_warnings(spec):
        print(line, file=sys.stderr, flush=True)


def ensure_started(c) -> Status:
    """Get, create or start the container without waiting for Postgres; returns its Status.

    Under `inv --dry` prints the plan and returns a Status with action "planned".
    """
    spec = spec_from_config(c)
    _require_local_db()
    _warn(spec)
    if is_dry(c):
        dry(container.plan(spec))
        try:
            current = container.inspect(spec)
        except Exit:
            current = None
        return Status(
            name=spec.container,
            id=current.id if current else "",
            state=current.state if current else "absent",
            image=spec.image,
            host_ip=spec.host_ip,
            host_port=spec.port,
            health=current.health if current else None,
            ours=current.ours if current else True,
            action="planned",
        )
    return container.ensure_running(spec)


def wait_until_ready(c, cancelled: Callable[[], bool] | None = None) -> float:
    """Wait for a real Postgres handshake (up to postgres.ready_timeout); returns seconds waited.

    Raises readiness.Cancelled as soon as ``cancelled()`` returns True (asked at every poll).
    """
    spec = spec_from_config(c)
    db = database()
    if is_dry(c):
        dry(
            f"would wait up to {spec.ready_timeout:g} s for Postgres at {db.host}:{db.port}"
            f" (psycopg connect + SELECT 1 every {spec.poll_interval:g} s)"
        )
        return 0.0
    return readiness.wait_ready(
        db,
        timeout=spec.ready_timeout,
        interval=spec.poll_interval,
        logs=lambda: container.logs_tail(spec, 20),
        alive=container.alive_check(spec),
        diagnose=container.diagnosis(spec),
        container=spec.container,
        cancelled=cancelled,
    )


def bring_up(c, cancelled: Callable[[], bool] | None = None) -> Database:
    """Start the container and wait until Postgres answers; prints one summary line.

    ``cancelled`` (dev.up's background step): asked before the container is touched and
    at every poll of the wait; when it returns True, readiness.Cancelled is raised. A
    create or start already under way is finished first, so nothing is left half-made.
    """
    start = time.monotonic()
    if cancelled is not None and cancelled():
        raise readiness.Cancelled()
    choice = backend.choose(c)
    if choice.local:
        return _bring_up_local(c, choice, start, cancelled)
    status = ensure_started(c)
    waited = wait_until_ready(c, cancelled=cancelled)
    db = database()
    if not is_dry(c):
        verb = {"created": "created", "started": "started", "reused": "already running"}.get(status.action, status.action)
        print(
            f"Postgres ready at {db.host}:{db.port} (container {status.name} {verb}, image {status.image},"
            f" published on {status.published}) in {time.monotonic() - start:.2f} s"
            f" (handshake after {waited:.2f} s of waiting)" + _why(choice),
            flush=True,
        )
    return db


def _why(choice: backend.Choice) -> str:
    """The reason for the backend, when auto chose it (said once, on the summary line)."""
    return f"; {choice.why}" if choice.why.startswith("postgres.backend=auto") else ""


def _require_local_db() -> Database:
    db = database()
    require_local(
        db,
        "refusing to start Postgres",
        "infra manages a local Postgres (a container or a cluster): it would wait on a database it does not run",
    )
    return db


def _bring_up_local(c, choice: backend.Choice, start: float, cancelled: Callable[[], bool] | None) -> Database:
    db = _require_local_db()
    _warn(spec_from_config(c))
    try:
        spec = server.local_spec(c, find_account=not is_dry(c))
    except Exit as e:
        if "no Docker engine answers" not in choice.why:
            raise
        # auto fell back to local for want of an engine: both ways out are the fix.
        raise Exit(f"{(e.message or '').rstrip('. ')}. Or start the Docker engine: {choice.why}")
    if is_dry(c):
        dry(server.plan(spec) + _why(choice))
        dry(
            f"would wait up to {spec.ready_timeout:g} s for Postgres at {db.host}:{db.port}"
            f" (psycopg connect + SELECT 1 every {spec.poll_interval:g} s)"
        )
        return db
    action, since = server.ensure_running(spec)

    waited = readiness.wait_ready(
        db,
        timeout=spec.ready_timeout,
        interval=spec.poll_interval,
        logs=lambda: cluster.log_tail(spec, 20, since),
        alive=cluster.stopped_reason(spec, since),
        diagnose=server.diagnosis(spec, since),
        container="",
        cancelled=cancelled,
        stopped_hint="the local server stopped: the log lines below say why; fix that (often postgres.command) and rerun `inv infra.up`",
        log_source=f"the local server ({programs.display_path(spec.log)})",
    )
    verb = {"recovered": "started after a crash (recovered)", "reused": "already running"}.get(action, action)
    print(
        f"Postgres ready at {db.host}:{db.port} (local cluster {programs.display_path(spec.data)} {verb},"
        f" PostgreSQL {spec.binaries.version}, listening on {spec.address}) in {time.monotonic() - start:.2f} s"
        f" (handshake after {waited:.2f} s of waiting)" + _why(choice),
        flush=True,
    )
    return db


def stop(c) -> None:
    """infra.down: stop our container (or the local server), keep the data."""
    if backend.choose(c).local:
        if is_dry(c):
            running = server.running_clusters(server.base_dir(c))
            dry(
                f"would stop the local Postgres server (pid {running[0][1].pid}); data kept"
                if running
                else "the local cluster is not running; nothing to stop"
            )
        else:
            for line in server.stop(server.base_dir(c)):
                print(line)
        return
    spec = spec_from_config(c)
    if not is_dry(c):
        print(container.stop(spec))
        return
    status = container.inspect(spec)
    if status is None:
        dry(f"container {spec.container} does not exist; nothing to stop")
    elif not status.ours:
        dry(f"would refuse: container {spec.container} is not ours (no label {LABEL})")
    else:
        dry(f"would stop container {spec.container} ({status.state}); volume {spec.volume} kept")


def destroy(c, yes: bool) -> None:
    """infra.destroy: remove our container and its volume (or the local cluster), after asking."""
    if backend.choose(c).local:
        _destroy_local(c, yes)
        return
    spec = spec_from_config(c)
    status = container.inspect(spec)
    if status is not None and not status.ours:
        raise container.refuse_foreign(spec, "remove")
    what = f"container {spec.container} and volume {spec.volume} (all the database's data)"
    if is_dry(c):
        dry(f"would remove {what}")
        return
    console.confirm(f"Remove {what}?", yes=yes, rerun="inv infra.destroy --yes", declined="not removed (answer was not yes)")
    for line in container.remove(spec, volume=True):
        print(line)


def _destroy_local(c, yes: bool) -> None:
    local = server.local_spec(c, find_account=False)
    what = f"the local cluster {programs.display_path(local.home)} (all the database's data)"
    if is_dry(c):
        dry(f"would stop the local server and remove {what}")
        return
    console.confirm(f"Remove {what}?", yes=yes, rerun="inv infra.destroy --yes", declined="not removed (answer was not yes)")
    for line in server.remove(local):
        print(line)


def status_rows(c) -> list[tuple[str, str]]:
    """infra.status: the engine (and where it came from), the container's state, port, image,
    health, and whether Postgres answers."""
    choice = backend.choose(c)
    db = database()
    if choice.local:
        rows = [("backend", f"local ({choice.why})")]
        try:
            rows += server.status_rows(server.local_spec(c, find_account=False))
        except Exit as e:  # no binaries: what is there is still shown
            rows.append(("binaries", e.message or ""))
            rows += [
                ("cluster", f"{programs.display_path(home)}: {cluster.server_at(home / 'data').state}")
                for home in server.made_clusters(server.base_dir(c))
            ]
        return rows + [_database_row(db)]
    spec = spec_from_config(c)
    st = container.inspect(spec)
    rows = [("backend", f"docker ({choice.why})"), ("engine", engine.where())]
    if st is None:
        rows.append(("container", f"{spec.container}: does not exist (`inv infra.up` creates it)"))
    else:
        owner = "ours" if st.ours else f"NOT ours: no label {LABEL}, inv will not touch it"
        rows += [
            ("container", f"{st.name} ({owner}, id {st.id[:12]})"),
            ("state", st.state),
            ("port", st.published),
            ("image", st.image),
            ("health", st.health or "no healthcheck (the readiness probe is a real handshake)"),
        ]
    rows.append(("volume", spec.volume))
    return rows + [_database_row(db)]


def _database_row(db: Database) -> tuple[str, str]:
    answer = readiness.handshake(db)
    where = f"{db.host}:{db.port} ({db.name} as {db.user})"
    if answer.error is not None:
        return ("database", f"does not answer at {where}: {answer.error}")
    if answer.database_exists is False:
        return (
            "database",
            f"the server answers at {db.host}:{db.port} (as {db.user}), but database {db.name} does not exist:"
            " not seeded (`inv dev.up` or `inv db.seed` creates and seeds it)",
        )
    return ("database", f"answers at {where}")


def print_status(c) -> None:
    from tasks.lib.vault import container as vault_container  # urllib: only infra.status needs it

    print(console.table([*status_rows(c), vault_container.status_row(c)]))


def print_logs(c, tail: int, follow: bool) -> None:
    """infra.logs: the container's (or local server's) last ``tail`` lines, then (``follow``) new ones until Ctrl-C."""
    if backend.choose(c).local:
        chunks = cluster.follow_log(server.local_spec(c, find_account=False), tail, follow)
    else:
        chunks = container.read_logs(spec_from_config(c), tail, follow=follow)
    last = ""
    try:
        for text in chunks:
            sys.stdout.write(text)
            sys.stdout.flush()
            last = text or last
    except KeyboardInterrupt:
        pass
    if last and not last.endswith("\n"):
        sys.stdout.write("\n")
