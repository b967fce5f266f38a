"""Processes through psutil (its one module): a run's process tree, the processes carrying a
token, who listens on a port; and the child subreaper (Linux prctl, which psutil lacks)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterable

PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37


def _running(proc) -> bool:
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class Tree:
    """The processes a run started: each root, everything below it, and orphans re-parented
    to us (a child subreaper meanwhile, on Linux); each remembered once seen, so one
    re-parented elsewhere is still found. psutil tells a reused pid apart."""

    def __init__(self) -> None:
        import psutil

        self._me = psutil.Process()
        self._before = set(self._me.children())  # not ours to stop (the watchdog among them)
        self._roots: set[int] = set()
        self._seen: set = set()
        self._was_subreaper = subreaper_state()
        if self._was_subreaper is False:
            set_subreaper(True)

    def add(self, pid: int) -> None:
        self._roots.add(pid)

    def live(self) -> list:
        """Every process of ours still running; adopted orphans that have exited are reaped."""
        import psutil

        found = {p for p in self._seen if _running(p)}
        for child in self._me.children():
            if child in self._before:
                continue
            try:
                if child.status() == psutil.STATUS_ZOMBIE:
                    if child.pid not in self._roots:  # a program's own status is Popen's to collect
                        os.waitpid(child.pid, os.WNOHANG)
                    continue
                found.add(child)
                found.update(child.children(recursive=True))
            except (psutil.Error, ChildProcessError):
                continue
        self._seen |= found
        return [p for p in found if _running(p)]

    def settle(self, timeout: float) -> list:
        """Wait up to ``timeout`` s for ours to exit; those still running."""
        import psutil

        return list(psutil.wait_procs(self.live(), timeout=timeout)[1])

    def send(self, procs: Iterable, sig: int) -> None:
        """``sig`` to each root's process group (a session we made), then to each of ``procs``."""
        for pgid in self._roots:
            try:
                os.killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        signal_all(procs, sig)

    def close(self) -> None:
        if self._was_subreaper is False:
            set_subreaper(False)


def signal_all(procs: Iterable, sig: int) -> None:
    import psutil

    for proc in procs:
        try:
            proc.send_signal(sig)  # psutil refuses a pid reused since
        except psutil.Error:
            pass


def carrying(var: str, value: str) -> list:
    """The processes (ours to read, us aside) whose environment has ``var=value``."""
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(var) == value:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def stop(procs: list, grace: float) -> None:
    """SIGTERM, then SIGKILL to those still running after ``grace`` s."""
    import psutil

    signal_all(procs, signal.SIGTERM)
    signal_all(psutil.wait_procs(procs, timeout=grace)[1], signal.SIGKILL)


def _proc_file(pid: int, name: str) -> bytes | None:  # Linux, without importing psutil on a warm path
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
    except psutil.Error:
        return False


def working_in(folder: str) -> list[int]:
    """The live processes whose working directory is ``folder`` (Postgres's backends work in PGDATA)."""
    import psutil

    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and proc.cwd() == folder:
                found.append(proc.pid)
        except (psutil.Error, OSError):
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
    except (psutil.Error, OSError):
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


def listener(port: int) -> str | None:
    """'name (pid N)' of the process listening on TCP ``port``, when the system lets us see it."""
    import psutil

    pid = listener_pid(port)
    try:
        return None if pid is None else f"{psutil.Process(pid).name()} (pid {pid})"
    except psutil.Error:
        return None


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


def set_subreaper(on: bool) -> None:
    """Make orphaned descendants re-parent to this process instead of init (Linux)."""
    try:
        libc().prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)
    except (OSError, AttributeError):
        pass
