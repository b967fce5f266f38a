"""A labelled service container (Postgres, Vault): get, create, start, recreate, stop, remove, logs. Only a container with
our label is changed; one made from other settings is refused when it keeps data, else made again. What a checkout makes
carries its path (CHECKOUT_LABEL): another checkout's data is never offered for removal from here."""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from tasks.lib.docker import engine, ports
from tasks.lib.masking import is_secret_key, mask_text
from tasks.lib.problem import Problem
from tasks.lib.readiness import log_block

LABEL = "dev.firezone.inv"
VOLUME_LABEL = f"{LABEL}.volume"
CHECKOUT_LABEL = f"{LABEL}.checkout"


@dataclass(frozen=True)
class Service:
    """What one container is made from; ``origins`` says where each compared value came from."""

    kind: str  # our label's value and the settings section: postgres, vault
    name: str
    image: str
    internal_port: str  # "5432/tcp"
    host_ip: str
    host_port: int
    env: Mapping[str, str] = field(repr=False)
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)  # image, port, host_ip, command, volume, data_dir, env keys
    compared_env: Mapping[str, str] = field(default_factory=dict)  # env key -> its name in messages ("user")
    command: tuple[str, ...] = ()
    volume: str = ""  # the data volume, mounted on data_dir ("": no data kept)
    data_dir: str = ""
    cap_add: tuple[str, ...] = ()
    secrets: tuple[str, ...] = field(default=(), repr=False)  # values masked in logs and messages
    port_fix: str = ""  # how to move the host port
    checkout: str = ""  # the path of the checkout that makes it, stamped on the container and volume

    @property
    def address(self) -> str:
        return f"{self.host_ip}:{self.host_port}"

    @property
    def checkout_label(self) -> dict[str, str]:
        return {CHECKOUT_LABEL: self.checkout} if self.checkout else {}

    def origin(self, key: str) -> str:
        return self.origins.get(key, f"{self.kind}.{key}")

    def create_kwargs(self) -> dict:
        volumes = {self.volume: {"bind": self.data_dir, "mode": "rw"}} if self.volume else None
        optional = {"command": list(self.command), "volumes": volumes, "cap_add": list(self.cap_add)}
        labels = {LABEL: self.kind, **({VOLUME_LABEL: self.volume} if self.volume else {}), **self.checkout_label}
        ports = {self.internal_port: (self.host_ip, self.host_port)}
        required = {"image": self.image, "name": self.name, "environment": dict(self.env), "labels": labels, "ports": ports}
        return {**required, "detach": True, **{key: value for key, value in optional.items() if value}}


@dataclass(frozen=True)
class Status:
    name: str
    id: str
    state: str  # running, exited, created, paused, restarting, dead
    image: str
    host_ip: str | None
    host_port: int | None
    health: str | None  # None: the container has no healthcheck
    ours: bool
    action: str = ""  # what ensure_running did: created, recreated, started, reused
    checkout: str = ""  # the checkout that made it ("": made before checkouts were labelled)

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def said(self) -> str:
        return "already running" if self.action == "reused" else self.action

    @property
    def published(self) -> str:
        return "not published" if self.host_port is None else f"{self.host_ip or '0.0.0.0'}:{self.host_port}"


def published(attrs: dict, port: str) -> tuple[str | None, int | None]:
    """The host address ``port`` is (to be) published on, from HostConfig then NetworkSettings."""
    for source in ((attrs.get("HostConfig") or {}).get("PortBindings"), (attrs.get("NetworkSettings") or {}).get("Ports")):
        for b in (source or {}).get(port) or []:
            if b.get("HostPort"):
                return (b.get("HostIp") or "0.0.0.0"), int(b["HostPort"])
    return None, None


def is_ours(spec: Service, attrs: dict) -> bool:
    return ((attrs.get("Config") or {}).get("Labels") or {}).get(LABEL) == spec.kind


def owner(attrs: dict) -> str:
    """The checkout that made the container or volume (its path), "" when unlabelled."""
    return ((attrs.get("Config") or attrs).get("Labels") or {}).get(CHECKOUT_LABEL, "")


def elsewhere(spec: Service, attrs: dict) -> str:
    """Another checkout's path when it made this container or volume and is still there, else "" (a checkout moved or
    removed leaves its data to whoever points at it)."""
    return other_checkout(spec, owner(attrs))


def other_checkout(spec: Service, other: str) -> str:
    return other if other and spec.checkout and other != spec.checkout and os.path.isdir(other) else ""


def orphans(spec: Service) -> list[str]:
    """Our containers of this kind made by a checkout that is gone (moved or removed): one line each, how to use it here."""
    with engine.docker_errors("listing containers"):
        found = engine.client().containers.list(all=True, filters={"label": [f"{LABEL}={spec.kind}", CHECKOUT_LABEL]})
    gone = [(ct.name, ct.labels.get(VOLUME_LABEL, "?"), owner(ct.attrs)) for ct in found if not os.path.isdir(owner(ct.attrs))]
    use = "to use its data here, set postgres.container={} and postgres.volume={} (INVOKE_POSTGRES_CONTAINER, INVOKE_POSTGRES_VOLUME)"
    return [f"container {name} holds the database of a checkout that is gone ({path}); {use.format(name, vol)}" for name, vol, path in gone]


def status_of(spec: Service, attrs: dict, action: str = "") -> Status:
    state, image = attrs.get("State") or {}, (attrs.get("Config") or {}).get("Image", "")
    name, health = (attrs.get("Name") or "").lstrip("/"), (state.get("Health") or {}).get("Status")
    ip, port = published(attrs, spec.internal_port)
    ours = is_ours(spec, attrs)
    return Status(name, attrs.get("Id", ""), state.get("Status", "unknown"), image, ip, port, health, ours, action, owner(attrs))


def refuse_foreign(spec: Service, doing: str) -> Problem:
    setting = f"{spec.kind}.container"
    what = f"a container named {spec.name} exists but was not created by inv (no label {LABEL}={spec.kind}), so inv will not {doing} it"
    fix = f"set {setting} (INVOKE_{spec.kind.upper()}_CONTAINER) to another name, or remove that container yourself if you are sure"
    return Problem(what, f"{fix} (docker rm -f {spec.name})", setting)


def port_taken(spec: Service, holder: str) -> Problem:
    return ports.taken(spec.address, spec.origin("port"), holder, spec.port_fix)


def differences(spec: Service, attrs: dict) -> list[str]:
    """The configured values the existing container does not match, each with its setting."""
    found = []
    config = attrs.get("Config") or {}
    image = config.get("Image", "")
    if image != spec.image:
        found.append(f"image {image} (configured: {spec.image}, {spec.origin('image')})")
    ip, port = published(attrs, spec.internal_port)
    if port != spec.host_port:
        found.append(f"host port {port} (configured: {spec.host_port}, {spec.origin('port')})")
    elif ip != spec.host_ip:
        found.append(f"host address {ip} (configured: {spec.host_ip}, {spec.origin('host_ip')})")
    env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
    for key, label in spec.compared_env.items():
        if env.get(key) != spec.env.get(key):
            if is_secret_key(key):
                found.append(f"another {label} ({spec.origin(key)})")
            else:
                found.append(f"{label} {env.get(key)} (configured: {spec.env.get(key)}, {spec.origin(key)})")
    if spec.volume:
        mounts = attrs.get("Mounts") or []
        volume = next((m.get("Name") or m.get("Source") for m in mounts if m.get("Destination") == spec.data_dir), None)
        mounted_at = [m.get("Destination") for m in mounts if m.get("Name") == spec.volume]
        if volume is None and mounted_at:
            found.append(f"data folder {mounted_at[0]} (configured: {spec.data_dir}, {spec.origin('data_dir')})")
        elif volume != spec.volume:
            found.append(f"volume {volume} (configured: {spec.volume}, {spec.origin('volume')})")
    cmd = tuple(config.get("Cmd") or ())
    if spec.command and cmd != spec.command:
        found.append(f"command `{shlex.join(cmd)}` (configured: `{shlex.join(spec.command)}`, {spec.origin('command')})")
    return found


def inspect(spec: Service) -> Status | None:
    cl = engine.client()
    with engine.docker_errors(f"inspecting container {spec.name}"):
        ct = engine.get_container(cl, spec.name)
        return None if ct is None else status_of(spec, ct.attrs)


def _start(spec: Service, ct, made: bool) -> None:
    """Start ``ct``; on refusal a new container is removed (its log read first), an existing one kept."""
    try:
        engine.start(ct)
    except engine.StartFailed as e:
        output = _logs_of(spec, ct, 20)
        if made:
            with contextlib.suppress(Exception):
                ct.remove(force=True, v=True)
        if e.port_taken:
            raise port_taken(spec, f"another container or process (Docker: {e.short(160)})") from None
        what = f"could not start container {spec.name}: {e.short(400).rstrip('.?! ')}"
        what += (". The new container was removed" + (f" (volume {spec.volume} kept)" if spec.volume else "")) if made else ""
        fix = f"the cause above (often {spec.kind}.image or {spec.kind}.command), then run again"
        problem = Problem(what, fix if made else fix + "; the container is kept, so `inv infra.logs` shows its earlier output")
        problem.message = (problem.message or "") + log_block("the container", output)
        raise problem from None


def _check(cl, spec: Service, ct) -> list[str]:
    """What the real run finds in the way, raised as a Problem (the same checks under --dry); else the differences of a
    container that keeps no data and is made again."""
    changed = [] if ct is None else differences(spec, ct.attrs)
    if ct is not None and not is_ours(spec, ct.attrs):
        raise refuse_foreign(spec, "use")
    if changed and spec.volume:
        raise mismatch(spec, ct.attrs, changed)
    if ct is None or changed or ct.status not in ("running", "paused"):
        holder = ports.holder(cl, spec.host_ip, spec.host_port, spec.name, engine.endpoint().is_local)
        if holder:
            raise port_taken(spec, holder)
    return changed


def mismatch(spec: Service, attrs: dict, changed: list[str]) -> Problem:
    """A data-keeping container made from other settings: set them back first; recreating only from its own checkout."""
    _, port = published(attrs, spec.internal_port)
    back = f"DATABASE_PORT={port} in .env" if port and port != spec.host_port and spec.kind == "postgres" else "the setting"
    fix = f"set {back} back to the container's value (its data is kept)"
    other = elsewhere(spec, attrs)
    made, way = "", ", or `inv infra.destroy` to recreate it (deletes its data)"
    if other:
        made, way = f" (made by the checkout at {other})", "; it holds that checkout's data: remove it only from there"
    return Problem(f"container {spec.name}{made} already exists with another {'; '.join(changed)}", fix + way)


def ensure_running(spec: Service) -> Status:
    """Get, create or start our container (never a second one); a Problem on anything in the way."""
    # Warm path: already running as configured, seen without importing the SDK.
    attrs = engine.container_attrs(spec.name)
    if attrs and is_ours(spec, attrs) and not differences(spec, attrs) and (attrs.get("State") or {}).get("Status") == "running":
        return status_of(spec, attrs, "reused")
    cl = engine.client()
    with engine.docker_errors(f"preparing container {spec.name}"):
        ct = engine.get_container(cl, spec.name)
        changed, action = _check(cl, spec, ct), "created"
        if ct is not None and not changed:
            if ct.status == "running":
                return status_of(spec, ct.attrs, "reused")
            if ct.status == "paused":
                ct.unpause()
                ct.reload()
            else:
                _start(spec, ct, made=False)
            return status_of(spec, ct.attrs, "started")
        if ct is not None:
            print(f"{spec.kind}: making container {spec.name} again ({'; '.join(changed)}; it keeps no data)", flush=True)
            ct.remove(force=True, v=True)
            action = "recreated"
        if engine.lookup(cl.images, spec.image) is None:
            print(f"pulling image {spec.image} (not present locally)...", flush=True)
            try:
                engine.pull_image(cl, spec.image)
            except engine.PullFailed as e:
                setting = f"{spec.kind}.image"
                fix = f"`docker pull {spec.image}` (or build/load it), or set"
                fix += f" {setting} (INVOKE_{spec.kind.upper()}_IMAGE) to an image you have"
                raise Problem(f"image {spec.image} is not present and pulling it failed: {e.short(160)}", fix, setting) from None
        if spec.volume and engine.lookup(cl.volumes, spec.volume) is None:  # an existing one keeps its data, ours or not
            cl.volumes.create(name=spec.volume, labels={LABEL: f"{spec.kind}-data", **spec.checkout_label})
        try:
            ct = engine.create_container(cl, spec.create_kwargs())
        except engine.Conflict:  # another run won the race
            return ensure_running(spec)
        _start(spec, ct, made=True)
        return status_of(spec, ct.attrs, action)


def plan(spec: Service) -> str:
    """What ensure_running would do, after the same checks (a Problem when the real run would fail), for `inv --dry`."""
    create = f"would create container {spec.name} from image {spec.image} ({spec.origin('image')})"
    create += f", volume {spec.volume} at {spec.data_dir}" if spec.volume else ""
    create += f", {spec.address} -> {spec.internal_port.split('/')[0]}"
    create += f", command `{shlex.join(spec.command)}`" if spec.command else ""
    create += f", cap {', '.join(spec.cap_add)}" if spec.cap_add else ""
    cl = engine.client()
    with engine.docker_errors(f"inspecting container {spec.name}"):
        ct = engine.get_container(cl, spec.name)
        changed = _check(cl, spec, ct)
        pull = "" if engine.lookup(cl.images, spec.image) is not None else f" (image {spec.image} not present: would pull it first)"
    if ct is None:
        return create + pull
    if changed:
        return f"would make container {spec.name} again ({'; '.join(changed)}; it keeps no data){pull}"
    if ct.status == "running":
        return f"would reuse running container {spec.name} ({status_of(spec, ct.attrs).published})"
    return f"would start stopped container {spec.name} ({ct.status}, {status_of(spec, ct.attrs).published})"


def alive(spec: Service) -> str | None:
    """For the readiness loop: why the container cannot answer any more (gone, stopped), else None."""
    attrs = engine.container_attrs(spec.name)
    if attrs is None:
        try:
            ct = engine.get_container(engine.client(), spec.name)
        except Exception:  # cannot tell: keep waiting
            return None
        if ct is None:
            return f"container {spec.name} disappeared"
        attrs = ct.attrs
    state = attrs.get("State") or {}
    if state.get("Status") in ("exited", "dead"):
        return f"container {spec.name} stopped ({state.get('Status')}, exit code {state.get('ExitCode')})"
    return None


def _ours(spec: Service, doing: str, verb: str):
    """Our container (None when absent), under docker_errors; someone else's is refused (under --dry too)."""
    with engine.docker_errors(f"{doing} container {spec.name}"):
        ct = engine.get_container(engine.client(), spec.name)
    if ct is not None and not is_ours(spec, ct.attrs):
        raise refuse_foreign(spec, verb)
    return ct


def refuse_elsewhere(spec: Service, other: str) -> Problem:
    what = f"container {spec.name} and volume {spec.volume} hold the database of the checkout at {other}"
    fix = f"run `inv infra.destroy` in {other} if you mean to, or unset postgres.container and postgres.volume for this checkout's own"
    return Problem(f"{what}; inv will not remove them from here", fix, "postgres.container")


def stop(spec: Service, dry: bool = False) -> str:
    """Stop our container (data kept); what happened (or, ``dry``, would), as one line."""
    kept = f"; data kept in volume {spec.volume}" if spec.volume else " (it keeps no data)"
    ct = _ours(spec, "stopping", "stop")
    with engine.docker_errors(f"stopping container {spec.name}"):
        if ct is None:
            return f"container {spec.name} does not exist; nothing to stop"
        if ct.status not in ("running", "paused", "restarting"):
            return f"container {spec.name} is already stopped ({ct.status}){kept}"
        if dry:
            return f"would stop container {spec.name} ({ct.status}){kept}"
        ct.stop(timeout=20)
        return f"stopped container {spec.name}{kept}"


def remove(spec: Service) -> list[str]:
    """Remove our container (with its anonymous volumes) and our data volume; one line per thing done or kept."""
    ct = _ours(spec, "removing", "remove")
    with engine.docker_errors(f"removing container {spec.name}"):
        vol = engine.lookup(engine.client().volumes, spec.volume) if spec.volume else None
        other = next((elsewhere(spec, thing.attrs) for thing in (ct, vol) if thing is not None and elsewhere(spec, thing.attrs)), "")
        if other:
            raise refuse_elsewhere(spec, other)
        if ct is not None:
            ct.remove(force=True, v=True)
        done = [f"removed container {spec.name}" if ct else f"container {spec.name} does not exist"]
        if not spec.volume:
            return done if ct else []
        if vol is None:
            return [*done, f"volume {spec.volume} does not exist"]
        if (vol.attrs.get("Labels") or {}).get(LABEL) != f"{spec.kind}-data":
            kept = f"kept volume {spec.volume}: it was not created by inv (no label {LABEL}); remove it yourself if you mean to"
            return [*done, f"{kept} (docker volume rm {spec.volume})"]
        vol.remove(force=True)
        return [*done, f"removed volume {spec.volume}"]


def _text(spec: Service, raw) -> str:
    return mask_text(raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or ""), spec.secrets)


def _logs_of(spec: Service, ct, n: int) -> str:
    """The last ``n`` log lines of ``ct``, masked; '' on any error (garnish on a message)."""
    try:
        return _text(spec, ct.logs(tail=n, stdout=True, stderr=True)).rstrip("\n")
    except Exception:
        return ""


def _quietly(spec: Service):
    """The container, or None when there is none or no engine (for garnish on a message)."""
    try:
        return engine.get_container(engine.client(), spec.name)
    except Exception:
        return None


def logs_tail(spec: Service, n: int = 20) -> str:
    return _logs_of(spec, ct, n) if (ct := _quietly(spec)) is not None else ""


def read_logs(spec: Service, tail: int, follow: bool = False) -> Iterator[str]:
    """The container's log text (``follow``: streamed until it stops or Ctrl-C), masked."""
    ct = _ours(spec, "reading logs of", "read")
    if ct is None:
        raise Problem(f"container {spec.name} does not exist", "`inv infra.up`")
    with engine.docker_errors(f"reading logs of {spec.name}"):
        if not follow:
            yield _text(spec, ct.logs(tail=tail, stdout=True, stderr=True))
            return
        for chunk in ct.logs(stream=True, follow=True, tail=tail, stdout=True, stderr=True):
            yield _text(spec, chunk)


def read_file(spec: Service, path_script: str, environment: dict[str, str]) -> str | None:
    """Run ``sh -c path_script`` in our running container and return its stdout; None when it cannot."""
    ct = _quietly(spec)
    if ct is None or not is_ours(spec, ct.attrs) or ct.status != "running":
        return None
    return engine.exec_output(ct, ["sh", "-c", path_script], environment=environment)
