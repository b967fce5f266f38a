"""An image pull's progress as the docker CLI shows it: on a terminal a line per layer and a total, redrawn in place;
elsewhere one line every few seconds."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from typing import TextIO

DONE = ("Download complete", "Verifying Checksum", "Extracting", "Pull complete", "Already exists")


class StreamError(Exception):
    """The engine reported an error in the pull stream (no such tag, registry unreachable...)."""


def size(n: float) -> str:
    """Decimal units, as docker prints them: ``29.12MB``."""
    for unit in ("B", "kB", "MB"):
        if n < 1000:
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.2f}{unit}"
        n /= 1000
    return f"{n:.2f}GB"


def show(
    events: Iterable[dict], image: str, out: TextIO | None = None, every: float = 5.0, clock: Callable[[], float] = time.monotonic
) -> None:
    """Render the SDK's decoded pull stream (``client.api.pull(..., stream=True, decode=True)``);
    an error in it is a StreamError; on Ctrl-C the stream is closed, which stops the pull."""
    out = out or sys.stdout
    tty = out.isatty()
    layers: dict[str, tuple[str, int, int]] = {}  # id -> (status, bytes downloaded, download size)
    drawn, last = 0, clock()

    def lines() -> list[str]:
        rows = []
        for lid, (status, cur, total) in layers.items():
            rows.append(f"{lid}: {status}" + (f" {size(cur)}/{size(total)}" if status == "Downloading" and total else ""))
        got, want = sum(v[1] for v in layers.values()), sum(v[2] for v in layers.values())
        done = sum(v[0] in ("Pull complete", "Already exists") for v in layers.values())
        return [*rows, f"{image}: {size(got)} of {size(want)}, {done}/{len(layers)} layers done"]

    try:
        for ev in events:
            if "error" in ev:
                raise StreamError(ev["error"])
            lid, status, detail = ev.get("id", ""), ev.get("status", ""), ev.get("progressDetail") or {}
            if not lid or status.startswith("Pulling from"):
                continue
            _, cur, total = layers.get(lid, ("", 0, 0))
            if status == "Downloading":
                cur, total = detail.get("current", cur), detail.get("total") or total
            layers[lid] = (status, total if status in DONE else cur, total)
            if tty and clock() - last >= 0.1:
                drawn, last = _draw(out, lines(), drawn), clock()
            elif not tty and clock() - last >= every:
                print(f"pulling {lines()[-1]}", file=out, flush=True)
                last = clock()
    except BaseException:
        getattr(events, "close", lambda: None)()
        raise
    if tty:
        _draw(out, lines(), drawn)
    else:
        print(f"pulled {lines()[-1]}", file=out, flush=True)


def _draw(out: TextIO, rows: list[str], drawn: int) -> int:
    """Redraw ``rows`` over the ``drawn`` lines written last time (cursor up, clear each line)."""
    out.write((f"\x1b[{drawn}A" if drawn else "") + "".join(f"\x1b[2K{r}\n" for r in rows))
    out.flush()
    return len(rows)
