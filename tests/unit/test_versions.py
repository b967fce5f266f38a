from pathlib import Path

import pytest

from tasks.lib import doctor, programs
from tasks.lib.shlint import run as lint
from tasks.lib.versions import is_pin, matches, meets, numeric, read, version_warning


def test_read(tmp_path):
    f = tmp_path / ".tool-versions"
    f.write_text("nodejs 20.14.0\nelixir 1.18.4-otp-27  # comment\n\n# only a comment\nshfmt 3.9.0\n")
    assert read(f) == {"nodejs": "20.14.0", "elixir": "1.18.4-otp-27", "shfmt": "3.9.0"}
    assert read(tmp_path / "absent") == {}


def test_numeric():
    assert numeric("v20.14.0") == (20, 14, 0)
    assert numeric("1.18.4-otp-27") == (1, 18, 4)
    assert numeric("none") == ()


def test_is_pin():
    assert is_pin("3.9.0")
    assert not any(is_pin(w) for w in (None, "", "system", "ref:v1.2", "path:/opt/x"))


def test_matches():
    assert matches("0.9.0", "0.9.0")
    assert not matches("3.9.0", "3.6.0")
    assert matches("27.3.4.1", "27")
    assert matches("3.9.0", "3.9")
    assert not matches("27.3.4.1", "25")
    assert not matches("1.18.4-otp-27", "1.14.0")
    assert not matches("1.0", "")


def test_version_warning():
    def warn(installed, wanted):
        return version_warning("shfmt", "/usr/bin/shfmt", installed, wanted, ".tool-versions", "lint.shfmt")

    assert warn("3.9.0", "3.9.0") is None
    assert warn("3.9", "3.9.0") is None
    assert warn("3.6.0", None) is None
    assert warn("3.6.0", "system") is None
    line = warn("3.6.0", "3.9.0")
    assert line == (
        "warning: shfmt 3.6.0 (/usr/bin/shfmt) differs from .tool-versions (shfmt 3.9.0):"
        " results may differ from CI; install shfmt 3.9.0 or point setting lint.shfmt at it"
    )
    assert "\n" not in line
    assert "shfmt of unknown version (" in warn(None, "3.9.0")


@pytest.mark.parametrize(
    "installed, pin, agree",
    [("3.9", "3.9.0", True), ("3.6.0", "3.9.0", False), ("27", "27.3.4.1", True)],
)
def test_doctor_and_lint_agree_on_the_pin(monkeypatch, tmp_path, installed, pin, agree):
    """One rule: doctor's row is ok exactly when lint.sh prints no warning."""
    monkeypatch.setattr(programs, "version", lambda argv: installed)
    row = doctor.tool_row("shfmt", ["shfmt", "--version"], {"shfmt": pin}, False, "install shfmt")
    pins = tmp_path / ".tool-versions"
    pins.write_text(f"shfmt {pin}\n")
    warnings = lint.pin_warnings({"shfmt": "/usr/bin/shfmt"}, str(pins))
    assert (row.status == doctor.OK) is agree, row
    assert (warnings == []) is agree, warnings


def _program(tmp_path: Path, name: str, output: str) -> str:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\nprintf '%s' '{output}'\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(
    "output, version",
    [
        ("ShellCheck - shell script analysis tool\nversion: 0.9.0\nlicense: GNU General Public License, version 3\n", "0.9.0"),
        ("3.6.0\n", "3.6.0"),
        ("v3.13.0\n", "3.13.0"),
        ("(devel)\n", None),
    ],
)
def test_version_probe(tmp_path, output, version):
    assert programs.version([_program(tmp_path, "tool", output), "--version"]) == version


def test_version_probe_of_a_missing_program(tmp_path):
    assert programs.version([str(tmp_path / "absent"), "--version"]) is None


def test_read_ignores_everything_after_the_first_hash(tmp_path):
    f = tmp_path / ".tool-versions"
    f.write_text("# pinned # by CI\nerlang 27.3.4.1 # OTP # 27\n")
    assert read(f) == {"erlang": "27.3.4.1"}


@pytest.mark.parametrize(
    "requirement, installed, met",
    [
        ("~> 1.15", "1.14.0", False),  # Debian's Elixir against today's Firezone
        ("~> 1.15", "1.18.4", True),
        ("~> 1.15", "2.0.0", False),
        ("~> 1.15.2", "1.15.9", True),
        ("~> 1.15.2", "1.16.0", False),
        (">= 1.14.0 and < 1.17.0", "1.16.1", True),
        ("~> 1.13 or ~> 2.0", "2.1.0", True),
        ("== 1.14.0", "1.14.0", True),
    ],
)
def test_elixir_requirement(requirement, installed, met):
    from tasks.lib.versions import meets

    assert meets(requirement, installed) is met


def test_elixir_requirement_row(tmp_path, monkeypatch):
    (tmp_path / "mix.exs").write_text('def project do\n  [app: :portal, elixir: "~> 1.15", deps: []]\nend\n')
    monkeypatch.setattr(programs, "version", lambda argv, **kw: "1.14.0")
    row = doctor.elixir_requirement_row(tmp_path / "mix.exs", lambda p: "elixir/mix.exs")
    assert (row.check, row.status) == ("elixir requirement", "FAIL")
    assert row.detail == "1.14.0 does not meet elixir/mix.exs's elixir: '~> 1.15'" and "install an Elixir" in row.fix
    (tmp_path / "mix.exs").write_text("[app: :portal]\n")
    assert doctor.elixir_requirement_row(tmp_path / "mix.exs", str) is None


@pytest.mark.parametrize(
    "requirement, installed, ok",
    [
        ("~> 1.15", "1.15.0", True),
        ("~> 1.15", "1.14.9", False),
        ("~> 1.15", "1.99.3", True),
        ("~> 1.15", "2.0.0", False),
        ("~> 1.15.2", "1.15.2", True),
        ("~> 1.15.2", "1.15.9", True),
        ("~> 1.15.2", "1.15.1", False),
        ("~> 1.15.2", "1.15", False),
        ("~> 1.15.2", "1.16.0", False),
        ("~> 1.15.2.1", "1.15.9", True),
        ("~> 1.15.2.1", "1.16.0", False),
        ("~>1.15", "1.15.0", True),
        (">= 1.14 and < 2.0", "1.14.0", True),
        (">= 1.14 and < 2.0", "1.18.4-otp-27", True),
        (">= 1.14 and < 2.0", "1.13.9", False),
        (">= 1.14 and < 2.0", "2.0.0", False),
        ("> 1.14", "1.14.0", False),
        ("> 1.14", "1.14.1", True),
        ("<= 1.14", "1.14.0", True),
        ("<= 1.14", "1.14.1", False),
        ("< 1.14", "1.14.0", False),
        ("< 1.14", "1.13", True),
        ("== 1.14.0", "1.14", True),
        ("== 1.14.0", "1.14.1", False),
        ("== 1.15.2", "1.15.2.9", True),
        ("!= 1.14.0", "1.14.0", False),
        ("!= 1.14.0", "1.15", True),
        ("1.14.0", "1.14.0", True),
        ("1.14.0", "1.14.1", False),
        ("  >= 1.14  ", "1.14", True),
        ("~> 1.14 or ~> 2.0", "2.1.0", True),
        ("~> 1.14 or ~> 2.0", "1.20.0", True),
        ("~> 1.14 or ~> 2.0", "3.0.0", False),
        ("~> 1.14 or ~> 2.0", "1.13.0", False),
        ("> 1.0 and < 1.5 or > 2.0 and < 2.5", "1.2", True),
        ("> 1.0 and < 1.5 or > 2.0 and < 2.5", "1.7", False),
        ("> 1.0 and < 1.5 or > 2.0 and < 2.5", "2.4", True),
    ],
)
def test_meets_reads_elixir_requirements(requirement, installed, ok):
    assert meets(requirement, installed) is ok


def test_read_skips_a_file_that_is_not_text(tmp_path):
    f = tmp_path / ".tool-versions"
    f.write_bytes(b"elixir 1.18.4\n\xff\xfe broken\n")
    assert read(f) == {}
    f.write_text("elixir  1.18.4 # note\nerlang 27.3#x\nonlyname\n  nodejs   20.14.0  extra  \n", encoding="utf-8")
    assert read(f) == {"elixir": "1.18.4", "erlang": "27.3", "nodejs": "20.14.0"}


@pytest.mark.parametrize(
    "requirement, installed, ok",
    [("== 1", "1.0.0", True), ("== 1.0.0", "1", True), ("<= 1.14", "1.13", True), ("<= 1.14", "1.14.0", True), ("<= 1.14", "1.15", False)],
)
def test_meets_pads_short_versions_with_zeros(requirement, installed, ok):
    assert meets(requirement, installed) is ok
