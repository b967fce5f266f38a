"""The dev database: its connection settings (DATABASE_*, which the portal reads too) and the guard against touching
a database that is not on this machine."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tasks.lib import envfile
from tasks.lib.problem import Problem

if TYPE_CHECKING:
    from tasks.lib.repo.derived import Derived

DEFAULTS = {
    "DATABASE_HOST": "localhost",
    "DATABASE_PORT": "5432",
    "DATABASE_NAME": "firezone_dev",
    "DATABASE_USER": "postgres",
    "DATABASE_PASSWORD": "postgres",
}


@dataclass(frozen=True)
class Database:
    host: str
    port: int
    name: str
    user: str
    password: str = field(repr=False)

    def env(self) -> dict[str, str]:
        """The DATABASE_* variables for the portal's processes."""
        return {f"DATABASE_{key.upper()}": str(getattr(self, key)) for key in ("host", "port", "name", "user", "password")}

    def conninfo(self, dbname: str | None = None, connect_timeout: int = 2) -> dict:
        """psycopg connect() keyword arguments (password never in a DSN string)."""
        kwargs = dict(host=self.host, port=self.port, user=self.user, password=self.password, connect_timeout=connect_timeout)
        return {**kwargs, "dbname": dbname or self.name}

    @property
    def where(self) -> str:
        return f"database {self.name} on {self.host}:{self.port}"

    def is_local(self) -> bool:
        return is_local_host(self.host)


def _repository_default(key: str) -> Derived | None:
    """The default the repository's compose file gives ``key`` (``${DATABASE_PORT:-5432}``)."""
    from tasks.lib.config import PROJECT_ROOT
    from tasks.lib.repo import derived

    return derived.compose_default(PROJECT_ROOT, key)


def default(key: str) -> str:
    """The value of DATABASE_* ``key`` when unset: the compose file's default, else Firezone's."""
    found = _repository_default(key)
    return str(found.value) if found is not None else DEFAULTS[key]


def origin(key: str) -> str:
    """Where DATABASE_* ``key`` came from: the environment's origin, or whose default it is."""
    if os.environ.get(key):
        return envfile.origin(key)
    found = _repository_default(key)
    return f"the default in {found.source}" if found is not None else "the default"


def database(environ: Mapping[str, str] | None = None) -> Database:
    """From DATABASE_* (shell > .env.local > .env > the compose file's defaults > Firezone's)."""
    env = os.environ if environ is None else environ
    host, raw_port, name, user, password = (env.get(k) or default(k) for k in DEFAULTS)
    port = int(raw_port) if raw_port.strip().isdecimal() else 0
    if not 0 < port < 65536:
        what = f"DATABASE_PORT={raw_port!r} (from {origin('DATABASE_PORT')}) is not a port number"
        raise Problem(what, "set it to e.g. 5432 in .env", "DATABASE_PORT")
    return Database(host, port, name, user, password)


def is_local_host(host: str) -> bool:
    """True for names and addresses of this machine only (loopback or a socket)."""
    host = host.strip().strip("[]").lower()
    if host in ("localhost", "localhost.localdomain", "") or host.endswith(".localhost") or host.startswith("/"):  # "/": a socket folder
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_local(db: Database, refusing: str, why: str) -> None:
    """A Problem unless ``db`` is on this machine: ``refusing`` what, and ``why`` that matters."""
    if not db.is_local():
        what = f"{refusing}: DATABASE_HOST={db.host} (from {origin('DATABASE_HOST')}) is not a local address, and {why}"
        raise Problem(what, "set DATABASE_HOST=localhost in .env (or unset it)", "DATABASE_HOST")
