"""WorkOS: the credentials the JumpCloud directory sync needs, checked by shape and by one request.

The values reach every server the suite starts through portal_env.server_env; the
portal runs fine without them. The API is reached with urllib (one GET), no SDK.
"""

from __future__ import annotations

import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from invoke import Exit

from tasks.lib import config, envfile, masking

KEY_VAR = "WORKOS_API_KEY"
CLIENT_VAR = "WORKOS_CLIENT_ID"
URL_VAR = "WORKOS_BASE_URL"
DEFAULT_BASE_URL = "https://api.workos.com"

# WorkOS API keys are prefixed with sk_ (sk_test_ in staging environments).
_KEY = re.compile(r"^sk_[A-Za-z0-9_]{8,}$")
_CLIENT = re.compile(r"^client_[A-Za-z0-9]{8,}$")


def _where(var: str) -> str:
    return f"{var} from {envfile.origin(var)}"


def shape_problems(environ=None) -> list[str]:
    """What is wrong with the WorkOS values' shape (empty list: nothing)."""
    environ = os.environ if environ is None else environ
    problems = []
    key = environ.get(KEY_VAR) or ""
    client = environ.get(CLIENT_VAR) or ""
    url = environ.get(URL_VAR) or ""
    if key and not _KEY.match(key):
        problems.append(f"{_where(KEY_VAR)} ({masking.mask(key)}) does not look like a WorkOS API key (sk_test_... or sk_live_...)")
    if client and not _CLIENT.match(client):
        problems.append(f"{_where(CLIENT_VAR)} ({client!r}) does not look like a client id (client_...)")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"{_where(URL_VAR)} ({url!r}) is not an http(s) URL, e.g. {DEFAULT_BASE_URL}")
    return problems


def key_kind(key: str) -> str:
    if key.startswith("sk_test_"):
        return "a staging key"
    if key.startswith("sk_live_"):
        return "a PRODUCTION key"
    return "an API key"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    line: str


def probe(base_url: str, path: str, key: str, timeout: float) -> Outcome:
    """One authenticated GET of ``base_url + path``; the outcome in one line."""
    url = base_url.rstrip("/") + "/" + path.lstrip("/")
    req = urllib.request.Request(
        url,
        headers={"Authorization": f"Bearer {key}", "Accept": "application/json", "User-Agent": "firezone-dev-tasks"},
        method="GET",
    )
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status = resp.status
    except urllib.error.HTTPError as e:
        status = e.code
        e.close()
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return Outcome(False, f"unreachable: GET {url} failed ({reason}); check {URL_VAR} and the network")
    took = time.monotonic() - start
    if 200 <= status < 300:
        return Outcome(True, f"ok: GET {url} -> {status} in {took:.2f} s; the key works")
    if status == 401:
        return Outcome(False, f"bad key: GET {url} -> 401; WorkOS does not know {_where(KEY_VAR)} ({masking.mask(key)})")
    if status == 403:
        return Outcome(
            False,
            f"bad key: GET {url} -> 403; {_where(KEY_VAR)} ({masking.mask(key)}) is valid but lacks permission for this request",
        )
    return Outcome(False, f"unexpected: GET {url} -> HTTP {status}; is {URL_VAR} the WorkOS API?")


def check(c, request: bool = False) -> None:
    """workos.check: are the values set and well formed; with ``request``, do they work."""
    referenced = config.repository(c).workos_referenced
    if not referenced.value:
        # Today's Firezone dropped WorkOS: its values would do nothing.
        print(f"WorkOS: this portal does not use it (nothing in {referenced.source} mentions WorkOS); nothing to check")
        return
    key = os.environ.get(KEY_VAR) or ""
    client = os.environ.get(CLIENT_VAR) or ""
    base = os.environ.get(URL_VAR) or DEFAULT_BASE_URL
    if not key and not client:
        print(
            f"WorkOS is not configured ({KEY_VAR}, {CLIENT_VAR} unset): fine, the portal runs"
            " without it; only the JumpCloud directory sync needs them (set both in .env)"
        )
        if request:
            raise Exit(f"--request needs {KEY_VAR} and {CLIENT_VAR}: set both in .env")
        return
    missing = [v for v, val in ((KEY_VAR, key), (CLIENT_VAR, client)) if not val]
    problems = [f"{v} is not set: add it to .env (set both or neither)" for v in missing]
    problems += shape_problems()
    if problems:
        raise Exit("WorkOS settings: " + "; ".join(problems))
    print(
        f"WorkOS is configured: {KEY_VAR} {masking.mask(key)} ({key_kind(key)}), {CLIENT_VAR} {client},"
        f" {URL_VAR} {base}" + ("" if os.environ.get(URL_VAR) else " (default)")
    )
    if not request:
        return
    timeout = config.positive(c, "workos", "timeout")
    path = config.text(c, "workos", "check_path")
    outcome = probe(base, path, key, timeout)
    if not outcome.ok:
        raise Exit(outcome.line)
    print(outcome.line)
