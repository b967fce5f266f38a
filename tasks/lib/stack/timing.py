"""dev.up's steps timed, with a closing table; one runs in a background thread, its output prefixed with its name."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tasks.lib import console
from tasks.lib.console import PrefixedOutput
from tasks.lib.problem import Refused
from tasks.lib.supervise.foreground import Interrupted


@dataclass
class StepRecord:
    name: str
    outcome: str = "pending"  # ran, skipped, ready, failed, interrupted, stopped, dry, ...
    seconds: float = 0.0


@dataclass
class Steps:
    clock: Callable[[], float] = time.monotonic
    records: list[StepRecord] = field(default_factory=list)

    def run(self, name: str, fn: Callable[[], str | None]) -> str:
        return self.timed(self.new(name), fn)

    def new(self, name: str, outcome: str = "pending") -> StepRecord:
        self.records.append(StepRecord(name, outcome=outcome))
        return self.records[-1]

    def timed(self, record: StepRecord, fn: Callable[[], str | None]) -> str:
        start = self.clock()
        try:
            record.outcome = fn() or "ran"
        except (KeyboardInterrupt, Interrupted):
            record.outcome = "interrupted"
            raise
        except Refused:
            record.outcome = "refused"
            raise
        except BaseException:
            record.outcome = "failed"
            raise
        finally:
            record.seconds = self.clock() - start
        return record.outcome

    def table(self, total: float | None = None) -> str:
        rows = [(r.name, r.outcome, f"{r.seconds:.2f}") for r in self.records]
        rows += [("total", "", f"{total:.2f}")] if total is not None else []
        return console.table(rows, header=("step", "result", "seconds"), right=(2,))


class Background:
    """One step in a thread, recorded like ``Steps.run``; ``fn`` polls ``cancelled()``, which ``finish`` sets before it waits."""

    def __init__(self, steps: Steps, name: str, fn: Callable[[Callable[[], bool]], str | None]):
        self.steps = steps
        self.record = steps.new(name, outcome="running")
        self._fn = fn
        self._cancel = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=f"step-{name}", daemon=True)

    def _main(self) -> None:
        out = sys.stdout if isinstance(sys.stdout, PrefixedOutput) else None
        if out is not None:
            out.prefixes[threading.get_ident()] = self.record.name
        try:
            self.steps.timed(self.record, lambda: self._fn(self._cancel.is_set))
        except BaseException as e:  # handed to the main thread by join()
            self._error = e
        finally:
            if out is not None:
                out.release(threading.get_ident())

    def start(self) -> Background:
        self._thread.start()
        return self

    def join(self) -> str:
        try:
            while self._thread.is_alive():
                self._thread.join(0.1)
        except (KeyboardInterrupt, Interrupted):
            self.finish()
            self.record.outcome = "interrupted"
            raise
        error, self._error = self._error, None
        if error is not None:
            raise error
        return self.record.outcome

    def finish(self, timeout: float = 30.0, out=None) -> None:
        """Another step failed: stop this one, wait up to ``timeout`` s, and print its own error on ``out``."""
        self._cancel.set()
        if self._thread.ident is None:  # never started
            self.record.outcome = "not started"
            return
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            self._thread.join(0.1)
        if self._thread.is_alive():
            self.record.outcome = "abandoned"
            return
        error, self._error = self._error, None
        if error is not None and not isinstance(error, (KeyboardInterrupt, Interrupted)):
            message = getattr(error, "message", None) or str(error) or error.__class__.__name__
            print(f"{self.record.name}: {message}", file=out or sys.stderr, flush=True)
