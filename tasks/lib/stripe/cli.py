"""The Stripe CLI: finding it, its argv, its signing secret, and the key it gets: only as
STRIPE_API_KEY in its environment (`--api-key` would show it to every user through `ps`)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from tasks.lib import envfile, programs
from tasks.lib.masking import mask, mask_text, secret_values
from tasks.lib.problem import Problem

INSTALL_HINT = (
    "Install it: `npm install -g @stripe/cli` or `brew install stripe/stripe-cli/stripe`,"
    " or set billing.stripe in invoke.yaml (INVOKE_BILLING_STRIPE) to its path"
)
KEY_VAR = "STRIPE_SECRET_KEY"
SECRET_VAR = "STRIPE_WEBHOOK_SIGNING_SECRET"
# elixir/config/dev.exs defaults: placeholders, not real values.
DEV_DEFAULT_KEY = "sk_dev_1111"
DEV_DEFAULT_SECRET = "whsec_dev_1111"

TEST_PREFIXES = ("sk_test_", "rk_test_")
LIVE_PREFIXES = ("sk_live_", "rk_live_")
_SECRET = re.compile(r"whsec_[A-Za-z0-9]+")
_KEY_BODY = re.compile(r"^[A-Za-z0-9_]+$")


def find(program: str) -> str:
    """The full path of the Stripe CLI named by setting billing.stripe, or a one-line Exit."""
    return programs.require(program, "billing.stripe", INSTALL_HINT)


def listen_args(forward_url: str, stripe: str = "stripe") -> list[str]:
    """argv of the webhook proxy. No key in it: it travels as STRIPE_API_KEY."""
    return [stripe, "listen", "--forward-to", forward_url]


def print_secret_args(stripe: str = "stripe") -> list[str]:
    return [stripe, "listen", "--print-secret"]


def cli_env(key: str) -> dict[str, str]:
    """What the CLI's environment needs: the API key, by environment only."""
    return {"STRIPE_API_KEY": key}


def validate_key(value: str | None, origin: str | None = None) -> str:
    """The Stripe key if it is a test-mode key (live keys are always refused); a Problem otherwise."""
    origin = origin or envfile.origin(KEY_VAR)
    if not value or value == DEV_DEFAULT_KEY:
        fix = f"add `{KEY_VAR}=sk_test_...` (or a restricted rk_test_ key) to .env"
        fix += "; find it under Developers > API keys in the Stripe dashboard, test mode"
        raise Problem(f"{KEY_VAR} is not set", fix, KEY_VAR)
    value = value.strip()
    if value.startswith(LIVE_PREFIXES):
        fix = "use a test-mode key (sk_test_... or rk_test_...) in .env; live keys never go near a dev server"
        raise Problem(f"{KEY_VAR} from {origin} is a LIVE key ({mask(value)}): refused", fix, KEY_VAR)
    if not value.startswith(TEST_PREFIXES) or not _KEY_BODY.match(value):
        what = f"{KEY_VAR} from {origin} ({mask(value)}) is not a Stripe test-mode key: it must start with sk_test_ or rk_test_"
        raise Problem(what, "fix it in .env", KEY_VAR)
    return value


def parse_secret(output: str) -> str | None:
    """The signing secret when ``output`` is exactly one ``whsec_...`` token, else None (the real CLI prints its errors on stdout too)."""
    text = (output or "").strip()
    return text if _SECRET.fullmatch(text) else None


def is_unset_secret(value: str | None) -> bool:
    """True for no value and for dev.exs's placeholder whsec_dev_1111."""
    return not value or value.strip() in ("", DEV_DEFAULT_SECRET)


def print_secret(stripe: str, env: Mapping[str, str], *, timeout: float = 60.0, base_env: Mapping[str, str] | None = None) -> str:
    """Run `stripe listen --print-secret` with ``env``; anything but one ``whsec_`` token and exit code 0 is a Problem."""
    full_env = {**(os.environ if base_env is None else base_env), **env}
    hint = (INSTALL_HINT, f"Check the network, raise billing.secret_timeout, or set {SECRET_VAR} in .env")
    done = programs.capture(
        print_secret_args(stripe), env=full_env, timeout=timeout, what="`stripe listen --print-secret`", ok=None, hint=hint
    )
    secret = parse_secret(done.stdout) if done.returncode == 0 else None
    if secret:
        return secret
    said = mask_text(" ".join(f"{done.stdout} {done.stderr}".split()) or "no output", secret_values(full_env))
    said = said[:300] + "…" if len(said) > 300 else said
    what = f"`stripe listen --print-secret` gave no signing secret (exit code {done.returncode}): {said}"
    raise Problem(what, f"check {KEY_VAR} in .env and that Stripe's API is reachable", KEY_VAR)
