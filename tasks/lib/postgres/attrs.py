"""Reading a container's attributes (`docker inspect`'s dict, the SDK's ``Container.attrs``).

``Status`` is what the tasks show of a container; the rest read one thing each: whether
it is ours (our label), the host address its port is published on, its environment, its
data volume, and ``mismatch``: which setting an existing container does not match,
with the fix. Pure functions of the dict: no engine calls.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Protocol

from invoke import Exit

from tasks.lib.database import origin as database_origin
from tasks.lib.postgres.spec import CONTAINER_LABEL_VALUE, INTERNAL_PORT, LABEL, PostgresSpec


@dataclass(frozen=True)
class Status:
    """What `inspect` sees of the container (None from `inspect` means: no such container)."""

    name: str
    id: str
    state: str  # running, exited, created, paused, restarting, dead
    image: str
    host_ip: str | None
    host_port: int | None
    health: str | None  # None: the container has no healthcheck
    ours: bool
    action: str = ""  # what ensure_running did: created, started, reused

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def published(self) -> str:
        if self.host_port is None:
            return "not published"
        return f"{self.host_ip or '0.0.0.0'}:{self.host_port}"


def is_ours(attrs: dict, value: str = CONTAINER_LABEL_VALUE) -> bool:
    """Whether the container carries our label with ``value`` (Postgres's by default)."""
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    return labels.get(LABEL) == value


def published(attrs: dict, port: str = INTERNAL_PORT) -> tuple[str | None, int | None]:
    """The host address ``port`` (5432/tcp by default) is (to be) published on, from
    HostConfig then NetworkSettings."""
    for source in ((attrs.get("HostConfig") or {}).get("PortBindings"), (attrs.get("NetworkSettings") or {}).get("Ports")):
        bindings = (source or {}).get(port) or []
        for b in bindings:
            if b.get("HostPort"):
                return (b.get("HostIp") or "0.0.0.0"), int(b["HostPort"])
    return None, None


def foreign_refusal(name: str, value: str, setting: str, doing: str) -> Exit:
    """The one line for a same-named container without our label ``value``: inv leaves it
    alone; the fix is another name (``setting``) or removing it by hand."""
    env = "INVOKE_" + setting.upper().replace(".", "_")
    return Exit(
        f"a container named {name} exists but was not created by inv (no label {LABEL}={value}),"
        f" so inv will not {doing} it. Fix: set {setting} ({env}) to another name,"
        f" or remove that container yourself if you are sure (docker rm -f {name})"
    )


def container_env(attrs: dict) -> dict[str, str]:
    env = {}
    for item in (attrs.get("Config") or {}).get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    return env


def volume_of(attrs: dict, data_dir: str) -> str | None:
    """The volume (or host folder) mounted on ``data_dir``."""
    for m in attrs.get("Mounts") or []:
        if m.get("Destination") == data_dir:
            return m.get("Name") or m.get("Source")
    return None


class Seen(Protocol):
    """What a plan needs of a container's status (ours and Vault's alike)."""

    @property
    def ours(self) -> bool: ...
    @property
    def state(self) -> str: ...
    @property
    def running(self) -> bool: ...
    @property
    def published(self) -> str: ...


def plan_text(create: str, status: Seen | None, name: str, label: str) -> str:
    """What bringing container ``name`` up would do, for `inv --dry`: ``create`` when it is
    absent, else refuse (not ours: no ``label``), reuse or start."""
    if status is None:
        return create
    if not status.ours:
        return f"would refuse: container {name} exists and is not ours (no label {label})"
    if status.running:
        return f"would reuse running container {name} ({status.published})"
    return f"would start stopped container {name} ({status.state}, {status.published})"


def status_of(attrs: dict, action: str = "") -> Status:
    state = attrs.get("State") or {}
    ip, port = published(attrs)
    health = (state.get("Health") or {}).get("Status")
    return Status(
        name=(attrs.get("Name") or "").lstrip("/"),
        id=attrs.get("Id", ""),
        state=state.get("Status", "unknown"),
        image=(attrs.get("Config") or {}).get("Image", ""),
        host_ip=ip,
        host_port=port,
        health=health,
        ours=is_ours(attrs),
        action=action,
    )


def mismatch(spec: PostgresSpec, attrs: dict) -> str | None:
    """Which configured value the existing container does not match, with the fix; None if all match."""
    differences = []
    image = (attrs.get("Config") or {}).get("Image", "")
    if image != spec.image:
        differences.append(f"image {image} (configured: {spec.image}, {spec.origin('image')})")
    ip, port = published(attrs)
    if port != spec.port:
        differences.append(f"host port {port} (configured: DATABASE_PORT={spec.port} from {database_origin('DATABASE_PORT')})")
    elif ip != spec.host_ip:
        differences.append(f"host address {ip} (configured: postgres.host_ip={spec.host_ip})")
    env = container_env(attrs)
    if env.get("POSTGRES_USER", "postgres") != spec.user:
        differences.append(
            f"user {env.get('POSTGRES_USER')} (configured: DATABASE_USER={spec.user} from {database_origin('DATABASE_USER')})"
        )
    if env.get("POSTGRES_DB", env.get("POSTGRES_USER", "postgres")) != spec.name:
        differences.append(
            f"database {env.get('POSTGRES_DB')} (configured: DATABASE_NAME={spec.name} from {database_origin('DATABASE_NAME')})"
        )
    volume = volume_of(attrs, spec.data_dir)
    mounted_at = [m.get("Destination") for m in attrs.get("Mounts") or [] if m.get("Name") == spec.volume]
    if volume is None and mounted_at:
        differences.append(f"data folder {mounted_at[0]} (configured: {spec.data_dir}, {spec.origin('data_dir')})")
    elif volume != spec.volume:
        differences.append(f"volume {volume} (configured: postgres.volume={spec.volume})")
    cmd = tuple((attrs.get("Config") or {}).get("Cmd") or ())
    if cmd != spec.command:
        differences.append(f"command `{shlex.join(cmd)}` (configured: `{shlex.join(spec.command)}`, {spec.origin('command')})")
    if not differences:
        return None
    return (
        f"container {spec.container} already exists with another {'; '.join(differences)}."
        f" Fix: `inv infra.destroy` to recreate it (deletes its data), or set the setting back to the container's value"
    )
