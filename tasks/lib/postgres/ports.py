"""Who holds the host port the container wants: another container, another process, or nobody.

Another container is found in the engine's running-container summaries; another
process by trying to bind the port (a local engine only: a remote engine's ports are
not this machine's), then named with psutil when the system lets us see it.
``check_port`` turns a taken port into one `Exit` line naming the holder and the fix.
"""

from __future__ import annotations

import socket

from invoke import Exit

from tasks.lib.database import origin as database_origin
from tasks.lib.postgres import engine
from tasks.lib.postgres.spec import PostgresSpec
from tasks.lib.supervise import proctable


def _ips_overlap(a: str, b: str) -> bool:
    wild = ("", "0.0.0.0", "::")
    return a in wild or b in wild or a == b


def port_holder_container(cl, host_ip: str, port: int, exclude: str = "") -> str | None:
    """The name of a running container publishing ``host_ip:port``, if any."""
    for summary in engine.running_summaries(cl):
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


def port_holder_process(port: int) -> str | None:
    """'name (pid N)' of the process listening on TCP ``port``; None when unknown or hidden from us."""
    return proctable.listener(port)


def port_taken_message(spec: PostgresSpec, holder: str) -> str:
    return (
        f"host port {spec.address} (DATABASE_PORT from {database_origin('DATABASE_PORT')}) is already taken by {holder}."
        f" Fix: stop it, or set DATABASE_PORT to a free port in .env"
    )


def port_holder(cl, spec: PostgresSpec, exclude: str | None = None) -> str | None:
    """Who holds the host port besides our container: 'container X', 'another process[, name (pid N)]', or None.

    ``exclude``: the container name not to count (default: ours; "" counts every container).
    """
    skip = spec.container if exclude is None else exclude
    holder = port_holder_container(cl, spec.host_ip, spec.port, exclude=skip)
    if holder:
        return f"container {holder}"
    # Only a local engine's ports are this machine's ports.
    if engine.is_on_this_machine() and not port_is_free(spec.host_ip, spec.port):
        who = port_holder_process(spec.port)
        return f"another process, {who}" if who else "another process"
    return None


def check_port(cl, spec: PostgresSpec) -> None:
    """Exit naming the holder when the host port is taken by another container or process."""
    holder = port_holder(cl, spec)
    if holder:
        raise Exit(port_taken_message(spec, holder))
