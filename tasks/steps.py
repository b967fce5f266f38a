"""Steps of a multi-step task: timing, a closing table, and running one in the background.

``dev.up`` starts Postgres in a background thread while mix fetches deps and builds
assets; that thread's output is prefixed with the step's name so the two streams
stay readable.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, TextIO


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
        widths = [max(len(row[i]) for row in rows + [("step", "result", "seconds", "")]) for i in range(3)]
        lines = [f"{'step':<{widths[0]}}  {'result':<{widths[1]}}  {'seconds':>{widths[2]}}"]
        for name, outcome, secs, note in rows:
            line = f"{name:<{widths[0]}}  {outcome:<{widths[1]}}  {secs:>{widths[2]}}"
            lines.append(f"{line}  {note}".rstrip())
        return "\n".join(lines)


class PrefixedOutput:
    """A stdout stand-in: lines written by registered threads get a ``name | `` prefix."""

    def __init__(self, target: TextIO):
        self.target = target
        self.prefixes: dict[int, str] = {}
        self._partial: dict[int, str] = {}
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        ident = threading.get_ident()
        prefix = self.prefixes.get(ident)
        if prefix is None:
            return self.target.write(text)
        with self._lock:
            buffered = self._partial.pop(ident, "") + text
            *lines, rest = buffered.split("\n")
            for line in lines:
                self.target.write(f"{prefix} | {line}\n")
            if rest:
                self._partial[ident] = rest
            self.target.flush()
        return len(text)

    def release(self, ident: int) -> None:
        """Stop prefixing thread ``ident``'s lines, writing out any unfinished one."""
        with self._lock:
            prefix = self.prefixes.pop(ident, None)
            rest = self._partial.pop(ident, "")
            if prefix is not None and rest:
                self.target.write(f"{prefix} | {rest}\n")
                self.target.flush()

    def flush(self) -> None:
        self.target.flush()

    def __getattr__(self, name):
        return getattr(self.target, name)


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
