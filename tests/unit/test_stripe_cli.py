"""Stripe key validation, `--print-secret` parsing, and the CLI's argv/env."""

from __future__ import annotations

import os
import stat
import sys
import textwrap

import pytest
from invoke import Exit

from tasks.lib.stripe import cli as stripe_cli

KEY = "sk_test_51HxAbCdEfGhIjKlMnOpQrStUv"
LIVE = "sk_live_51HxAbCdEfGhIjKlMnOpQrStUv"


@pytest.mark.parametrize("key", [KEY, "rk_test_51HxAbCdEfGhIjKlMnOp"])
def test_test_mode_keys_pass(key):
    assert stripe_cli.validate_key(key, ".env line 1") == key


@pytest.mark.parametrize("key", [LIVE, "rk_live_51HxAbCdEfGhIjKlMnOp"])
def test_live_keys_are_refused_masked(key):
    with pytest.raises(Exit) as e:
        stripe_cli.validate_key(key, ".env line 2")
    msg = e.value.message
    assert "LIVE key" in msg and ".env line 2" in msg
    assert key not in msg and key[:8] + "…" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("key", [None, "", "sk_dev_1111"])
def test_missing_key_names_the_variable_and_env_file(key):
    with pytest.raises(Exit) as e:
        stripe_cli.validate_key(key)
    assert "STRIPE_SECRET_KEY" in e.value.message and ".env" in e.value.message


@pytest.mark.parametrize("key", ["pk_test_51HxAbCdEfGhIjKl", "sk_51HxAbCdEfGhIjKlMn", "sk_test_abc def"])
def test_other_values_are_not_test_keys(key):
    with pytest.raises(Exit) as e:
        stripe_cli.validate_key(key, "the shell environment")
    assert "sk_test_ or rk_test_" in e.value.message
    assert key not in e.value.message


@pytest.mark.parametrize(
    "output,expected",
    [
        ("whsec_abc123DEF\n", "whsec_abc123DEF"),
        ("  whsec_abc123DEF  ", "whsec_abc123DEF"),
        ("", None),
        ("You have not configured API keys yet\n", None),
        ("Your webhook signing secret is whsec_abc123 (^C to quit)", None),
        ("whsec_abc\nwhsec_def", None),
        ("whsec_", None),
        ("whsec_dev_1111", None),
    ],
)
def test_parse_secret_accepts_a_lone_whsec_token_only(output, expected):
    assert stripe_cli.parse_secret(output) == expected


def test_unset_secret_includes_the_dev_placeholder():
    assert stripe_cli.is_unset_secret(None)
    assert stripe_cli.is_unset_secret("")
    assert stripe_cli.is_unset_secret("whsec_dev_1111")
    assert not stripe_cli.is_unset_secret("whsec_abc")


def test_argv_never_carries_the_key():
    argv = stripe_cli.listen_args("http://localhost:13001/integrations/stripe/webhooks", "/opt/stripe")
    assert argv == ["/opt/stripe", "listen", "--forward-to", "http://localhost:13001/integrations/stripe/webhooks"]
    assert stripe_cli.print_secret_args("stripe") == ["stripe", "listen", "--print-secret"]
    assert stripe_cli.cli_env(KEY) == {"STRIPE_API_KEY": KEY}


def test_missing_cli_is_one_line_with_install_hints():
    with pytest.raises(Exit) as e:
        stripe_cli.find("fz-no-such-stripe")
    msg = e.value.message
    assert "npm install -g @stripe/cli" in msg and "brew install stripe/stripe-cli/stripe" in msg
    assert "billing.stripe" in msg and "INVOKE_BILLING_STRIPE" in msg and "\n" not in msg


def _fake_cli(tmp_path, body: str) -> str:
    """An executable standing in for `stripe`, in Python."""
    path = tmp_path / "stripe"
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_print_secret_reads_the_secret_with_the_key_in_env_only(tmp_path):
    cli = _fake_cli(
        tmp_path,
        """
        import os, sys
        assert sys.argv[1:] == ["listen", "--print-secret"], sys.argv
        assert os.environ["STRIPE_API_KEY"].startswith("sk_test_")
        print("whsec_0123456789abcdefABCDEF")
        """,
    )
    assert stripe_cli.print_secret(cli, {"STRIPE_API_KEY": KEY}) == "whsec_0123456789abcdefABCDEF"


@pytest.mark.parametrize(
    "body",
    [
        # errors on stdout, exit 1 (the real CLI does this)
        "import os; print('Authorization failed, status=401, key ' + os.environ['STRIPE_API_KEY']); raise SystemExit(1)",
        # something that is not a secret, with exit 0
        "print('Checking for new versions...'); print('whsec_abc123')",
        # a secret but a failure code
        "print('whsec_abc123'); raise SystemExit(2)",
    ],
)
def test_print_secret_refuses_anything_else_with_masked_output(tmp_path, body):
    cli = _fake_cli(tmp_path, body)
    with pytest.raises(Exit) as e:
        stripe_cli.print_secret(cli, {"STRIPE_API_KEY": KEY}, base_env=dict(os.environ))
    msg = e.value.message
    assert msg.startswith("`stripe listen --print-secret` gave no signing secret")
    assert KEY not in msg and "\n" not in msg


def test_print_secret_timeout_is_one_line(tmp_path):
    cli = _fake_cli(tmp_path, "import time; time.sleep(10)")
    with pytest.raises(Exit) as e:
        stripe_cli.print_secret(cli, {"STRIPE_API_KEY": KEY}, timeout=0.5)
    assert "billing.secret_timeout" in e.value.message
