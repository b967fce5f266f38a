"""What the Postgres container is made from: ``PostgresSpec`` and the labels that mark it ours.

The spec comes from the postgres.* settings (through tasks/lib/config.py's getters)
and DATABASE_* (port, user, password, name). ``warnings`` names settings that work but
bite later; ``create_kwargs`` is the spec as the engine's create call takes it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from tasks.lib import config
from tasks.lib.database import database, is_local_host

# A container or volume is only ever changed when it carries this label.
LABEL = "dev.firezone.inv"
CONTAINER_LABEL_VALUE = "postgres"
VOLUME_LABEL_VALUE = "postgres-data"
VOLUME_LABEL = f"{LABEL}.volume"
INTERNAL_PORT = "5432/tcp"

# What contract-era Firezone's two replication connections use, whatever DATABASE_*
# says (its elixir/config/dev.exs hard-wires them; tasks/lib/repo/portal.py tells).
PORTAL_FIXED = {"port": 5432, "user": "postgres", "password": "postgres", "name": "firezone_dev"}


@dataclass(frozen=True)
class PostgresSpec:
    """Everything the container is made from: the postgres.* settings plus DATABASE_*."""

    image: str
    container: str
    volume: str
    data_dir: str
    command: tuple[str, ...]
    host_ip: str
    port: int
    user: str
    password: str = field(repr=False)
    name: str = "firezone_dev"
    ready_timeout: float = 60.0
    poll_interval: float = 0.05
    # Where image, command and data_dir came from ("scripts/compose/portal.yml", a setting).
    origins: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    # The portal's replication connections ignore DATABASE_* (contract-era config).
    replication_hardwired: bool = False

    @property
    def address(self) -> str:
        return f"{self.host_ip}:{self.port}"

    def env(self) -> dict[str, str]:
        """The container's environment (sent through the API, never on a command line)."""
        # PGDATA is the mount: the data lives in the volume whatever the image's own
        # default (the official 18 image's is /var/lib/postgresql/18/docker, 17's
        # /var/lib/postgresql/data).
        return {
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_DB": self.name,
            "PGDATA": self.data_dir,
        }

    def origin(self, key: str) -> str:
        """``postgres.image from scripts/compose/portal.yml``, for messages."""
        return f"postgres.{key} from {self.origins[key]}" if key in self.origins else f"postgres.{key}"

    def labels(self) -> dict[str, str]:
        return {LABEL: CONTAINER_LABEL_VALUE, VOLUME_LABEL: self.volume}


def server_command(c) -> tuple[str, ...]:
    """postgres.command as words (the container's command; the local cluster takes its -c settings)."""
    command_text = config.text(c, "postgres", "command")
    try:
        return tuple(shlex.split(command_text))
    except ValueError as e:
        raise config.bad(c, "postgres", "command", command_text, f"a command line ({e})")


def spec_from_config(c, environ=None) -> PostgresSpec:
    """The spec from the postgres.* settings and DATABASE_* (port, user, password, name)."""
    db = database(environ)
    command = server_command(c)
    return PostgresSpec(
        image=config.text(c, "postgres", "image"),
        container=config.text(c, "postgres", "container"),
        volume=config.text(c, "postgres", "volume"),
        data_dir=config.text(c, "postgres", "data_dir"),
        command=command,
        host_ip=config.text(c, "postgres", "host_ip"),
        port=db.port,
        user=db.user,
        password=db.password,
        name=db.name,
        ready_timeout=config.positive(c, "postgres", "ready_timeout"),
        poll_interval=config.positive(c, "postgres", "poll_interval"),
        origins={key: config.origin(c, "postgres", key) for key in ("image", "command", "data_dir")},
        replication_hardwired=_replication_hardwired(c),
    )


def _replication_hardwired(c) -> bool:
    fact = config.repository(c).replication_hardwired
    return bool(fact and fact.value)


def warnings(spec: PostgresSpec) -> list[str]:
    """One-line warnings about settings that work but bite later (never fatal)."""
    found = []
    differ = []
    if spec.port != PORTAL_FIXED["port"]:
        differ.append(f"DATABASE_PORT={spec.port}")
    if spec.user != PORTAL_FIXED["user"]:
        differ.append(f"DATABASE_USER={spec.user}")
    if spec.password != PORTAL_FIXED["password"]:
        differ.append("DATABASE_PASSWORD (not the default)")
    if spec.name != PORTAL_FIXED["name"]:
        differ.append(f"DATABASE_NAME={spec.name}")
    if differ and spec.replication_hardwired:
        found.append(
            "warning: " + ", ".join(differ) + ": the portal's two replication connections are"
            " hard-wired to localhost:5432 with postgres/postgres and firezone_dev, so they will"
            " fail against this database (fine for tests, not for `iex -S mix`)"
        )
    if not is_local_host(spec.host_ip):
        found.append(
            f"warning: postgres.host_ip={spec.host_ip} publishes a database with a known password"
            " beyond this machine; 127.0.0.1 keeps it local"
        )
    return found


def create_kwargs(spec: PostgresSpec) -> dict[str, Any]:
    """The containers.create() arguments: credentials in the environment, port on host_ip only."""
    return {
        "image": spec.image,
        "command": list(spec.command),
        "name": spec.container,
        "environment": spec.env(),
        "labels": spec.labels(),
        "volumes": {spec.volume: {"bind": spec.data_dir, "mode": "rw"}},
        "ports": {INTERNAL_PORT: (spec.host_ip, spec.port)},
        "detach": True,
    }
