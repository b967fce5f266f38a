"""Values every namespace shares: the project root and the database connection.

The database values come from the same DATABASE_* variables the portal reads
(elixir/config/dev.exs), so the container and the app can never disagree.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from invoke import Exit

from tasks import envfile

# The folder holding tasks.py: the Firezone repository root when the suite is in place.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

DB_DEFAULTS = {
    "DATABASE_HOST": "localhost",
    "DATABASE_PORT": "5432",
    "DATABASE_NAME": "firezone_dev",
    "DATABASE_USER": "postgres",
    "DATABASE_PASSWORD": "postgres",
}


def setting(c, section: str, key: str):
    """A setting from invoke's config (invoke.yaml, INVOKE_*), else the default its
    module declared with ``ns.configure`` (an empty value counts as unset)."""
    try:
        value = c.config[section].get(key)
    except (AttributeError, KeyError):
        value = None
    if value in (None, ""):
        from tasks.collection import ns

        value = ns.configuration()[section][key]
    return value


def project_path(value: str | os.PathLike) -> Path:
    """A setting's path, relative to the project root unless absolute."""
    path = Path(os.path.expanduser(str(value)))
    return path if path.is_absolute() else PROJECT_ROOT / path


@dataclass(frozen=True)
class Database:
    host: str
    port: int
    name: str
    user: str
    password: str

    def env(self) -> dict[str, str]:
        """The DATABASE_* variables for the portal's processes."""
        return {
            "DATABASE_HOST": self.host,
            "DATABASE_PORT": str(self.port),
            "DATABASE_NAME": self.name,
            "DATABASE_USER": self.user,
            "DATABASE_PASSWORD": self.password,
        }

    def conninfo(self, dbname: str | None = None, connect_timeout: int = 2) -> dict:
        """psycopg connect() keyword arguments (password never in a DSN string)."""
        return {
            "host": self.host,
            "port": self.port,
            "dbname": dbname or self.name,
            "user": self.user,
            "password": self.password,
            "connect_timeout": connect_timeout,
        }

    def is_local(self) -> bool:
        return is_local_host(self.host)


def database(environ: Mapping[str, str] | None = None) -> Database:
    """The database settings from DATABASE_* (shell > .env.local > .env > defaults)."""
    env = os.environ if environ is None else environ
    values = {k: env.get(k) or d for k, d in DB_DEFAULTS.items()}
    raw_port = values["DATABASE_PORT"]
    try:
        port = int(raw_port)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        raise Exit(
            f"DATABASE_PORT={raw_port!r} (from {envfile.origin('DATABASE_PORT')}) is not"
            " a port number: set it to e.g. 5432 in .env"
        )
    return Database(
        host=values["DATABASE_HOST"],
        port=port,
        name=values["DATABASE_NAME"],
        user=values["DATABASE_USER"],
        password=values["DATABASE_PASSWORD"],
    )


def is_local_host(host: str) -> bool:
    """True for names and addresses of this machine only (loopback or a socket)."""
    host = host.strip().strip("[]").lower()
    if host in ("localhost", "localhost.localdomain", "") or host.endswith(".localhost"):
        return True
    if host.startswith("/"):  # a Unix socket directory
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
