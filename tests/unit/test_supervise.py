"""The supervisor: fake processes and a fake clock for the stop ladder, real
`sys.executable -c` children (and grandchildren in sessions of their own) for the rest,
and the process tree on this machine."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from tasks.lib.supervise import proctable
from tasks.lib.supervise.manager import Program, Supervisor, SupervisorError, signal_name

PY = sys.executable


def test_signal_names():
    assert signal_name(signal.SIGTERM) == "SIGTERM"
    assert signal_name(99) == "signal 99"


# ---------------------------------------------------------------- fakes


class FakeProc:
    """A process that dies on the signals in ``dies_on``, or exits on its own with ``exits``."""

    def __init__(self, pid: int, dies_on=(), exits: int | None = None):
        self.pid = pid
        self.dies_on = set(dies_on)
        self.returncode = exits
        self.stdout = None

    def poll(self):
        return self.returncode


class FakeSystem:
    """Processes, signals and a clock that advances ``step`` s per look; records signals."""

    poll = 0

    def __init__(self, programs: dict[str, FakeProc], step: float = 0.1):
        self.now = 0.0
        self.step = step
        self.procs = list(programs.values())
        self.extra: list[FakeProc] = []  # descendants
        self.sent: list[tuple[int, int, float]] = []
        self._queue = list(self.procs)

    def clock(self) -> float:
        self.now += self.step
        return self.now

    def start(self, program):
        return self._queue.pop(0)

    def live(self):
        return [p for p in self.procs + self.extra if p.returncode is None]

    settle = lambda self, timeout: self.live()  # noqa: E731

    def send(self, procs, sig):
        for p in procs:
            self.sent.append((p.pid, sig, self.now))
            if sig in p.dies_on:
                p.returncode = -sig

    def close(self):
        pass

    def supervisor(self, programs, **kw):
        return Supervisor(programs, out=io.StringIO(), grace_period=kw.pop("grace_period", 2.0), system=self, **kw)


def _signals_to(fake: FakeSystem, pid: int) -> list[tuple[int, float]]:
    return [(sig, t) for p, sig, t in fake.sent if p == pid]


def test_stop_ladder_sigint_then_sigterm_then_sigkill_after_the_grace_period():
    fake = FakeSystem({"a": FakeProc(100, exits=1), "b": FakeProc(200, dies_on={signal.SIGKILL})})
    sup = fake.supervisor([Program("a", ["a"], exit_code=3), Program("b", ["b"])], grace_period=2.0)
    assert sup.run() == 3
    sent = _signals_to(fake, 200)
    assert [s for s, _ in sent] == [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]
    start = sent[0][1]
    assert sent[1][1] - start >= 1.0  # SIGTERM at half the grace period
    assert sent[2][1] - start >= 2.0  # SIGKILL at its end
    out = sup.out.getvalue()
    assert "a exited with code 1: stopping b" in out
    assert "sending SIGKILL" in out


def test_a_process_that_stops_on_sigint_gets_nothing_else():
    fake = FakeSystem({"a": FakeProc(100, exits=0), "b": FakeProc(200, dies_on={signal.SIGINT})})
    sup = fake.supervisor([Program("a", ["a"]), Program("b", ["b"])])
    assert sup.run() == 0  # no fixed code: the first exiting program's own code
    assert [s for s, _ in _signals_to(fake, 200)] == [signal.SIGINT]


def test_descendants_are_signalled_until_they_stop():
    fake = FakeSystem({"a": FakeProc(100, exits=2), "b": FakeProc(200, dies_on={signal.SIGINT})})
    # b's grandchild (a BEAM port program): only SIGTERM stops it.
    fake.extra.append(FakeProc(300, dies_on={signal.SIGTERM}))
    sup = fake.supervisor([Program("a", ["a"]), Program("b", ["b"])])
    assert sup.run() == 2
    assert [s for s, _ in _signals_to(fake, 300)] == [signal.SIGINT, signal.SIGTERM]


def test_a_second_ctrl_c_skips_to_the_next_signal():
    fake = FakeSystem({"a": FakeProc(100, exits=1), "b": FakeProc(200, dies_on={signal.SIGKILL})}, step=0.001)
    sup = fake.supervisor([Program("a", ["a"]), Program("b", ["b"])], grace_period=1000)
    original = fake.send

    def send(procs, sig):  # the user presses Ctrl-C again as soon as a signal went out
        original(procs, sig)
        if sig in (signal.SIGINT, signal.SIGTERM):
            sup._on_signal(signal.SIGINT, None)

    fake.send = send  # type: ignore[method-assign]
    sup.run()
    assert [s for s, _ in _signals_to(fake, 200)] == [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]
    assert fake.now < 10  # long before the 1000 s grace period


def test_names_must_be_unique():
    with pytest.raises(ValueError):
        Supervisor([Program("a", ["x"]), Program("a", ["y"])])


# ---------------------------------------------------------------- real children


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _run(programs, **kw):
    out = io.StringIO()
    sup = Supervisor(programs, out=out, grace_period=kw.pop("grace_period", 2.0), **kw)
    start = time.monotonic()
    code = sup.run()
    return code, out.getvalue(), time.monotonic() - start


# A child that starts a grandchild in a session of its own (as the BEAM does with
# port programs), reports its pid, and then either sleeps or exits.
GRANDPARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    ignore = "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTERM, signal.SIG_IGN); " if sys.argv[2] == "stubborn" else ""
    gc = subprocess.Popen([sys.executable, "-c", ignore + "import time; time.sleep(60)"], start_new_session=True)
    print("grandchild", gc.pid, flush=True)
    time.sleep(float(sys.argv[1]))
    sys.exit(5)
    """
)


def _grandchild_pid(out: str, name: str) -> int:
    for line in out.splitlines():
        if line.startswith(f"{name} ") and "grandchild" in line:
            return int(line.split()[-1])
    raise AssertionError(f"no grandchild line for {name} in:\n{out}")


def test_the_tree_finds_a_child_and_its_grandchild_in_another_session_and_keeps_it_once_orphaned():
    tree = proctable.Tree()
    child = subprocess.Popen([PY, "-c", GRANDPARENT, "1", "soft"], stdout=subprocess.PIPE, start_new_session=True)
    tree.add(child.pid)
    grandchild = None
    try:
        grandchild = int(child.stdout.readline().decode().split()[-1])
        assert {child.pid, grandchild} <= {p.pid for p in tree.live()}
        assert child.wait(10) == 5
        if proctable.subreaper_state():  # Linux: the orphan is re-parented to us
            assert [p.pid for p in tree.live()] == [grandchild]
        tree.send(tree.live(), signal.SIGKILL)
        assert not tree.settle(5)
    finally:
        tree.close()
        if grandchild is not None and _alive(grandchild):
            os.kill(grandchild, signal.SIGKILL)
        child.stdout.close()


def test_relays_prefixed_lines_and_masks_secrets():
    secret = "sk_test_51HxAbCdEfGhIjKlMnOpQrSt"
    code, out, _ = _run(
        [
            Program("phx", [PY, "-c", f"import sys; print('key is {secret}'); print('oops', file=sys.stderr)"]),
            Program("stripe", [PY, "-c", "import time; time.sleep(30)"]),
        ],
        secrets=[secret],
        colour=False,
    )
    assert code == 0
    assert "phx    | key is sk_test_…QrSt" in out
    assert "phx    | oops" in out  # stderr is relayed too
    assert secret not in out
    assert "\033[" not in out


def test_colour_only_when_asked_or_on_a_terminal():
    _, out, _ = _run([Program("a", [PY, "-c", "print('hi')"])], colour=True)
    assert "\033[36ma      |\033[0m hi" in out
    assert "\033[" not in _run([Program("a", [PY, "-c", "print('hi')"])])[1]  # StringIO: no tty


def test_first_exit_stops_the_rest_and_their_grandchildren():
    code, out, took = _run(
        [
            Program("short", [PY, "-c", GRANDPARENT, "0.5", "soft"], exit_code=3),
            Program("long", [PY, "-c", GRANDPARENT, "60", "soft"], exit_code=4),
        ]
    )
    assert code == 3
    assert "short exited with code 5: stopping long" in out
    for name in ("short", "long"):
        assert not _alive(_grandchild_pid(out, name)), f"{name}'s grandchild survived:\n{out}"
    assert took < 10


def test_stubborn_grandchild_of_an_exited_child_is_killed():
    # The child exits right away, orphaning a grandchild (own session) that ignores
    # SIGINT and SIGTERM: as subreaper we still find it, and SIGKILL ends it.
    code, out, took = _run(
        [
            Program("parent", [PY, "-c", GRANDPARENT, "0.2", "stubborn"]),
            Program("other", [PY, "-c", "import time; time.sleep(60)"]),
        ],
        grace_period=1.0,
    )
    assert code == 5
    gc = _grandchild_pid(out, "parent")
    assert not _alive(gc), out
    assert "sending SIGKILL" in out
    assert took < 8


def _signal_us_once_handled(sig: int) -> threading.Thread:
    """Send ``sig`` to ourselves once the supervisor's handler is in place (never before:
    pytest itself would get it)."""

    def go():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            handler = signal.getsignal(sig)
            if getattr(handler, "__self__", None).__class__ is Supervisor:
                time.sleep(0.5)  # let the children start
                os.kill(os.getpid(), sig)
                return
            time.sleep(0.01)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


def test_sigint_to_us_stops_everything_and_returns_130():
    _signal_us_once_handled(signal.SIGINT)
    code, out, _ = _run([Program("a", [PY, "-c", GRANDPARENT, "60", "soft"])])
    assert code == 130
    assert "SIGINT received: stopping a" in out
    assert not _alive(_grandchild_pid(out, "a"))
    # Our own handler is gone again: the default one raises KeyboardInterrupt.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_to_us_returns_143():
    _signal_us_once_handled(signal.SIGTERM)
    code, _, _ = _run([Program("a", [PY, "-c", "import time; time.sleep(60)"])])
    assert code == 143


def test_subreaper_state_is_restored():
    before = proctable.subreaper_state()
    _run([Program("a", [PY, "-c", "pass"])])
    assert proctable.subreaper_state() == before


def test_a_program_that_cannot_start_stops_the_started_ones():
    with pytest.raises(SupervisorError) as e:
        _run(
            [
                Program("a", [PY, "-c", GRANDPARENT, "60", "soft"]),
                Program("b", ["/nonexistent/fz-stripe", "listen"], fix="install it"),
            ]
        )
    assert "cannot start b (/nonexistent/fz-stripe)" in e.value.what and e.value.fix == "install it"


def test_killed_child_reports_128_plus_signal():
    code, out, _ = _run([Program("a", [PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])])
    assert code == 137
    assert "a was killed by SIGKILL" in out


def test_wait_all_lets_each_program_finish_and_returns_the_first_failure():
    # Test partitions: a quick success must not stop a slower one; every code is kept.
    code, out, took = _run(
        [
            Program("p1", [PY, "-c", "print('one')"]),
            Program("p2", [PY, "-c", "import sys, time; time.sleep(0.5); print('two'); sys.exit(2)"]),
            Program("p3", [PY, "-c", "import sys, time; time.sleep(0.3); sys.exit(3)"]),
        ],
        wait_all=True,
    )
    assert code == 2  # the first non-zero in program order, not in time
    assert "p2     | two" in out and "p1 exited with code 0" in out
    assert "stopping" not in out
    assert took < 10


def test_wait_all_returns_0_when_all_pass():
    sup = Supervisor([Program("a", [PY, "-c", "pass"]), Program("b", [PY, "-c", "pass"])], out=io.StringIO(), wait_all=True)
    assert sup.run() == 0
    assert sup.exit_codes == {"a": 0, "b": 0}
