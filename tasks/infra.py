"""infra.*: the Postgres container, through the Docker SDK.

Tasks: up, down, destroy, status, logs. Other modules call the plain functions
`ensure_started`, `wait_until_ready` and `bring_up` (dev.up starts the container and
waits for it while mix works). Docker plumbing lives in tasks/containers.py, the
readiness wait in tasks/readiness.py.
"""

from __future__ import annotations

import sys
import time

from invoke import Collection, Exit

from tasks.taskdef import is_dry, lazy, task

envfile = lazy("tasks.envfile")
settings = lazy("tasks.settings")

DRY = "[dry] "


def _spec(c):
    from tasks import containers

    return containers.spec_from_config(c)


def _require_local(db: settings.Database) -> None:
    if not db.is_local():
        raise Exit(
            f"DATABASE_HOST={db.host} (from {envfile.origin('DATABASE_HOST')}) is not this machine:"
            " infra manages a local Postgres container and would wait on a database it does not run."
            " Fix: unset DATABASE_HOST (default localhost), or do not run infra tasks against a remote database"
        )


def _warn(spec) -> None:
    from tasks import containers

    for line in containers.warnings(spec):
        print(line, file=sys.stderr, flush=True)


def ensure_started(c):
    """Get, create or start the container without waiting for Postgres; returns its Status.

    Under `inv --dry` prints the plan and returns a Status with action "planned".
    """
    from tasks import containers

    spec = _spec(c)
    _require_local(settings.database())
    _warn(spec)
    if is_dry(c):
        print(DRY + containers.plan(spec), flush=True)
        try:
            current = containers.inspect(spec)
        except Exit:
            current = None
        return containers.Status(
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
    return containers.ensure_running(spec)


def wait_until_ready(c) -> float:
    """Wait for a real Postgres handshake (up to postgres.ready_timeout); returns seconds waited."""
    from tasks import containers, readiness

    spec = _spec(c)
    db = settings.database()
    if is_dry(c):
        print(
            f"{DRY}would wait up to {spec.ready_timeout:g} s for Postgres at {db.host}:{db.port}"
            f" (psycopg connect + SELECT 1 every {spec.poll_interval:g} s)",
            flush=True,
        )
        return 0.0
    return readiness.wait_ready(
        db,
        timeout=spec.ready_timeout,
        interval=spec.poll_interval,
        logs=lambda: containers.logs_tail(spec, 20),
        alive=containers.alive_check(spec),
    )


def bring_up(c) -> settings.Database:
    """Start the container and wait until Postgres answers; prints one summary line."""
    start = time.monotonic()
    status = ensure_started(c)
    waited = wait_until_ready(c)
    db = settings.database()
    if not is_dry(c):
        verb = {"created": "created", "started": "started", "reused": "already running"}.get(status.action, status.action)
        print(
            f"Postgres ready at {db.host}:{db.port} (container {status.name} {verb}, image {status.image},"
            f" published on {status.published}) in {time.monotonic() - start:.2f} s"
            f" (handshake after {waited:.2f} s of waiting)",
            flush=True,
        )
    return db


@task
def up(c):
    """Start Postgres in Docker and wait until it accepts connections."""
    bring_up(c)


@task
def down(c):
    """Stop the Postgres container (keeps the data)."""
    from tasks import containers

    spec = _spec(c)
    if is_dry(c):
        status = containers.inspect(spec)
        if status is None:
            print(f"{DRY}container {spec.container} does not exist; nothing to stop")
        elif not status.ours:
            print(f"{DRY}would refuse: container {spec.container} is not ours (no label {containers.LABEL})")
        else:
            print(f"{DRY}would stop container {spec.container} ({status.state}); volume {spec.volume} kept")
        return
    print(containers.stop(spec))


@task(help={"yes": "Do not ask: remove the container and its data volume right away."})
def destroy(c, yes=False):
    """Remove the Postgres container and its data volume (asks first)."""
    from tasks import containers

    spec = _spec(c)
    status = containers.inspect(spec)
    if status is not None and not status.ours:
        raise containers.refuse_foreign(spec, "remove")
    what = f"container {spec.container} and volume {spec.volume} (all the database's data)"
    if is_dry(c):
        print(f"{DRY}would remove {what}")
        return
    if not yes:
        if not sys.stdin.isatty():
            raise Exit(f"refusing to remove {what} without confirmation: no terminal to ask on. Fix: rerun with --yes")
        answer = input(f"Remove {what}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise Exit("not removed (answer was not yes)")
    for line in containers.remove(spec, volume=True):
        print(line)


@task
def status(c):
    """Show the Postgres container's state, port, image, health, and whether it answers."""
    from tasks import containers, readiness

    spec = _spec(c)
    db = settings.database()
    st = containers.inspect(spec)
    rows = []
    if st is None:
        rows.append(("container", f"{spec.container}: does not exist (`inv infra.up` creates it)"))
    else:
        owner = "ours" if st.ours else f"NOT ours: no label {containers.LABEL}, inv will not touch it"
        rows += [
            ("container", f"{st.name} ({owner}, id {st.id[:12]})"),
            ("state", st.state),
            ("port", st.published),
            ("image", st.image),
            ("health", st.health or "no healthcheck (the readiness probe is a real handshake)"),
        ]
    rows.append(("volume", spec.volume))
    error = readiness.probe(db)
    where = f"{db.host}:{db.port} ({db.name} as {db.user})"
    rows.append(("database", f"answers at {where}" if error is None else f"does not answer at {where}: {error}"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


@task(
    help={
        "tail": "How many of the last lines to show (default 100).",
        "follow": "Keep printing new lines until Ctrl-C.",
    }
)
def logs(c, tail=100, follow=False):
    """Show the Postgres container's logs."""
    from tasks import containers

    spec = _spec(c)
    last = ""
    try:
        for text in containers.read_logs(spec, int(tail), follow=follow):
            sys.stdout.write(text)
            sys.stdout.flush()
            last = text or last
    except KeyboardInterrupt:
        pass
    if last and not last.endswith("\n"):
        sys.stdout.write("\n")


ns = Collection("infra", up, down, destroy, status, logs)
ns.configure(
    {
        "postgres": {
            "image": "postgres:17",
            "container": "firezone-dev-postgres",
            "volume": "firezone-dev-postgres-data",
            "data_dir": "/var/lib/postgresql/data",
            "command": "postgres -c wal_level=logical -c max_connections=200",
            # Host address the port is published on; 0.0.0.0 exposes a database
            # with a known password to the network.
            "host_ip": "127.0.0.1",
            "ready_timeout": 60.0,
            "poll_interval": 0.05,
        }
    }
)
