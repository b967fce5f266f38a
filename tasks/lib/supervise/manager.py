"""Several programs in one terminal, honcho-style: lines relayed as ``name | line``, secrets masked; when one
exits or a signal comes, the rest and their descendants get SIGINT, SIGTERM, then SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from tasks.lib.masking import mask_text
from tasks.lib.problem import Problem
from tasks.lib.supervise import lifeline, proctable

SIGNAL_CODES: dict[int, int] = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}
SYSTEM = "system"
# Prefix colours by program order: cyan, yellow, magenta, green, blue, red.
COLOURS = ("36", "33", "35", "32", "34", "31")
TRACK_INTERVAL = 0.5  # s between looks for descendants while running (remembered if re-parented)
KILL_WAIT = 5.0  # s after SIGKILL before giving up on what survives it


class SupervisorError(Problem):
    """A program could not be started."""


@dataclass
class Program:
    name: str
    argv: list[str]
    cwd: str | os.PathLike | None = None
    env: Mapping[str, str] | None = None  # the complete environment (None: ours)
    exit_code: int | None = None  # the supervisor's code when this one exits first (None: its own)
    fix: str = ""  # what to do when it cannot start (how to install it)


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _how(rc: int) -> str:
    return f"was killed by {signal_name(-rc)}" if rc < 0 else f"exited with code {rc}"


class System(proctable.Tree):
    """Processes, signals and time as the supervisor sees them; unit tests hand in a fake."""

    poll = 0.05
    clock = staticmethod(time.monotonic)

    def __init__(self) -> None:
        lifeline.start_watchdog()  # before the tree notes our children: it is not ours to stop
        super().__init__()

    def start(self, program: Program) -> subprocess.Popen:
        proc = subprocess.Popen(
            [str(a) for a in program.argv],
            cwd=str(program.cwd) if program.cwd is not None else None,
            env=lifeline.child_env(program.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lifeline.preexec(),
        )
        self.add(proc.pid)
        return proc


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
        wait_all: bool = False,
        system: Any = None,
    ):
        self.programs = list(programs)
        names = [p.name for p in self.programs]
        if len(set(names)) != len(names):
            raise ValueError(f"program names must be unique: {names}")
        self.out = out if out is not None else sys.stdout
        self.secrets = sorted(set(secrets), key=len, reverse=True)
        tty = getattr(self.out, "isatty", lambda: False)()
        self.colour = colour if colour is not None else tty and not os.environ.get("NO_COLOR")
        self.grace_period = float(grace_period)
        self.wait_all = wait_all
        self.exit_codes: dict[str, int] = {}  # name -> exit status (wait_all)
        self._system = system
        self._width = max(len(n) for n in [*names, SYSTEM])
        self._lock = threading.Lock()
        self._procs: dict[str, subprocess.Popen] = {}
        self._readers: list[threading.Thread] = []
        self._signal: int | None = None
        self._presses = 0

    # -- output

    def emit(self, name: str, text: str) -> None:
        prefix = f"{name.ljust(self._width)} |"
        if self.colour:
            code = "1" if name == SYSTEM else COLOURS[[p.name for p in self.programs].index(name) % len(COLOURS)]
            prefix = f"\033[{code}m{prefix}\033[0m"
        with self._lock:
            self.out.write(f"{prefix} {mask_text(text, self.secrets)}\n")
            self.out.flush()

    def say(self, text: str) -> None:
        self.emit(SYSTEM, text)

    def _relay(self, name: str, stream) -> None:
        try:
            for raw in iter(stream.readline, b""):
                self.emit(name, raw.decode("utf-8", "replace").rstrip("\r\n"))
        except (OSError, ValueError):
            pass

    # -- running

    def _on_signal(self, signum, _frame) -> None:
        self._signal = signum if self._signal is None else self._signal
        self._presses += 1

    def run(self) -> int:
        """Start every program, relay output, stop all when one exits; return the exit code."""
        system = self._system or System()
        previous = {}
        if threading.current_thread() is threading.main_thread():
            previous = {sig: signal.signal(sig, self._on_signal) for sig in SIGNAL_CODES}
        try:
            try:
                for program in self.programs:
                    self._start(system, program)
            except SupervisorError:
                self._stop(system)
                raise
            code = self._wait(system)
            self._stop(system)
            return code
        finally:
            system.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for t in self._readers:
                t.join(timeout=1.0)
            for name, proc in self._procs.items():
                # A reader still blocked holds the stream's lock: closing would hang.
                if proc.stdout is not None and not any(t.name == name and t.is_alive() for t in self._readers):
                    proc.stdout.close()

    def _start(self, system, program: Program) -> None:
        try:
            proc = system.start(program)
        except OSError as e:
            raise SupervisorError(f"cannot start {program.name} ({program.argv[0]}): {e.strerror or e}", program.fix) from None
        self._procs[program.name] = proc
        if proc.stdout is not None:
            t = threading.Thread(target=self._relay, args=(program.name, proc.stdout), name=program.name, daemon=True)
            t.start()
            self._readers.append(t)

    def _running(self, exclude: str = "") -> str:
        return ", ".join(p.name for p in self.programs if p.name != exclude and self._procs[p.name].poll() is None)

    def _wait(self, system) -> int:
        next_track = system.clock()
        while True:
            time.sleep(system.poll)
            if self._signal is not None:
                self.say(f"{signal_name(self._signal)} received: stopping {self._running() or 'all'}")
                return SIGNAL_CODES.get(self._signal, 128 + self._signal)
            for program in self.programs:
                rc = None if program.name in self.exit_codes else self._procs[program.name].poll()
                if rc is None:
                    continue
                status = 128 - rc if rc < 0 else rc
                if not self.wait_all:
                    others = self._running(exclude=program.name)
                    self.say(f"{program.name} {_how(rc)}" + (f": stopping {others}" if others else ""))
                    return program.exit_code if program.exit_code is not None else status
                self.exit_codes[program.name] = status
                self.say(f"{program.name} {_how(rc)}")
                if len(self.exit_codes) == len(self.programs):
                    return next((self.exit_codes[p.name] for p in self.programs if self.exit_codes[p.name]), 0)
            if system.clock() >= next_track:
                system.live()  # remembers what is below the programs now
                next_track = system.clock() + TRACK_INTERVAL

    def _stop(self, system) -> None:
        """SIGINT, SIGTERM at half the grace period, SIGKILL at its end, to everything ours."""
        stages = [(signal.SIGINT, 0.0), (signal.SIGTERM, self.grace_period / 2), (signal.SIGKILL, self.grace_period)]
        start, stage, presses = system.clock(), 0, self._presses
        system.send(system.live(), signal.SIGINT)
        while True:
            alive = system.settle(system.poll)
            if not alive and all(p.poll() is not None for p in self._procs.values()):
                return
            elapsed = system.clock() - start
            if stage + 1 < len(stages) and (elapsed >= stages[stage + 1][1] or self._presses > presses):
                stage, presses = stage + 1, self._presses  # another Ctrl-C: the next signal now
                self.say(f"sending {signal_name(stages[stage][0])} to {len(alive)} process(es) still running")
                system.send(alive, stages[stage][0])
            elif stages[stage][0] == signal.SIGKILL:
                system.send(alive, signal.SIGKILL)
                if elapsed >= self.grace_period + KILL_WAIT:
                    self.say(f"giving up on pids {sorted(p.pid for p in alive)}: they survived SIGKILL")
                    return
