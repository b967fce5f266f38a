"""The one readiness loop: probe a ``Target`` until it answers, watching that it is still alive, and
fail with the last error, the fix and the service's last log lines."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tasks.lib.masking import mask_text
from tasks.lib.problem import Problem

_EPSILON = 1e-6  # float slack, so a deadline reached by summed intervals counts as reached


class Cancelled(Exception):
    """The wait stopped because its ``cancelled()`` said so (another step failed, Ctrl-C)."""

    def __init__(self, message: str = "stopped waiting for Postgres"):
        super().__init__(message)


@dataclass(frozen=True)
class Target:
    what: str  # "Postgres at localhost:5432", the start of every failure line
    probe: Callable[[], str | None]  # None: ready; else why not, one line
    hint: Callable[[str, str, bool], str]  # (last error, log tail, stopped) -> the fix
    fatal: Callable[[str], bool] = lambda _error: False  # an error retrying cannot fix (the server said no)
    alive: Callable[[], str | None] = lambda: None  # why it cannot answer any more (its process stopped), else None
    logs: Callable[[], str] = lambda: ""  # its last log lines
    log_source: str = "the container"
    secrets: tuple[str, ...] = field(default=(), repr=False)


def log_block(source: str, text: str) -> str:
    """The one log-tail formatter: ``\\nLast log lines of SOURCE:`` and the lines indented; '' without lines."""
    if not (text or "").strip():
        return ""
    return f"\nLast log lines of {source}:\n" + "\n".join("  " + ln for ln in text.rstrip("\n").splitlines())


def wait(
    target: Target,
    timeout: float,
    interval: float,
    cancelled: Callable[[], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    alive_every: float = 0.5,
) -> float:
    """Probe every ``interval`` s until ready; return the seconds waited. A Problem on timeout, on a fatal
    error, or when ``alive()`` (asked every ``alive_every`` s) says it stopped; Cancelled when ``cancelled()``."""
    start = clock()
    deadline = start + timeout
    next_alive = start + alive_every
    while True:
        if cancelled is not None and cancelled():
            raise Cancelled()
        last = target.probe()
        if last is None:
            return clock() - start
        now = clock()
        if target.fatal(last):
            raise failure(target, f"{target.what} refused the handshake: {last}", last)
        if now >= next_alive:
            gone = target.alive()
            if gone:
                raise failure(target, f"{target.what} will not answer: {gone} (last error: {last})", last, stopped=True)
            next_alive = now + alive_every
        if now >= deadline - _EPSILON:
            raise failure(target, f"{target.what} did not answer within {timeout:g} s: {last}", last)
        sleep(min(interval, max(0.0, deadline - now)))  # the last try at the deadline


def failure(target: Target, what: str, last: str, stopped: bool = False) -> Problem:
    """What, the fix, then the last log lines (all masked)."""
    try:
        tail = target.logs() or ""
    except Exception:  # logs are garnish: never lose the error for them
        tail = ""
    problem = Problem(mask_text(what, target.secrets), mask_text(target.hint(last, tail, stopped), target.secrets))
    problem.message = (problem.message or "") + log_block(target.log_source, mask_text(tail, target.secrets))
    return problem
