"""The watchdog process of lifeline.py: when `inv` is gone, stop what it started.

Run as ``python -c '...watchdog import main; main()' TOKEN`` with a pipe from `inv`
on stdin. It ignores the signals a terminal or a process-group kill sends, waits
for end-of-file on the pipe (which comes however `inv` ends, kill -9 included),
then sends SIGTERM to every process whose environment carries the run's token,
SIGKILL after the grace period to those still there, and exits.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from tasks.lib.supervise import proctable
from tasks.lib.supervise.lifeline import GRACE, VAR


def stop_all(token: str, grace: float = GRACE, poll: float = 0.05) -> list[int]:
    """SIGTERM, then SIGKILL after ``grace`` s, to the processes carrying ``token``; returns their pids."""
    found = proctable.with_environment(VAR, token, exclude={os.getpid()})
    if not found:
        return []
    proctable.signal_all(found, signal.SIGTERM)
    deadline = time.monotonic() + grace
    left = found
    while left and time.monotonic() < deadline:
        time.sleep(poll)
        left = proctable.still_running(left)
    if left:
        proctable.signal_all(left, signal.SIGKILL)
    # Orphans started meanwhile by a dying process carry the token too.
    late = proctable.with_environment(VAR, token, exclude={os.getpid()})
    proctable.signal_all(late, signal.SIGKILL)
    return sorted({*found, *late})


def main() -> None:
    token = sys.argv[1]
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    stop_all(token)


if __name__ == "__main__":
    main()
