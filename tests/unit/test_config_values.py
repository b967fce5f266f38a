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


# --------------------------------------------------------------------------- each INVOKE_* error's fields

ENV_DEFAULTS = {
    "lint": {"jobs": 0, "strict": False, "severity": "warning", "exclude": None},
    "billing": {"grace_period": 5.0},
    "elixir": {"reset_tasks": ["ecto.reset"], "pair": ("a", "b")},
    "postgres": {"env": {"TZ": "UTC"}},
}


def fields(environ: dict) -> list[tuple[str, str, str]]:
    return [(e.what, e.fix, e.setting) for e in config.environment_errors(ENV_DEFAULTS, environ)]


def test_a_false_word_in_the_environment_would_read_as_true():
    assert fields({"INVOKE_LINT_STRICT": " Off "}) == [
        (
            "setting lint.strict = ' Off ' (from INVOKE_LINT_STRICT) would read as true (invoke takes only 0 or an empty value as false)",
            "set INVOKE_LINT_STRICT=0",
            "lint.strict",
        )
    ]
    assert [w for w, _, _ in fields({"INVOKE_LINT_STRICT": "NO"})] == [
        "setting lint.strict = 'NO' (from INVOKE_LINT_STRICT) would read as true (invoke takes only 0 or an empty value as false)"
    ]


def test_a_flag_that_is_no_word_names_both_ways_to_write_it():
    assert fields({"INVOKE_LINT_STRICT": "maybe"}) == [
        (
            "setting lint.strict = 'maybe' (from INVOKE_LINT_STRICT) is not true or false",
            "set INVOKE_LINT_STRICT=1 or INVOKE_LINT_STRICT=0",
            "lint.strict",
        )
    ]


@pytest.mark.parametrize("key, name", [("reset_tasks", "INVOKE_ELIXIR_RESET_TASKS"), ("pair", "INVOKE_ELIXIR_PAIR")])
def test_a_list_cannot_come_from_the_environment(key, name):
    assert fields({name: "x"}) == [
        (
            f"setting elixir.{key} = 'x' (from {name}): a list cannot come from the environment",
            f"unset it and set elixir.{key} in invoke.yaml",
            f"elixir.{key}",
        )
    ]


def test_a_plain_dict_setting_cannot_come_from_the_environment():
    [(what, fix, setting)] = fields({"INVOKE_POSTGRES_ENV": "TZ=UTC"})
    assert what == "setting postgres.env = 'TZ=UTC' (from INVOKE_POSTGRES_ENV): a list cannot come from the environment"
    assert (fix, setting) == ("unset it and set postgres.env in invoke.yaml", "postgres.env")


def test_numbers_invoke_cannot_cast_are_named_with_their_kind():
    environ = {"INVOKE_LINT_JOBS": "two", "INVOKE_BILLING_GRACE_PERIOD": "soon"}
    assert fields(environ) == [
        ("setting lint.jobs = 'two' (from INVOKE_LINT_JOBS) is not a whole number", "fix or unset INVOKE_LINT_JOBS", "lint.jobs"),
        (
            "setting billing.grace_period = 'soon' (from INVOKE_BILLING_GRACE_PERIOD) is not a number",
            "fix or unset INVOKE_BILLING_GRACE_PERIOD",
            "billing.grace_period",
        ),
    ]
    assert [s for _, _, s in fields({"INVOKE_LINT_JOBS": "1.5"})] == ["lint.jobs"]
    assert [s for _, _, s in fields({"INVOKE_BILLING_GRACE_PERIOD": "nan"})] == ["billing.grace_period"]


@pytest.mark.parametrize(
    "environ",
    [
        {"INVOKE_LINT_JOBS": "-3"},
        {"INVOKE_LINT_JOBS": " 7 "},
        {"INVOKE_LINT_JOBS": "-9223372036854775808"},
        {"INVOKE_BILLING_GRACE_PERIOD": "-1.5"},
        {"INVOKE_BILLING_GRACE_PERIOD": "2"},
        {"INVOKE_LINT_SEVERITY": "loud"},  # a string: invoke does not cast it; problems() checks it
        {"INVOKE_LINT_EXCLUDE": "x"},  # declared None: invoke keeps the text
        {"INVOKE_LINT_STRICT": "   "},
        {"INVOKE_LINT_OTHER": "maybe"},
        {"INVOKE_LINT_STRICT": "0", "INVOKE_LINT_JOBS": "", "INVOKE_ELIXIR_RESET_TASKS": ""},
    ],
)
def test_values_invoke_casts_well_are_no_error(environ):
    assert fields(environ) == []


def test_empty_variables_are_named_for_settings_invoke_casts():
    environ = {"INVOKE_LINT_JOBS": " ", "INVOKE_LINT_SEVERITY": "", "INVOKE_LINT_STRICT": "1", "INVOKE_ELIXIR_RESET_TASKS": ""}
    assert config.empty_variables(ENV_DEFAULTS, environ) == ["INVOKE_LINT_JOBS", "INVOKE_ELIXIR_RESET_TASKS"]


# --------------------------------------------------------------------------- the validator, layer by layer


def layered(monkeypatch, tmp_path, yaml: str = "", overrides=None, environ=None) -> list[tuple[str, str, str]]:
    for name, value in (environ or {}).items():
        monkeypatch.setenv(name, value)
    (tmp_path / "invoke.yaml").write_text(yaml)
    cfg = Config(project_location=str(tmp_path), overrides=overrides or {})
    cfg.load_collection(DEFAULTS, merge=False)
    cfg.load_project(merge=False)
    if environ:
        cfg.load_shell_env()
    return [(p.what, p.fix, p.setting) for p in config.settings(cfg).problems()]


def test_a_value_from_the_environment_is_named_by_its_variable(monkeypatch, tmp_path):
    assert layered(monkeypatch, tmp_path, environ={"INVOKE_LINT_SEVERITY": "loud"}) == [
        (
            "setting lint.severity = 'loud' (from INVOKE_LINT_SEVERITY) is not one of error, warning, info, style",
            "fix it in invoke.yaml (lint: {severity: ...}) or INVOKE_LINT_SEVERITY",
            "lint.severity",
        )
    ]


def test_a_value_from_the_command_line_is_named_so(monkeypatch, tmp_path):
    found = layered(monkeypatch, tmp_path, "lint: {jobs: 2}\n", overrides={"lint": {"jobs": "two"}})
    assert found == [
        (
            "setting lint.jobs = 'two' (from the command line) is not a whole number >= 0",
            "fix it in invoke.yaml (lint: {jobs: ...}) or INVOKE_LINT_JOBS",
            "lint.jobs",
        ),
    ]


def test_an_empty_value_above_leaves_the_one_below_to_check(monkeypatch, tmp_path):
    found = layered(monkeypatch, tmp_path, "lint: {jobs: two, strict: maybe}\n", overrides={"lint": {"jobs": "", "strict": None}})
    yaml = tmp_path / "invoke.yaml"
    assert [w for w, _, _ in found] == [
        f"setting lint.jobs = 'two' (from {yaml}) is not a whole number >= 0",
        f"setting lint.strict = 'maybe' (from {yaml}) is not true or false",
    ]


def test_an_unknown_key_is_named_with_the_nearest_setting_or_the_whole_section(monkeypatch, tmp_path):
    found = layered(monkeypatch, tmp_path, "lint: {job: 1, zzz: 2}\nbilling: {grace: 1}\n")
    yaml = tmp_path / "invoke.yaml"
    assert found == [
        (
            f"setting billing.grace (from {yaml}) is not a setting of the suite",
            "remove it (the billing settings: grace_period)",
            "billing.grace",
        ),
        (f"setting lint.job (from {yaml}) is not a setting of the suite", "rename it to lint.jobs", "lint.job"),
        (
            f"setting lint.zzz (from {yaml}) is not a setting of the suite",
            "remove it (the lint settings: exclude, jobs, severity, shellcheck, strict)",
            "lint.zzz",
        ),
    ]


def test_a_section_that_is_no_mapping_in_the_yaml_names_the_file(monkeypatch, tmp_path):
    yaml = tmp_path / "invoke.yaml"
    assert layered(monkeypatch, tmp_path, "dev: [a]\n") == [
        (f"setting dev = ['a'] (from {yaml}) is not a section", "write it as dev: {key: value}", "dev")
    ]


def test_text_settings_take_words_and_numbers_not_flags_or_lists(monkeypatch, tmp_path):
    yaml = tmp_path / "invoke.yaml"
    assert layered(monkeypatch, tmp_path, "lint: {shellcheck: 3, exclude: 1.5, jobs: 0}\ndev: {state_dir: .x}\n") == []
    found = layered(monkeypatch, tmp_path, "lint: {shellcheck: true, exclude: [a]}\n")
    assert [w for w, _, _ in found] == [
        f"setting lint.exclude = ['a'] (from {yaml}) is not a text value",
        f"setting lint.shellcheck = True (from {yaml}) is not a text value",
    ]


def test_a_text_setting_may_hold_a_lone_quote_and_a_command_setting_is_split(monkeypatch, tmp_path):
    assert layered(monkeypatch, tmp_path, "lint: {exclude: \"it's\"}\nelixir: {deps_task: 'deps.get --only dev'}\n") == []


def test_the_validator_reads_past_a_declared_value_that_is_no_section(monkeypatch, tmp_path):
    (tmp_path / "invoke.yaml").write_text("lint: {jobs: two}\n")
    cfg = Config(project_location=str(tmp_path), overrides={})
    cfg.load_collection({"a_flag": True, **DEFAULTS}, merge=False)
    cfg.load_project(merge=False)
    assert [p.setting for p in config.settings(cfg).problems()] == ["lint.jobs"]


def test_the_system_file_is_checked_and_named(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "invoke.yaml").write_text("lint: {strict: maybe}\n")
    cfg = Config(system_prefix=f"{tmp_path}/etc/", overrides={})
    cfg.load_collection(DEFAULTS, merge=False)
    cfg.load_system(merge=False)
    [p] = config.settings(cfg).problems()
    assert p.what == f"setting lint.strict = 'maybe' (from {tmp_path / 'etc' / 'invoke.yaml'}) is not true or false"


def test_getter_errors_name_the_setting_and_a_minimum_is_kept():
    c = ctx({"lint": {"jobs": "two"}})
    with pytest.raises(config.SettingError) as e:
        config.settings(c).whole("lint", "jobs")
    assert (e.value.setting, e.value.fix) == ("lint.jobs", "fix it in invoke.yaml (lint: {jobs: ...}) or INVOKE_LINT_JOBS")
    with pytest.raises(config.SettingError) as e:
        config.settings(ctx()).raw("lint", "nothing")
    assert e.value.setting == "lint.nothing"
    with pytest.raises(config.SettingError) as e:
        config.settings(ctx()).whole("lint", "jobs", minimum=1)
    assert e.value.what == "setting lint.jobs = 0 (from the default) is not a whole number >= 1"


def test_a_read_only_mapping_setting_cannot_come_from_the_environment():
    from types import MappingProxyType

    defaults = {"postgres": {"env": MappingProxyType({"TZ": "UTC"})}}
    [e] = config.environment_errors(defaults, {"INVOKE_POSTGRES_ENV": "x"})
    assert e.what == "setting postgres.env = 'x' (from INVOKE_POSTGRES_ENV): a list cannot come from the environment"
