"""Who holds a host port: another container (the engine's list), another process (a bind
attempt, named by psutil when the system lets us see it), or nobody."""

from __future__ import annotations

import socket

from tasks.lib.problem import Problem
from tasks.lib.supervise import proctable


def taken(address: str, origin: str, holder: str, fix: str, setting: str = "") -> Problem:
    """The one port-taken line, for a container's port and the local server's alike."""
    return Problem(f"host port {address} ({origin}) is already taken by {holder}", f"stop it, or {fix}", setting)


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


def holder(cl, host_ip: str, port: int, exclude: str, local_engine: bool) -> str | None:
    """'container X' (a running one but ``exclude`` publishing ``host_ip:port``), 'another process[, name (pid N)]', or None.
    Only a local engine's ports are this machine's."""
    wild = ("", "0.0.0.0", "::")
    for summary in cl.api.containers():
        names = [n.lstrip("/") for n in summary.get("Names") or []]
        ips = [p.get("IP", "") for p in summary.get("Ports") or [] if p.get("Type", "tcp") == "tcp" and p.get("PublicPort") == port]
        if not (exclude and exclude in names) and any(ip in wild or host_ip in wild or ip == host_ip for ip in ips):
            checkout = (summary.get("Labels") or {}).get("dev.firezone.inv.checkout")  # service.CHECKOUT_LABEL
            where = f" (the checkout at {checkout})" if checkout else ""
            return f"container {names[0] if names else summary.get('Id', '?')[:12]}{where}"
    if local_engine and not port_is_free(host_ip, port):
        who = port_holder_process(port)
        return f"another process, {who}" if who else "another process"
    return None
