"""dev.up's steps timed, with a closing table; one runs in a background thread, its output prefixed with its name."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tasks.lib import console
from tasks.lib.console import PrefixedOutput
from tasks.lib.supervise.foreground import Interrupted


@dataclass
class StepRecord:
    name: str
    outcome: str = "pending"  # ran, skipped, ready, failed, interrupted, stopped, dry, ...
    seconds: float = 0.0
    note: str = ""


@dataclass
class Steps:
    clock: Callable[[], float] = time.monotonic
    records: list[StepRecord] = field(default_factory=list)

    def run(self, name: str, fn: Callable[[], str | None], note: str = "") -> str:
        return self.timed(self.new(name, note), fn)

    def new(self, name: str, note: str = "", outcome: str = "pending") -> StepRecord:
        record = StepRecord(name, outcome=outcome, note=note)
        self.records.append(record)
        return record

    def timed(self, record: StepRecord, fn: Callable[[], str | None]) -> str:
        """Run ``fn`` for ``record``: its outcome ("ran" by default, "interrupted", "failed") and time."""
        start = self.clock()
        try:
            record.outcome = fn() or "ran"
        except (KeyboardInterrupt, Interrupted):
            record.outcome = "interrupted"
            raise
        except BaseException:
            record.outcome = "failed"
            raise
        finally:
            record.seconds = self.clock() - start
        return record.outcome

    def table(self, total: float | None = None) -> str:
        rows = [(r.name, r.outcome, f"{r.seconds:.2f}", r.note) for r in self.records]
        if total is not None:
            rows.append(("total", "", f"{total:.2f}", ""))
        return console.table(rows, header=("step", "result", "seconds", ""), right=(2,))


class Background:
    """One step in a thread, recorded like ``Steps.run``; ``join`` re-raises. ``fn`` polls the
    ``cancelled()`` it gets: ``finish`` sets it and waits, so the step never dies half-done."""

    def __init__(self, steps: Steps, name: str, fn: Callable[[Callable[[], bool]], str | None], note: str = ""):
        self.steps = steps
        self.record = steps.new(name, note, outcome="running")
        self._fn = fn
        self._cancel = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=f"step-{name}", daemon=True)

    def _main(self) -> None:
        out = sys.stdout
        if isinstance(out, PrefixedOutput):
            out.prefixes[threading.get_ident()] = self.record.name
        try:
            self.steps.timed(self.record, lambda: self._fn(self._cancel.is_set))
        except BaseException as e:  # handed to the main thread by join()
            self._error = e
        finally:
            if isinstance(out, PrefixedOutput):
                out.release(threading.get_ident())

    def start(self) -> Background:
        self._thread.start()
        return self

    def join(self) -> str:
        """Wait for the step; re-raise its error. A Ctrl-C meanwhile interrupts it."""
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
