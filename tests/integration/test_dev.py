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


def test_dev_up_cold_warm_restarted_forced_and_destroyed(stack_project):
    # One stack per backend, driven through what a developer does to it in a week (each
    # cold start costs a mix compile and an initdb, so the steps share one).
    before = stack_project.inv("dev.status", check=True)
    assert "absent" in before.stdout and "will run" in before.stdout

    first = stack_project.inv("dev.up", input="", check=True)
    assert _table(first.stdout) == {"postgres": "ready", "deps": "ran", "setup": "ran", "seed": "ran"}
    assert "Interactive Elixir" in first.stdout  # ended in iex, which exited on end of input
    assert "postgres | " in first.stdout  # the background step's lines are prefixed
    rows = accounts(stack_project)
    assert [slug for _, slug in rows] == ["firezone", "not_firezone"]

    after = stack_project.inv("dev.status", check=True)
    assert "running" in after.stdout and "answers" in after.stdout
    assert re.search(r"^seeded +yes", after.stdout, re.M), after.stdout
    assert "will run" not in after.stdout

    second = stack_project.inv("dev.up", input="", check=True)
    table = _table(second.stdout)
    assert table == {"postgres": "ready", "deps": "skipped", "setup": "skipped", "seed": "skipped"}
    assert accounts(stack_project) == rows  # nothing duplicated, nothing lost

    # --reseed without --yes and no terminal: refused, nothing dropped.
    refused = stack_project.inv("dev.up", "--no-iex", "--reseed")
    assert refused.returncode != 0
    assert "--yes" in refused.stderr and "Traceback" not in refused.stderr
    assert accounts(stack_project) == rows

    # After a restart: not seeded again.
    stack_project.inv("infra.down", check=True)
    again = stack_project.inv("dev.up", "--no-iex", check=True)
    assert _table(again.stdout)["seed"] == "skipped"
    assert accounts(stack_project) == rows

    forced = stack_project.inv("dev.up", "--no-iex", "--force", "--reseed", "--yes", check=True)
    table = _table(forced.stdout)
    assert (table["deps"], table["setup"], table["seed"]) == ("ran", "ran", "ran")
    reseeded = accounts(stack_project)
    assert len(reseeded) == 2 and reseeded != rows  # dropped and seeded anew (random ids)

    # A destroyed volume is seeded again.
    stack_project.inv("infra.destroy", "--yes", check=True)
    fresh = stack_project.inv("dev.up", "--no-iex", check=True)
    assert _table(fresh.stdout)["seed"] == "ran"
    assert len(accounts(stack_project)) == 2


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
