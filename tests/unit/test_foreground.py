"""supervise/foreground.py and lifeline.py with real processes: a signal during a step
makes it Interrupted whatever its exit code; children carry the run's token and
(Linux) a parent-death signal."""

from __future__ import annotations

import os
import signal
import sys
import threading

import pytest

from tasks.lib.supervise import foreground, lifeline


def _signal_us_soon(sig: int, after: float = 0.3) -> threading.Timer:
    t = threading.Timer(after, os.kill, (os.getpid(), sig))
    t.start()
    return t


def test_exit_status_passes_through(tmp_path):
    assert foreground.run(["sh", "-c", "exit 7"], cwd=tmp_path, env=dict(os.environ)) == 7
    assert foreground.run(["sh", "-c", "kill -TERM $$"], cwd=tmp_path, env=dict(os.environ)) == 143


def test_a_ctrl_c_during_the_step_is_interrupted_even_when_it_exits_0(tmp_path, monkeypatch):
    # Like the BEAM aborted from its BREAK menu: the program exits 0 after the Ctrl-C.
    monkeypatch.setattr(foreground, "_terminal_delivers_sigint", lambda: False)
    marker = tmp_path / "got-int"
    script = f"trap 'touch {marker}' INT; i=0; while [ $i -lt 40 ] && [ ! -e {marker} ]; do sleep 0.05; i=$((i+1)); done; exit 0"
    _signal_us_soon(signal.SIGINT)
    with pytest.raises(foreground.Interrupted) as e:
        foreground.run(["sh", "-c", script], cwd=tmp_path, env=dict(os.environ), what="mix ecto.seed")
    assert e.value.code == 130
    assert str(e.value) == "interrupted by Ctrl-C (SIGINT) during mix ecto.seed"
    assert marker.exists()  # passed on: the signal did not come from a terminal
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_sigterm_is_passed_on_and_gives_143(tmp_path):
    _signal_us_soon(signal.SIGTERM)
    with pytest.raises(foreground.Interrupted) as e:
        foreground.run(["sleep", "30"], cwd=tmp_path, env=dict(os.environ))
    assert e.value.code == 143


def test_children_carry_the_runs_token(tmp_path):
    out = tmp_path / "env"
    foreground.run(["sh", "-c", f'echo "$FZ_INV_RUN" > {out}'], cwd=tmp_path, env={"PATH": os.environ["PATH"]})
    assert out.read_text().strip() == lifeline.token()
    assert lifeline.without_token({"A": "1", lifeline.VAR: "x"}) == {"A": "1"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux-only")
def test_a_child_gets_a_parent_death_signal(tmp_path):
    out = tmp_path / "sig"
    # /proc has no pdeathsig: the child asks prctl itself.
    code = (
        "import ctypes, signal; libc = ctypes.CDLL(None); v = ctypes.c_int(0);"
        "libc.prctl(2, ctypes.byref(v), 0, 0, 0);"  # PR_GET_PDEATHSIG
        f"open({str(out)!r}, 'w').write(str(v.value))"
    )
    foreground.run([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ))
    assert int(out.read_text()) == signal.SIGTERM


def test_an_ignored_signal_stays_ignored(tmp_path):
    # Under `nohup` SIGHUP is ignored: a closed terminal must not mark the step interrupted.
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        _signal_us_soon(signal.SIGHUP, after=0.1)
        assert foreground.run(["sh", "-c", "sleep 0.4"], cwd=tmp_path, env=dict(os.environ)) == 0
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)
