"""tasks/lib/mixtest/: the mix test command lines, their environment, the browser check (no mix, no browser)."""

from __future__ import annotations

import stat
import sys

import pytest
from invoke import Exit, MockContext

from tasks import elixir, infra
from tasks.lib import config
from tasks.lib.mixtest import browser
from tasks.lib.mixtest import run as command


def context(**elixir_settings):
    c = MockContext()
    c.config.load_collection({**elixir.ns.configuration(), **infra.ns.configuration()})
    for key, value in elixir_settings.items():
        c.config.elixir[key] = value
    return c


# ------------------------------------------------------------------ command lines


def test_mix_args_order_paths_filters_failed_partitions():
    opts = command.Options(paths=("apps/web/test/a_test.exs:12",), failed=True)
    filters = ["--exclude", "flaky:true", "--exclude", "acceptance:true"]
    assert command.mix_args(["test"], filters, opts) == ["test", "apps/web/test/a_test.exs:12", *filters, "--failed"]
    assert command.mix_args(["test"], ["--only", "acceptance:true"], command.Options(partitions=3)) == [
        "test",
        "--only",
        "acceptance:true",
        "--partitions",
        "3",
    ]


def test_env_is_the_test_env_without_the_dev_database_name():
    db = {"DATABASE_HOST": "localhost", "DATABASE_PORT": "5433", "DATABASE_NAME": "firezone_dev", "DATABASE_PASSWORD": "pw"}
    env = command.test_env(db, {"FZFF_X": "true"}, {"VAULT_ADDR": "http://127.0.0.1:8200"}) | command.partition_env(2)
    assert env["MIX_ENV"] == "test" and env["MIX_TEST_PARTITION"] == "2"
    assert "DATABASE_NAME" not in env and env["DATABASE_PORT"] == "5433"
    assert env["VAULT_ADDR"] == "http://127.0.0.1:8200" and env["FZFF_X"] == "true"
    assert "MIX_TEST_PARTITION" not in command.test_env(db, {})


def test_test_database_names_follow_firezones_config():
    assert command.test_database(None) == "firezone_test"
    assert command.test_database(3) == "firezone_test_p3"


@pytest.mark.parametrize("value", ["2", " 4 ", None, ""])
def test_partitions_count_accepts_whole_numbers(value):
    assert command.partitions_count(value) == (int(value) if value and value.strip() else 1)


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_partitions_count_refuses_the_rest_in_one_line(value):
    with pytest.raises(Exit, match="expected a whole number from 1"):
        command.partitions_count(value)


def test_failed_with_partitions_is_refused():
    command.check_combination(True, 1)
    command.check_combination(False, 4)
    with pytest.raises(Exit, match="--failed with --partitions"):
        command.check_combination(True, 2)


def test_paths_are_taken_relative_to_the_elixir_root_then_here(tmp_path):
    root = tmp_path / "elixir"
    (root / "apps/web/test").mkdir(parents=True)
    (root / "apps/web/test/a_test.exs").write_text("")
    assert command.test_path("apps/web/test/a_test.exs:7", root, tmp_path, tmp_path) == "apps/web/test/a_test.exs:7"
    assert command.test_path("elixir/apps/web/test", root, tmp_path, tmp_path) == "apps/web/test"
    assert command.test_path(str(root / "apps/web/test/a_test.exs"), root, tmp_path, tmp_path) == "apps/web/test/a_test.exs"
    with pytest.raises(Exit, match="no such file or folder"):
        command.test_path("apps/nope_test.exs:3", root, tmp_path, tmp_path)
    (tmp_path / "outside_test.exs").write_text("")
    with pytest.raises(Exit, match="outside the Elixir root"):
        command.test_path("outside_test.exs", root, tmp_path, tmp_path)


def test_the_alias_and_the_debug_tag_are_described():
    assert "runs ecto.create --quiet, ecto.migrate, openapi.generate, test" in command.describe_alias(
        ("ecto.create --quiet", "ecto.migrate", "openapi.generate", "test"), "elixir/mix.exs"
    )
    assert "no `test` alias" in command.describe_alias(None, "elixir/mix.exs")
    hint = command.debug_tag_hint(["apps/web/test/web/auth_test.exs:40"], "apps/web/test")
    assert "`@tag debug: true` above the test, in apps/web/test/web/auth_test.exs" in hint
    assert "its file under apps/web/test" in command.debug_tag_hint([], "apps/web/test")


# ------------------------------------------------------------------ the browser


def test_majors_are_compared():
    assert browser.major("156.0.8078.79") == 156 and browser.major(None) is None
    assert browser.compare("/d", "156.0.1", "/c", "156.2.3") is None
    problem = browser.compare("/usr/bin/chromedriver", "99.0.4844.51", "/usr/bin/chromium", "156.0.8078.79")
    assert problem is not None and problem.setting == "elixir.chromedriver"
    line = problem.message
    assert "\n" not in line
    assert "chromedriver 99.0.4844.51 (/usr/bin/chromedriver)" in line and "156.0.8078.79 (/usr/bin/chromium)" in line
    assert "major 99 vs 156" in line and "apt-get install chromium chromium-driver" in line


def _program(path, text):
    path.write_text(f"#!{sys.executable}\nprint({text!r})\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_check_finds_both_and_refuses_a_mismatch(tmp_path):
    driver = _program(tmp_path / "chromedriver", "ChromeDriver 120.0.6099.71 (abc-refs/branch-heads/6099@{#1})")
    chrome = _program(tmp_path / "chrome", "Google Chrome 120.0.6099.109")
    found = browser.check(str(driver), str(chrome))
    assert (found.driver_version, found.chrome_version) == ("120.0.6099.71", "120.0.6099.109")
    newer = _program(tmp_path / "chrome2", "Chromium 121.0.6167.85 built on Debian")
    with pytest.raises(Exit, match="major 120 vs 121"):
        browser.check(str(driver), str(newer))
    with pytest.raises(Exit, match="setting elixir.chromedriver"):
        browser.check(str(tmp_path / "missing"), str(chrome))


def test_the_browser_is_looked_for_under_its_usual_names(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(Exit, match="no Chrome or Chromium on PATH .*apt-get install chromium chromium-driver"):
        browser.find("chrome", "")
    _program(tmp_path / "google-chrome", "Google Chrome 120.0")
    assert browser.find("chrome", "") == str(tmp_path / "google-chrome")


def test_acceptance_tests_are_found_by_their_tag_or_wallaby(tmp_path):
    assert not browser.has_acceptance_tests(tmp_path)
    (tmp_path / "apps/web/test/web").mkdir(parents=True)
    (tmp_path / "apps/web/test/web/unit_test.exs").write_text('test "x" do\nend\n')
    assert not browser.has_acceptance_tests(tmp_path)
    (tmp_path / "apps/web/test/web/auth_test.exs").write_text("@moduletag acceptance: true\n")
    assert browser.has_acceptance_tests(tmp_path)
    one_app = tmp_path / "oneapp"
    (one_app / "test/support").mkdir(parents=True)
    (one_app / "test/support/acceptance_case.ex").write_text("use Wallaby.Feature\n")
    assert browser.has_acceptance_tests(one_app)


def test_doctor_rows_only_when_acceptance_tests_exist(tmp_path):
    root = tmp_path / "elixir"
    root.mkdir()
    c = context(
        root=str(root),
        chromedriver=str(_program(tmp_path / "cd", "ChromeDriver 99.0.1")),
        chrome=str(_program(tmp_path / "ch", "Chromium 156.0.2")),
    )
    assert browser.doctor_rows(config.settings(c)) == []
    (root / "test").mkdir()
    (root / "test/a_test.exs").write_text("@tag acceptance: true\n")
    rows = browser.doctor_rows(config.settings(c))
    assert [r[0] for r in rows] == ["chromedriver", "chrome", "chromedriver/chrome"]
    assert rows[0][1] == "ok" and "99.0.1" in rows[0][2]
    assert rows[2][1] == "warn" and "major 99 vs 156" in rows[2][2]


TODAYS_CONFIG = """import Config

config :portal, Portal.Repo,
  hostname: "localhost",
  username: "postgres",
  password: "postgres"

config :portal, PortalWeb.Endpoint, http: [port: 13000]

config :portal, Portal.Repo.Replica,
  hostname: "localhost",
  password: "postgres"
"""


def test_a_hard_coded_test_credential_that_database_contradicts_is_one_line_without_the_secret(tmp_path):
    from tasks.lib.database import Database
    from tasks.lib.mixtest.run import connection_warnings
    from tasks.lib.repo.portal import test_connection

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.exs").write_text(TODAYS_CONFIG)
    (tmp_path / "config" / "test.exs").write_text('import Config\nconfig :portal, Portal.Repo, database: "firezone_test"\n')
    found = test_connection(tmp_path)
    assert {k: v for k, (v, _) in found.items()} == {"hostname": "localhost", "username": "postgres", "password": "postgres"}
    same = Database("127.0.0.1", 56101, "firezone_dev", "postgres", "postgres")
    assert connection_warnings(found, same, lambda p: "elixir/config/config.exs") == []  # the port goes by PGPORT
    other = Database("localhost", 5432, "firezone_dev", "fz", "notpostgres")
    lines = connection_warnings(found, other, lambda p: "elixir/config/config.exs")
    assert lines == [
        "warning: elixir/config/config.exs gives the tests' database username postgres, so DATABASE_USER from .env does not reach"
        " the tests; fix: set DATABASE_USER to match (for this database) or change elixir/config/config.exs",
        "warning: elixir/config/config.exs gives the tests' database a different password, so DATABASE_PASSWORD from .env does not"
        " reach the tests; fix: set DATABASE_PASSWORD to match (for this database) or change elixir/config/config.exs",
    ]
    assert "notpostgres" not in " ".join(lines)


def test_acceptance_tests_are_found_by_moduletag_tag_or_wallaby(tmp_path):
    from tasks.lib.mixtest.browser import has_acceptance_tests

    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "a_test.exs").write_text("use ExUnit.Case\n")
    assert not has_acceptance_tests(tmp_path)
    (tmp_path / "test" / "case.ex").write_text("defmodule AcceptanceCase do\n  @moduletag :acceptance\nend\n")
    assert has_acceptance_tests(tmp_path)
    (tmp_path / "test" / "case.ex").unlink()
    (tmp_path / "test" / "test_helper.exs").write_text("ExUnit.configure(exclude: [flaky: true, acceptance: true])\n")
    assert not has_acceptance_tests(tmp_path)
    (tmp_path / "test" / "b_test.exs").write_text("  @tag acceptance: true\n")
    assert has_acceptance_tests(tmp_path)
