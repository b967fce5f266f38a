"""`inv dev.up` end to end: real Docker engine, Postgres container, mix on the fixture."""

from __future__ import annotations

import re

import pytest

from tests.integration.conftest import accounts

pytestmark = pytest.mark.integration


def _table(stdout: str) -> dict[str, str]:
    """The closing timing table: step -> result."""
    lines = stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line.split()[:3] == ["step", "result", "seconds"])
    rows = {}
    for line in lines[start + 1 :]:
        parts = line.split()
        if not parts or parts[0] == "total":
            break
        rows[parts[0]] = parts[1]
    return rows


def test_dev_up_cold_then_warm(stack_project):
    first = stack_project.inv("dev.up", input="", check=True)
    assert _table(first.stdout) == {"postgres": "ready", "deps": "ran", "setup": "ran", "seed": "ran"}
    assert "Interactive Elixir" in first.stdout  # ended in iex, which exited on end of input
    rows = accounts(stack_project)
    assert [slug for _, slug in rows] == ["firezone", "not_firezone"]

    second = stack_project.inv("dev.up", input="", check=True)
    table = _table(second.stdout)
    assert table == {"postgres": "ready", "deps": "skipped", "setup": "skipped", "seed": "skipped"}
    assert accounts(stack_project) == rows  # nothing duplicated, nothing lost
    assert "postgres | " in first.stdout  # the background step's lines are prefixed


def test_dev_up_after_restart_does_not_reseed(stack_project):
    stack_project.inv("dev.up", "--no-iex", check=True)
    rows = accounts(stack_project)
    stack_project.inv("infra.down", check=True)
    again = stack_project.inv("dev.up", "--no-iex", check=True)
    assert _table(again.stdout)["seed"] == "skipped"
    assert accounts(stack_project) == rows


def test_dev_up_reseeds_a_destroyed_volume(stack_project):
    stack_project.inv("dev.up", "--no-iex", check=True)
    stack_project.inv("infra.destroy", "--yes", check=True)
    again = stack_project.inv("dev.up", "--no-iex", check=True)
    assert _table(again.stdout)["seed"] == "ran"
    assert len(accounts(stack_project)) == 2


def test_dev_up_force_and_reseed(stack_project):
    stack_project.inv("dev.up", "--no-iex", check=True)
    before = accounts(stack_project)
    forced = stack_project.inv("dev.up", "--no-iex", "--force", "--reseed", "--yes", check=True)
    table = _table(forced.stdout)
    assert (table["deps"], table["setup"], table["seed"]) == ("ran", "ran", "ran")
    after = accounts(stack_project)
    assert len(after) == 2 and after != before  # dropped and seeded anew (random ids)


def test_reseed_without_yes_and_no_terminal_refuses(pg_project, require_mix):
    pg_project.inv("dev.up", "--no-iex", check=True)
    before = accounts(pg_project)
    refused = pg_project.inv("dev.up", "--no-iex", "--reseed")
    assert refused.returncode != 0
    assert "--yes" in refused.stderr and "Traceback" not in refused.stderr
    assert accounts(pg_project) == before


def test_failing_step_stops_the_chain(pg_project, require_mix):
    # A broken web app's mix.exs fails the first mix step; nothing after it runs.
    (pg_project.root / "elixir" / "apps" / "web" / "mix.exs").write_text("this is not elixir")
    failed = pg_project.inv("dev.up", "--no-iex")
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr
    assert "mix deps.get failed with exit code" in failed.stderr
    table = _table(failed.stderr)
    assert table["deps"] == "failed" and "setup" not in table and "seed" not in table


def test_dry_run_has_no_side_effects(pg_project, docker_client, require_mix):
    dry = pg_project.inv("--dry", "dev.up", check=True)
    assert "mix deps.get" in dry.stdout and "mix setup" in dry.stdout and "iex" in dry.stdout
    assert pg_project.container_name in dry.stdout
    assert docker_client.containers.list(all=True, filters={"name": pg_project.container_name}) == []
    assert docker_client.volumes.list(filters={"name": pg_project.container_name}) == []
    elixir = pg_project.root / "elixir"
    assert not (elixir / "_build").exists() and not (pg_project.root / ".inv").exists()


def test_status_reports_container_seeded_and_steps(stack_project):
    before = stack_project.inv("dev.status", check=True)
    assert "absent" in before.stdout and "will run" in before.stdout
    stack_project.inv("dev.up", "--no-iex", check=True)
    after = stack_project.inv("dev.status", check=True)
    assert "running" in after.stdout and "answers" in after.stdout
    assert re.search(r"^seeded +yes", after.stdout, re.M), after.stdout
    assert "will run" not in after.stdout
