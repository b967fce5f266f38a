from tasks.lib.versions import matches, numeric, read


def test_read(tmp_path):
    f = tmp_path / ".tool-versions"
    f.write_text("nodejs 20.14.0\nelixir 1.18.4-otp-27  # comment\n\n# only a comment\nshfmt 3.9.0\n")
    assert read(f) == {"nodejs": "20.14.0", "elixir": "1.18.4-otp-27", "shfmt": "3.9.0"}
    assert read(tmp_path / "absent") == {}


def test_numeric():
    assert numeric("v20.14.0") == (20, 14, 0)
    assert numeric("1.18.4-otp-27") == (1, 18, 4)
    assert numeric("none") == ()


def test_matches():
    assert matches("0.9.0", "0.9.0")
    assert not matches("3.9.0", "3.6.0")
    assert matches("27.3.4.1", "27")
    assert not matches("27.3.4.1", "25")
    assert not matches("1.18.4-otp-27", "1.14.0")
    assert not matches("1.0", "")
