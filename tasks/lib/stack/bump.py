"""A Postgres major bump, found before anything starts: the data's major (PG_VERSION in the volume) against the major of the image
the repository now asks for; and the record of an upgrade under way (.inv/upgrade.json) that must finish before anything uses the data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tasks.lib import programs, state
from tasks.lib.database.server import PostgresSpec
from tasks.lib.docker import engine, service
from tasks.lib.problem import Problem

RECORD = "upgrade.json"
NO_IMAGE = "`inv infra.up` with postgres.image and postgres.data_dir set to the PostgreSQL {old} image and mount that made it, then `inv infra.upgrade`"
NO_IMAGE += " without them; or `inv infra.destroy --yes` starts over (deletes it)"
WAYS = "`inv infra.upgrade` moves the data to PostgreSQL {new} (the {old} data is kept), or `inv infra.destroy --yes` starts over"
WAYS += " (deletes it)"


@dataclass(frozen=True)
class Bump:
    old: int
    new: int
    image: str  # the image that made the data, where it mounted it, and the command it ran
    data_dir: str
    command: tuple[str, ...] = ()


def image_major(cl, image: str) -> int | None:
    """The image's PostgreSQL major: its PG_MAJOR (as the official images set it), else its tag's number."""
    found = engine.lookup(cl.images, image)
    env = dict(item.partition("=")[::2] for item in ((found.attrs.get("Config") or {}).get("Env") or [])) if found else {}
    m = re.fullmatch(r"(\d+)", env.get("PG_MAJOR", "")) or re.search(r":(\d+)", image.rsplit("/", 1)[-1])
    return int(m.group(1)) if m else None


def container_bump(spec: PostgresSpec, probe: bool = True) -> Bump | None:
    """The data volume holds another major than postgres.image runs: the bump (read through our stopped or running container, else,
    when ``probe``, a container made, never started, and removed), else None. Read-only paths (--dry, status, doctor) do not probe."""
    cl = engine.client()
    with engine.docker_errors(f"reading the PostgreSQL version of volume {spec.volume}"):
        ct = engine.get_container(cl, spec.container)
        if ct is not None and not service.is_ours(spec.service, ct.attrs):
            return None
        attrs = ct.attrs if ct is not None else {}
        mount = next((m.get("Destination") for m in attrs.get("Mounts") or [] if m.get("Name") == spec.volume), None)
        if ct is not None:
            found = engine.read_file(ct, f"{mount}/PG_VERSION") if mount else None
        elif probe and engine.lookup(cl.volumes, spec.volume) is not None and engine.lookup(cl.images, spec.image) is not None:
            reader = {
                "image": spec.image,
                "volumes": {spec.volume: {"bind": "/fz-data", "mode": "ro"}},
                "labels": {service.LABEL: "postgres-upgrade"},
            }
            ct = engine.create_container(cl, reader)
            try:
                found = engine.read_file(ct, "/fz-data/PG_VERSION")
            finally:
                ct.remove(force=True, v=True)
            ct = None
        else:
            return None
        new = image_major(cl, spec.image)
    old = int(found) if found and found.strip().isdigit() else None
    if old is None or new is None or old == new:
        return None
    config = attrs.get("Config") or {}
    return Bump(old, new, config.get("Image", ""), str(mount or ""), tuple(config.get("Cmd") or ()))


def refuse(spec: PostgresSpec, probe: bool = True) -> None:
    """A Problem naming the bump and the ways on, before the container is touched (``probe``: see container_bump)."""
    if (bump := container_bump(spec, probe)) is not None:
        made = f"made by {bump.image}" if bump.image else "its container is gone, so which image made it is unknown"
        what = f"the data in volume {spec.volume} is PostgreSQL {bump.old} ({made}), and {spec.origin('image')} is"
        fix = WAYS.format(new=bump.new, old=bump.old) if bump.image else NO_IMAGE.format(old=bump.old)
        if bump.old > bump.new:  # a server never reads a newer major's data: no upgrade goes that way
            fix = f"set postgres.image to a PostgreSQL {bump.old} image (or go back to the branch that runs {bump.old}): the data is kept"
        raise Problem(f"{what} {spec.image}, PostgreSQL {bump.new}", fix, "postgres.image")


def record_path(state_dir: Path) -> Path:
    return state_dir / RECORD


def under_way(state_dir: Path) -> dict | None:
    return state.read_json(record_path(state_dir), "the upgrade is not resumed", lambda d: isinstance(d.get("kept"), str))


def refuse_under_way(state_dir: Path) -> None:
    if (left := under_way(state_dir)) is not None:
        what = f"an upgrade to PostgreSQL {left.get('new')} was cut off (recorded in {programs.display_path(record_path(state_dir))});"
        kept = f"kept in volume {left['kept']}" if left.get("copied", True) else "untouched (the copy was cut off)"
        raise Problem(f"{what} the PostgreSQL {left.get('old')} data is {kept}", "`inv infra.upgrade` finishes it")
