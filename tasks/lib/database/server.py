"""The Postgres server's spec (postgres.* and DATABASE_*), its warnings, and the diagnosis of a data volume whose
first start was cut off."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tasks.lib import config, state
from tasks.lib.database import Database, database, is_local_host
from tasks.lib.database import origin as database_origin
from tasks.lib.docker import service
from tasks.lib.masking import secret_values

# The names every checkout used before they were named per checkout; the first checkout to come up takes them over.
LEGACY_NAMES = ("firezone-dev-postgres", "firezone-dev-postgres-data")
# What older Firezone's two replication connections use, whatever DATABASE_* says.
PORTAL_FIXED = {"port": 5432, "user": "postgres", "password": "postgres", "name": "firezone_dev"}


@dataclass(frozen=True)
class PostgresSpec:
    db: Database
    image: str
    container: str
    volume: str
    data_dir: str
    command: tuple[str, ...]
    host_ip: str
    ready_timeout: float = 60.0
    poll_interval: float = 0.05
    origins: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    replication_hardwired: bool = False  # the portal's replication connections ignore DATABASE_*
    checkout: str = ""  # this checkout's path, stamped on what it creates
    names_record: Path | None = None  # where a take-over of LEGACY_NAMES is recorded (None: postgres.container/volume set)

    @property
    def port(self) -> int:
        return self.db.port

    @property
    def address(self) -> str:
        return f"{self.host_ip}:{self.db.port}"

    def origin(self, key: str) -> str:
        """``postgres.image from scripts/compose/portal.yml``, for messages."""
        return f"postgres.{key} from {self.origins[key]}" if key in self.origins else f"postgres.{key}"

    @property
    def service(self) -> service.Service:
        db = self.db
        return service.Service(
            kind="postgres",
            name=self.container,
            image=self.image,
            internal_port="5432/tcp",
            host_ip=self.host_ip,
            host_port=db.port,
            # PGDATA is the mount: the data lives in the volume whatever the image's own default.
            env={"POSTGRES_USER": db.user, "POSTGRES_PASSWORD": db.password, "POSTGRES_DB": db.name, "PGDATA": self.data_dir},
            origins={
                **{key: self.origin(key) for key in ("image", "command", "data_dir")},
                "port": f"DATABASE_PORT from {database_origin('DATABASE_PORT')}",
                "POSTGRES_USER": f"DATABASE_USER from {database_origin('DATABASE_USER')}",
                "POSTGRES_DB": f"DATABASE_NAME from {database_origin('DATABASE_NAME')}",
            },
            compared_env={"POSTGRES_USER": "user", "POSTGRES_DB": "database"},
            command=self.command,
            volume=self.volume,
            data_dir=self.data_dir,
            secrets=tuple(secret_values(db.env())),
            port_fix="set DATABASE_PORT to a free port in .env",
            checkout=self.checkout,
        )


def server_command(s: config.Settings) -> tuple[str, ...]:
    """postgres.command as words (the container's command; the local cluster takes its -c settings)."""
    text = s.text("postgres", "command")
    try:
        return tuple(shlex.split(text))
    except ValueError as e:
        raise s.bad("postgres", "command", text, f"a command line ({e})") from None


def spec_from_config(s: config.Settings, environ=None) -> PostgresSpec:
    fact, db = s.repository().replication_hardwired, database(environ)
    image, container, volume, data_dir = (s.text("postgres", key) for key in ("image", "container", "volume", "data_dir"))
    command, host_ip = server_command(s), s.text("postgres", "host_ip")
    timing = (s.positive("postgres", "ready_timeout"), s.positive("postgres", "poll_interval"))
    origins = {key: s.origin("postgres", key) for key in ("image", "command", "data_dir")}
    record = None if s.is_set("postgres", "container") or s.is_set("postgres", "volume") else s.state_dir / "postgres-container.json"
    taken = record and state.read_json(record, "this checkout's own container is used", lambda d: d.get("container") in LEGACY_NAMES)
    if taken:
        container, volume = LEGACY_NAMES
    hardwired = bool(fact and fact.value)
    return PostgresSpec(
        db, image, container, volume, data_dir, command, host_ip, *timing, origins, hardwired, str(config.PROJECT_ROOT), record
    )


def warnings(spec: PostgresSpec) -> list[str]:
    """One-line warnings about settings that work but bite later (never fatal)."""
    found, db = [], spec.db
    differ = [
        f"DATABASE_{key.upper()}" + (" (not the default)" if key == "password" else f"={getattr(db, key)}")
        for key, value in PORTAL_FIXED.items()
        if getattr(db, key) != value
    ]
    if differ and spec.replication_hardwired:
        wired = "hard-wired to localhost:5432 with postgres/postgres and firezone_dev, so they will fail against this database under"
        found.append(f"warning: {', '.join(differ)}: the portal's two replication connections are {wired} `iex -S mix` and the server")
    if not is_local_host(spec.host_ip):
        beyond = "publishes a database with a known password beyond this machine; 127.0.0.1 keeps it local"
        found.append(f"warning: postgres.host_ip={spec.host_ip} {beyond}")
    return found


# initdb, re-run on a data directory a killed initdb left without PG_VERSION, refuses it;
# a server started on one killed before its control file was written cannot start.
_HALF_INIT_LOG_MARKERS = ("exists but is not empty", 'could not open file "global/pg_control"')
_LOOPBACK = ("127.0.0.1/32", "::1/128", "localhost", "127.0.0.1", "::1")


def only_loopback_hosts(pg_hba: str) -> bool:
    """True when pg_hba.conf admits TCP clients from loopback only: initdb's own file (the
    image's entrypoint appends `host all all all ...` right after initdb)."""
    for line in pg_hba.splitlines():
        fields = line.split("#", 1)[0].split()
        if fields and fields[0].startswith("host") and (fields[3] if len(fields) > 3 else "") not in _LOOPBACK:
            return False
    return True


def diagnose(spec: PostgresSpec, error: str, log_text: str) -> str | None:
    """The fix when the data volume holds a cluster whose first start was cut off (initdb or right after it)."""
    half = any(marker in (log_text or "") for marker in _HALF_INIT_LOG_MARKERS)
    if not half and "no pg_hba.conf entry" in (error or "").lower():
        script = 'cat -- "${PGDATA:-$FZ_DATA_DIR}/$FZ_FILE"'
        pg_hba = service.read_file(spec.service, script, {"FZ_DATA_DIR": spec.data_dir, "FZ_FILE": "pg_hba.conf"})
        half = pg_hba is not None and only_loopback_hosts(pg_hba)
    what = f"the data volume {spec.volume} was left half-initialised (Postgres was stopped during its first start; it holds no"
    return f"{what} data of yours): `inv infra.destroy --yes` then `inv infra.up`" if half else None
