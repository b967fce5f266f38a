"""The Docker engine: the SDK client (the one module importing `docker` and `requests`, inside functions: ~0.15 s),
its errors turned into ours, and a stdlib GET on the unix socket for the warm path."""

from __future__ import annotations

import contextlib
import gc
import json
import re
import socket
import warnings as pywarnings
from collections.abc import Iterator
from urllib.parse import quote

from invoke import Exit

from tasks.lib.docker import endpoint as endpoints
from tasks.lib.problem import Problem


def endpoint() -> endpoints.Endpoint:
    return endpoints.resolve()


def where() -> str:
    return endpoint().describe()


def tls_config(ep: endpoints.Endpoint):
    if ep.tls_dir is None or ep.is_local:
        return None
    from docker.tls import TLSConfig

    ca, cert, key = (ep.tls_dir / f for f in ("ca.pem", "cert.pem", "key.pem"))
    client_cert = (str(cert), str(key)) if cert.is_file() and key.is_file() else None
    return TLSConfig(client_cert=client_cert, ca_cert=str(ca) if ca.is_file() else None, verify=ep.tls_verify)


def unreachable_fix(ep: endpoints.Endpoint, reason: str) -> str:
    if "permission denied" in reason.lower():
        return "add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again) or run with access to the socket"
    if ep.context and ep.context != endpoints.DEFAULT_CONTEXT:
        engines = "Docker Desktop, `colima start`, OrbStack, Rancher Desktop..."
        pick = "`docker context ls`, then `docker context use NAME` or DOCKER_CONTEXT"
        return f"start the engine context {ep.context} points at ({engines}), or pick another: {pick}"
    return "start it (Docker Desktop, `sudo systemctl start docker`, or `dockerd`), or point DOCKER_HOST at a running engine"


class Unreachable(Problem):
    """No engine answers where the endpoint says."""


_client = None
_client_endpoint: endpoints.Endpoint | None = None


def client():
    """A Docker client that has answered a ping (cached per engine), or a Problem naming the engine and what to start."""
    global _client, _client_endpoint
    ep = endpoint()
    if _client is not None and _client_endpoint == ep:
        return _client
    import docker

    reason = None
    try:
        cl = docker.DockerClient(base_url=ep.host, tls=tls_config(ep) or False, timeout=30, use_ssh_client=ep.host.startswith("ssh://"))
        cl.ping()
    except Exception as e:  # DockerException, requests' ConnectionError, PermissionError...
        reason = short_error(e)
    if reason is not None:
        with pywarnings.catch_warnings():  # the SDK leaves its half-made client's socket to the garbage collector
            pywarnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        raise Unreachable(f"Docker engine not reachable at {ep.describe()}: {reason}", unreachable_fix(ep, reason))
    _client, _client_endpoint = cl, ep
    return cl


def answers() -> bool:
    """Whether the engine answers: one stdlib `GET /_ping` on a unix socket, else the SDK's ping."""
    try:
        ep = endpoint()
    except Problem:
        return False
    if ep.socket is not None:
        reply = _http_get(ep.socket, "/_ping", 1.0)
        return reply is not None and reply[0] == 200
    try:
        client()
    except Exit:
        return False
    return True


def parse_response(raw: bytes) -> tuple[int, bytes] | None:
    """``(status, body)`` of an HTTP/1.0 reply, or None when it is not one."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    status = [*head.split(b"\r\n", 1)[0].split(), b""][:2]
    if not sep or not status[0].startswith(b"HTTP/") or not status[1].isdigit() or b"transfer-encoding: chunked" in head.lower():
        return None
    return int(status[1]), body


def _http_get(sock: str, path: str, timeout: float) -> tuple[int, bytes] | None:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(sock)
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
    except OSError:
        return None
    return parse_response(b"".join(chunks))


def container_attrs(name: str, timeout: float = 2.0) -> dict | None:
    """`docker inspect NAME` over the unix socket without the SDK; None when not answerable (then ask the SDK)."""
    try:
        sock = endpoint().socket
    except Problem:
        return None
    reply = None if sock is None else _http_get(sock, f"/containers/{quote(name, safe='')}/json", timeout)
    if reply is None or reply[0] != 200:
        return None
    try:
        attrs = json.loads(reply[1])
    except ValueError:
        return None
    return attrs if isinstance(attrs, dict) else None


def short_error(e: BaseException, limit: int = 200) -> str:
    """An exception as one short line: the engine's explanation when there is one."""
    text = getattr(e, "explanation", None) or str(e) or e.__class__.__name__
    text = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
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
        return short_error(self.error, limit)


class Conflict(EngineError):
    """409: a container with that name exists (another run won the race)."""


class PullFailed(EngineError):
    pass


class StartFailed(EngineError):
    @property
    def port_taken(self) -> bool:
        return any(words in self.short(400) for words in ("port is already allocated", "address already in use"))


@contextlib.contextmanager
def docker_errors(doing: str) -> Iterator[None]:
    """An unexpected Docker SDK error as one Problem line naming what we were doing."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.RequestException, EngineError) as e:
        raise Problem(f"Docker failed while {doing}: {short_error(e)}")


def lookup(collection, name: str):
    """``collection.get(name)`` (``client.images``, ``client.volumes``...), or None when the engine has no such thing."""
    import docker.errors

    try:
        return collection.get(name)
    except docker.errors.NotFound:  # ImageNotFound is one
        return None


def get_container(cl, name: str):
    """The container named exactly ``name`` (containers.get also matches ids), or None."""
    ct = lookup(cl.containers, name)
    return ct if ct is not None and (ct.attrs.get("Name") or "").lstrip("/") == name else None


def create_container(cl, kwargs: dict):
    """``containers.create(**kwargs)`` (the one call in tasks/ that creates a container); Conflict when the name is taken."""
    import docker.errors

    try:
        return cl.containers.create(**kwargs)
    except docker.errors.APIError as e:
        if getattr(e, "status_code", None) == 409:
            raise Conflict(e) from e
        raise


def start(ct) -> None:
    import docker.errors

    try:
        ct.start()
    except docker.errors.APIError as e:
        raise StartFailed(e) from e
    ct.reload()


def exec_output(ct, argv: list[str], environment: dict[str, str] | None = None) -> str | None:
    """Run ``argv`` in the running container and return its stdout; None when it fails or cannot run."""
    import docker.errors
    import requests.exceptions

    try:
        code, out = ct.exec_run(argv, environment=environment, stdout=True, stderr=False, demux=False)
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return None
    return None if code != 0 else out.decode(errors="replace") if isinstance(out, bytes) else str(out or "")


def pull_image(cl, image: str) -> None:
    import docker.errors
    from docker.utils import parse_repository_tag

    from tasks.lib.docker import pull

    repo, tag = parse_repository_tag(image)
    try:
        pull.show(cl.api.pull(repo, tag=tag or "latest", stream=True, decode=True), f"{repo}:{tag or 'latest'}")
    except (docker.errors.DockerException, OSError, pull.StreamError) as e:
        raise PullFailed(e) from e


def exec_run(ct, argv: list[str], environment: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``argv`` in the running container: its exit code, stdout and stderr."""
    code, (out, err) = ct.exec_run(argv, environment=environment, stdout=True, stderr=True, demux=True)
    return code, (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace")


def read_file(ct, path: str) -> bytes | None:
    """The file at ``path`` in the container (running or not: its volumes too), or None when there is none."""
    import io
    import tarfile

    import docker.errors

    try:
        stream, _ = ct.get_archive(path)
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        f = tar.extractfile(member) if member is not None else None
        return f.read() if f is not None else None


def put_file(ct, folder: str, name: str, data: bytes) -> None:
    """Write ``data`` as ``folder/name`` (mode 0644) into the container."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    ct.put_archive(folder, buf.getvalue())


def run_once(cl, kwargs: dict) -> tuple[int, str]:
    """A one-off container (``kwargs`` as for create_container): run to its end, removed with its anonymous volumes; exit code, log."""
    ct = create_container(cl, {**kwargs, "detach": True})
    try:
        ct.start()
        code = ct.wait().get("StatusCode", 1)
        return code, ct.logs(stdout=True, stderr=True).decode(errors="replace")
    finally:
        with contextlib.suppress(Exception):
            ct.remove(force=True, v=True)
