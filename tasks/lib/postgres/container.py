"""The Postgres container through the Docker SDK: get-or-create-or-start, inspect, stop, remove.

Plumbing for tasks/infra.py; no tasks here. `docker` is imported inside functions so
that `inv --list` and tasks that never touch Docker do not pay for it.

Every failure a user can meet becomes one `Exit` line: what is wrong, which
setting, the fix. A container or volume is only ever changed when it carries our
label (`dev.firezone.inv`); a same-named one without it is refused, never touched.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import shlex
import socket
import warnings as pywarnings
from dataclasses import dataclass, field
from typing import Any, Iterator

from invoke import Exit

from tasks.lib import config, envfile
from tasks.lib.database import database, is_local_host
from tasks.lib.masking import mask_text, secret_values
from tasks.lib.postgres import engine_api

LABEL = "dev.firezone.inv"
CONTAINER_LABEL_VALUE = "postgres"
VOLUME_LABEL_VALUE = "postgres-data"
VOLUME_LABEL = f"{LABEL}.volume"
INTERNAL_PORT = "5432/tcp"
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

# What the portal's two replication connections use, whatever DATABASE_* says
# (elixir/config/dev.exs hard-wires them).
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

    @property
    def address(self) -> str:
        return f"{self.host_ip}:{self.port}"

    def env(self) -> dict[str, str]:
        """The container's environment (sent through the API, never on a command line)."""
        return {"POSTGRES_USER": self.user, "POSTGRES_PASSWORD": self.password, "POSTGRES_DB": self.name}

    def labels(self) -> dict[str, str]:
        return {LABEL: CONTAINER_LABEL_VALUE, VOLUME_LABEL: self.volume}


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


# ---------------------------------------------------------------------------
# settings


def spec_from_config(c, environ=None) -> PostgresSpec:
    """The spec from the postgres.* settings and DATABASE_* (port, user, password, name)."""
    db = database(environ)
    command_text = config.text(c, "postgres", "command")
    try:
        command = tuple(shlex.split(command_text))
    except ValueError as e:
        raise config.bad(c, "postgres", "command", command_text, f"a command line ({e})")
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
    )


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
    if differ:
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


# ---------------------------------------------------------------------------
# the engine


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def _engine_where() -> str:
    if os.environ.get("DOCKER_HOST"):
        return f"{docker_host()} (DOCKER_HOST from {envfile.origin('DOCKER_HOST')})"
    return f"{DEFAULT_DOCKER_HOST} (the default; DOCKER_HOST is not set)"


_client = None
_client_host = None


def client():
    """A Docker client that has answered a ping, or Exit saying which engine and what to start."""
    global _client, _client_host
    host = docker_host()
    if _client is not None and _client_host == host:
        return _client
    import docker

    failure = None
    try:
        cl = docker.from_env(timeout=30)
        cl.ping()
    except Exception as e:  # DockerException, requests' ConnectionError, PermissionError...
        failure = e
    if failure is not None:
        reason = short_error(failure)
        with pywarnings.catch_warnings():
            # The SDK leaves its half-made client's socket to the garbage collector.
            pywarnings.simplefilter("ignore", ResourceWarning)
            del failure
            gc.collect()
        fix = "start it (Docker Desktop, `sudo systemctl start docker`, or `dockerd`)"
        if "permission denied" in reason.lower():
            fix = "add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again) or run with access to the socket"
        raise Exit(f"Docker engine not reachable at {_engine_where()}: {reason}. Fix: {fix}, or point DOCKER_HOST at a running engine")
    _client, _client_host = cl, host
    return cl


def short_error(e: BaseException, limit: int = 200) -> str:
    """An exception as one short line: the engine's explanation when there is one."""
    text = getattr(e, "explanation", None) or str(e) or e.__class__.__name__
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    text = str(text)
    # "Error while fetching server API version: ('Connection aborted.', FileNotFoundError(2, ...))"
    m = re.search(r"(FileNotFoundError|ConnectionRefusedError|PermissionError)\(\d+, '([^']+)'", text)
    if m:
        text = f"{m.group(2)} ({m.group(1)})"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextlib.contextmanager
def docker_errors(doing: str) -> Iterator[None]:
    """Turn an unexpected Docker SDK error into one Exit line naming what we were doing."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
        raise Exit(f"Docker failed while {doing}: {short_error(e)}")


# ---------------------------------------------------------------------------
# reading a container


def is_ours(attrs: dict) -> bool:
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    return labels.get(LABEL) == CONTAINER_LABEL_VALUE


def published(attrs: dict) -> tuple[str | None, int | None]:
    """The host address 5432/tcp is (to be) published on, from HostConfig then NetworkSettings."""
    for source in ((attrs.get("HostConfig") or {}).get("PortBindings"), (attrs.get("NetworkSettings") or {}).get("Ports")):
        bindings = (source or {}).get(INTERNAL_PORT) or []
        for b in bindings:
            if b.get("HostPort"):
                return (b.get("HostIp") or "0.0.0.0"), int(b["HostPort"])
    return None, None


def container_env(attrs: dict) -> dict[str, str]:
    env = {}
    for item in (attrs.get("Config") or {}).get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    return env


def volume_of(attrs: dict, data_dir: str) -> str | None:
    for m in attrs.get("Mounts") or []:
        if m.get("Destination") == data_dir:
            return m.get("Name") or m.get("Source")
    return None


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
        differences.append(f"image {image} (configured: {spec.image}, postgres.image)")
    ip, port = published(attrs)
    if port != spec.port:
        differences.append(f"host port {port} (configured: DATABASE_PORT={spec.port} from {envfile.origin('DATABASE_PORT')})")
    elif ip != spec.host_ip:
        differences.append(f"host address {ip} (configured: postgres.host_ip={spec.host_ip})")
    env = container_env(attrs)
    if env.get("POSTGRES_USER", "postgres") != spec.user:
        differences.append(f"user {env.get('POSTGRES_USER')} (configured: DATABASE_USER={spec.user} from {envfile.origin('DATABASE_USER')})")
    if env.get("POSTGRES_DB", env.get("POSTGRES_USER", "postgres")) != spec.name:
        differences.append(f"database {env.get('POSTGRES_DB')} (configured: DATABASE_NAME={spec.name} from {envfile.origin('DATABASE_NAME')})")
    volume = volume_of(attrs, spec.data_dir)
    if volume != spec.volume:
        differences.append(f"volume {volume} (configured: postgres.volume={spec.volume})")
    cmd = tuple((attrs.get("Config") or {}).get("Cmd") or ())
    if cmd != spec.command:
        differences.append(f"command `{shlex.join(cmd)}` (configured: postgres.command=`{shlex.join(spec.command)}`)")
    if not differences:
        return None
    return (
        f"container {spec.container} already exists with another {'; '.join(differences)}."
        f" Fix: `inv infra.destroy` to recreate it (deletes its data), or set the setting back to the container's value"
    )


def _get(cl, name: str):
    """The container named exactly ``name`` or None."""
    import docker.errors

    try:
        ct = cl.containers.get(name)
    except docker.errors.NotFound:
        return None
    # containers.get also matches ids: only an exact name counts.
    if (ct.attrs.get("Name") or "").lstrip("/") != name:
        return None
    return ct


def refuse_foreign(spec: PostgresSpec, doing: str) -> Exit:
    return Exit(
        f"a container named {spec.container} exists but was not created by inv (no label {LABEL}={CONTAINER_LABEL_VALUE}),"
        f" so inv will not {doing} it. Fix: set postgres.container (INVOKE_POSTGRES_CONTAINER) to another name,"
        f" or remove that container yourself if you are sure (docker rm -f {spec.container})"
    )


def inspect(spec: PostgresSpec) -> Status | None:
    """The container's state, image, published address, health and whether it is ours (read-only)."""
    cl = client()
    with docker_errors(f"inspecting container {spec.container}"):
        ct = _get(cl, spec.container)
        return None if ct is None else status_of(ct.attrs)


# ---------------------------------------------------------------------------
# the host port


def _ips_overlap(a: str, b: str) -> bool:
    wild = ("", "0.0.0.0", "::")
    return a in wild or b in wild or a == b


def port_holder_container(cl, host_ip: str, port: int, exclude: str = "") -> str | None:
    """The name of a running container publishing ``host_ip:port``, if any."""
    for summary in cl.api.containers():  # running only; summaries, no per-container inspect
        names = [n.lstrip("/") for n in summary.get("Names") or []]
        if exclude and exclude in names:
            continue
        for p in summary.get("Ports") or []:
            if p.get("Type", "tcp") == "tcp" and p.get("PublicPort") == port and _ips_overlap(p.get("IP", ""), host_ip):
                return names[0] if names else summary.get("Id", "?")[:12]
    return None


def port_is_free(host_ip: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host_ip, port))
        except OSError:
            return False
    return True


def listening_inodes(text: str, port: int) -> set[str]:
    """Socket inodes listening on ``port`` in a /proc/net/tcp{,6} table."""
    inodes = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local, state, inode = fields[1], fields[3], fields[9]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
            inodes.add(inode)
    return inodes


def port_holder_process(port: int, proc: str = "/proc") -> str | None:
    """'name (pid N)' of the process listening on ``port``, when /proc lets us see it."""
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"{proc}/net/{table}") as f:
                inodes |= listening_inodes(f.read(), port)
        except OSError:
            pass
    if not inodes:
        return None
    targets = {f"socket:[{i}]" for i in inodes}
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        fd_dir = f"{proc}/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") in targets:
                    with open(f"{proc}/{pid}/comm") as f:
                        return f"{f.read().strip()} (pid {pid})"
            except OSError:
                continue
    return None


def port_taken_message(spec: PostgresSpec, holder: str) -> str:
    return (
        f"host port {spec.address} (DATABASE_PORT from {envfile.origin('DATABASE_PORT')}) is already taken by {holder}."
        f" Fix: stop it, or set DATABASE_PORT to a free port in .env"
    )


def port_holder(cl, spec: PostgresSpec) -> str | None:
    """Who holds the host port besides our container: 'container X', 'another process[, name (pid N)]', or None."""
    holder = port_holder_container(cl, spec.host_ip, spec.port, exclude=spec.container)
    if holder:
        return f"container {holder}"
    # Only a local engine's ports are this machine's ports.
    if docker_host().startswith(("unix://", "npipe://")) and not port_is_free(spec.host_ip, spec.port):
        who = port_holder_process(spec.port)
        return f"another process, {who}" if who else "another process"
    return None


def check_port(cl, spec: PostgresSpec) -> None:
    """Exit naming the holder when the host port is taken by another container or process."""
    holder = port_holder(cl, spec)
    if holder:
        raise Exit(port_taken_message(spec, holder))


def _start_error(spec: PostgresSpec, e: BaseException) -> Exit:
    text = short_error(e, limit=400)
    if "port is already allocated" in text or "address already in use" in text:
        return Exit(port_taken_message(spec, "another container or process (Docker: " + short_error(e, 160) + ")"))
    return Exit(f"could not start container {spec.container}: {text}. See `inv infra.logs`")


# ---------------------------------------------------------------------------
# changing things


def _ensure_image(cl, spec: PostgresSpec) -> None:
    import docker.errors

    try:
        cl.images.get(spec.image)
        return
    except docker.errors.ImageNotFound:
        pass
    from docker.utils import parse_repository_tag

    print(f"pulling image {spec.image} (not present locally)...", flush=True)
    repo, tag = parse_repository_tag(spec.image)
    try:
        cl.images.pull(repo, tag=tag or "latest")
    except (docker.errors.DockerException, OSError) as e:
        raise Exit(
            f"image {spec.image} is not present and pulling it failed: {short_error(e, 160)}."
            f" Fix: `docker pull {spec.image}` (or build/load it), or set postgres.image (INVOKE_POSTGRES_IMAGE) to an image you have"
        )


def _ensure_volume(cl, spec: PostgresSpec) -> None:
    import docker.errors

    try:
        cl.volumes.get(spec.volume)  # an existing volume keeps its data (ours or not)
    except docker.errors.NotFound:
        cl.volumes.create(name=spec.volume, labels={LABEL: VOLUME_LABEL_VALUE})


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


def ensure_running(spec: PostgresSpec) -> Status:
    """Get, create or start our container (never a second one); Exit on anything in the way."""
    # Warm path: already running as configured, seen without importing the SDK.
    attrs = engine_api.container_attrs(spec.container)
    if attrs and is_ours(attrs) and not mismatch(spec, attrs) and attrs.get("State", {}).get("Status") == "running":
        return status_of(attrs, "reused")

    import docker.errors

    cl = client()
    with docker_errors(f"preparing container {spec.container}"):
        ct = _get(cl, spec.container)
        if ct is not None:
            if not is_ours(ct.attrs):
                raise refuse_foreign(spec, "use")
            problem = mismatch(spec, ct.attrs)
            if problem:
                raise Exit(problem)
            if ct.status == "running":
                return status_of(ct.attrs, "reused")
            if ct.status == "paused":
                ct.unpause()
                ct.reload()
                return status_of(ct.attrs, "started")
            check_port(cl, spec)
            try:
                ct.start()
            except docker.errors.APIError as e:
                raise _start_error(spec, e)
            ct.reload()
            return status_of(ct.attrs, "started")

        _ensure_image(cl, spec)
        check_port(cl, spec)
        _ensure_volume(cl, spec)
        try:
            ct = cl.containers.create(**create_kwargs(spec))
        except docker.errors.APIError as e:
            if getattr(e, "status_code", None) == 409:  # another `inv infra.up` won the race
                return ensure_running(spec)
            raise
        try:
            ct.start()
        except docker.errors.APIError as e:
            # Never leave a half-made container behind; the volume (data) stays.
            with contextlib.suppress(docker.errors.DockerException):
                ct.remove(force=True)
            raise _start_error(spec, e)
        ct.reload()
        return status_of(ct.attrs, "created")


def stop(spec: PostgresSpec) -> str:
    """Stop our container (data kept); returns what happened, for one line of output."""
    cl = client()
    with docker_errors(f"stopping container {spec.container}"):
        ct = _get(cl, spec.container)
        if ct is None:
            return f"container {spec.container} does not exist; nothing to stop"
        if not is_ours(ct.attrs):
            raise refuse_foreign(spec, "stop")
        if ct.status not in ("running", "paused", "restarting"):
            return f"container {spec.container} is already stopped ({ct.status}); data kept in volume {spec.volume}"
        ct.stop(timeout=20)
        return f"stopped container {spec.container}; data kept in volume {spec.volume}"


def remove(spec: PostgresSpec, volume: bool = True) -> list[str]:
    """Remove our container and (``volume``) our volume; returns one line per thing done or kept."""
    import docker.errors

    cl = client()
    done = []
    with docker_errors(f"removing container {spec.container}"):
        ct = _get(cl, spec.container)
        if ct is not None:
            if not is_ours(ct.attrs):
                raise refuse_foreign(spec, "remove")
            ct.remove(force=True)
            done.append(f"removed container {spec.container}")
        else:
            done.append(f"container {spec.container} does not exist")
        if volume:
            try:
                vol = cl.volumes.get(spec.volume)
            except docker.errors.NotFound:
                done.append(f"volume {spec.volume} does not exist")
            else:
                if (vol.attrs.get("Labels") or {}).get(LABEL) == VOLUME_LABEL_VALUE:
                    vol.remove(force=True)
                    done.append(f"removed volume {spec.volume}")
                else:
                    done.append(
                        f"kept volume {spec.volume}: it was not created by inv (no label {LABEL});"
                        f" remove it yourself if you mean to (docker volume rm {spec.volume})"
                    )
    return done


def plan(spec: PostgresSpec) -> str:
    """What ensure_running would do, from read-only inspection (for `inv --dry`)."""
    create = (
        f"would create container {spec.container} from image {spec.image}, volume {spec.volume},"
        f" {spec.address} -> 5432, command `{shlex.join(spec.command)}`"
    )
    try:
        status = inspect(spec)
    except Exit as e:
        return f"{create} (could not ask the engine: {e.message})"
    if status is None:
        return create
    if not status.ours:
        return f"would refuse: container {spec.container} exists and is not ours (no label {LABEL})"
    if status.running:
        return f"would reuse running container {spec.container} ({status.published})"
    return f"would start stopped container {spec.container} ({status.state}, {status.published})"


def logs_tail(spec: PostgresSpec, n: int = 20) -> str:
    """The container's last ``n`` log lines, secrets masked; '' when there is no container."""
    try:
        return "".join(read_logs(spec, n)).rstrip("\n")
    except Exception:  # logs are garnish on an error message; never fail because of them
        return ""


def read_logs(spec: PostgresSpec, tail: int, follow: bool = False) -> Iterator[str]:
    """The container's log text (``follow``: streamed until it stops or Ctrl-C), masked."""
    cl = client()
    with docker_errors(f"reading logs of {spec.container}"):
        ct = _get(cl, spec.container)
        if ct is None:
            raise Exit(f"container {spec.container} does not exist. Fix: `inv infra.up`")
        if not is_ours(ct.attrs):
            raise refuse_foreign(spec, "read")
        secrets = secret_values({"DATABASE_PASSWORD": spec.password})
        if not follow:
            raw = ct.logs(tail=tail, stdout=True, stderr=True)
            yield mask_text(raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw), secrets)
            return
        for chunk in ct.logs(stream=True, follow=True, tail=tail, stdout=True, stderr=True):
            yield mask_text(chunk.decode(errors="replace") if isinstance(chunk, bytes) else chunk, secrets)


def alive_check(spec: PostgresSpec):
    """A callable for wait_ready: the reason the container is gone or stopped, else None."""

    def check() -> str | None:
        try:
            status = inspect(spec)
        except Exit:
            return None
        if status is None:
            return f"container {spec.container} disappeared"
        if status.state in ("exited", "dead"):
            return f"container {spec.container} stopped ({status.state})"
        return None

    return check
