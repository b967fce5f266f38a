import io
import threading
import time

import pytest

from tasks.lib.console import PrefixedOutput
from tasks.lib.stack.timing import Background, Steps


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_steps_record_outcomes_and_times():
    clock = FakeClock()
    steps = Steps(clock=clock)

    def work():
        clock.now += 1.5
        return "skipped"

    assert steps.run("deps", work) == "skipped"
    steps.run("setup", lambda: None)
    assert [(r.name, r.outcome, r.seconds) for r in steps.records] == [("deps", "skipped", 1.5), ("setup", "ran", 0.0)]
    table = steps.table(total=2.0)
    assert table.splitlines()[0].split() == ["step", "result", "seconds"]
    assert table.splitlines()[1].split() == ["deps", "skipped", "1.50"]
    assert table.splitlines()[-1].split() == ["total", "2.00"]


def test_failed_step_is_recorded_and_reraised():
    steps = Steps(clock=FakeClock())

    def boom():
        raise RuntimeError("x")

    with pytest.raises(RuntimeError):
        steps.run("seed", boom)
    assert steps.records[0].outcome == "failed"


def test_background_output_is_prefixed_and_errors_reach_join(monkeypatch):
    target = io.StringIO()
    out = PrefixedOutput(target)
    monkeypatch.setattr("sys.stdout", out)
    steps = Steps(clock=FakeClock())
    gate = threading.Event()

    def pg(cancelled):
        print("creating container")
        gate.wait(5)
        raise ValueError("engine gone")

    bg = Background(steps, "postgres", pg).start()
    print("main line")
    gate.set()
    with pytest.raises(ValueError):
        bg.join()
    lines = target.getvalue().splitlines()
    assert "postgres | creating container" in lines
    assert "main line" in lines
    assert steps.records[0].outcome == "failed"


def test_background_unfinished_last_line_is_written_out(monkeypatch):
    target = io.StringIO()
    monkeypatch.setattr("sys.stdout", PrefixedOutput(target))
    steps = Steps(clock=FakeClock())
    Background(steps, "pg", lambda cancelled: print("line1\npartial", end="")).start().join()
    assert target.getvalue().splitlines() == ["pg | line1", "pg | partial"]


def test_an_interrupted_step_is_marked_interrupted_not_failed():
    from tasks.lib.supervise.foreground import Interrupted

    steps = Steps(clock=FakeClock())
    with pytest.raises(Interrupted):
        steps.run("seed", lambda: (_ for _ in ()).throw(Interrupted(2, "mix ecto.seed")))
    with pytest.raises(KeyboardInterrupt):
        steps.run("deps", lambda: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert [r.outcome for r in steps.records] == ["interrupted", "interrupted"]


def test_finish_stops_the_background_step_and_tells_its_own_error(capsys):
    steps = Steps(clock=FakeClock())
    started = threading.Event()

    def pg(cancelled):
        started.set()
        while not cancelled():
            time.sleep(0.01)
        raise RuntimeError("could not start container x: port taken")

    bg = Background(steps, "postgres", pg).start()
    started.wait(5)
    bg.finish(timeout=5)
    assert steps.records[0].outcome == "failed"
    assert "postgres: could not start container x: port taken" in capsys.readouterr().err


def test_finish_of_a_cancelled_step_prints_nothing(capsys):
    steps = Steps(clock=FakeClock())
    bg = Background(steps, "postgres", lambda cancelled: "stopped" if cancelled() else "ready")
    bg.finish()
    assert steps.records[0].outcome == "not started"
    assert capsys.readouterr().err == ""


def test_the_reseed_hint_keeps_every_flag_given():
    from tasks.lib.stack.up import command_line

    assert command_line(False, False, None) == "inv dev.up --reseed --yes"
    assert (
        command_line(True, True, ["FZFF_X=true", "A=b c"]) == "inv dev.up --reseed --yes --force --no-iex --env FZFF_X=true --env 'A=b c'"
    )
