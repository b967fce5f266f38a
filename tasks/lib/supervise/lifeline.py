"""What we start dies with us, however we exit: a parent-death signal (Linux), and a watchdog that stops
every process whose environment carries this run's token once our pipe to it closes."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from tasks.lib.supervise import proctable

VAR = "FZ_INV_RUN"
PR_SET_PDEATHSIG = 1
# Seconds between the watchdog's SIGTERM and its SIGKILL.
GRACE = 3.0

_token: str | None = None
_watchdog: subprocess.Popen | None = None
_lock = threading.Lock()


def token() -> str:
    """This run's token (made on first use)."""
    global _token
    if _token is None:
        import secrets

        _token = f"{os.getpid()}-{secrets.token_hex(8)}"
    return _token


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The complete environment for a child (``env``, or ours) with the token; starts the watchdog."""
    start_watchdog()
    return {**(os.environ if env is None else env), VAR: token()}


def without_token(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without any run's token (for iex, which replaces us, and the watchdog)."""
    return {k: v for k, v in env.items() if k != VAR}


@functools.cache
def preexec() -> Callable[[], None] | None:
    """The ``preexec_fn`` giving a child its parent-death signal (Linux; start children from the main thread)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = proctable.libc().prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def set_pdeathsig() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # we died between fork and prctl
            os._exit(143)

    return set_pdeathsig


def start_watchdog() -> None:
    """Start the watchdog once per run; failing to is not fatal (the parent-death signal remains)."""
    global _watchdog
    with _lock:  # two watchdogs would mean one dropped, its pipe closed: it would act mid-run
        if _watchdog is not None:
            return
        root = str(Path(__file__).resolve().parents[3])
        code = f"import sys; sys.path.insert(0, {root!r}); from tasks.lib.supervise.lifeline import watchdog; watchdog()"
        try:
            _watchdog = subprocess.Popen(
                [sys.executable, "-c", code, token()],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=without_token(os.environ),
                start_new_session=True,  # a Ctrl-C or a group kill spares it
                close_fds=True,
            )
        except OSError:
            _watchdog = None


def release(wait: float = 2.0) -> None:
    """Close the pipe now (before exec'ing iex) and wait up to ``wait`` s for the watchdog to finish."""
    global _watchdog
    dog, _watchdog = _watchdog, None
    if dog is None:
        return
    try:
        if dog.stdin is not None:
            dog.stdin.close()
        dog.wait(timeout=wait)
    except (OSError, subprocess.TimeoutExpired):
        pass


def watchdog() -> None:
    """The watchdog process: deaf to terminal and group signals, it waits for end-of-file on
    stdin, then stops the processes carrying the token in argv[1] (SIGTERM, SIGKILL after GRACE)."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    proctable.stop(proctable.carrying(VAR, sys.argv[1]), GRACE)
    # Orphans started meanwhile by a dying process carry the token too.
    proctable.signal_all(proctable.carrying(VAR, sys.argv[1]), signal.SIGKILL)
