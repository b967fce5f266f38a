"""billing.* and tasks/lib/stripe/serve.py: composition of the server's environment, the signing secret decision,
and the order of checks (nothing starts before the key is validated)."""

from __future__ import annotations

import pytest
from invoke import Config, Exit, MockContext

from tasks import billing
from tasks.collection import ns
from tasks.lib import config
from tasks.lib.stack import postgres
from tasks.lib.stripe import cli as stripe_cli
from tasks.lib.stripe import serve

KEY = "sk_test_51HxAbCdEfGhIjKlMnOpQrStUv"
CLI_SECRET = "whsec_cliCLIcli0123456789abcdef"
ENV_SECRET = "whsec_envENVenv0123456789abcdef"


def ctx(**overrides) -> MockContext:
    config = Config(overrides=overrides)
    config.load_collection(ns.configuration())
    return MockContext(config=config)


@pytest.fixture
def clean_env(monkeypatch):
    for k in (
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SIGNING_SECRET",
        "STRIPE_DEFAULT_PRICE_ID",
        "STRIPE_API_KEY",
        "WORKOS_API_KEY",
        "WORKOS_CLIENT_ID",
        "WORKOS_BASE_URL",
        "DATABASE_PASSWORD",
        "DATABASE_PORT",
    ):
        monkeypatch.delenv(k, raising=False)
    return monkeypatch


def test_forward_url_from_settings():
    assert serve.settings(config.settings(ctx())).forward_url == "http://localhost:13001/integrations/stripe/webhooks"
    c = ctx(billing={"forward_host": "127.0.0.1", "forward_port": 4000, "webhook_path": "hooks"})
    assert serve.settings(config.settings(c)).forward_url == "http://127.0.0.1:4000/hooks"
    assert serve.settings(config.settings(ctx(billing={"forward_host": "::1"}))).forward_url.startswith("http://[::1]:13001/")


def test_server_env_has_billing_database_workos_and_extra(clean_env):
    clean_env.setenv("STRIPE_DEFAULT_PRICE_ID", "price_123")
    clean_env.setenv("WORKOS_CLIENT_ID", "client_01ABCDEFGH")
    env = serve.server_env(KEY, CLI_SECRET, {"FZFF_X": "true"})
    assert env["BILLING_ENABLED"] == "true"
    assert env["STRIPE_SECRET_KEY"] == KEY
    assert env["STRIPE_WEBHOOK_SIGNING_SECRET"] == CLI_SECRET
    assert env["STRIPE_DEFAULT_PRICE_ID"] == "price_123"
    assert env["WORKOS_CLIENT_ID"] == "client_01ABCDEFGH"
    assert env["DATABASE_NAME"] == "firezone_dev"
    assert env["FZFF_X"] == "true"


def test_price_id_only_when_set(clean_env):
    assert "STRIPE_DEFAULT_PRICE_ID" not in serve.server_env(KEY, CLI_SECRET, {})


def test_secrets_on_the_command_line_are_refused():
    with pytest.raises(Exit) as e:
        serve.portal_env.parse_assignments([f"STRIPE_SECRET_KEY={KEY}"])
    assert ".env" in e.value.message and KEY not in e.value.message
    assert serve.portal_env.parse_assignments(["FEATURE_X_ENABLED=true"]) == {"FEATURE_X_ENABLED": "true"}


def _cli_secret(monkeypatch, result):
    calls = []

    def fake(stripe, env, **kw):
        calls.append(env)
        if isinstance(result, Exception):
            raise result
        return result

    monkeypatch.setattr(stripe_cli, "print_secret", fake)
    return calls


@pytest.mark.parametrize("configured", [None, "", "whsec_dev_1111"])
def test_secret_comes_from_the_cli_when_unset(clean_env, capsys, configured):
    if configured is not None:
        clean_env.setenv("STRIPE_WEBHOOK_SIGNING_SECRET", configured)
    calls = _cli_secret(clean_env, CLI_SECRET)
    assert serve.signing_secret("stripe", KEY, 60) == CLI_SECRET
    assert calls == [{"STRIPE_API_KEY": KEY}]
    out = capsys.readouterr().out
    assert CLI_SECRET not in out and "whsec_…cdef" in out


def test_a_different_env_secret_is_reported_and_the_cli_one_used(clean_env, capsys):
    clean_env.setenv("STRIPE_WEBHOOK_SIGNING_SECRET", ENV_SECRET)
    _cli_secret(clean_env, CLI_SECRET)
    assert serve.signing_secret("stripe", KEY, 60) == CLI_SECRET
    out = capsys.readouterr().out
    assert "differs" in out and "signature check" in out
    assert ENV_SECRET not in out and CLI_SECRET not in out


def test_a_matching_env_secret_is_confirmed(clean_env, capsys):
    clean_env.setenv("STRIPE_WEBHOOK_SIGNING_SECRET", CLI_SECRET)
    _cli_secret(clean_env, CLI_SECRET)
    assert serve.signing_secret("stripe", KEY, 60) == CLI_SECRET
    assert "matches" in capsys.readouterr().out


def test_env_secret_is_used_when_the_cli_cannot_tell(clean_env, capsys):
    clean_env.setenv("STRIPE_WEBHOOK_SIGNING_SECRET", ENV_SECRET)
    _cli_secret(clean_env, Exit("`stripe listen --print-secret` gave no signing secret: offline"))
    assert serve.signing_secret("stripe", KEY, 60) == ENV_SECRET
    out = capsys.readouterr().out
    assert "could not compare" in out and ENV_SECRET not in out


def test_live_key_is_refused_before_anything_starts(clean_env):
    clean_env.setenv("STRIPE_SECRET_KEY", "sk_live_51HxAbCdEfGhIjKlMnOpQrStUv")
    clean_env.setattr(postgres, "bring_up", lambda c: pytest.fail("Postgres started before the key check"))
    clean_env.setattr(stripe_cli, "print_secret", lambda *a, **k: pytest.fail("CLI ran before the key check"))
    with pytest.raises(Exit) as e:
        billing.serve(ctx())
    assert "LIVE key" in e.value.message


def test_missing_cli_is_reported_before_anything_starts(clean_env):
    clean_env.setenv("STRIPE_SECRET_KEY", KEY)
    clean_env.setattr(postgres, "bring_up", lambda c: pytest.fail("Postgres started before the CLI check"))
    with pytest.raises(Exit) as e:
        billing.serve(ctx(billing={"stripe": "fz-no-such-stripe"}))
    assert "npm install -g @stripe/cli" in e.value.message


def test_ctrl_c_before_supervision_exits_130(clean_env):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    clean_env.setattr(stripe_cli, "validate_key", interrupted)
    with pytest.raises(Exit) as e:
        billing.serve(ctx())
    assert e.value.code == 130


def test_env_task_shows_everything_masked(clean_env, capsys):
    clean_env.setenv("STRIPE_SECRET_KEY", KEY)
    clean_env.setenv("WORKOS_API_KEY", "sk_test_workosWORKOSworkos1234")
    clean_env.setenv("DATABASE_PASSWORD", "s3cret-db-pass")
    billing.env(ctx(), env=["FZFF_X=true"])
    out = capsys.readouterr().out
    assert "BILLING_ENABLED" in out and "sk_test_…StUv" in out
    assert "stripe listen --print-secret" in out
    assert "FZFF_X" in out and "--env" in out
    assert KEY not in out and "sk_test_workosWORKOSworkos1234" not in out and "s3cret-db-pass" not in out
    assert "http://localhost:13001/integrations/stripe/webhooks" in out


def test_env_task_reports_a_live_key_as_a_problem_and_exits_1(clean_env, capsys):
    clean_env.setenv("STRIPE_SECRET_KEY", "rk_live_51HxAbCdEfGhIjKlMnOpQrStUv")
    with pytest.raises(Exit) as e:
        billing.env(ctx())
    assert e.value.code == 1
    out = capsys.readouterr().out
    assert "problem:" in out and "LIVE" in out and "rk_live_51HxAbCdEfGhIjKlMnOpQrStUv" not in out
    assert "forwards to http://localhost:13001/integrations/stripe/webhooks" in out  # reported in full first


def test_env_task_without_a_key_exits_1(clean_env, capsys):
    with pytest.raises(Exit) as e:
        billing.env(ctx())
    assert e.value.code == 1
    assert "problem: STRIPE_SECRET_KEY is not set" in capsys.readouterr().out


def test_dry_run_starts_nothing(clean_env, capsys, monkeypatch):
    clean_env.setenv("STRIPE_SECRET_KEY", KEY)
    c = ctx(billing={"stripe": "sh"}, run={"dry": True})
    monkeypatch.setattr(postgres, "bring_up", lambda c: None)
    monkeypatch.setattr(stripe_cli, "print_secret", lambda *a, **k: pytest.fail("dry run asked the CLI"))
    from tasks.lib.mix import tool as mixtool

    monkeypatch.setattr(mixtool.Elixir, "mix", "/usr/bin/mix")
    monkeypatch.setattr(mixtool.Elixir, "root", __import__("pathlib").Path("/tmp"))
    monkeypatch.setattr(serve, "Supervisor", lambda *a, **k: pytest.fail("dry run started processes"))
    billing.serve(c)
    out = capsys.readouterr().out
    assert "listen --print-secret" in out and "mix phx.server" in out and "listen --forward-to" in out
    assert KEY not in out
