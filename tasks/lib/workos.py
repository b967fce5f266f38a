"""WorkOS: the credentials the JumpCloud directory sync needs, checked by shape and by one GET (urllib, no SDK)."""

from __future__ import annotations

import os
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from tasks.lib import config, envfile, masking
from tasks.lib.problem import Problem

KEY_VAR = "WORKOS_API_KEY"
CLIENT_VAR = "WORKOS_CLIENT_ID"
URL_VAR = "WORKOS_BASE_URL"
DEFAULT_BASE_URL = "https://api.workos.com"

# WorkOS API keys are prefixed with sk_ (sk_test_ in staging environments).
_KEY = re.compile(r"^sk_[A-Za-z0-9_]{8,}$")
_CLIENT = re.compile(r"^client_[A-Za-z0-9]{8,}$")


def _where(var: str) -> str:
    return f"{var} from {envfile.origin(var)}"


def shape_problems() -> list[str]:
    """What is wrong with the WorkOS values' shape (empty list: nothing)."""
    key, client, url = (os.environ.get(v) or "" for v in (KEY_VAR, CLIENT_VAR, URL_VAR))
    problems = []
    if key and not _KEY.match(key):
        problems.append(f"{_where(KEY_VAR)} ({masking.mask(key)}) does not look like a WorkOS API key (sk_test_... or sk_live_...)")
    if client and not _CLIENT.match(client):
        problems.append(f"{_where(CLIENT_VAR)} ({client!r}) does not look like a client id (client_...)")
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname):
        problems.append(f"{_where(URL_VAR)} ({url!r}) is not an http(s) URL, e.g. {DEFAULT_BASE_URL}")
    return problems


@dataclass(frozen=True)
class Outcome:
    ok: bool
    line: str


def probe(base_url: str, path: str, key: str, timeout: float) -> Outcome:
    """One authenticated GET of ``base_url + path``; the outcome in one line."""
    url = base_url.rstrip("/") + "/" + path.lstrip("/")
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json", "User-Agent": "firezone-dev-tasks"}
    start = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as resp:
            status = resp.status
    except urllib.error.HTTPError as e:
        status = e.code
        e.close()
    except (urllib.error.URLError, OSError) as e:
        return Outcome(False, f"unreachable: GET {url} failed ({getattr(e, 'reason', e)}); check {URL_VAR} and the network")
    if 200 <= status < 300:
        return Outcome(True, f"ok: GET {url} -> {status} in {time.monotonic() - start:.2f} s; the key works")
    masked = f"{_where(KEY_VAR)} ({masking.mask(key)})"
    why = {401: f"WorkOS does not know {masked}", 403: f"{masked} is valid but lacks permission for this request"}.get(status)
    if why:
        return Outcome(False, f"bad key: GET {url} -> {status}; {why}")
    return Outcome(False, f"unexpected: GET {url} -> HTTP {status}; is {URL_VAR} the WorkOS API?")


def check(c, request: bool = False) -> None:
    """workos.check: are the values set and well formed; with ``request``, do they work."""
    s = config.settings(c)
    referenced = s.repository().workos_referenced
    if not referenced.value:  # today's Firezone dropped WorkOS: its values would do nothing
        print(f"WorkOS: this portal does not use it (nothing in {referenced.source} mentions WorkOS); nothing to check")
        return
    key, client = os.environ.get(KEY_VAR) or "", os.environ.get(CLIENT_VAR) or ""
    base = os.environ.get(URL_VAR) or DEFAULT_BASE_URL
    if not key and not client:
        fine = "fine, the portal runs without it; only the JumpCloud directory sync needs them (set both in .env)"
        print(f"WorkOS is not configured ({KEY_VAR}, {CLIENT_VAR} unset): {fine}")
        if request:
            raise Problem(f"--request needs {KEY_VAR} and {CLIENT_VAR}", "set both in .env", KEY_VAR)
        return
    problems = [f"{v} is not set: add it to .env (set both or neither)" for v, val in ((KEY_VAR, key), (CLIENT_VAR, client)) if not val]
    problems += shape_problems()
    if problems:
        raise Problem("WorkOS settings: " + "; ".join(problems))
    kind = {"sk_test_": "a staging key", "sk_live_": "a PRODUCTION key"}.get(key[:8], "an API key")
    default = "" if os.environ.get(URL_VAR) else " (default)"
    print(f"WorkOS is configured: {KEY_VAR} {masking.mask(key)} ({kind}), {CLIENT_VAR} {client}, {URL_VAR} {base}{default}")
    if request:
        outcome = probe(base, s.text("workos", "check_path"), key, s.positive("workos", "timeout"))
        if not outcome.ok:
            raise Problem(outcome.line)
        print(outcome.line)
