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
    image: str  # the image that made the data, and where it mounted it
    data_dir: str


def image_major(cl, image: str) -> int | None:
    """The image's PostgreSQL major: its PG_MAJOR (as the official images set it), else its tag's number."""
    found = engine.lookup(cl.images, image)
    env = dict(item.partition("=")[::2] for item in ((found.attrs.get("Config") or {}).get("Env") or [])) if found else {}
    m = re.fullmatch(r"(\d+)", env.get("PG_MAJOR", "")) or re.search(r":(\d+)", image.rsplit("/", 1)[-1])
    return int(m.group(1)) if m else None


def container_bump(spec: PostgresSpec) -> Bump | None:
    """The data volume holds another major than postgres.image runs: the bump (read through our stopped or running container, else
    a container made and never started), else None."""
    cl = engine.client()
    with engine.docker_errors(f"reading the PostgreSQL version of volume {spec.volume}"):
        ct = engine.get_container(cl, spec.container)
        if ct is not None and not service.is_ours(spec.service, ct.attrs):
            return None
        attrs = ct.attrs if ct is not None else {}
        mount = next((m.get("Destination") for m in attrs.get("Mounts") or [] if m.get("Name") == spec.volume), None)
        if ct is not None:
            found = engine.read_file(ct, f"{mount}/PG_VERSION") if mount else None
        elif engine.lookup(cl.volumes, spec.volume) is not None and engine.lookup(cl.images, spec.image) is not None:
            volumes = {spec.volume: {"bind": "/fz-data", "mode": "ro"}}
            ct = engine.create_container(cl, {"image": spec.image, "volumes": volumes, "labels": {service.LABEL: "postgres-upgrade"}})
            found = engine.read_file(ct, "/fz-data/PG_VERSION")
            ct.remove(force=True, v=True)
        else:
            return None
        new = image_major(cl, spec.image)
    old = int(found) if found and found.strip().isdigit() else None
    if old is None or new is None or old == new:
        return None
    return Bump(old, new, (attrs.get("Config") or {}).get("Image", ""), str(mount or ""))


def refuse(spec: PostgresSpec) -> None:
    """A Problem naming the bump and the two ways on, before the container is touched."""
    if (bump := container_bump(spec)) is not None:
        made = f"made by {bump.image}" if bump.image else "its container is gone, so which image made it is unknown"
        what = f"the data in volume {spec.volume} is PostgreSQL {bump.old} ({made}), and {spec.origin('image')} is"
        fix = WAYS.format(new=bump.new, old=bump.old) if bump.image else NO_IMAGE.format(old=bump.old)
        raise Problem(f"{what} {spec.image}, PostgreSQL {bump.new}", fix, "postgres.image")


def record_path(state_dir: Path) -> Path:
    return state_dir / RECORD


def under_way(state_dir: Path) -> dict | None:
    return state.read_json(record_path(state_dir), "the upgrade is not resumed", lambda d: isinstance(d.get("kept"), str))


def refuse_under_way(state_dir: Path) -> None:
    if (left := under_way(state_dir)) is not None:
        what = f"an upgrade to PostgreSQL {left.get('new')} was cut off (recorded in {programs.display_path(record_path(state_dir))});"
        raise Problem(f"{what} the PostgreSQL {left.get('old')} data is kept in volume {left['kept']}", "`inv infra.upgrade` finishes it")
