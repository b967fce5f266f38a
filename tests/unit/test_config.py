"""tasks/lib/config.py: typed getters, the declared defaults, and where a value came from."""

from __future__ import annotations

import pytest
from invoke import Config, Context, Exit

from tasks.lib import config
from tasks.lib.config import PROJECT_ROOT, project_path

DEFAULTS = {
    "lint": {"jobs": 0, "strict": False, "exclude": [], "severity": "warning", "shellcheck": "shellcheck"},
    "billing": {"grace_period": 5.0, "secret_timeout": 60.0},
    "dev": {"state_dir": ".inv"},
}


def ctx(overrides=None, env=None, monkeypatch=None) -> Context:
    """A Context configured like `inv` does it: collection defaults, then env, then overrides."""
    cfg = Config(overrides=overrides or {})
    cfg.load_collection(DEFAULTS)
    if env:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        cfg.load_shell_env()
    return Context(config=cfg)


def test_defaults_come_from_the_collection():
    c = ctx()
    assert config.settings(c).whole("lint", "jobs") == 0
    assert config.settings(c).flag("lint", "strict") is False
    assert config.settings(c).strings("lint", "exclude") == []
    assert config.settings(c).positive("billing", "grace_period") == 5.0
    assert config.settings(c).origin("lint", "jobs") == "the default"
    assert config.settings(c).state_dir == PROJECT_ROOT / ".inv"


def test_an_empty_value_counts_as_unset():
    c = ctx({"lint": {"shellcheck": ""}})
    assert config.settings(c).text("lint", "shellcheck") == "shellcheck"
    assert config.settings(c).optional("lint", "shellcheck") == ""


@pytest.mark.parametrize(
    "section, key, value, getter, wanted",
    [
        ("lint", "jobs", "two", config.Settings.whole, "a whole number >= 0"),
        ("lint", "jobs", -1, config.Settings.whole, "a whole number >= 0"),
        ("lint", "jobs", 1.5, config.Settings.whole, "a whole number >= 0"),
        ("billing", "grace_period", "soon", config.Settings.positive, "a positive number"),
        ("billing", "secret_timeout", 0, config.Settings.positive, "a positive number"),
        ("billing", "secret_timeout", True, config.Settings.positive, "a positive number"),
        ("lint", "strict", "maybe", config.Settings.flag, "true or false"),
        ("lint", "exclude", 7, config.Settings.strings, "a list of strings"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting_and_its_origin(section, key, value, getter, wanted):
    c = ctx({section: {key: value}})
    with pytest.raises(Exit) as e:
        getter(config.settings(c), section, key)
    msg = e.value.message
    assert msg.startswith(f"setting {section}.{key} = {value!r} (from the command line) is not {wanted};")
    assert config.env_name(section, key) in msg and "\n" not in msg


def test_origin_names_the_environment_variable(monkeypatch):
    c = ctx(env={"INVOKE_BILLING_GRACE_PERIOD": "0"}, monkeypatch=monkeypatch)
    with pytest.raises(Exit) as e:
        config.settings(c).positive("billing", "grace_period")
    assert "(from INVOKE_BILLING_GRACE_PERIOD)" in e.value.message


@pytest.mark.parametrize(
    "name, value, says",
    [
        ("INVOKE_LINT_JOBS", "two", "is not a whole number"),
        ("INVOKE_BILLING_GRACE_PERIOD", "soon", "is not a number"),
        ("INVOKE_LINT_STRICT", "false", "would read as true"),
        ("INVOKE_LINT_STRICT", "maybe", "is not true or false"),
        ("INVOKE_LINT_EXCLUDE", "vendor", "a list cannot come from the environment"),
    ],
)
def test_environment_values_invoke_would_crash_on_or_misread(name, value, says):
    problems = list(map(str, config.environment_errors(DEFAULTS, {name: value})))
    assert len(problems) == 1 and says in problems[0] and name in problems[0]


@pytest.mark.parametrize(
    "name, value",
    [("INVOKE_LINT_JOBS", "2"), ("INVOKE_BILLING_GRACE_PERIOD", "2.5"), ("INVOKE_LINT_STRICT", "1"), ("INVOKE_LINT_STRICT", "")],
)
def test_environment_values_invoke_reads_right_pass(name, value):
    assert list(map(str, config.environment_errors(DEFAULTS, {name: value}))) == []


def test_empty_typed_variables_mean_the_default():
    environ = {"INVOKE_LINT_JOBS": "", "INVOKE_LINT_STRICT": " ", "INVOKE_LINT_SHELLCHECK": "", "INVOKE_LINT_EXCLUDE": ""}
    # Strings are invoke's to pass through (an empty one is the default already).
    assert sorted(config.empty_variables(DEFAULTS, environ)) == ["INVOKE_LINT_EXCLUDE", "INVOKE_LINT_JOBS", "INVOKE_LINT_STRICT"]


def test_origin_names_the_project_file(tmp_path):
    (tmp_path / "invoke.yaml").write_text("billing:\n  grace_period: soon\n")
    cfg = Config(project_location=str(tmp_path))
    cfg.load_collection(DEFAULTS)
    cfg.load_project()
    with pytest.raises(Exit) as e:
        config.settings(Context(config=cfg)).positive("billing", "grace_period")
    assert f"(from {tmp_path / 'invoke.yaml'})" in e.value.message


def test_values_from_the_environment_arrive_as_the_defaults_type(monkeypatch):
    # invoke casts these before flag() sees them; words written in YAML: test_config_values.py.
    c = ctx(env={"INVOKE_LINT_STRICT": "yes", "INVOKE_LINT_JOBS": "3"}, monkeypatch=monkeypatch)
    assert config.settings(c).flag("lint", "strict") is True
    assert config.settings(c).whole("lint", "jobs") == 3


def test_one_string_is_a_list_of_one():
    assert config.settings(ctx({"lint": {"exclude": "vendor"}})).strings("lint", "exclude") == ["vendor"]


def test_choice():
    c = ctx({"lint": {"severity": "loud"}})
    with pytest.raises(Exit) as e:
        config.settings(c).choice("lint", "severity", ("error", "warning"))
    assert "is not one of error, warning" in e.value.message


def test_project_path():
    assert project_path("elixir") == PROJECT_ROOT / "elixir"
    assert str(project_path("/abs/x")) == "/abs/x"
    assert project_path("x", base=PROJECT_ROOT / "elixir") == PROJECT_ROOT / "elixir" / "x"


def test_commands_and_words():
    c = ctx({"elixir": {"deps_task": "deps.get --only dev", "reset_tasks": "ecto.reset", "seed_task": 5, "many": ["a b", ["c", "d"]]}})
    assert config.settings(c).words("elixir", "deps_task") == ["deps.get", "--only", "dev"]
    # One string is one command, not a list of letters.
    assert config.settings(c).commands("elixir", "reset_tasks") == [["ecto.reset"]]
    assert config.settings(c).commands("elixir", "many") == [["a", "b"], ["c", "d"]]
    with pytest.raises(Exit) as e:
        config.settings(c).words("elixir", "seed_task")
    assert "setting elixir.seed_task = 5" in e.value.message and "a command" in e.value.message


# ------------------------------------------------------------------ the validator

DECLARED = {**DEFAULTS, "postgres": {"backend": "auto", "image": "postgres:17", "command": "postgres"}, "elixir": {"reset_tasks": ["a"]}}


def project_settings(tmp_path, text: str, env: dict | None = None) -> config.Settings:
    (tmp_path / "invoke.yaml").write_text(text)
    cfg = Config(project_location=str(tmp_path), overrides={})
    cfg.load_collection(DECLARED, merge=False)  # the validator reads the layers: values invoke cannot merge too
    cfg.load_project(merge=False)
    return config.settings(Context(config=cfg))


def test_every_bad_value_is_one_problem_naming_the_setting_its_source_and_the_fix(tmp_path):
    s = project_settings(
        tmp_path,
        "billing: {grace_period: soon}\npostgres: {imag: x, backend: cloud, command: 'a \"b'}\nlint: {strict: maybe, exclude: {a: 1}}\n",
    )
    found = {p.setting: p for p in s.problems()}
    yaml = tmp_path / "invoke.yaml"
    assert sorted(found) == ["billing.grace_period", "lint.exclude", "lint.strict", "postgres.backend", "postgres.command", "postgres.imag"]
    assert found["billing.grace_period"].what == f"setting billing.grace_period = 'soon' (from {yaml}) is not a positive number"
    assert found["billing.grace_period"].fix == "fix it in invoke.yaml (billing: {grace_period: ...}) or INVOKE_BILLING_GRACE_PERIOD"
    assert found["postgres.backend"].what.endswith("is not one of auto, docker, local")
    assert found["postgres.imag"].what == f"setting postgres.imag (from {yaml}) is not a setting of the suite"
    assert found["postgres.imag"].fix == "rename it to postgres.image"
    assert "is not a command line (No closing quotation)" in found["postgres.command"].what


def test_good_values_and_unset_ones_are_no_problem(tmp_path):
    text = "billing: {grace_period: 2}\npostgres: {backend: local, image: ''}\nlint: {strict: yes, exclude: vendor, jobs: '3'}\n"
    text += "elixir: {reset_tasks: [ecto.reset, [ecto.seed, --quiet]]}\n"
    assert project_settings(tmp_path, text).problems() == []


def test_a_section_that_is_no_mapping_and_an_unknown_key_far_from_any(tmp_path):
    found = project_settings(tmp_path, "dev: x\nlint: {zzz: 1}\n").problems()
    assert [p.setting for p in found] == ["dev", "lint.zzz"]
    assert found[0].fix == "write it as dev: {key: value}"
    assert found[1].fix.startswith("remove it (the lint settings: exclude, jobs, ")


def test_the_highest_layer_is_the_one_checked(tmp_path):
    (tmp_path / "invoke.yaml").write_text("lint: {jobs: two}\n")
    cfg = Config(project_location=str(tmp_path), overrides={"lint": {"jobs": 2}})
    cfg.load_collection(DECLARED)
    cfg.load_project()
    assert config.settings(cfg).problems() == []


def test_environment_errors_have_fields():
    [e] = config.environment_errors(DEFAULTS, {"INVOKE_LINT_STRICT": "off"})
    assert (e.setting, e.fix) == ("lint.strict", "set INVOKE_LINT_STRICT=0")


def test_settings_reads_once_and_knows_dry():
    s = config.settings(ctx({"run": {"dry": True}, "lint": {"jobs": 4}}))
    assert s.dry is True and s.whole("lint", "jobs") == 4 and s.state_dir == PROJECT_ROOT / ".inv"
    assert config.settings(ctx({"lint": {"severity": "info"}})).choice("lint", "severity") == "info"  # the known choices


def test_a_yaml_syntax_error_is_one_line(tmp_path):
    import tasks.taskdef  # noqa: F401  (installs the hook on invoke's Config)

    (tmp_path / "invoke.yaml").write_text("postgres:\n  image: x\n bad: [\n")
    cfg = Config(project_location=str(tmp_path))
    with pytest.raises(Exit) as e:
        cfg.load_project()
    assert (
        e.value.message.startswith(f"{tmp_path / 'invoke.yaml'} line 3, column 2: while parsing a block mapping: expected <block end>")
        and "\n" not in e.value.message
    )
    assert e.value.message.endswith("(YAML syntax). Fix: fix the file there")
