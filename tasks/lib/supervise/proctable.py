"""Processes through psutil (its one module): the table, the tree below a process, and
who listens on a port; for the supervisor (manager.py) and the port diagnostics.

The table comes from psutil (Linux and macOS alike): pid, parent pid, process group,
start time (tells a reused pid apart) and whether the process is a zombie. The tree is
walked by parent pid, which finds descendants in process groups and sessions other
than their parent's (the BEAM's port programs).

On Linux a process can be a child subreaper (prctl, which psutil does not offer):
descendants orphaned by a dying parent are then re-parented to it instead of to init,
so they stay in its tree; it must also reap them.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
# pgid of a process whose group cannot be read.
UNKNOWN_PGID = -1
_ATTRS = ["pid", "ppid", "status", "create_time"]


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    pgid: int
    # Creation time (psutil's create_time): tells a reused pid apart.
    start: float | None
    zombie: bool = False


def process_table() -> dict[int, ProcInfo]:
    """Every process on the machine that we can see, by pid."""
    import psutil  # here, not at the top: billing.env and --dry runs never need it

    gone = (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    table: dict[int, ProcInfo] = {}
    for proc in psutil.process_iter(_ATTRS):
        info = proc.info
        pid = info["pid"]
        try:
            pgid = os.getpgid(pid)
        except ProcessLookupError:
            continue  # gone since it was listed
        except PermissionError:
            pgid = UNKNOWN_PGID
        table[pid] = ProcInfo(
            pid=pid,
            ppid=info["ppid"] if info["ppid"] is not None else 0,
            pgid=pgid,
            start=info["create_time"],
            zombie=info["status"] in gone,
        )
    return table


def listener(port: int) -> str | None:
    """'name (pid N)' of the process listening on TCP ``port``, when the system lets us see it."""
    import psutil

    pid = listener_pid(port)
    if pid is None:
        return None
    try:
        return f"{psutil.Process(pid).name()} (pid {pid})"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def descendants(table: Mapping[int, ProcInfo], roots: Iterable[int]) -> set[int]:
    """The pids below ``roots`` in ``table`` (not the roots themselves)."""
    children: dict[int, list[int]] = {}
    for info in table.values():
        children.setdefault(info.ppid, []).append(info.pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


# ---------------------------------------------------------------- a run's processes


def with_environment(var: str, value: str, exclude: Iterable[int] = ()) -> dict[int, float | None]:
    """``{pid: start time}`` of the processes whose environment has ``var=value``
    (those we may read: our own user's)."""
    import psutil

    skip = set(exclude)
    found: dict[int, float | None] = {}
    for proc in psutil.process_iter(["pid", "create_time"]):
        if proc.pid in skip:
            continue
        try:
            if proc.environ().get(var) == value:
                found[proc.pid] = proc.info["create_time"]
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def _same(pid: int, start: float | None) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and (start is None or proc.create_time() == start)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def still_running(found: Mapping[int, float | None]) -> dict[int, float | None]:
    """The processes of ``found`` that still run (a reused pid does not count)."""
    return {pid: start for pid, start in found.items() if _same(pid, start)}


def signal_all(found: Mapping[int, float | None], sig: int) -> None:
    """Send ``sig`` to each process of ``found`` that is still the one we found."""
    for pid, start in found.items():
        if _same(pid, start):
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass


def _proc_file(pid: int, name: str) -> bytes | None:
    """/proc/PID/NAME on Linux (no psutil import on a warm path); None elsewhere or when unreadable."""
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except OSError:
        return None


def is_zombie(pid: int) -> bool:
    """True when ``pid`` has exited and waits for a parent that never reaps it (no init in a container)."""
    stat = _proc_file(pid, "stat")
    if stat is not None:
        return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] == b"Z"
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def working_in(folder: str) -> list[int]:
    """The live processes whose working directory is ``folder`` (Postgres's backends work in PGDATA)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and proc.cwd() == folder:
                found.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def command_line(pid: int) -> str:
    """``pid``'s command line (or its name) for messages; ``?`` when hidden from us."""
    raw = _proc_file(pid, "cmdline")
    if raw:
        return " ".join(part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0"))
    import psutil

    try:
        proc = psutil.Process(pid)
        return " ".join(proc.cmdline()) or proc.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
        return "?"


def listener_pid(port: int) -> int | None:
    """The pid listening on TCP ``port``, when the system lets us see it."""
    import psutil

    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return conn.pid
    return None


# ---------------------------------------------------------------- child subreaper


def libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def subreaper_state() -> bool | None:
    """Whether this process is a child subreaper (None where that does not exist)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        flag = ctypes.c_int(0)
        if libc().prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) != 0:
            return None
        return bool(flag.value)
    except (OSError, AttributeError):
        return None


def set_subreaper(on: bool) -> bool:
    """Make orphaned descendants re-parent to this process (Linux); False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return libc().prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap_child(pid: int) -> None:
    """Collect an exited child of ours (an adopted orphan) if it is a zombie; never block."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


# ---------------------------------------------------------------- exit statuses


def signal_name(sig: int) -> str:
    """``2`` -> ``SIGINT``; ``signal 99`` for a number with no name."""
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def exit_status(returncode: int) -> int:
    """A Popen returncode as a shell would report it (-9 -> 137)."""
    return 128 - returncode if returncode < 0 else returncode
