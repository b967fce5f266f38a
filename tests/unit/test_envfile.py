import os

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
    (tmp_path / ".env").write_text('export A="quoted value"\nB=plain # trailing comment\nC=${A}-x\nEMPTY=\n')
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


@pytest.mark.parametrize("line", ["sk_test_abc123secret", "export SOME_KEY", "SOME_KEY", "  sk_test_abc123secret  # pasted"])
def test_line_without_equals_is_an_error_naming_file_and_line_only(tmp_path, line):
    (tmp_path / ".env").write_text(f"A=1\n\n# comment\n{line}\nB=2\n")
    with pytest.raises(envfile.EnvFileError) as e:
        envfile.load(tmp_path, {})
    msg = str(e.value)
    assert msg == (f"{tmp_path / '.env'} line 4: not a KEY=VALUE line (no `=`); fix it or comment it out with #")
    assert "sk_test" not in msg and "SOME_KEY" not in msg


def test_bad_line_still_loads_the_good_lines(tmp_path):
    (tmp_path / ".env").write_text("DATABASE_PORT=5999\nsk_test_abc123secret\nB=${DATABASE_PORT}x\n")
    (tmp_path / ".env.local").write_text("C=3\n")
    environ: dict[str, str] = {}
    origins, error = envfile.load_partial(tmp_path, environ)
    assert environ == {"DATABASE_PORT": "5999", "B": "5999x", "C": "3"}
    assert origins["B"] == ".env line 3" and origins["C"] == ".env.local line 1"
    assert error is not None and ".env line 2:" in str(error)


def test_first_bad_line_of_the_first_file_is_reported(tmp_path):
    (tmp_path / ".env").write_text("A=1\nbad one\nnoequals\n")
    (tmp_path / ".env.local").write_text("worse\n")
    _, error = envfile.load_partial(tmp_path, {})
    assert str(error).startswith(f"{tmp_path / '.env'} line 2: not a KEY=VALUE line;")


def test_not_utf8_names_the_first_bad_line_and_loads_the_rest(tmp_path):
    (tmp_path / ".env").write_bytes(b"A=1\nB=2\nC=\xff\xfe\nD=4\r\nE=\xe9\nF=6\n")
    environ: dict[str, str] = {}
    origins, error = envfile.load_partial(tmp_path, environ)
    assert str(error) == f"{tmp_path / '.env'} line 3 is not UTF-8: re-save the file as UTF-8"
    assert environ == {"A": "1", "B": "2", "D": "4", "F": "6"}
    assert origins["F"] == ".env line 6"


def test_ensure_loaded_loads_the_good_lines_and_raises_every_time(tmp_path, monkeypatch):
    monkeypatch.setattr(envfile, "_loaded", False)
    monkeypatch.setattr(envfile, "_error", None)
    monkeypatch.delenv("FZ_TEST_PORT", raising=False)
    (tmp_path / ".env").write_text("FZ_TEST_PORT=6543\nsk_test_abc123secret\n")
    with pytest.raises(envfile.EnvFileError) as first:
        envfile.ensure_loaded(tmp_path)
    assert envfile.origin("FZ_TEST_PORT") == ".env line 1"
    assert os.environ["FZ_TEST_PORT"] == "6543"
    monkeypatch.delenv("FZ_TEST_PORT")  # loaded once: a second call does not load again
    with pytest.raises(envfile.EnvFileError) as second:
        envfile.ensure_loaded(tmp_path)
    assert str(second.value) == str(first.value)
    assert "FZ_TEST_PORT" not in os.environ


def test_ensure_loaded_twice_when_fine(tmp_path, monkeypatch):
    monkeypatch.setattr(envfile, "_loaded", False)
    monkeypatch.setattr(envfile, "_error", None)
    monkeypatch.delenv("FZ_TEST_OK", raising=False)
    (tmp_path / ".env").write_text("FZ_TEST_OK=1\n")
    envfile.ensure_loaded(tmp_path)
    envfile.ensure_loaded(tmp_path)
    assert os.environ["FZ_TEST_OK"] == "1"


def test_parse_file_is_strict(tmp_path):
    (tmp_path / ".env.example").write_text("A=1\nB\n")
    with pytest.raises(envfile.EnvFileError, match="line 2"):
        envfile.parse_file(tmp_path / ".env.example")


def test_bad_lines_log_nothing(tmp_path, capsys, caplog):
    (tmp_path / ".env").write_text('A=1\nthis is not an assignment\nB="unterminated\n')
    envfile.load_partial(tmp_path, {})
    assert caplog.records == [] and capsys.readouterr().err == ""


def test_unreadable_file(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("A=1\n")

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(tmp_path), "read_bytes", denied)
    with pytest.raises(envfile.EnvFileError, match="cannot read .*: Permission denied"):
        envfile.load(tmp_path, {})


def test_lines_after_blank_lines_are_counted_right(tmp_path):
    (tmp_path / ".env").write_text("A=1\n\n\n  B=2\r\n\r\nC=3\n\nsk_test_abc123secret\n")
    environ: dict[str, str] = {}
    origins, error = envfile.load_partial(tmp_path, environ)
    assert origins == {"A": ".env line 1", "B": ".env line 4", "C": ".env line 6"}
    assert ".env line 8:" in str(error)


def test_origin_of_a_value_the_shell_set(monkeypatch):
    monkeypatch.setenv("FZ_ONLY_IN_THE_SHELL", "1")
    assert envfile.origin("FZ_ONLY_IN_THE_SHELL") == "the shell environment"


def test_doubts_name_duplicates_misspellings_and_stray_quotes_never_values(tmp_path):
    from tasks.lib.envfile import doubts

    env = tmp_path / ".env"
    env.write_text("DATABSE_PORT=1\nMY_OWN=1\nSTRIPE_SECRET_KEY='sk_test_x '\nA=1\nA=2\nB='\"q\"'\n")
    assert doubts(env) == [
        (".env line 1: DATABSE_PORT is read by neither the suite nor the portal", "rename it to DATABASE_PORT"),
        (".env line 3: the value of STRIPE_SECRET_KEY has stray spaces or quotes", "remove them: the value is used as written"),
        (".env: A is set twice (lines 4 and 5); the last wins", "delete one of the two lines"),
        (".env line 6: the value of B has stray spaces or quotes", "remove them: the value is used as written"),
    ]
    assert doubts(tmp_path / "absent") == []


def test_doubts_of_quotes_at_one_end_and_spaces_in_a_quoted_value(tmp_path):
    from tasks.lib.envfile import doubts

    env = tmp_path / ".env.local"
    env.write_text('A="\'x"\nB="x\'"\nC=" x"\nD="x "\nE=plain\nDATABASE_PORT=1\n')
    stray = [what for what, _ in doubts(env)]
    assert stray == [
        f".env.local line {n}: the value of {k} has stray spaces or quotes" for n, k in ((1, "A"), (2, "B"), (3, "C"), (4, "D"))
    ]


def test_an_empty_value_is_no_doubt(tmp_path):
    from tasks.lib.envfile import doubts

    env = tmp_path / ".env"
    env.write_text("DATABASE_PASSWORD=\n")
    assert doubts(env) == []


def test_doubts_skip_bad_lines_and_comments_and_count_lines_past_them(tmp_path):
    from tasks.lib.envfile import doubts

    env = tmp_path / ".env"
    env.write_text("# a comment\nsk_test_abc\n\nexport DATABASE_PORT=1\n\n\nDATABASE_PORT=2\nSTRIPE_SECRT_KEY=x\nSTATIC_SEEDS=x\n")
    assert doubts(env) == [
        (".env: DATABASE_PORT is set twice (lines 4 and 7); the last wins", "delete one of the two lines"),
        (".env line 8: STRIPE_SECRT_KEY is read by neither the suite nor the portal", "rename it to STRIPE_SECRET_KEY"),
    ]


def test_doubts_of_a_file_that_is_not_utf8_still_name_its_lines(tmp_path):
    from tasks.lib.envfile import doubts

    env = tmp_path / ".env"
    env.write_bytes(b"A=\xff\nA=2\n")
    assert doubts(env) == [(".env: A is set twice (lines 1 and 2); the last wins", "delete one of the two lines")]


def test_a_key_far_from_any_known_one_is_no_doubt(tmp_path):
    from tasks.lib.envfile import doubts

    env = tmp_path / ".env"
    env.write_text("DATABASE_X=1\nMY_SETTING=2\nDOCKER_HOST=x\n")
    assert doubts(env) == []


def test_doubts_once_asks_the_files_the_first_time_only(tmp_path, monkeypatch):
    monkeypatch.setattr(envfile, "_doubted", False)
    (tmp_path / ".env").write_text("A=1\nA=2\n")
    (tmp_path / ".env.local").write_text("DATABSE_HOST=x\n")
    assert [what for what, _ in envfile.doubts_once(tmp_path)] == [
        ".env: A is set twice (lines 1 and 2); the last wins",
        ".env.local line 1: DATABSE_HOST is read by neither the suite nor the portal",
    ]
    assert envfile.doubts_once(tmp_path) == []


def test_not_utf8_on_the_first_line_and_after_crlf(tmp_path):
    (tmp_path / ".env").write_bytes(b"A=\xe9\r\nB=2\r\nC=\xff\r\nD=4\n")
    environ: dict[str, str] = {}
    origins, error = envfile.load_partial(tmp_path, environ)
    assert str(error) == f"{tmp_path / '.env'} line 1 is not UTF-8: re-save the file as UTF-8"
    assert environ == {"B": "2", "D": "4"}
    assert origins == {"B": ".env line 2", "D": ".env line 4"}


def test_the_shell_wins_and_its_origin_is_named_without_losing_the_files_other_keys(tmp_path):
    (tmp_path / ".env").write_text("A=1\nB=2\n")
    (tmp_path / ".env.local").write_text("\nB=3\nC=4\n")
    environ = {"A": "shell"}
    origins, error = envfile.load_partial(tmp_path, environ)
    assert error is None
    assert environ == {"A": "shell", "B": "3", "C": "4"}
    assert origins == {"A": "the shell environment", "B": ".env.local line 2", "C": ".env.local line 3"}


def test_a_folder_named_like_a_dotenv_file_is_skipped(tmp_path):
    (tmp_path / ".env").mkdir()
    (tmp_path / ".env.local").write_text("A=1\n")
    environ: dict[str, str] = {}
    assert envfile.load_partial(tmp_path, environ) == ({"A": ".env.local line 1"}, None)


def test_a_value_starting_or_ending_with_a_letter_is_no_doubt(tmp_path):
    from tasks.lib.envfile import doubts

    env = tmp_path / ".env"
    env.write_text("STATIC_SEEDS=XAX\nDATABASE_NAME=firezone_dev\n")
    assert doubts(env) == []
