"""What the Vault container is made from: ``VaultSpec`` (the vault.* settings) and its labels.

Shaped like Firezone's compose service: image ``vault:1.13.3``, dev mode, root token
from ``VAULT_DEV_ROOT_TOKEN_ID`` (the container's environment, never argv), port 8200,
cap IPC_LOCK. The port is published on ``vault.host_ip`` (127.0.0.1) only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tasks.lib import config
from tasks.lib.postgres.spec import LABEL

LABEL_VALUE = "vault"
INTERNAL_PORT = "8200/tcp"
# Firezone's published dev token (docker-compose.yml, the acceptance tests): like
# "postgres", not a secret, and masking it would garble every "firezone-..." name.
PUBLIC_TOKENS = frozenset({"firezone"})


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
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    def env(self) -> dict[str, str]:
        """The container's environment, as vault:1.13.3's entrypoint takes it."""
        return {"VAULT_DEV_ROOT_TOKEN_ID": self.token, "VAULT_DEV_LISTEN_ADDRESS": "0.0.0.0:8200"}

    def client_env(self) -> dict[str, str]:
        """What the tests get to find it: the standard VAULT_ADDR and VAULT_TOKEN."""
        return {"VAULT_ADDR": self.url, "VAULT_TOKEN": self.token}

    def secrets(self) -> list[str]:
        """Values to mask in what we print (the published dev token is not one)."""
        return [] if self.token in PUBLIC_TOKENS or len(self.token) < 4 else [self.token]

    def labels(self) -> dict[str, str]:
        return {LABEL: LABEL_VALUE}


def spec_from_config(c) -> VaultSpec:
    token = config.text(c, "vault", "token")
    if any(ch.isspace() for ch in token):
        raise config.bad(c, "vault", "token", "****", "a token without spaces")
    return VaultSpec(
        image=config.text(c, "vault", "image"),
        container=config.text(c, "vault", "container"),
        host_ip=config.text(c, "vault", "host_ip"),
        port=_port(c),
        token=token,
        ready_timeout=config.positive(c, "vault", "ready_timeout"),
        poll_interval=config.positive(c, "vault", "poll_interval"),
    )


def _port(c) -> int:
    port = config.whole(c, "vault", "port", minimum=1)
    if port > 65535:
        raise config.bad(c, "vault", "port", port, "a port number (1-65535)")
    return port


def create_kwargs(spec: VaultSpec) -> dict[str, Any]:
    """containers.create() arguments: the token in the environment, the port on host_ip only."""
    return {
        "image": spec.image,
        "name": spec.container,
        "environment": spec.env(),
        "labels": spec.labels(),
        "ports": {INTERNAL_PORT: (spec.host_ip, spec.port)},
        "cap_add": ["IPC_LOCK"],
        "detach": True,
    }
