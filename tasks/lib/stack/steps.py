"""Steps of a multi-step task (dev.up): timing, a closing table, and running one in the background.

``dev.up`` starts Postgres in a background thread while mix fetches deps and builds
assets; that thread's output is prefixed with the step's name so the two streams
stay readable.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from tasks.lib import console
from tasks.lib.console import PrefixedOutput


@dataclass
class StepRecord:
    name: str
    outcome: str = "pending"  # ran, skipped, ready, failed, dry, ...
    seconds: float = 0.0
    note: str = ""


@dataclass
class Steps:
    """Records what each step did and how long it took."""

    clock: Callable[[], float] = time.monotonic
    records: list[StepRecord] = field(default_factory=list)

    def run(self, name: str, fn: Callable[[], str | None], note: str = "") -> str:
        return self.timed(self.new(name, note), fn)

    def new(self, name: str, note: str = "", outcome: str = "pending") -> StepRecord:
        record = StepRecord(name, outcome=outcome, note=note)
        self.records.append(record)
        return record

    def timed(self, record: StepRecord, fn: Callable[[], str | None]) -> str:
        """Run ``fn`` for ``record``: its outcome ("ran" by default, "failed" on error) and time."""
        start = self.clock()
        try:
            record.outcome = fn() or "ran"
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
    """Runs one step in a thread, recording it like ``Steps.run``; ``join`` re-raises."""

    def __init__(self, steps: Steps, name: str, fn: Callable[[], str | None], note: str = ""):
        self.steps = steps
        self.record = steps.new(name, note, outcome="running")
        self._fn = fn
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=f"step-{name}", daemon=True)

    def _main(self) -> None:
        out = sys.stdout
        if isinstance(out, PrefixedOutput):
            out.prefixes[threading.get_ident()] = self.record.name
        try:
            self.steps.timed(self.record, self._fn)
        except BaseException as e:  # handed to the main thread by join()
            self._error = e
        finally:
            if isinstance(out, PrefixedOutput):
                out.release(threading.get_ident())

    def start(self) -> "Background":
        self._thread.start()
        return self

    def join(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.record.outcome
