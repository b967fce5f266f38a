"""What we start dies with us, however we exit: Ctrl-C, SIGTERM, a closed terminal, kill -9.

Two mechanisms, because a process killed with SIGKILL runs no code of its own:

- Linux: every child gets a parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGTERM)``,
  kept across the execs from `mix` to the BEAM), so it hears of our death at once.
- Everywhere: every child's environment carries ``FZ_INV_RUN=<token of this run>``,
  which its own children inherit (the BEAM's port programs included, though they
  sit in sessions of their own). A watchdog process, started with the first child,
  waits for a pipe from us to close: it closes when we exit, are killed, or exec
  into iex. It then stops every process still carrying the token (SIGTERM, then
  SIGKILL after ``GRACE`` s) and exits itself. The token is unique per run, so
  nothing else is ever touched.

What the watchdog cannot see: a process that cleared its environment (``env -i``)
or one started elsewhere; on macOS reading other processes' environments needs
them to be ours (they are).
"""

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
        import secrets  # here: most runs start no child

        _token = f"{os.getpid()}-{secrets.token_hex(8)}"
    return _token


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The complete environment for a child (``env``, or ours): the token added, and the
    watchdog started if it is not yet."""
    full = dict(os.environ if env is None else env)
    full[VAR] = token()
    start_watchdog()
    return full


def without_token(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without any run's token (for iex, which replaces us, and the watchdog)."""
    return {k: v for k, v in env.items() if k != VAR}


@functools.cache
def preexec() -> Callable[[], None] | None:
    """The ``preexec_fn`` giving a child its parent-death signal (Linux); None elsewhere.

    The signal fires when the thread that started the child ends: start children
    from the main thread (the suite does) or from a thread that outlives them.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = proctable.libc().prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()  # us: the child's parent

    def set_pdeathsig() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # we died between fork and prctl
            os._exit(143)

    return set_pdeathsig


def start_watchdog() -> None:
    """Start the watchdog once per run (see the module doc); a failure to start it is
    not fatal (the parent-death signal still works on Linux)."""
    with _lock:  # two watchdogs would mean one dropped, its pipe closed: it would act mid-run
        _start_watchdog()


def _start_watchdog() -> None:
    global _watchdog
    if _watchdog is not None:
        return
    root = str(Path(__file__).resolve().parents[3])
    code = f"import sys; sys.path.insert(0, {root!r}); from tasks.lib.supervise.watchdog import main; main()"
    try:
        _watchdog = subprocess.Popen(
            [sys.executable, "-c", code, token()],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=without_token(os.environ),
            start_new_session=True,  # not in our process group: a Ctrl-C or a group kill spares it
            close_fds=True,
        )
    except OSError:
        _watchdog = None


def release(wait: float = 2.0) -> None:
    """Close the pipe now (before exec'ing iex): the watchdog stops what is left of the
    run and exits; wait up to ``wait`` s for it, so it is not left as our child."""
    global _watchdog
    dog = _watchdog
    if dog is None:
        return
    _watchdog = None
    try:
        if dog.stdin is not None:
            dog.stdin.close()
        dog.wait(timeout=wait)
    except (OSError, subprocess.TimeoutExpired):
        pass
