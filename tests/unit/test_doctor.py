import sys

from tasks.lib import doctor as health
from tasks.lib.doctor import FAIL, OK, WARN, Row, render, tool_row


def test_tool_row_found_matching_and_mismatched():
    argv = [sys.executable, "-c", "print('shfmt v3.6.0')"]
    row = tool_row("shfmt", argv, {"shfmt": "3.9.0"}, False, "apt-get install shfmt")
    assert (row.status, row.detail) == (WARN, "3.6.0 (.tool-versions wants 3.9.0)")
    row = tool_row("shfmt", argv, {"shfmt": "3.6.0"}, False, "x")
    assert row.status == OK


def test_tool_row_missing_required_fails_with_fix():
    row = tool_row("elixir", ["fz-no-such-elixir"], {}, True, "install Elixir")
    assert (row.status, row.fix) == (FAIL, "install Elixir")


def test_erl_is_compared_with_erlang_entry():
    argv = [sys.executable, "-c", "print('25')"]
    row = tool_row("erl", argv, {"erlang": "27.3.4.1"}, True, "x")
    assert row.status == WARN and "27.3.4.1" in row.detail


def test_render_shows_fix_only_for_problems():
    text = render([Row("a", OK, "fine", "never shown"), Row("bb", FAIL, "broken", "do this")])
    assert "never shown" not in text
    assert text.splitlines()[-1].strip() == "fix: do this"


def test_env_rows_flag_live_key_and_remote_host(monkeypatch, tmp_path):
    monkeypatch.setattr(health, "PROJECT_ROOT", tmp_path)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_0123456789abcdefgh")
    monkeypatch.setenv("DATABASE_HOST", "db.example.com")
    rows = {r.check: r for r in health.env_rows()}
    assert rows["stripe key"].status == FAIL
    assert "0123456789" not in rows["stripe key"].detail
    assert rows["database host"].status == WARN
    assert rows[".env"].fix == "cp .env.example .env"


def test_env_rows_list_keys_missing_from_env(monkeypatch, tmp_path):
    monkeypatch.setattr(health, "PROJECT_ROOT", tmp_path)
    (tmp_path / ".env.example").write_text("DATABASE_PORT=5432\n# OPTIONAL=x\nFZ_DOCTOR_TEST_KEY=1\n")
    (tmp_path / ".env").write_text("DATABASE_PORT=5432\n")
    monkeypatch.setenv("DATABASE_PORT", "5432")
    monkeypatch.delenv("FZ_DOCTOR_TEST_KEY", raising=False)
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_HOST", raising=False)
    rows = {r.check: r for r in health.env_rows()}
    assert rows[".env"].status == WARN
    assert "FZ_DOCTOR_TEST_KEY" in rows[".env"].detail and "OPTIONAL" not in rows[".env"].detail


def test_unpinned_versions_are_not_compared():
    argv = [sys.executable, "-c", "print('3.6.0')"]
    assert tool_row("shfmt", argv, {"shfmt": "system"}, False, "x").status == OK
