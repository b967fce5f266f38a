"""The Vault dev server of the acceptance tests (elixir.test --acceptance): a service container shaped like Firezone's
compose service, ready when GET /v1/sys/health answers unsealed."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from invoke import Exit

from tasks.lib import config, readiness
from tasks.lib.console import dry
from tasks.lib.docker import engine, service

HEALTH = "/v1/sys/health"
# Answers that mean "up and unsealed": active (200), standby (429), performance standby (472, 473).
READY_CODES = (200, 429, 472, 473)
# Firezone's published dev token: like "postgres", not a secret (masking it would garble firezone-* names).
PUBLIC_TOKENS = frozenset({"firezone"})
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # the server is on this machine


@dataclass(frozen=True)
class VaultSpec:
    image: str
    container: str
    host_ip: str
    port: int
    token: str = field(repr=False)
    ready_timeout: float = 30.0
    poll_interval: float = 0.1

    @property
    def address(self) -> str:
        return f"{self.host_ip}:{self.port}"

    @property
    def url(self) -> str:
        host = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '[::]') else host}:{self.port}"

    def client_env(self) -> dict[str, str]:
        """What the tests get to find it: the standard VAULT_ADDR and VAULT_TOKEN."""
        return {"VAULT_ADDR": self.url, "VAULT_TOKEN": self.token}

    def secrets(self) -> list[str]:
        """Values to mask in what we print (the published dev token is not one)."""
        return [] if self.token in PUBLIC_TOKENS or len(self.token) < 4 else [self.token]

    @property
    def service(self) -> service.Service:
        return service.Service(
            kind="vault",
            name=self.container,
            image=self.image,
            internal_port="8200/tcp",
            host_ip=self.host_ip,
            host_port=self.port,
            env={"VAULT_DEV_ROOT_TOKEN_ID": self.token, "VAULT_DEV_LISTEN_ADDRESS": "0.0.0.0:8200"},
            origins={"port": "setting vault.port", "host_ip": "setting vault.host_ip", "VAULT_DEV_ROOT_TOKEN_ID": "setting vault.token"},
            compared_env={"VAULT_DEV_ROOT_TOKEN_ID": "root token"},
            cap_add=("IPC_LOCK",),
            secrets=tuple(self.secrets()),
            port_fix="set vault.port (INVOKE_VAULT_PORT) to a free port (Firezone's tests expect 8200 unless they read VAULT_ADDR)",
        )


def spec_from_config(s: config.Settings) -> VaultSpec:
    token = s.text("vault", "token")
    if any(ch.isspace() for ch in token):
        raise s.bad("vault", "token", "****", "a token without spaces")
    port = s.whole("vault", "port", minimum=1)
    if port > 65535:
        raise s.bad("vault", "port", port, "a port number (1-65535)")
    image, container, host_ip = (s.text("vault", key) for key in ("image", "container", "host_ip"))
    return VaultSpec(image, container, host_ip, port, token, s.positive("vault", "ready_timeout"), s.positive("vault", "poll_interval"))


def probe(url: str, timeout: float = 1.0) -> tuple[bool, str]:
    """``(ready, what it answered)`` for one `GET /v1/sys/health`."""
    try:
        with _opener.open(url + HEALTH, timeout=timeout) as answer:
            return answer.status in READY_CODES, f"HTTP {answer.status}"
    except urllib.error.HTTPError as e:
        meaning = {501: " (not initialised)", 503: " (sealed)"}.get(e.code, "")
        return e.code in READY_CODES, f"HTTP {e.code}{meaning}"
    except urllib.error.URLError as e:
        return False, str(getattr(e.reason, "strerror", None) or e.reason)
    except (OSError, http.client.HTTPException) as e:
        return False, str(e) or e.__class__.__name__


def target(spec: VaultSpec) -> readiness.Target:
    def answer() -> str | None:
        ready, said = probe(spec.url, timeout=min(2.0, max(0.2, spec.ready_timeout)))
        return None if ready else f"{HEALTH} answered {said}"

    svc = spec.service
    fix = f"read its log (docker logs {spec.container}); if it is only slow, raise vault.ready_timeout; then run the same `inv elixir.test`"
    fix += " command again"
    alive, logs = lambda: service.alive(svc), lambda: service.logs_tail(svc)
    return readiness.Target(f"Vault at {spec.url}", answer, lambda *_: fix, alive=alive, logs=logs, secrets=svc.secrets)


def bring_up(s: config.Settings) -> VaultSpec:
    """Vault up and answering /v1/sys/health; one summary line. Under --dry: the plan only."""
    spec = spec_from_config(s)
    if s.dry:
        dry(service.plan(spec.service) + ", dev mode, root token from its environment (VAULT_DEV_ROOT_TOKEN_ID)")
        dry(f"would wait up to {spec.ready_timeout:g} s for GET {spec.url}{HEALTH} to answer (not just the port)")
        return spec
    start = time.monotonic()
    status = service.ensure_running(spec.service)
    waited = readiness.wait(target(spec), spec.ready_timeout, spec.poll_interval)
    container = f"container {status.name} {status.said}, image {status.image}, published on {status.published}"
    print(f"Vault ready at {spec.url} ({container}) in {time.monotonic() - start:.2f} s (health answered after {waited:.2f} s)", flush=True)
    return spec


def stop(spec: VaultSpec, dry_run: bool, remove: bool = False) -> None:
    """infra.down/destroy: stop (or remove) our Vault container when it exists; silent when there is
    none or no engine (the local backend runs without Docker); a foreign one is left alone, said."""
    status = service.inspect(spec.service) if engine.answers() else None
    if status is not None and not status.ours:
        print(f"vault: container {spec.container} is not ours (no label {service.LABEL}=vault); left alone", flush=True)
    elif status is not None and dry_run:
        dry(f"would {'remove' if remove else 'stop'} container {spec.container} ({status.state})")
    elif status is not None:
        for line in service.remove(spec.service) if remove else [service.stop(spec.service)]:
            print(line, flush=True)


def status_row(s: config.Settings) -> tuple[str, str]:
    """The `vault` row of dev.status and infra.status."""
    try:
        spec = spec_from_config(s)
        if not engine.answers():
            return ("vault", "no Docker engine answers, so no Vault container (only elixir.test --acceptance needs them)")
        status = service.inspect(spec.service)
    except Exit as e:
        return ("vault", f"unknown: {e.message}")
    if status is None:
        return ("vault", f"{spec.container}: absent (inv elixir.test --acceptance creates it)")
    if not status.ours:
        return ("vault", f"{status.name}: NOT ours (no label {service.LABEL}=vault), inv will not touch it")
    text = f"{status.name}: {status.state}, {status.published}, image {status.image}"
    if status.running:
        ready, answer = probe(spec.url)
        text += f", {'answers' if ready else 'does not answer'} {HEALTH} ({answer})"
    return ("vault", text)
