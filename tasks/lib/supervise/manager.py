"""Several processes in one terminal, honcho-style, and none of them left behind.

Each program runs in a session (so a process group) of its own; every line it prints
is relayed through printer.py as ``name | line``, secrets masked. When one exits, or
when we get SIGINT/SIGTERM/SIGHUP, the rest are stopped: SIGINT, then SIGTERM after
half the grace period, then SIGKILL after the whole grace period. A further Ctrl-C
skips to the next signal.

Why not honcho's Manager: it signals only each program's process group, and the
BEAM starts port programs (esbuild/tailwind watchers, `System.cmd`, mix `cmd`) in
sessions of their own, so signalling the server's group leaves them running. Here
every stop signal also goes to each descendant process, found in the process table
(proctable.py); on Linux we are a child subreaper meanwhile, so descendants orphaned
by a dying BEAM are re-parented to us and still found (elsewhere, descendants seen
while running are remembered by pid and start time). If we are killed with SIGKILL,
lifeline.py's parent-death signal and watchdog stop them instead.

Exit code of :meth:`Supervisor.run`: 130 for SIGINT, 143 for SIGTERM, 129 for
SIGHUP; otherwise the code of the program that exited first: its ``exit_code`` when
one was given (a fixed code per program, saying which one failed), else its own exit
status (128+N when killed by signal N).

``wait_all=True`` (a batch, such as test partitions) lets each program run to its end
instead: the run ends when all have exited (or on a signal), ``exit_codes`` holds each
one's status, and the code is the first non-zero one in program order (0 when all passed).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TextIO

from tasks.lib.supervise import lifeline
from tasks.lib.supervise.printer import Printer
from tasks.lib.supervise.proctable import (
    ProcInfo,
    descendants,
    exit_status,
    process_table,
    reap_child,
    set_subreaper,
    signal_name,
    subreaper_state,
)

SIGNAL_CODES: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
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
        wait_all: bool = False,
        # Seams for unit tests: process creation, the process table, signals, time,
        # reaping adopted orphans, our own pid.
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
        self.printer = Printer(names, out=out, secrets=secrets, colour=colour)
        self.out = self.printer.out
        self.grace_period = float(grace_period)
        self.handle_signals = handle_signals
        self.subreaper = subreaper
        self.poll_interval = poll_interval
        self.wait_all = wait_all
        # name -> exit status, of the programs that have exited (wait_all).
        self.exit_codes: dict[str, int] = {}
        self._popen = popen
        self._table = table
        self._kill = kill
        self._killpg = killpg
        self._clock = clock
        self._reap_pid = reap or reap_child
        self._my_pid = my_pid if my_pid is not None else os.getpid()
        self._lines: queue.Queue = queue.Queue()
        self._procs: dict[str, subprocess.Popen] = {}
        self._readers: dict[str, threading.Thread] = {}
        self._preexisting: set[int] = set()
        # Descendants seen while running: pid -> start time.
        self._owned: dict[int, float | None] = {}
        self._signal: int | None = None
        self._signal_count = 0

    # -- relaying output

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
                self.printer.emit(name, text.rstrip("\r\n"))
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
            if info.zombie and info.ppid == self._my_pid and info.pid not in started and info.pid not in self._preexisting:
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
                env=lifeline.child_env(program.env),  # the run's token: see lifeline.py
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=lifeline.preexec(),  # dies with us, even by SIGKILL (Linux)
            )
        except OSError as e:
            raise SupervisorError(f"cannot start {program.name} ({program.argv[0]}): {e.strerror or e}") from None
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
        self._preexisting = {info.pid for info in self._table().values() if info.ppid == self._my_pid}
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
                stopping = self._names() or "all"
                self.printer.say(f"{signal_name(self._signal)} received: stopping {stopping}")
                return SIGNAL_CODES.get(self._signal, 128 + self._signal)
            for program in self.programs:
                if program.name in self.exit_codes:
                    continue
                rc = self._procs[program.name].poll()
                if rc is not None and self.wait_all:
                    self.exit_codes[program.name] = exit_status(rc)
                    how = f"was killed by {signal_name(-rc)}" if rc < 0 else f"exited with code {rc}"
                    self.printer.say(f"{program.name} {how}")
                    if len(self.exit_codes) == len(self.programs):
                        return next((self.exit_codes[p.name] for p in self.programs if self.exit_codes[p.name]), 0)
                    continue
                if rc is not None:
                    how = f"was killed by {signal_name(-rc)}" if rc < 0 else f"exited with code {rc}"
                    others = self._names(exclude=program.name)
                    stopping = f": stopping {others}" if others else ""
                    self.printer.say(f"{program.name} {how}{stopping}")
                    return program.exit_code if program.exit_code is not None else exit_status(rc)
            if self._clock() >= next_track:
                self._track()
                next_track = self._clock() + TRACK_INTERVAL

    def _names(self, exclude: str | None = None) -> str:
        running = [p.name for p in self.programs if p.name != exclude and p.name in self._procs and self._procs[p.name].poll() is None]
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
                self.printer.say(f"sending {signal_name(sig)} to {len(targets)} process(es) still running")
                self._send(sig, table)
            elif stages[stage][0] == signal.SIGKILL:
                self._send(signal.SIGKILL, table)
                if elapsed >= self.grace_period + KILL_WAIT:
                    self.printer.say(f"giving up on pids {sorted(targets)}: they survived SIGKILL")
                    return
