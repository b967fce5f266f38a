"""What `inv dev.status` shows: the container, the database, and which steps are up to date."""

from __future__ import annotations

from invoke import Exit

from tasks.lib import config
from tasks.lib.database import database
from tasks.lib.mix import fingerprints, steps
from tasks.lib.postgres import container, readiness, seeding


def container_line(c) -> tuple[str, container.Status | None]:
    spec = container.spec_from_config(c)
    try:
        status = container.inspect(spec)
    except Exit as e:
        return f"container  unknown: {e.message}", None
    if status is None:
        return f"container  {spec.container}: absent (inv infra.up creates it)", None
    health = f", health {status.health}" if status.health else ""
    return f"container  {status.name}: {status.state}, {status.published}, image {status.image}{health}", status


def database_lines(c, running: bool) -> list[str]:
    db = database()
    where = f"{db.user}@{db.host}:{db.port}/{db.name}"
    if not running and db.is_local():
        return [f"database   {where}: not running"]
    error = readiness.probe(db)
    if error:
        return [f"database   {where}: not answering ({error})"]
    try:
        marker = seeding.read_marker(db)
    except Exception as e:  # a status line must not fail the whole report
        return [f"database   {where}: answers", f"seeded     unknown ({e.__class__.__name__})"]
    seeded = f"yes, {seeding.describe(marker)}" if marker else "no (inv db.seed or inv dev.up seeds it)"
    return [f"database   {where}: answers", f"seeded     {seeded}"]


def step_lines(c) -> list[str]:
    try:
        found = steps.steps(c)
    except Exit as e:
        return [f"steps      unknown: {e.message}"]
    state = config.state_dir(c)
    lines = []
    for step in found:
        fresh, reason = fingerprints.is_up_to_date(state, step)
        lines.append(f"{step.name:<10} {'up to date' if fresh else 'will run'}: {reason}")
    return lines


def show(c) -> None:
    line, status = container_line(c)
    print(line)
    for line in database_lines(c, running=bool(status and status.running)):
        print(line)
    for line in step_lines(c):
        print(line)
