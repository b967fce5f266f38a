"""The Vault container's lifecycle: get-or-create-or-start, wait, stop, remove, status.

Like the Postgres container (tasks/lib/postgres/container.py): only a container carrying
our label (``dev.firezone.inv=vault``) is ever changed; a same-named one without it is
refused in one line. Dev-mode Vault keeps nothing (in memory, no volume), so a container
of ours made from other settings (image, port) is simply made again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from invoke import Exit

from tasks.lib.console import dry, is_dry
from tasks.lib.masking import mask_text
from tasks.lib.postgres import engine, engine_api, ports
from tasks.lib.postgres.attrs import foreign_refusal, is_ours, plan_text, published
from tasks.lib.vault import health
from tasks.lib.vault.spec import INTERNAL_PORT, LABEL, LABEL_VALUE, VaultSpec, create_kwargs, spec_from_config


@dataclass(frozen=True)
class VaultStatus:
    name: str
    id: str
    state: str
    image: str
    host_ip: str | None
    host_port: int | None
    ours: bool
    action: str = ""

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def published(self) -> str:
        return "not published" if self.host_port is None else f"{self.host_ip or '0.0.0.0'}:{self.host_port}"


def status_of(attrs: dict, action: str = "") -> VaultStatus:
    ip, port = published(attrs, INTERNAL_PORT)
    return VaultStatus(
        name=(attrs.get("Name") or "").lstrip("/"),
        id=attrs.get("Id", ""),
        state=(attrs.get("State") or {}).get("Status", "unknown"),
        image=(attrs.get("Config") or {}).get("Image", ""),
        host_ip=ip,
        host_port=port,
        ours=is_ours(attrs, LABEL_VALUE),
        action=action,
    )


def differs(spec: VaultSpec, attrs: dict) -> str | None:
    """What about our existing container the settings changed (then it is made again)."""
    image = (attrs.get("Config") or {}).get("Image", "")
    if image != spec.image:
        return f"image {image}, settings say {spec.image}"
    ip, port = published(attrs, INTERNAL_PORT)
    if (ip, port) != (spec.host_ip, spec.port):
        return f"published on {ip}:{port}, settings say {spec.address}"
    env = dict(item.partition("=")[::2] for item in (attrs.get("Config") or {}).get("Env") or [])
    if env.get("VAULT_DEV_ROOT_TOKEN_ID") != spec.token:
        return "another root token (setting vault.token)"
    return None


def refuse_foreign(spec: VaultSpec, doing: str) -> Exit:
    return foreign_refusal(spec.container, LABEL_VALUE, "vault.container", doing)


def inspect(spec: VaultSpec) -> VaultStatus | None:
    cl = engine.client()
    with engine.docker_errors(f"inspecting container {spec.container}"):
        ct = engine.get_container(cl, spec.container)
        return None if ct is None else status_of(ct.attrs)


def _port_taken(spec: VaultSpec, holder: str) -> Exit:
    return Exit(
        f"host port {spec.address} (setting vault.port) is already taken by {holder}; Vault cannot be published there."
        f" Fix: stop it, or set vault.port (INVOKE_VAULT_PORT) to a free port (Firezone's tests expect 8200"
        f" unless they read VAULT_ADDR)"
    )


def _check_port(cl, spec: VaultSpec) -> None:
    holder = ports.port_holder_container(cl, spec.host_ip, spec.port, exclude=spec.container)
    if holder:
        raise _port_taken(spec, f"container {holder}")
    if engine.is_on_this_machine() and not ports.port_is_free(spec.host_ip, spec.port):
        who = ports.port_holder_process(spec.port)
        raise _port_taken(spec, f"another process, {who}" if who else "another process")


def _logs_of(ct, spec: VaultSpec, n: int = 20) -> str:
    try:
        raw = ct.logs(tail=n, stdout=True, stderr=True)
    except Exception:  # garnish on an error message
        return ""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")
    return mask_text(text, spec.secrets()).rstrip("\n")


def ensure_running(spec: VaultSpec) -> VaultStatus:
    """Get, create or start our Vault container; Exit on anything in the way."""
    attrs = engine_api.container_attrs(spec.container)  # warm path, no SDK
    if attrs and is_ours(attrs, LABEL_VALUE) and not differs(spec, attrs) and (attrs.get("State") or {}).get("Status") == "running":
        return status_of(attrs, "reused")
    cl = engine.client()
    with engine.docker_errors(f"preparing container {spec.container}"):
        ct = engine.get_container(cl, spec.container)
        action = "created"
        if ct is not None:
            if not is_ours(ct.attrs, LABEL_VALUE):
                raise refuse_foreign(spec, "use")
            changed = differs(spec, ct.attrs)
            if changed is None and ct.status == "running":
                return status_of(ct.attrs, "reused")
            if changed is None:
                _check_port(cl, spec)
                try:
                    engine.start(ct)
                except engine.StartFailed as e:
                    raise _start_error(spec, e, _logs_of(ct, spec))
                return status_of(ct.attrs, "started")
            print(f"vault: making container {spec.container} again ({changed}; dev mode keeps no data)", flush=True)
            ct.remove(force=True)
            action = "recreated"
        if not engine.image_present(cl, spec.image):
            print(f"pulling image {spec.image} (not present locally)...", flush=True)
            try:
                engine.pull_image(cl, spec.image)
            except engine.PullFailed as e:
                raise Exit(
                    f"image {spec.image} is not present and pulling it failed: {e.short(160)}."
                    f" Fix: `docker pull {spec.image}` (or build one: tests/images/vault/build.sh), or set vault.image"
                    " (INVOKE_VAULT_IMAGE) to an image you have"
                )
        _check_port(cl, spec)
        try:
            ct = engine.create_container(cl, **create_kwargs(spec))
        except engine.Conflict:  # another run made it meanwhile
            return ensure_running(spec)
        try:
            engine.start(ct)
        except engine.StartFailed as e:
            output = _logs_of(ct, spec)
            engine.remove_quietly(ct)
            raise _start_error(spec, e, output)
        return status_of(ct.attrs, action)


def _start_error(spec: VaultSpec, e: engine.EngineError, log_text: str) -> Exit:
    text = e.short(400)
    if "port is already allocated" in text or "address already in use" in text:
        return _port_taken(spec, "another container or process (Docker: " + e.short(160) + ")")
    message = f"could not start container {spec.container}: {text.rstrip('.?! ')}. Fix: the cause above (often vault.image), then run again"
    if log_text.strip():
        message += "\nLast log lines of the container:\n" + "\n".join("  " + ln for ln in log_text.splitlines())
    return Exit(message)


def _alive(spec: VaultSpec):
    def check() -> str | None:
        attrs = engine_api.container_attrs(spec.container)
        if attrs is None:
            return None  # cannot tell without the SDK: keep waiting
        state = (attrs.get("State") or {}).get("Status")
        if state in ("exited", "dead"):
            return f"exited (code {(attrs.get('State') or {}).get('ExitCode')})"
        return None

    return check


def logs_tail(spec: VaultSpec, n: int = 20) -> str:
    try:
        cl = engine.client()
        ct = engine.get_container(cl, spec.container)
    except Exception:  # garnish on an error message
        return ""
    return "" if ct is None else _logs_of(ct, spec, n)


def plan(spec: VaultSpec) -> str:
    create = (
        f"would create container {spec.container} from image {spec.image} (vault.image), dev mode,"
        f" root token from its environment (VAULT_DEV_ROOT_TOKEN_ID), {spec.address} -> 8200, cap IPC_LOCK"
    )
    try:
        status = inspect(spec)
    except Exit as e:
        return f"{create} (could not ask the engine: {e.message})"
    return plan_text(create, status, spec.container, f"{LABEL}={LABEL_VALUE}")


def bring_up(c) -> VaultSpec:
    """Vault up and answering /v1/sys/health; one summary line. Under --dry: the plan only."""
    spec = spec_from_config(c)
    if is_dry(c):
        dry(plan(spec))
        dry(f"would wait up to {spec.ready_timeout:g} s for GET {spec.url}{health.HEALTH} to answer (not just the port)")
        return spec
    start = time.monotonic()
    status = ensure_running(spec)
    waited = health.wait_ready(
        spec.url,
        timeout=spec.ready_timeout,
        interval=spec.poll_interval,
        container=spec.container,
        alive=_alive(spec),
        logs=lambda: logs_tail(spec),
    )
    verb = {"reused": "already running"}.get(status.action, status.action)
    print(
        f"Vault ready at {spec.url} (container {status.name} {verb}, image {status.image}, published on"
        f" {status.published}) in {time.monotonic() - start:.2f} s (health answered after {waited:.2f} s)",
        flush=True,
    )
    return spec


# ---------------------------------------------------------------------------
# what infra.down, infra.destroy and the status tables do to it


def _existing(spec: VaultSpec) -> VaultStatus | None:
    """The container, or None when there is none, or no engine to have one (the local
    Postgres backend runs without Docker: infra.down and infra.destroy must still work)."""
    return inspect(spec) if _engine_answers() else None


def _engine_answers() -> bool:
    try:
        engine.client()
    except Exit:
        return False
    return True


def _ours(c, doing: str) -> tuple[VaultSpec, VaultStatus] | None:
    """Our Vault container for infra.down/destroy; None (said, when it is someone else's)
    when there is none to ``doing``, or under --dry (the plan line printed)."""
    spec = spec_from_config(c)
    status = _existing(spec)
    if status is None:
        return None
    if not status.ours:
        print(f"vault: container {spec.container} is not ours (no label {LABEL}={LABEL_VALUE}); left alone", flush=True)
        return None
    if is_dry(c):
        dry(f"would {doing} container {spec.container} ({status.state})")
        return None
    return spec, status


def stop(c) -> None:
    """infra.down: stop our Vault container when it exists (silent when it does not)."""
    found = _ours(c, "stop")
    if found is None:
        return
    spec, status = found
    if status.state not in ("running", "paused", "restarting"):
        print(f"container {spec.container} is already stopped ({status.state})", flush=True)
        return
    with engine.docker_errors(f"stopping container {spec.container}"):
        ct = engine.get_container(engine.client(), spec.container)
        if ct is not None:
            ct.stop(timeout=10)
    print(f"stopped container {spec.container} (Vault dev mode keeps no data)", flush=True)


def remove(c) -> None:
    """infra.destroy: remove our Vault container when it exists (it has no volume)."""
    found = _ours(c, "remove")
    if found is None:
        return
    spec, _ = found
    with engine.docker_errors(f"removing container {spec.container}"):
        ct = engine.get_container(engine.client(), spec.container)
        if ct is not None:
            ct.remove(force=True)
    print(f"removed container {spec.container}", flush=True)


def status_row(c) -> tuple[str, str]:
    """The `vault` row of dev.status and infra.status."""
    try:
        spec = spec_from_config(c)
        if not _engine_answers():
            return ("vault", "no Docker engine answers, so no Vault container (only elixir.test --acceptance needs them)")
        status = inspect(spec)
    except Exit as e:
        return ("vault", f"unknown: {e.message}")
    if status is None:
        return ("vault", f"{spec.container}: absent (inv elixir.test --acceptance creates it)")
    if not status.ours:
        return ("vault", f"{status.name}: NOT ours (no label {LABEL}={LABEL_VALUE}), inv will not touch it")
    text = f"{status.name}: {status.state}, {status.published}, image {status.image}"
    if status.running:
        ready, answer = health.probe(spec.url)
        text += f", {'answers' if ready else 'does not answer'} {health.HEALTH} ({answer})"
    return ("vault", text)
