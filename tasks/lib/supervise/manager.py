"""Several processes in one terminal, honcho-style, and none of them left behind.

Each program runs in a session (so a process group) of its own; every line it prints
is relayed as ``name | line`` with secrets masked. When one exits, or when we get
SIGINT/SIGTERM/SIGHUP, the rest are stopped: SIGINT, then SIGTERM after half the
grace period, then SIGKILL after the whole grace period. A further Ctrl-C skips to the
next signal.

Why not honcho's Manager: it signals only each program's process group, and the
BEAM starts port programs (esbuild/tailwind watchers, `System.cmd`, mix `cmd`) in
sessions of their own, so signalling the server's group leaves them running. Here
every stop signal also goes to each descendant process, found by walking the process
table by parent pid; on Linux we become a child subreaper, so descendants orphaned
by a dying BEAM are re-parented to us and still found (elsewhere, descendants seen
while running are remembered by pid and start time).

Exit code of :meth:`Supervisor.run`: 130 for SIGINT, 143 for SIGTERM, 129 for
SIGHUP; otherwise the code of the program that exited first: its ``exit_code`` when
one was given (a fixed code per program, saying which one failed), else its own exit
status (128+N when killed by signal N).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, TextIO

from tasks.lib.masking import mask_text

SYSTEM = "system"
# ANSI colours for the prefixes: cyan, yellow, magenta, green, blue, red.
COLOURS = ("36", "33", "35", "32", "34", "31")
SIGNAL_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
# How often the process tree is walked while running, to remember descendants.
TRACK_INTERVAL = 0.5
# After SIGKILL, how long to wait for processes to vanish before giving up.
KILL_WAIT = 5.0


class SupervisorError(Exception):
    """A program could not be started; the message is one line for the user."""


@dataclass
class Program:
    name: str
    argv: list[str]
    cwd: str | os.PathLike | None = None
    # The complete environment of the process (None: inherit ours).
    env: Mapping[str, str] | None = None
    # The supervisor's exit code when this program exits first (None: its own code).
    exit_code: int | None = None


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    pgid: int
    # Start time (clock ticks since boot on Linux): tells a reused pid apart.
    start: str | None
    zombie: bool = False


# ---------------------------------------------------------------- process table


def _read_proc_stat(pid: int) -> ProcInfo | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces or ')'.
    rest = data[data.rfind(")") + 2 :].split()
    try:
        return ProcInfo(
            pid=pid,
            ppid=int(rest[1]),
            pgid=int(rest[2]),
            start=rest[19],
            zombie=rest[0] in ("Z", "X"),
        )
    except (IndexError, ValueError):
        return None


def process_table() -> dict[int, ProcInfo]:
    """Every process on the machine: /proc on Linux, `ps` elsewhere (macOS)."""
    table: dict[int, ProcInfo] = {}
    if os.path.isdir("/proc/self"):
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                info = _read_proc_stat(int(entry))
                if info:
                    table[info.pid] = info
        return table
    out = subprocess.run(
        ["ps", "-Ao", "pid=,ppid=,pgid=,stat=,lstart="], capture_output=True, text=True
    ).stdout
    for line in out.splitlines():
        parts = line.split(None, 4)
        if len(parts) < 4 or not parts[0].isdigit():
            continue
        table[int(parts[0])] = ProcInfo(
            pid=int(parts[0]),
            ppid=int(parts[1]),
            pgid=int(parts[2]),
            start=parts[4].strip() if len(parts) > 4 else None,
            zombie=parts[3].startswith("Z"),
        )
    return table


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


def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def subreaper_state() -> bool | None:
    """Whether this process is a child subreaper (None where that does not exist)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        flag = ctypes.c_int(0)
        if _libc().prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) != 0:
            return None
        return bool(flag.value)
    except (OSError, AttributeError):
        return None


def set_subreaper(on: bool) -> bool:
    """Make orphaned descendants re-parent to this process (Linux); False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return _libc().prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def exit_status(returncode: int) -> int:
    """A Popen returncode as a shell would report it (-9 -> 137)."""
    return 128 - returncode if returncode < 0 else returncode


# ---------------------------------------------------------------- the supervisor


class Supervisor:
    """Run ``programs`` together until one exits or we are told to stop; see the module doc."""

    def __init__(
        self,
        programs: Iterable[Program],
        *,
        out: TextIO | None = None,
        grace_period: float = 5.0,
        secrets: Iterable[str] = (),
        colour: bool | None = None,
        handle_signals: bool = True,
        subreaper: bool = True,
        poll_interval: float = 0.05,
        # Seams for unit tests: process creation, the process table, signals, time.
        popen: Callable[..., subprocess.Popen] = subprocess.Popen,
        table: Callable[[], Mapping[int, ProcInfo]] = process_table,
        kill: Callable[[int, int], None] = os.kill,
        killpg: Callable[[int, int], None] = os.killpg,
        clock: Callable[[], float] = time.monotonic,
        reap: Callable[[int], None] | None = None,
        my_pid: int | None = None,
    ):
        self.programs = list(programs)
        names = [p.name for p in self.programs]
        if len(set(names)) != len(names):
            raise ValueError(f"program names must be unique: {names}")
        self.out = out if out is not None else sys.stdout
        self.grace_period = float(grace_period)
        self.secrets = sorted(set(secrets), key=len, reverse=True)
        if colour is None:
            colour = _isatty(self.out) and not os.environ.get("NO_COLOR")
        self.colour = colour
        self.handle_signals = handle_signals
        self.subreaper = subreaper
        self.poll_interval = poll_interval
        self._popen = popen
        self._table = table
        self._kill = kill
        self._killpg = killpg
        self._clock = clock
        self._reap_pid = reap or _reap
        self._my_pid = my_pid if my_pid is not None else os.getpid()
        self._width = max([len(n) for n in names] + [len(SYSTEM)])
        self._lines: queue.Queue = queue.Queue()
        self._procs: dict[str, subprocess.Popen] = {}
        self._readers: dict[str, threading.Thread] = {}
        self._preexisting: set[int] = set()
        # Descendants seen while running: pid -> start time.
        self._owned: dict[int, str | None] = {}
        self._signal: int | None = None
        self._signal_count = 0
        self._print_lock = threading.Lock()

    # -- output

    def _prefix(self, name: str) -> str:
        text = f"{name.ljust(self._width)} |"
        if not self.colour:
            return text
        if name == SYSTEM:
            return f"\033[1m{text}\033[0m"
        index = [p.name for p in self.programs].index(name)
        return f"\033[{COLOURS[index % len(COLOURS)]}m{text}\033[0m"

    def emit(self, name: str, text: str) -> None:
        text = mask_text(text, self.secrets)
        with self._print_lock:
            self.out.write(f"{self._prefix(name)} {text}\n")
            self.out.flush()

    def say(self, text: str) -> None:
        self.emit(SYSTEM, text)

    def _reader(self, name: str, stream) -> None:
        try:
            for raw in iter(stream.readline, b""):
                self._lines.put((name, raw))
        except (OSError, ValueError):
            pass
        finally:
            self._lines.put((name, None))

    def _drain(self, timeout: float) -> None:
        """Print waiting lines; wait at most ``timeout`` for the first one."""
        try:
            item = self._lines.get(timeout=timeout) if timeout > 0 else self._lines.get_nowait()
        except queue.Empty:
            return
        while True:
            name, raw = item
            if raw is not None:
                text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
                self.emit(name, text.rstrip("\r\n"))
            try:
                item = self._lines.get_nowait()
            except queue.Empty:
                return

    # -- signals to us

    def _on_signal(self, signum, _frame) -> None:
        if self._signal is None:
            self._signal = signum
        self._signal_count += 1

    def _install_handlers(self) -> dict:
        if not self.handle_signals or threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}
        for sig in SIGNAL_CODES:
            previous[sig] = signal.signal(sig, self._on_signal)
        return previous

    # -- the process tree

    def _started_pids(self) -> set[int]:
        return {p.pid for p in self._procs.values()}

    def _targets(self, table: Mapping[int, ProcInfo]) -> set[int]:
        """Live processes that are ours to stop: the programs and everything below them."""
        started = self._started_pids()
        roots = {p.pid for p in self._procs.values() if p.pid in table}
        # Orphans re-parented to us (subreaper) that we did not start ourselves.
        adopted = {
            info.pid
            for info in table.values()
            if info.ppid == self._my_pid and info.pid not in started and info.pid not in self._preexisting
        }
        pids = roots | adopted | descendants(table, roots | adopted)
        pids |= {pid for pid, start in self._owned.items() if pid in table and table[pid].start == start}
        # Members of the programs' own process groups (sessions we created).
        pids |= {info.pid for info in table.values() if info.pgid in started}
        return {pid for pid in pids if pid != self._my_pid and pid in table and not table[pid].zombie}

    def _track(self) -> Mapping[int, ProcInfo]:
        table = self._table()
        for pid in self._targets(table):
            self._owned.setdefault(pid, table[pid].start)
        self._reap_orphans(table)
        return table

    def _reap_orphans(self, table: Mapping[int, ProcInfo]) -> None:
        started = self._started_pids()
        for info in table.values():
            if (
                info.zombie
                and info.ppid == self._my_pid
                and info.pid not in started
                and info.pid not in self._preexisting
            ):
                self._reap_pid(info.pid)

    def _send(self, sig: int, table: Mapping[int, ProcInfo]) -> None:
        targets = self._targets(table)
        for pid in targets:
            self._owned.setdefault(pid, table[pid].start)
        groups = {table[pid].pgid for pid in targets} & self._started_pids()
        for pgid in groups:
            try:
                self._killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in targets:
            try:
                self._kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass

    # -- running

    def _start(self, program: Program) -> None:
        try:
            proc = self._popen(
                [str(a) for a in program.argv],
                cwd=str(program.cwd) if program.cwd is not None else None,
                env=dict(program.env) if program.env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as e:
            raise SupervisorError(
                f"cannot start {program.name} ({program.argv[0]}): {e.strerror or e}"
            ) from None
        self._procs[program.name] = proc
        if proc.stdout is not None:
            t = threading.Thread(target=self._reader, args=(program.name, proc.stdout), daemon=True)
            t.start()
            self._readers[program.name] = t

    def run(self) -> int:
        """Start every program, relay output, stop all when one exits; return the exit code."""
        was_subreaper = subreaper_state() if self.subreaper else None
        if self.subreaper and was_subreaper is False:
            set_subreaper(True)
        self._preexisting = {
            info.pid for info in self._table().values() if info.ppid == self._my_pid
        }
        previous = self._install_handlers()
        try:
            try:
                for program in self.programs:
                    self._start(program)
            except SupervisorError:
                self._stop()
                raise
            code = self._wait_first()
            self._stop()
            return code
        finally:
            if was_subreaper is False:
                set_subreaper(False)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for t in self._readers.values():
                t.join(timeout=1.0)
            self._drain(0)
            for name, proc in self._procs.items():
                reader = self._readers.get(name)
                # A reader still blocked holds the stream's lock: closing would hang.
                if proc.stdout is not None and not (reader and reader.is_alive()):
                    try:
                        proc.stdout.close()
                    except OSError:
                        pass

    def _wait_first(self) -> int:
        next_track = self._clock()
        while True:
            self._drain(self.poll_interval)
            if self._signal is not None:
                self.say(f"{_signal_name(self._signal)} received: stopping {self._names() or 'all'}")
                return SIGNAL_CODES.get(self._signal, 128 + self._signal)
            for program in self.programs:
                rc = self._procs[program.name].poll()
                if rc is not None:
                    how = (
                        f"was killed by {_signal_name(-rc)}" if rc < 0 else f"exited with code {rc}"
                    )
                    others = self._names(exclude=program.name)
                    self.say(f"{program.name} {how}" + (f": stopping {others}" if others else ""))
                    return program.exit_code if program.exit_code is not None else exit_status(rc)
            if self._clock() >= next_track:
                self._track()
                next_track = self._clock() + TRACK_INTERVAL

    def _names(self, exclude: str | None = None) -> str:
        running = [
            p.name
            for p in self.programs
            if p.name != exclude and p.name in self._procs and self._procs[p.name].poll() is None
        ]
        return ", ".join(running)

    def _stop(self) -> None:
        """SIGINT, SIGTERM at half the grace period, SIGKILL at its end, to everything ours."""
        stages = [
            (signal.SIGINT, 0.0),
            (signal.SIGTERM, self.grace_period / 2),
            (signal.SIGKILL, self.grace_period),
        ]
        start = self._clock()
        stage = 0
        count_at_stage = self._signal_count
        self._send(stages[0][0], self._table())
        while True:
            self._drain(self.poll_interval)
            for proc in self._procs.values():
                proc.poll()
            table = self._table()
            self._reap_orphans(table)
            targets = self._targets(table)
            if not targets and all(p.poll() is not None for p in self._procs.values()):
                return
            elapsed = self._clock() - start
            skip = self._signal_count > count_at_stage  # another Ctrl-C: next signal now
            if stage + 1 < len(stages) and (elapsed >= stages[stage + 1][1] or skip):
                stage += 1
                count_at_stage = self._signal_count
                sig = stages[stage][0]
                self.say(f"sending {_signal_name(sig)} to {len(targets)} process(es) still running")
                self._send(sig, table)
            elif stages[stage][0] == signal.SIGKILL:
                self._send(signal.SIGKILL, table)
                if elapsed >= self.grace_period + KILL_WAIT:
                    self.say(f"giving up on pids {sorted(targets)}: they survived SIGKILL")
                    return


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
