import pytest

from tasks.lib import envfile


def test_shell_wins_over_env_local_over_env(tmp_path):
    (tmp_path / ".env").write_text("A=from-env\nB=from-env\nC=from-env\n")
    (tmp_path / ".env.local").write_text("B=from-local\nC=from-local\n")
    environ = {"C": "from-shell"}
    origins = envfile.load(tmp_path, environ)
    assert environ == {"A": "from-env", "B": "from-local", "C": "from-shell"}
    assert origins == {"A": ".env line 1", "B": ".env.local line 1", "C": "the shell environment"}


def test_missing_files_are_fine(tmp_path):
    environ = {}
    assert envfile.load(tmp_path, environ) == {}
    assert environ == {}


def test_malformed_line_names_file_and_line(tmp_path):
    (tmp_path / ".env").write_text("A=1\n# comment\nthis is not an assignment\nB=2\n")
    with pytest.raises(envfile.EnvFileError) as e:
        envfile.load(tmp_path, {})
    msg = str(e.value)
    assert ".env line 3" in msg and "KEY=VALUE" in msg
    assert "\n" not in msg


def test_malformed_line_does_not_echo_its_content(tmp_path):
    (tmp_path / ".env.local").write_text("sk_test_supersecretvalue1234 oops\n")
    with pytest.raises(envfile.EnvFileError) as e:
        envfile.load(tmp_path, {})
    assert "supersecret" not in str(e.value)
    assert ".env.local line 1" in str(e.value)


def test_quotes_comments_export_and_interpolation(tmp_path):
    (tmp_path / ".env").write_text(
        'export A="quoted value"\nB=plain # trailing comment\nC=${A}-x\nEMPTY=\n'
    )
    environ = {}
    envfile.load(tmp_path, environ)
    assert environ["A"] == "quoted value"
    assert environ["B"] == "plain"
    assert environ["C"] == "quoted value-x"
    assert environ["EMPTY"] == ""


def test_not_utf8(tmp_path):
    (tmp_path / ".env").write_bytes(b"A=\xff\xfe\n")
    with pytest.raises(envfile.EnvFileError, match="UTF-8"):
        envfile.load(tmp_path, {})


def test_origin_reports_default_when_unset(monkeypatch):
    monkeypatch.delenv("FZ_NOT_SET_ANYWHERE", raising=False)
    assert envfile.origin("FZ_NOT_SET_ANYWHERE") == "the default"
