"""One read-only Docker Engine API call over the engine's unix socket, with the stdlib only.

`inv dev.up` on a warm machine only needs to know that our container is running as
configured; importing the Docker SDK (requests, urllib3: ~0.15 s) for that would be
most of the run. Everything that changes state still goes through the SDK, and any
answer this module cannot give (no unix socket, an error, an odd reply) is None, so
the caller falls back to the SDK. The socket is the one the SDK client uses
(endpoint.py), so both always talk to the same engine.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from tasks.lib.postgres import endpoint


def socket_path(environ: Mapping[str, str] | None = None, home: Path | None = None) -> str | None:
    """The engine's unix socket, or None when the engine is elsewhere (TCP, SSH, a pipe)
    or cannot be resolved (the SDK path then says why)."""
    try:
        return endpoint.resolve(environ, home).socket
    except endpoint.EndpointError:
        return None


def parse_response(raw: bytes) -> tuple[int, bytes] | None:
    """``(status, body)`` of an HTTP/1.0 reply, or None when it is not one."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return None
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/") or not status_line[1].isdigit():
        return None
    if b"transfer-encoding: chunked" in head.lower():
        return None
    return int(status_line[1]), body


def _get(path: str, timeout: float, environ: Mapping[str, str] | None, home: Path | None) -> tuple[int, bytes] | None:
    """``(status, body)`` of one GET on the engine's unix socket; None when not answerable."""
    sock = socket_path(environ, home)
    if sock is None:
        return None
    request = f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(sock)
            s.sendall(request)
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
    except OSError:
        return None
    return parse_response(b"".join(chunks))


def ping(timeout: float = 2.0, environ: Mapping[str, str] | None = None, home: Path | None = None) -> bool | None:
    """True when the engine answers `GET /_ping`; False when its unix socket does not;
    None when the engine is not behind a unix socket (ask the SDK)."""
    try:
        if endpoint.resolve(environ, home).socket is None:
            return None
    except endpoint.EndpointError:
        return False
    reply = _get("/_ping", timeout, environ, home)
    return reply is not None and reply[0] == 200


def container_attrs(name: str, timeout: float = 2.0, environ: Mapping[str, str] | None = None, home: Path | None = None) -> dict | None:
    """`docker inspect NAME` as the SDK's ``Container.attrs``; None when not answerable."""
    reply = _get(f"/containers/{quote(name, safe='')}/json", timeout, environ, home)
    if reply is None or reply[0] != 200:
        return None
    try:
        attrs = json.loads(reply[1])
    except ValueError:
        return None
    return attrs if isinstance(attrs, dict) else None
