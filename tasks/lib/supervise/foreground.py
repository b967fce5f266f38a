"""One program on our terminal; a signal to us meanwhile makes the step Interrupted, whatever its exit code
(the BEAM aborted from its BREAK menu exits 0). More Ctrl-Cs escalate to SIGTERM, then SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from tasks.lib.supervise import lifeline

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
WORDS = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM", signal.SIGHUP: "SIGHUP (terminal closed)"}


class Interrupted(Exception):
    """We got ``signum`` while a step ran (or Python code ran): stop, record nothing."""

    def __init__(self, signum: int, what: str = ""):
        self.signum = signum
        self.what = what
        self.code = 128 + int(signum)
        during = f" during {what}" if what else ""
        super().__init__(f"interrupted by {WORDS.get(signal.Signals(signum), f'signal {signum}')}{during}")


def _terminal_delivers_sigint() -> bool:
    """True when we are the foreground job of the terminal on stdin, stdout or stderr."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


class _Watch:
    """Our signal handler while a program runs (it may not exist yet)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.first: int | None = None
        self.counts: dict[int, int] = {}
        self.forward_sigint = not _terminal_delivers_sigint()

    def _send(self, sig: int) -> None:
        try:
            if self.proc is not None:
                self.proc.send_signal(sig)
        except OSError:
            pass

    def __call__(self, signum: int, _frame) -> None:
        self.first = signum if self.first is None else self.first
        n = self.counts[signum] = self.counts.get(signum, 0) + 1
        if signum != signal.SIGINT:
            self._send(signal.SIGKILL if n >= 2 else signum)
        elif n >= 4:
            self._send(signal.SIGKILL)
        elif n == 3:
            sys.stderr.write("\ninv: third Ctrl-C: sending SIGTERM (once more: SIGKILL)\n")
            self._send(signal.SIGTERM)
        elif self.forward_sigint:
            self._send(signal.SIGINT)

    def started(self, proc: subprocess.Popen) -> None:
        """The program exists: pass on what arrived before it did."""
        self.proc = proc
        if self.first is not None and (self.first != signal.SIGINT or self.forward_sigint):
            self._send(self.first)


def _install(watch: _Watch) -> dict[int, object]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, watch) for s in HANDLED if signal.getsignal(s) is not signal.SIG_IGN}


def _restore(previous: dict[int, object]) -> None:
    blocked = set(previous)
    signal.pthread_sigmask(signal.SIG_BLOCK, blocked)  # none lands between two restores
    try:
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)


def run(argv: list[str], *, cwd: Path | str, env: Mapping[str, str], what: str = "", stdin: int | None = None) -> int:
    """Run ``argv`` in ``cwd`` with the complete environment ``env`` on our terminal; its exit
    status (128+N when killed by signal N). Interrupted when we got a signal meanwhile; OSError
    when it cannot start."""
    watch = _Watch()
    previous = _install(watch)  # before the program starts: no signal falls in between
    try:
        proc = subprocess.Popen(
            [str(a) for a in argv], cwd=str(cwd), env=lifeline.child_env(env), preexec_fn=lifeline.preexec(), stdin=stdin
        )
        watch.started(proc)
        while True:
            try:
                rc = proc.wait()
                break
            except KeyboardInterrupt:  # a handler installed by someone else raised it
                watch(signal.SIGINT, None)
    finally:
        _restore(previous)
    if watch.first is not None:
        raise Interrupted(watch.first, what)
    return 128 - rc if rc < 0 else rc


def raise_on_signals() -> None:
    """Turn SIGTERM and SIGHUP into Interrupted in Python code, as Ctrl-C is into
    KeyboardInterrupt, so ``finally`` blocks run and the step table is printed."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, _frame) -> None:
        raise Interrupted(signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, handler)
