"""tasks/lib/docker/pull.py: a recorded pull stream (postgres:18), rendered as on a terminal and in a log."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import pytest

from tasks.lib.docker import pull

STREAM = Path(__file__).parent.parent / "fixtures" / "pull" / "postgres18.jsonl"


def events() -> list[dict]:
    return [json.loads(line) for line in STREAM.read_text().splitlines()]


class Out(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_on_a_terminal_a_line_per_layer_with_bytes_and_a_total_redrawn_in_place():
    out = Out(tty=True)
    ticks = itertools.count(0, 1.0)  # every event is a redraw
    pull.show(events(), "postgres:18", out, clock=lambda: next(ticks))
    text = out.getvalue()
    assert "\x1b[2Kb1badc6e5066: Downloading 14.12MB/28.23MB\n" in text
    assert "\x1b[2Kf1d8a3f0c9e1: Downloading 56.22MB/112.44MB\n" in text
    assert "\x1b[3A" in text  # the cursor goes back over the earlier lines
    final = text.split("\x1b[")[-5:]
    assert [f.split("K", 1)[1] for f in final[1:]] == [
        "b1badc6e5066: Pull complete\n",
        "f1d8a3f0c9e1: Pull complete\n",
        "3e2c1b7a9d40: Already exists\n",
        "postgres:18: 140.67MB of 140.67MB, 3/3 layers done\n",
    ]


def test_in_a_log_one_line_every_few_seconds_then_the_end():
    out = Out(tty=False)
    ticks = itertools.count(0, 1.0)
    pull.show(events(), "postgres:18", out, every=5.0, clock=lambda: next(ticks))
    lines = out.getvalue().splitlines()
    assert lines[0] == "pulling postgres:18: 540.67kB of 28.23MB, 1/3 layers done"  # the sizes known so far
    assert lines[-1] == "pulled postgres:18: 140.67MB of 140.67MB, 3/3 layers done"
    assert 2 <= len(lines) <= 4 and "\x1b" not in out.getvalue()


def test_an_error_in_the_stream_and_ctrl_c_close_it():
    closed = []

    def stream(*tail):
        try:
            yield from events()[:5]
            yield from tail
        finally:
            closed.append(True)

    with pytest.raises(pull.StreamError, match="manifest for postgres:99 not found"):
        pull.show(stream({"error": "manifest for postgres:99 not found"}), "postgres:99", Out(False))
    gen = stream()

    def interrupted():
        yield from itertools.islice(gen, 3)
        raise KeyboardInterrupt

    events_then_ctrl_c = interrupted()
    with pytest.raises(KeyboardInterrupt):
        pull.show(events_then_ctrl_c, "postgres:18", Out(True))
    gen.close()
    assert closed == [True, True]
