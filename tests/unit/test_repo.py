"""Reading the repository: compose file, mix project, portal config, pins; and settings winning."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from invoke import Config, MockContext

from tasks.collection import ns
from tasks.lib import config, database
from tasks.lib.repo import compose, derived, mixproject, pins, portal, summary

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(autouse=True)
def fresh_cache():
    derived.forget()
    yield
    derived.forget()


@pytest.fixture
def oneapp(tmp_path) -> Path:
    root = tmp_path / "firezone"
    shutil.copytree(FIXTURES / "oneapp", root)
    return root


@pytest.fixture
def umbrella(tmp_path) -> Path:
    root = tmp_path / "firezone"
    shutil.copytree(FIXTURES / "umbrella_repo", root)
    shutil.copytree(FIXTURES / "umbrella", root / "elixir")
    return root


# --------------------------------------------------------------------------- compose


def test_compose_follows_the_root_files_include_and_reads_todays_postgres(oneapp):
    svc = compose.postgres_service(oneapp)
    assert svc is not None and svc.path == (oneapp / "scripts/compose/portal.yml").resolve()
    assert svc.image == "postgres:18"
    assert svc.command == "postgres -c wal_level=logical -c max_connections=200"
    assert svc.data_dir == "/var/lib/postgresql/18/docker"
    assert svc.database_defaults == {
        "DATABASE_USER": "postgres",
        "DATABASE_PASSWORD": "postgres",
        "DATABASE_NAME": "firezone_dev",
        "DATABASE_PORT": "5432",
    }


def test_compose_contract_era_literals(umbrella):
    svc = compose.postgres_service(umbrella)
    assert svc is not None and (svc.image, svc.data_dir) == ("postgres:17", "/var/lib/postgresql/data")
    assert svc.database_defaults["DATABASE_PORT"] == "5432"


def test_compose_shapes(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  db:\n"
        "    image: docker.io/library/postgres:16\n"
        "    command: [postgres, -c, wal_level=logical]\n"
        "    environment: [POSTGRES_USER=fz, 'POSTGRES_DB=${DATABASE_NAME:-fz_dev}']\n"
        "    volumes:\n"
        "      - ./init:/docker-entrypoint-initdb.d\n"
        "      - {type: volume, source: pg, target: /data}\n"
        "    ports: ['127.0.0.1:${DATABASE_PORT:-6543}:5432']\n"
    )
    svc = compose.postgres_service(tmp_path)
    assert svc is not None
    assert svc.command == "postgres -c wal_level=logical"
    assert svc.data_dir == "/data"
    assert svc.database_defaults == {"DATABASE_USER": "fz", "DATABASE_NAME": "fz_dev", "DATABASE_PORT": "6543"}


def test_compose_absent_or_broken_says_nothing(tmp_path):
    assert compose.postgres_service(tmp_path) is None
    (tmp_path / "docker-compose.yml").write_text("services: [unclosed\n")
    assert compose.postgres_service(tmp_path) is None
    with pytest.raises(compose.ComposeError, match=r"docker-compose.yml line \d+: not valid YAML"):
        compose.postgres_service(tmp_path, tmp_path / "docker-compose.yml")


@pytest.mark.parametrize(
    "text",
    [
        "services: {postgres: {image: postgres:18, ports: 5432}}\n",
        "services: {postgres: {image: postgres:18, volumes: 3, environment: 7}}\n",
        "services: {postgres: 1}\n",
        "services: 5\n",
    ],
)
def test_odd_compose_shapes_never_crash(tmp_path, text):
    (tmp_path / "compose.yml").write_text(text)
    svc = compose.postgres_service(tmp_path)
    assert svc is None or svc.image == "postgres:18"


def test_compose_own_tags_are_read(tmp_path):
    (tmp_path / "compose.yml").write_text("services:\n  postgres:\n    image: postgres:18\n    ports: !reset []\n")
    svc = compose.postgres_service(tmp_path)
    assert svc is not None and svc.image == "postgres:18"


def test_a_pin_file_that_is_not_utf8_is_no_pins(tmp_path):
    (tmp_path / ".tool-versions").write_bytes(b"elixir 1.18\xff\n")
    assert pins.read(tmp_path) == {}


def test_a_broken_compose_file_is_named_where_the_default_applies(oneapp, monkeypatch):
    (oneapp / "scripts/compose/portal.yml").write_text("services: [oops\n")
    rows = dict(summary.rows(config.settings(_ctx(oneapp, monkeypatch))))
    assert rows["postgres.image"].startswith("postgres:17 (")
    assert "(scripts/compose/portal.yml line 2: not valid YAML, so the suite's default applies)" in rows["postgres.image"]


def test_interpolate_uses_the_environment_then_the_default():
    assert compose.interpolate("postgres:${PG:-18}", {}) == "postgres:18"
    assert compose.interpolate("postgres:${PG:-18}", {"PG": "17"}) == "postgres:17"


# --------------------------------------------------------------------------- mix project


def test_one_app_setup_needs_the_database(oneapp):
    mix = mixproject.read(oneapp / "elixir")
    assert not mix.umbrella and mix.web_app == "."
    assert mix.setup == ("deps.get", "ecto.setup", "assets.setup", "assets.build")
    assert mix.setup_needs_database


def test_umbrella_web_app_has_the_setup_alias(umbrella):
    mix = mixproject.read(umbrella / "elixir")
    assert mix.umbrella and mix.apps_path == "apps" and mix.web_app == "apps/web"
    assert mix.setup == ("deps.get", "assets.setup", "assets.build")
    assert not mix.setup_needs_database


def test_alias_parsing_skips_comments_and_functions():
    text = 'aliases: [\n  setup: [\n    "deps.get", # "ecto.setup"\n    "assets.setup"\n  ],\n  "ecto.seed": &seed/1\n]'
    assert mixproject.alias(text, "setup") == ("deps.get", "assets.setup")
    assert mixproject.alias(text, "ecto.seed") is None
    assert mixproject.alias(text, "missing") is None


@pytest.mark.parametrize(
    "project",
    [
        '[apps_path: "apps", version: "0.1.0", deps: []]',
        'def project, do: [version: "0.1.0", apps_path: "apps"]',
        '[\n  version: "0.1.0",\n  apps_path: "apps"\n]',
        '[\n  # the umbrella\n  apps_path: "apps", # where the apps are\n  deps: []\n]',
    ],
)
def test_apps_path_is_read_in_any_layout(tmp_path, project):
    (tmp_path / "apps/web").mkdir(parents=True)
    (tmp_path / "mix.exs").write_text(f"defmodule X.MixProject do\n  def project do\n    {project}\n  end\nend\n")
    (tmp_path / "apps/web/mix.exs").write_text('defp aliases, do: [setup: ["deps.get", "assets.setup"]]\n')
    mix = mixproject.read(tmp_path)
    assert mix.umbrella and mix.apps_path == "apps" and mix.web_app == "apps/web"
    assert mix.setup == ("deps.get", "assets.setup")


def test_a_commented_out_apps_path_or_alias_is_not_read(tmp_path):
    text = '[\n  # apps_path: "apps",\n  app: :portal, aliases: aliases()\n]\n# setup: ["old"]\ndefp aliases, do: [setup: ["deps.get", "ecto.setup"], "x": "#not a comment"]\n'
    assert mixproject.apps_path(text) is None
    assert mixproject.alias(text, "setup") == ("deps.get", "ecto.setup")
    assert mixproject.apps_path('[app: :portal, my_apps_path: "x"]') is None


def test_one_line_aliases_after_a_keyword_list(tmp_path):
    text = 'defp aliases, do: ["ecto.seed": ["ecto.create", "run priv/repo/seeds.exs"], setup: ["deps.get"]]'
    assert mixproject.alias(text, "ecto.seed") == ("ecto.create", "run priv/repo/seeds.exs")
    assert mixproject.alias(text, "setup") == ("deps.get",)


# --------------------------------------------------------------------------- portal facts


def test_portal_facts_of_today(oneapp):
    root = oneapp / "elixir"
    files, named_in = portal.cert_files(root)
    assert [f.name for f in files] == ["selfsigned_key.pem", "selfsigned.pem"] and named_in == root / "config/dev.exs"
    assert portal.replication_hardwired(root) == portal.Fact(False, str(root / "config/dev.exs"))
    assert portal.static_seeds_read(root, None) == portal.Fact(False, str(root / "priv/repo/seeds.exs"))
    assert not portal.workos_referenced(root, None).value


def test_portal_facts_of_the_contract(umbrella):
    root = umbrella / "elixir"
    assert portal.cert_files(root) == ([], None)
    assert portal.replication_hardwired(root).value
    assert portal.static_seeds_read(root, "apps").value
    assert portal.workos_referenced(root, "apps").value


def test_no_replication_config_is_unknown(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.exs").write_text("import Config\n")
    assert portal.replication_hardwired(tmp_path) is None


# --------------------------------------------------------------------------- pins


def test_pins_elixir_root_wins_and_each_names_its_file(oneapp):
    found = pins.read(oneapp, oneapp / "elixir")
    assert found["elixir"] == pins.Pin("1.20.3-otp-29", oneapp / "elixir" / ".tool-versions")
    assert found["shfmt"] == pins.Pin("3.9.0", oneapp / ".tool-versions")


def test_mise_tools_are_pins(tmp_path):
    (tmp_path / "mise.toml").write_text('[tools]\nnode = "22.1.0"\n"aqua:koalaman/shellcheck" = "0.10.0"\n[env]\nX = "1"\n')
    (tmp_path / ".tool-versions").write_text("node 20.0.0\n")
    found = {name: pin.version for name, pin in pins.read(tmp_path).items()}
    assert found == {"node": "22.1.0", "koalaman/shellcheck": "0.10.0"}  # mise.toml wins, as in mise


# --------------------------------------------------------------------------- settings win


def _ctx(root: Path, monkeypatch, **layers) -> MockContext:
    monkeypatch.setattr(config, "PROJECT_ROOT", root)
    cfg = Config(project_location=None, lazy=True)
    cfg.load_collection(ns.configuration())
    for section, values in layers.items():
        cfg._project.setdefault(section, {}).update(values)
    cfg.merge()
    return MockContext(config=cfg)


def test_unset_settings_come_from_the_repository_with_their_source(oneapp, monkeypatch):
    c = _ctx(oneapp, monkeypatch)
    assert config.settings(c).text("postgres", "image") == "postgres:18"
    assert config.settings(c).origin("postgres", "image") == "scripts/compose/portal.yml"
    assert config.settings(c).text("postgres", "data_dir") == "/var/lib/postgresql/18/docker"
    assert config.settings(c).text("elixir", "web_app") == "."


def test_a_setting_always_wins_and_the_summary_says_what_the_repository_said(oneapp, monkeypatch):
    c = _ctx(oneapp, monkeypatch, postgres={"image": "postgres:17"})
    assert config.settings(c).text("postgres", "image") == "postgres:17"
    rows = dict(summary.rows(config.settings(c)))
    assert (
        "postgres:17 (from" in rows["postgres.image"]
        and "the repository says postgres:18 in scripts/compose/portal.yml" in rows["postgres.image"]
    )
    assert rows["setup alias"].endswith("needs the database, so it waits for Postgres")
    assert rows["STATIC_SEEDS"].startswith("not read")


def test_an_environment_variable_wins_for_database_defaults(oneapp, monkeypatch):
    monkeypatch.setattr(config, "PROJECT_ROOT", oneapp)
    (oneapp / "scripts/compose/portal.yml").write_text(
        (oneapp / "scripts/compose/portal.yml").read_text().replace("${DATABASE_PORT:-5432}", "${DATABASE_PORT:-6543}")
    )
    monkeypatch.delenv("DATABASE_PORT", raising=False)
    assert database.database().port == 6543
    assert database.origin("DATABASE_PORT") == "the default in scripts/compose/portal.yml"
    monkeypatch.setenv("DATABASE_PORT", "7000")
    assert database.database().port == 7000
