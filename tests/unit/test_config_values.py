"""Settings as a user writes them (YAML words, strings, lists) and the one line a bad one gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from invoke import Config, Context, Exit

from tasks.lib import config
from tasks.lib.repo import derived

DEFAULTS = {
    "lint": {"jobs": 0, "strict": False, "severity": "warning", "shellcheck": "shellcheck", "exclude": ""},
    "billing": {"grace_period": 5.0},
    "elixir": {"deps_task": "deps.get", "reset_tasks": ["ecto.reset"]},
    "dev": {"state_dir": ".inv"},
}


def ctx(overrides=None) -> Context:
    cfg = Config(overrides=overrides or {})
    cfg.load_collection(DEFAULTS)
    return Context(config=cfg)


def error(getter, c, section, key, *args) -> str:
    with pytest.raises(Exit) as e:
        getter(config.settings(c), section, key, *args)
    assert "\n" not in e.value.message
    return e.value.message


# --------------------------------------------------------------------------- YAML words and strings


@pytest.mark.parametrize(
    "value, expected",
    [("yes", True), ("On", True), (" TRUE ", True), ("1", True), ("no", False), ("Off", False), ("false", False), ("0", False)],
)
def test_flag_words_written_as_strings(value, expected):
    assert config.settings(ctx({"lint": {"strict": value}})).flag("lint", "strict") is expected


@pytest.mark.parametrize("value, expected", [("3", 3), (" 4 ", 4), (3.0, 3), (2, 2)])
def test_whole_numbers_written_as_text_or_floats(value, expected):
    assert config.settings(ctx({"lint": {"jobs": value}})).whole("lint", "jobs") == expected


def test_numbers_may_be_negative_unless_positive_is_asked():
    c = ctx({"billing": {"grace_period": -1.5}})
    assert config.settings(c).number("billing", "grace_period") == -1.5
    assert config.settings(ctx({"billing": {"grace_period": 0.5}})).positive("billing", "grace_period") == 0.5
    msg = error(config.Settings.number, ctx({"billing": {"grace_period": "soon"}}), "billing", "grace_period")
    assert msg.startswith("setting billing.grace_period = 'soon' (from the command line) is not a number;")


def test_optional_text():
    assert config.settings(ctx({"lint": {"shellcheck": "/opt/sc"}})).optional("lint", "shellcheck") == "/opt/sc"
    assert config.settings(ctx()).optional("lint", "unset_key") == ""
    assert config.settings(ctx()).optional("no_section", "key") == ""


def test_choice_returns_the_value_and_names_a_bad_one():
    assert config.settings(ctx({"lint": {"severity": "error"}})).choice("lint", "severity", ("error", "warning")) == "error"
    msg = error(config.Settings.choice, ctx({"lint": {"severity": "loud"}}), "lint", "severity", ("error", "warning"))
    assert msg.startswith("setting lint.severity = 'loud' (from the command line) is not one of error, warning;")


def test_strings_of_numbers_and_an_empty_default():
    assert config.settings(ctx({"lint": {"exclude": ["vendor", 7]}})).strings("lint", "exclude") == ["vendor", "7"]
    assert config.settings(ctx()).strings("lint", "exclude") == []


def test_a_path_setting_relative_to_a_base(tmp_path):
    assert config.settings(ctx()).path("dev", "state_dir", tmp_path) == tmp_path / ".inv"
    assert config.settings(ctx({"dev": {"state_dir": "/var/fz"}})).path("dev", "state_dir", tmp_path) == Path("/var/fz")


def test_a_setting_with_no_value_and_no_default_is_named():
    for section in ("lint", "nosection"):
        msg = error(config.Settings.text, ctx(), section, "nothing")
        assert msg == (
            f"setting {section}.nothing has no value and no default;"
            f" fix it in invoke.yaml ({section}: {{nothing: ...}}) or INVOKE_{section.upper()}_NOTHING"
        )


def test_origin_of_a_setting_nobody_declared():
    assert config.settings(ctx()).origin("nosection", "nothing") == "the default"


# --------------------------------------------------------------------------- commands


def test_words_from_a_list_or_a_string():
    assert config.settings(ctx({"elixir": {"deps_task": ["deps.get", "--only", 1]}})).words("elixir", "deps_task") == [
        "deps.get",
        "--only",
        "1",
    ]


@pytest.mark.parametrize(
    "value, wanted",
    [
        ('deps.get "--only', "a command line (No closing quotation)"),
        (5, "a command (a string or a list of words)"),
        ([], "a command (a string or a list of words)"),
        (["deps.get", None], "a command (a string or a list of words)"),
        ("  ", "a command (a string or a list of words)"),
    ],
)
def test_a_bad_command_is_one_line_naming_the_setting(value, wanted):
    msg = error(config.Settings.words, ctx({"elixir": {"deps_task": value}}), "elixir", "deps_task")
    assert msg == (
        f"setting elixir.deps_task = {value!r} (from the command line) is not {wanted};"
        " fix it in invoke.yaml (elixir: {deps_task: ...}) or INVOKE_ELIXIR_DEPS_TASK"
    )


@pytest.mark.parametrize("value", [[5], [[]], ["ecto.reset", []], [["ecto.seed", 1]], ["ecto.reset", 5], ["ecto.reset", "  "], 7])
def test_bad_commands_are_one_line_naming_the_setting(value):
    msg = error(config.Settings.commands, ctx({"elixir": {"reset_tasks": value}}), "elixir", "reset_tasks")
    assert msg == (
        f"setting elixir.reset_tasks = {value!r} (from the command line) is not a list of commands, e.g. [ecto.reset, ecto.seed];"
        " fix it in invoke.yaml (elixir: {reset_tasks: ...}) or INVOKE_ELIXIR_RESET_TASKS"
    )


# --------------------------------------------------------------------------- INVOKE_* variables


@pytest.mark.parametrize("word", ["0", "1", "true", "yes", "on", "TRUE", "Yes", " ON "])
def test_true_words_and_0_in_the_environment_are_no_problem(word):
    # 0 is the one way invoke reads false, and what the "would read as true" line tells users to set.
    assert list(map(str, config.environment_errors(DEFAULTS, {"INVOKE_LINT_STRICT": word}))) == []


def test_every_variable_is_checked_past_an_empty_one_and_an_odd_section():
    settings = {"tasks": "not a section", **DEFAULTS}
    environ = {"INVOKE_LINT_JOBS": "", "INVOKE_LINT_STRICT": "maybe", "INVOKE_BILLING_GRACE_PERIOD": "soon"}
    problems = list(map(str, config.environment_errors(settings, environ)))
    assert len(problems) == 2
    assert "INVOKE_LINT_STRICT" in problems[0] and "INVOKE_BILLING_GRACE_PERIOD" in problems[1]


def test_a_mapping_setting_cannot_come_from_the_environment():
    # As the executor builds them from invoke's merged config: nested sections are invoke's mappings.
    cfg = Config()
    cfg.load_collection({"postgres": {"env": {"TZ": "UTC"}, "port": 5432}})
    sections = {k: dict(v) for k, v in cfg.items() if hasattr(v, "items")}
    [problem] = list(map(str, config.environment_errors(sections, {"INVOKE_POSTGRES_ENV": "x"})))
    assert "INVOKE_POSTGRES_ENV" in problem and "postgres.env" in problem and "a list cannot come from the environment" in problem


# --------------------------------------------------------------------------- settings and the repository

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A Firezone checkout (compose file says postgres:18, one app) as the project root."""
    root = tmp_path / "firezone"
    shutil.copytree(FIXTURES / "oneapp", root)
    shutil.copytree(FIXTURES / "umbrella", tmp_path / "umbrella")
    monkeypatch.setattr(config, "PROJECT_ROOT", root)
    derived.forget()
    yield root
    derived.forget()


def repo_ctx(**kwargs) -> Context:
    cfg = Config(lazy=True, **kwargs)
    cfg.load_collection({"postgres": {"image": "postgres:17"}, "elixir": {"root": "elixir", "web_app": "."}})
    return Context(config=cfg)


def test_a_setting_changed_at_run_time_wins_over_the_repository(repo):
    c = repo_ctx()
    assert config.settings(c).text("postgres", "image") == "postgres:18"
    c.config.postgres.image = "postgres:16"
    assert config.settings(c).text("postgres", "image") == "postgres:16"


def test_an_empty_setting_leaves_the_repositorys_value(repo):
    c = repo_ctx(overrides={"postgres": {"image": ""}})
    assert config.settings(c).text("postgres", "image") == "postgres:18"
    assert config.settings(c).origin("postgres", "image") == "scripts/compose/portal.yml"


@pytest.mark.parametrize("layer", ["system", "user", "runtime"])
def test_a_setting_in_any_invoke_file_wins_and_is_named(repo, tmp_path, layer):
    folder = tmp_path / layer
    folder.mkdir()
    (folder / "invoke.yaml").write_text("postgres:\n  image: postgres:15\n")
    where = {"system": {"system_prefix": f"{folder}/"}, "user": {"user_prefix": f"{folder}/"}}
    c = repo_ctx(**where.get(layer, {"runtime_path": str(folder / "invoke.yaml")}))
    getattr(c.config, f"load_{layer}")()
    assert config.settings(c).text("postgres", "image") == "postgres:15"
    assert config.settings(c).origin("postgres", "image") == str(folder / "invoke.yaml")


def test_the_elixir_root_setting_chooses_the_mix_project_read(repo, tmp_path):
    assert config.settings(repo_ctx()).text("elixir", "web_app") == "."
    umbrella = repo_ctx(overrides={"elixir": {"root": str(tmp_path / "umbrella")}})
    assert config.settings(umbrella).text("elixir", "web_app") == "apps/web"


def test_without_an_elixir_section_the_mix_project_is_the_elixir_folder(repo, tmp_path, monkeypatch):
    shutil.copytree(tmp_path / "umbrella", tmp_path / "other" / "elixir")
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path / "other")
    cfg = Config(lazy=True)
    cfg.load_collection({"postgres": {"image": "postgres:17"}})
    assert config.settings(Context(config=cfg)).text("elixir", "web_app") == "apps/web"
