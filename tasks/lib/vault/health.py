"""Vault is ready when `GET /v1/sys/health` answers as an unsealed server, not when its
port opens: Docker's proxy accepts connections on the published port at once.

Stdlib only (urllib), no proxy: the server is on this machine.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from invoke import Exit

HEALTH = "/v1/sys/health"
# Answers that mean "up and unsealed": active (200), standby (429), performance standby (472, 473).
READY_CODES = (200, 429, 472, 473)
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe(url: str, timeout: float = 1.0) -> tuple[bool, str]:
    """``(ready, what it answered)`` for one `GET /v1/sys/health`."""
    try:
        with _opener.open(url + HEALTH, timeout=timeout) as answer:
            return answer.status in READY_CODES, f"HTTP {answer.status}"
    except urllib.error.HTTPError as e:
        meaning = {501: " (not initialised)", 503: " (sealed)"}.get(e.code, "")
        return e.code in READY_CODES, f"HTTP {e.code}{meaning}"
    except urllib.error.URLError as e:
        return False, str(getattr(e.reason, "strerror", None) or e.reason)
    except (OSError, http.client.HTTPException) as e:
        return False, str(e) or e.__class__.__name__


def wait_ready(
    url: str,
    *,
    timeout: float,
    interval: float,
    container: str,
    alive: Callable[[], str | None] = lambda: None,
    logs: Callable[[], str] = lambda: "",
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Poll until Vault answers ready; returns the seconds waited.

    ``alive()`` returns why the container cannot answer any more (it exited), or None.
    On a timeout or a dead container: one Exit line with the last answer, the fix, and the
    container's last log lines.
    """
    start = clock()
    last = "no answer yet"
    while True:
        ready, last = probe(url, timeout=min(2.0, max(0.2, timeout)))
        if ready:
            return clock() - start
        dead = alive()
        if dead:
            raise _failure(f"Vault container {container} {dead} before {url}{HEALTH} answered (last: {last})", container, logs())
        if clock() - start >= timeout:
            raise _failure(
                f"Vault at {url} did not answer {HEALTH} as ready within {timeout:g} s (last: {last}); setting vault.ready_timeout",
                container,
                logs(),
            )
        sleep(interval)


def _failure(what: str, container: str, log_text: str) -> Exit:
    message = f"{what}. Fix: read its log (docker logs {container}), then run the same `inv elixir.test` command again"
    if log_text.strip():
        message += "\nLast log lines of the container:\n" + "\n".join("  " + ln for ln in log_text.splitlines())
    return Exit(message)
