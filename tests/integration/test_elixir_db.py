"""elixir.* and db.* through `inv`, with real mix on the umbrella fixture and a real Postgres container."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.conftest import accounts, connect, require_program

pytestmark = pytest.mark.integration

STATIC_ID = "c89bcc8c-9392-4dae-a40d-888aef6d28e0"


@pytest.fixture(autouse=True)
def _needs_elixir():
    require_program("mix", "apt-get install elixir")
    require_program("iex", "apt-get install elixir")
    require_program("psql", "apt-get install postgresql-client (the fixture's aliases use it)")


def out(proc) -> str:
    return proc.stdout + proc.stderr


def comment(project) -> str | None:
    with connect(project, "postgres") as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = 'firezone_dev'").fetchone()
    value = row[0] if row else None
    return value.decode() if isinstance(value, bytes) else value


# deps / setup: up-to-date checks (no database needed) ---------------------------


def test_deps_runs_then_skips_then_reruns_on_lock_change(project):
    first = project.inv("elixir.deps", check=True)
    assert "mix deps.get" in first.stdout and "skipped" not in first.stdout
    second = project.inv("elixir.deps", check=True)
    assert "deps: up to date (mix.lock unchanged), skipped" in second.stdout
    assert "$ " not in second.stdout  # mix did not run
    lock = project.root / "elixir" / "mix.lock"
    lock.write_text(lock.read_text() + "\n")  # new content, still a valid (empty) lock
    third = project.inv("elixir.deps", check=True)
    assert "deps: running (mix.lock changed)" in third.stdout and "mix deps.get" in third.stdout
    assert "skipped" in project.inv("elixir.deps", check=True).stdout
    forced = project.inv("elixir.deps", "--force", check=True)
    assert "mix deps.get" in forced.stdout
    assert (project.root / ".inv" / "fingerprints" / "deps.json").is_file()


def test_setup_runs_then_skips_then_reruns_after_deleting_an_output(project):
    web = project.root / "elixir" / "apps" / "web"
    first = project.inv("elixir.setup", check=True)
    assert "assets built" in first.stdout
    assert (web / "priv" / "static" / "assets" / "app.js").is_file()
    assert (web / "assets" / "node_modules" / ".installed").is_file()
    second = project.inv("elixir.setup", check=True)
    assert "setup: up to date (web: pnpm-lock.yaml unchanged), skipped" in second.stdout
    import shutil

    shutil.rmtree(web / "priv" / "static")
    third = project.inv("elixir.setup", check=True)
    assert "setup: running (priv/static is missing)" in third.stdout and "assets built" in third.stdout
    (web / "assets" / "pnpm-lock.yaml").write_text((web / "assets" / "pnpm-lock.yaml").read_text() + "# changed\n")
    assert "assets built" in project.inv("elixir.setup", check=True).stdout


def test_failed_setup_is_not_recorded(project):
    web = project.root / "elixir" / "apps" / "web"
    mix_exs = web / "mix.exs"
    good = mix_exs.read_text()
    mix_exs.write_text(good.replace('File.mkdir_p!("priv/static/assets")', 'Mix.raise("assets broke")'))
    failed = project.inv("elixir.setup")
    assert failed.returncode != 0 and "mix setup failed with exit code" in out(failed)
    assert "Traceback" not in out(failed)
    assert not (project.root / ".inv" / "fingerprints" / "setup.json").exists()
    mix_exs.write_text(good)
    assert "assets built" in project.inv("elixir.setup", check=True).stdout


# bad inputs ---------------------------------------------------------------------


def test_missing_elixir_root_says_setting_and_fix(project):
    proc = project.inv("elixir.deps", env={"INVOKE_ELIXIR_ROOT": "no/such/elixir"})
    assert proc.returncode == 1
    msg = out(proc).strip()
    assert "does not exist" in msg and "elixir.root" in msg and "INVOKE_ELIXIR_ROOT" in msg
    assert "Traceback" not in msg and len(msg.splitlines()) == 1


def test_missing_mix_says_how_to_install(project, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    for task in ("elixir.deps", "elixir.setup", "elixir.server", "db.reset --yes"):
        proc = project.inv(*task.split(), env={"PATH": str(empty)})
        assert proc.returncode == 1, task
        msg = out(proc).strip()
        assert "mix is not on PATH (setting elixir.mix)" in msg, (task, msg)
        assert ".tool-versions" in msg and "apt-get install elixir" in msg
        assert "Traceback" not in msg
    proc = project.inv("elixir.iex", env={"PATH": str(empty)})
    assert "iex is not on PATH (setting elixir.iex)" in out(proc)


# iex with piped stdin -----------------------------------------------------------


def test_iex_reads_piped_stdin_and_gets_extra_env(project):
    proc = project.inv("elixir.iex", "--env", "FOO=bar", input='IO.puts("value=" <> System.get_env("FOO"))\nSystem.halt()\n', timeout=120)
    assert proc.returncode == 0, out(proc)
    assert "value=bar" in proc.stdout
    assert "$ (elixir) DATABASE_HOST=localhost" in proc.stdout and "-S mix" in proc.stdout


def test_iex_exits_on_end_of_input(project):
    proc = project.inv("elixir.iex", timeout=120)  # stdin is /dev/null
    assert proc.returncode == 0, out(proc)


# Postgres: seed, reset, server --------------------------------------------------


def test_seed_once_then_migrate_only_and_the_marker_goes_with_the_volume(stack_project):
    first = stack_project.inv("db.seed", check=True)
    assert "seeded 2 accounts" in first.stdout
    rows = accounts(stack_project)
    assert [s for _, s in rows] == ["firezone", "not_firezone"]
    assert STATIC_ID not in {i for i, _ in rows}
    marker = json.loads(comment(stack_project))
    assert marker["seeded_by"] == "inv" and marker["static"] is False
    for task in ("db.seed", "elixir.seed"):
        again = stack_project.inv(task)
        assert again.returncode == 0, out(again)
        # Seeding migrated; with the migrations unchanged there is nothing to run.
        assert "already seeded on" in again.stdout and "(static seeds: no); migrations unchanged" in again.stdout
        assert "Use `inv db.reset` to start over" in again.stdout
        assert "$ " not in again.stdout
    migrations = stack_project.root / "elixir" / "apps" / "domain" / "priv" / "repo" / "migrations"
    migrations.mkdir(parents=True, exist_ok=True)
    (migrations / "20260101000000_add_things.exs").write_text("# a new migration\n")
    migrated = stack_project.inv("db.seed", check=True)
    assert "mix ecto.setup" in migrated.stdout and "migrated only" in migrated.stdout
    assert accounts(stack_project) == rows

    # The marker survives a restart and goes with the volume (same stack: a cold seed is the expensive part).
    stack_project.inv("infra.down", check=True)
    stack_project.inv("infra.up", check=True)
    again = stack_project.inv("db.seed", check=True)
    assert "already seeded" in again.stdout
    assert len(accounts(stack_project)) == 2
    stack_project.inv("infra.destroy", "--yes", check=True)
    stack_project.inv("infra.up", check=True)
    fresh = stack_project.inv("db.seed", check=True)
    assert "already seeded" not in fresh.stdout and "seeded 2 accounts" in fresh.stdout
    assert len(accounts(stack_project)) == 2


def test_reset_static_gives_the_fixed_account_id(stack_project):
    stack_project.inv("db.seed", check=True)
    # An inherited STATIC_SEEDS must not leak into a plain reset.
    plain = stack_project.inv("db.reset", "--fresh", "--yes", env={"STATIC_SEEDS": "true"}, check=True)
    assert "env -u STATIC_SEEDS" in plain.stdout and "do ecto.reset + ecto.seed" in plain.stdout
    assert STATIC_ID not in {i for i, _ in accounts(stack_project)}
    assert json.loads(comment(stack_project))["static"] is False
    static = stack_project.inv("db.reset", "--static", "--yes", check=True)
    assert "STATIC_SEEDS=true" in static.stdout
    rows = dict((s, i) for i, s in accounts(stack_project))
    assert rows["firezone"] == STATIC_ID and rows["not_firezone"] == "9b9290bf-e1bc-4dd3-b401-511908262690"
    assert len(rows) == 2
    assert json.loads(comment(stack_project))["static"] is True
    assert "(static seeds: yes)" in stack_project.inv("db.seed", check=True).stdout


def test_reset_without_yes_and_no_terminal_refuses_and_keeps_rows(pg_project):
    pg_project.inv("db.seed", check=True)
    rows = accounts(pg_project)
    proc = pg_project.inv("db.reset")
    assert proc.returncode == 1
    assert "no terminal" in out(proc) and "--yes" in out(proc) and "Traceback" not in out(proc)
    assert accounts(pg_project) == rows


def test_reset_refuses_a_remote_host_before_connecting(pg_project, docker_client):
    start = time.monotonic()
    proc = pg_project.inv("db.reset", "--static", "--yes", env={"DATABASE_HOST": "db.example.com"})
    assert proc.returncode == 1
    msg = out(proc)
    assert "refusing to reset: DATABASE_HOST=db.example.com (from the shell environment)" in msg
    assert time.monotonic() - start < 10
    # Nothing was started for it either (no infra.up before the check).
    assert docker_client.containers.list(all=True, filters={"name": f"^/{pg_project.container_name}$"}) == []
    pg_project.write_env("DATABASE_HOST=db.example.com\n")
    proc = pg_project.inv("db.reset", "--yes")
    assert "DATABASE_HOST=db.example.com (from .env line 1)" in out(proc)


def test_failed_seed_writes_no_marker(stack_project):
    stack_project.inv("infra.up", check=True)
    seeds = stack_project.root / "elixir" / "apps" / "domain" / "priv" / "repo" / "seeds.exs"
    seeds.write_text('IO.puts("seeding breaks"); System.halt(3)\n')
    proc = stack_project.inv("db.seed")
    assert proc.returncode == 3 and "Traceback" not in out(proc)
    assert "inv db.reset" in out(proc)
    assert comment(stack_project) is None


def test_server_gets_extra_env(pg_project):
    script = pg_project.root / "elixir" / "fixture" / "phx_server.sh"
    script.write_text('#!/bin/sh\necho "server sees FOO=$FOO FZFF_X=$FZFF_X DATABASE_PORT=$DATABASE_PORT"\n')
    pg_project.inv("infra.up", check=True)
    proc = pg_project.inv("elixir.server", "--env", "FOO=bar", "--env", "FZFF_X=true", check=True)
    assert f"server sees FOO=bar FZFF_X=true DATABASE_PORT={pg_project.env['DATABASE_PORT']}" in proc.stdout


def test_dry_seed_and_reset_change_nothing(pg_project):
    pg_project.inv("db.seed", check=True)
    before = (accounts(pg_project), comment(pg_project))
    dry = pg_project.inv("--dry", "db.reset", "--static", check=True)
    assert "would ask" in dry.stdout and "STATIC_SEEDS=true" in dry.stdout
    dry = pg_project.inv("--dry", "db.seed", "--force", check=True)
    assert "would mark" in dry.stdout
    assert (accounts(pg_project), comment(pg_project)) == before
