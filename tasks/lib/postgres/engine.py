"""The Docker SDK, wrapped: the one module in tasks/ that imports `docker` (or `requests`).

It holds which engine the suite talks to (resolved by endpoint.py as the docker CLI
does), the client built for it (pinged once, cached per engine, one `Exit` line when
unreachable), and small calls that turn the SDK's exceptions into ours: None for "no
such thing", or ``Conflict``, ``StartFailed``, ``PullFailed`` (all ``EngineError``).
Anything else the SDK raises inside ``docker_errors`` becomes one `Exit` line naming
what we were doing. No other module catches ``docker.errors``.

The SDK (with requests and urllib3, ~0.15 s) is imported inside the functions that use
it, so importing this module costs nothing: `inv --list` and the warm path
(engine_api.py) never load it.
"""

from __future__ import annotations

import contextlib
import gc
import re
import warnings as pywarnings
from collections.abc import Iterator
from typing import Any

from invoke import Exit

from tasks.lib.postgres import endpoint as endpoints

# ---------------------------------------------------------------------------
# which engine


def endpoint() -> endpoints.Endpoint:
    """The engine, found as the docker CLI finds it (endpoint.py), or Exit saying why not."""
    try:
        return endpoints.resolve()
    except endpoints.EndpointError as e:
        raise Exit(str(e))


def docker_host() -> str:
    return endpoint().host


def where() -> str:
    """The engine's address and where it came from, for messages."""
    return endpoint().describe()


def is_on_this_machine() -> bool:
    """True when the engine runs on this machine, so its published ports are this machine's."""
    return endpoint().is_local


def tls_config(ep: endpoints.Endpoint):
    """The SDK's TLSConfig for a TCP endpoint with TLS files (the context's, or DOCKER_CERT_PATH); else None."""
    if ep.tls_dir is None or ep.is_local:
        return None
    from docker.tls import TLSConfig

    ca, cert, key = (ep.tls_dir / f for f in ("ca.pem", "cert.pem", "key.pem"))
    return TLSConfig(
        client_cert=(str(cert), str(key)) if cert.is_file() and key.is_file() else None,
        ca_cert=str(ca) if ca.is_file() else None,
        verify=ep.tls_verify,
    )


def unreachable_fix(ep: endpoints.Endpoint, reason: str) -> str:
    if "permission denied" in reason.lower():
        return "add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again) or run with access to the socket"
    if ep.context and ep.context != endpoints.DEFAULT_CONTEXT:
        return (
            f"start the engine context {ep.context} points at (Docker Desktop, `colima start`, OrbStack, Rancher Desktop...),"
            " or pick another: `docker context ls`, then `docker context use NAME` or DOCKER_CONTEXT"
        )
    return "start it (Docker Desktop, `sudo systemctl start docker`, or `dockerd`), or point DOCKER_HOST at a running engine"


_client = None
_client_endpoint: endpoints.Endpoint | None = None


def client():
    """A Docker client that has answered a ping, or Exit saying which engine and what to start."""
    global _client, _client_endpoint
    ep = endpoint()
    if _client is not None and _client_endpoint == ep:
        return _client
    import docker

    failure = None
    try:
        # Not docker.from_env(): it ignores DOCKER_CONTEXT (7.2) or every context (7.1).
        cl = docker.DockerClient(base_url=ep.host, tls=tls_config(ep) or False, timeout=30, use_ssh_client=ep.host.startswith("ssh://"))
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
        raise Exit(f"Docker engine not reachable at {ep.describe()}: {reason}. Fix: {unreachable_fix(ep, reason)}")
    _client, _client_endpoint = cl, ep
    return cl


# ---------------------------------------------------------------------------
# errors


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


class EngineError(Exception):
    """An SDK call failed in a way the caller handles; str() is the engine's reason, one line."""

    def __init__(self, error: BaseException):
        super().__init__(short_error(error))
        self.error = error

    def short(self, limit: int = 200) -> str:
        """The engine's reason, cut to ``limit`` characters."""
        return short_error(self.error, limit)


class Conflict(EngineError):
    """The engine answered 409: a container with that name exists (another run won the race)."""


class StartFailed(EngineError):
    """The engine refused to start a container (a port taken, a bad mount...)."""


class PullFailed(EngineError):
    """An image could not be pulled (no registry, no such image...)."""


@contextlib.contextmanager
def docker_errors(doing: str) -> Iterator[None]:
    """Turn an unexpected Docker SDK error into one Exit line naming what we were doing."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.RequestException, EngineError) as e:
        raise Exit(f"Docker failed while {doing}: {short_error(e)}")


# ---------------------------------------------------------------------------
# containers


def get_container(cl, name: str):
    """The container named exactly ``name``, or None."""
    import docker.errors

    try:
        ct = cl.containers.get(name)
    except docker.errors.NotFound:
        return None
    # containers.get also matches ids: only an exact name counts.
    if (ct.attrs.get("Name") or "").lstrip("/") != name:
        return None
    return ct


def create_container(cl, **kwargs: Any):
    """``containers.create(**kwargs)``; Conflict when the name is taken."""
    import docker.errors

    try:
        return cl.containers.create(**kwargs)
    except docker.errors.APIError as e:
        if getattr(e, "status_code", None) == 409:
            raise Conflict(e) from e
        raise


def start(ct) -> None:
    """Start the container and refresh its attrs; StartFailed when the engine refuses."""
    import docker.errors

    try:
        ct.start()
    except docker.errors.APIError as e:
        raise StartFailed(e) from e
    ct.reload()


def remove_quietly(ct) -> None:
    """Force-remove the container, ignoring any engine error (cleanup after a failure)."""
    import docker.errors

    with contextlib.suppress(docker.errors.DockerException):
        ct.remove(force=True)


def exec_output(ct, argv: list[str], environment: dict[str, str] | None = None) -> str | None:
    """Run ``argv`` in the running container and return its stdout; None when it fails or cannot run."""
    import docker.errors
    import requests.exceptions

    try:
        code, out = ct.exec_run(argv, environment=environment, stdout=True, stderr=False, demux=False)
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return None
    if code != 0:
        return None
    return out.decode(errors="replace") if isinstance(out, bytes) else str(out or "")


def running_summaries(cl) -> list[dict]:
    """The running containers as the engine lists them (names, ports), without inspecting each."""
    return cl.api.containers()


def server_version(cl) -> str:
    """The engine's version, or Exit."""
    with docker_errors("asking the engine its version"):
        return cl.version().get("Version", "?")


# ---------------------------------------------------------------------------
# images and volumes


def image_present(cl, image: str) -> bool:
    import docker.errors

    try:
        cl.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def pull_image(cl, image: str) -> None:
    """Pull ``image`` (tag ``latest`` when it names none); PullFailed when that fails."""
    import docker.errors
    from docker.utils import parse_repository_tag

    repo, tag = parse_repository_tag(image)
    try:
        cl.images.pull(repo, tag=tag or "latest")
    except (docker.errors.DockerException, OSError) as e:
        raise PullFailed(e) from e


def get_volume(cl, name: str):
    """The volume ``name``, or None."""
    import docker.errors

    try:
        return cl.volumes.get(name)
    except docker.errors.NotFound:
        return None


def ensure_volume(cl, name: str, labels: dict[str, str]) -> None:
    """Create volume ``name`` with ``labels`` unless it exists (an existing one keeps its data, ours or not)."""
    if get_volume(cl, name) is None:
        cl.volumes.create(name=name, labels=labels)
