"""The environment the portal's processes get (mix tasks, iex, the Phoenix server)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from tasks.lib.database import database
from tasks.lib.masking import is_secret_key
from tasks.lib.problem import Problem

WORKOS_KEYS = ("WORKOS_API_KEY", "WORKOS_CLIENT_ID", "WORKOS_BASE_URL")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["FZFF_X=true"]`` -> dict; a bad item, or a secret (argv is visible in ps), is a Problem."""
    env: dict[str, str] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not _NAME.match(name):
            example = "e.g. --env FZFF_ICMP_ERROR_UNREACHABLE_PROHIBITED_CREATE_NEW_FLOW=true"
            raise Problem(f"--env {item.split('=')[0]!r}: expected KEY=VALUE with KEY a variable name", example)
        if is_secret_key(name):
            fix = f"put {name} in .env instead"
            raise Problem(f"--env {name}=...: secrets do not go on the command line (every user sees argv through ps)", fix)
        env[name] = value
    return env


def mix_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """DATABASE_* as the server was made with, and PGHOST/PGPORT, which Postgrex reads where the config names no host or port (today's tests)."""
    env = database(environ).env()
    return env | {"PGHOST": env["DATABASE_HOST"], "PGPORT": env["DATABASE_PORT"]}


def server_env(extra: Iterable[str] = (), environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What a server process gets: DATABASE_*, WorkOS values when set, then ``extra``."""
    environ = os.environ if environ is None else environ
    env = mix_env(environ)
    env.update({k: environ[k] for k in WORKOS_KEYS if environ.get(k)})
    env.update(parse_assignments(extra))
    return env
