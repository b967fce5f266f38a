"""The real Stripe CLI (npm @stripe/cli) accepts every flag and variable the suite
hands it. Offline: `listen` itself needs Stripe's servers, so only help output and
the CLI's reaction to STRIPE_API_KEY are checked."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from invoke import Exit

from tasks.lib.stripe import cli as stripe_cli

from .conftest import REPO, missing

pytestmark = pytest.mark.integration

KEY = "sk_test_51HxAbCdEfGhIjKlMnOpQrStUvWxYz0123"
NOT_CONFIGURED = "You have not configured API keys"


@pytest.fixture(scope="module")
def stripe() -> str:
    path = os.environ.get("FZ_TEST_STRIPE_CLI") or str(REPO / ".ci/cache/stripe/node_modules/.bin/stripe")
    if not os.access(path, os.X_OK):
        missing(f"the Stripe CLI at {path}: npm install --prefix .ci/cache/stripe @stripe/cli (or set FZ_TEST_STRIPE_CLI)")
    return path


@pytest.fixture
def cli_env(tmp_path):
    """No logged-in profile, no key, no telemetry: only what a test adds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env.update({"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config"), "STRIPE_CLI_TELEMETRY_OPTOUT": "1"})
    return env


def _run(argv, env, timeout=120):
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _flags(argv: list[str]) -> list[str]:
    return [a.split("=")[0] for a in argv if a.startswith("-")]


def test_version(stripe, cli_env):
    out = _run([stripe, "version"], cli_env)
    assert out.returncode == 0 and re.search(r"stripe version \d+\.\d+", out.stdout), out


def test_every_flag_the_suite_passes_is_in_listen_help(stripe, cli_env):
    help_text = _run([stripe, "listen", "--help"], cli_env).stdout
    argvs = [
        stripe_cli.listen_args("http://localhost:13001/integrations/stripe/webhooks", stripe),
        stripe_cli.print_secret_args(stripe),
    ]
    flags = {f for argv in argvs for f in _flags(argv)}
    assert flags == {"--forward-to", "--print-secret"}
    for flag in flags:
        assert re.search(rf"(^|\s){re.escape(flag)}(\s|$)", help_text, re.M), f"{flag} not in `stripe listen --help`"
    # The subcommand itself exists: `stripe listen` is in the help's usage line.
    assert "stripe listen [flags]" in help_text


def test_help_documents_stripe_api_key(stripe, cli_env):
    help_text = _run([stripe, "listen", "--help"], cli_env).stdout
    assert "STRIPE_API_KEY environment variable" in help_text


def test_cli_honours_stripe_api_key_from_the_environment(stripe, cli_env):
    # Without a key the CLI refuses at once; with STRIPE_API_KEY it goes on to call
    # Stripe's API (which fails offline), so the variable was read.
    without = _run([stripe, "listen", "--print-secret"], cli_env)
    assert without.returncode != 0
    assert NOT_CONFIGURED in without.stdout + without.stderr
    with_key = _run([stripe, "listen", "--print-secret"], {**cli_env, "STRIPE_API_KEY": KEY})
    combined = with_key.stdout + with_key.stderr
    assert NOT_CONFIGURED not in combined, combined
    if with_key.returncode == 0:  # online after all: then it printed a real secret
        assert stripe_cli.parse_secret(with_key.stdout)


def test_print_secret_rejects_the_real_clis_error_output(stripe, cli_env):
    # The real CLI's failure text must never be taken for a secret, and the key never shown.
    with pytest.raises(Exit) as e:
        stripe_cli.print_secret(stripe, {}, base_env=cli_env, timeout=120)
    assert "gave no signing secret" in e.value.message and NOT_CONFIGURED in e.value.message
    try:
        stripe_cli.print_secret(stripe, stripe_cli.cli_env(KEY), base_env=cli_env, timeout=120)
    except Exit as e:
        assert KEY not in e.message and "\n" not in e.message
    else:
        pytest.skip("Stripe's API answered (online): no offline error output to check")
