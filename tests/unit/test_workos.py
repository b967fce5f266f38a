"""workos.check: configured or not, value shapes, and the one authenticated request."""

from __future__ import annotations

import pytest
from invoke import Config, Exit, MockContext

from tasks.collection import ns
from tasks.lib import workos
from tasks.lib.repo.portal import Fact
from tests import fake_workos

KEY = "sk_test_workosWORKOSworkos1234"
CLIENT = "client_01HABCDEFGHJKMNPQRS"


class _Repo:
    def __init__(self, referenced: bool):
        self.workos_referenced = Fact(referenced, "elixir/config/config.exs" if referenced else "config/*.exs and mix.exs")


@pytest.fixture(autouse=True)
def portal_uses_workos(monkeypatch):
    """A contract-era portal, which reads WORKOS_* (the suite's own checkout has no portal)."""
    monkeypatch.setattr(workos.config.Settings, "repository", lambda s: _Repo(True))


@pytest.fixture
def clean_env(monkeypatch):
    for k in ("WORKOS_API_KEY", "WORKOS_CLIENT_ID", "WORKOS_BASE_URL"):
        monkeypatch.delenv(k, raising=False)
    return monkeypatch


def test_a_portal_without_workos_has_nothing_to_check(clean_env, capsys, monkeypatch):
    monkeypatch.setattr(workos.config.Settings, "repository", lambda s: _Repo(False))
    clean_env.setenv("WORKOS_API_KEY", "not-a-key")
    workos.check(ctx(), request=True)
    out = capsys.readouterr().out
    assert "does not use it" in out and "config/*.exs and mix.exs" in out and "not-a-key" not in out


def ctx() -> MockContext:
    return MockContext(config=Config(overrides=ns.configuration()))


@pytest.fixture
def api():
    with fake_workos.serve(KEY) as server:
        yield server


def test_not_configured_is_fine(clean_env, capsys):
    workos.check(ctx())
    assert "not configured" in capsys.readouterr().out


def test_half_configured_names_the_missing_one(clean_env):
    clean_env.setenv("WORKOS_API_KEY", KEY)
    with pytest.raises(Exit) as e:
        workos.check(ctx())
    assert "WORKOS_CLIENT_ID is not set" in e.value.message


@pytest.mark.parametrize(
    "var,value,expect",
    [
        ("WORKOS_API_KEY", "pk_test_123456789012", "does not look like a WorkOS API key"),
        ("WORKOS_CLIENT_ID", "01HABCDEFGHJ", "client_"),
        ("WORKOS_BASE_URL", "api.workos.com", "not an http(s) URL"),
        ("WORKOS_BASE_URL", "ftp://api.workos.com", "not an http(s) URL"),
    ],
)
def test_shapes(clean_env, var, value, expect):
    clean_env.setenv("WORKOS_API_KEY", KEY)
    clean_env.setenv("WORKOS_CLIENT_ID", CLIENT)
    clean_env.setenv(var, value)
    with pytest.raises(Exit) as e:
        workos.check(ctx())
    assert expect in e.value.message
    assert KEY not in e.value.message


def test_configured_prints_masked(clean_env, capsys):
    clean_env.setenv("WORKOS_API_KEY", KEY)
    clean_env.setenv("WORKOS_CLIENT_ID", CLIENT)
    workos.check(ctx())
    out = capsys.readouterr().out
    assert "configured" in out and "sk_test_…1234" in out and KEY not in out
    assert "https://api.workos.com (default)" in out


def test_request_ok(clean_env, api, capsys):
    clean_env.setenv("WORKOS_API_KEY", KEY)
    clean_env.setenv("WORKOS_CLIENT_ID", CLIENT)
    clean_env.setenv("WORKOS_BASE_URL", api.url + "/")
    workos.check(ctx(), request=True)
    assert api.seen == [("/directories?limit=1", f"Bearer {KEY}")]
    assert capsys.readouterr().out.splitlines()[-1].startswith("ok: GET")


def test_request_bad_key(api):
    outcome = workos.probe(api.url, "/directories?limit=1", "sk_test_wrongWRONGwrong1234", 5)
    assert not outcome.ok and outcome.line.startswith("bad key:") and "401" in outcome.line
    assert "sk_test_wrongWRONGwrong1234" not in outcome.line


def test_request_unreachable():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outcome = workos.probe(f"http://127.0.0.1:{port}", "/directories?limit=1", KEY, 2)
    assert not outcome.ok and outcome.line.startswith("unreachable:")
