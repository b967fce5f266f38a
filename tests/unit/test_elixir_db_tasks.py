"""Command composition of elixir.*, db.* and their mechanisms (tasks/lib/mix/steps.py,
tasks/lib/stack/seed.py) with MockContext: what runs, where, with which env."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest
from invoke import Config, Exit, MockContext, Result

from tasks import db, elixir
from tasks.lib.database import database, seeding
from tasks.lib.mix import steps, tool
from tasks.lib.stack import seed

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "umbrella"


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A copy of the umbrella, a fake Elixir 1.14 install, and a clean DATABASE_*/STATIC_SEEDS env."""
    root = tmp_path / "elixir"
    shutil.copytree(FIXTURE, root)
    bin_ = tmp_path / "install" / "bin"
    bin_.mkdir(parents=True)
    for name in ("mix", "iex"):
        (bin_ / name).write_text("#!/bin/sh\nexit 0\n")
        (bin_ / name).chmod(0o755)
    ebin = tmp_path / "install" / "lib" / "elixir" / "ebin"
    ebin.mkdir(parents=True)
    (ebin / "elixir.app").write_text('{application,elixir,[{vsn,"1.14.0"}]}.')
    for k in (
        "DATABASE_HOST",
        "DATABASE_PORT",
        "DATABASE_NAME",
        "DATABASE_USER",
        "DATABASE_PASSWORD",
        "STATIC_SEEDS",
        "WORKOS_API_KEY",
        "WORKOS_CLIENT_ID",
        "WORKOS_BASE_URL",
    ):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("DATABASE_PORT", "15432")
    t = type("Tree", (), {})()
    t.root, t.web, t.mix, t.iex, t.state = root, root / "apps" / "web", str(bin_ / "mix"), str(bin_ / "iex"), tmp_path / ".inv"
    return t


def reset_database(c, static=False, yes=False):
    """What db.reset does once Postgres is up: the checks, then the reset."""
    db, e = database(), tool.settings(c)
    seed.check_reset(e, db, yes, seed.reset_command(static))
    return seed.reset(e, db, static)


_CONTEXTS: list[MockContext] = []


@pytest.fixture(autouse=True)
def runs_through_the_mock(monkeypatch):
    """programs.run starts real processes (supervise/foreground.py); here the latest
    MockContext's ``run`` stands in for them, with the complete environment as ``env``."""
    from tasks.lib.supervise import foreground

    def fake(argv, *, cwd, env, what="", stdin=None):
        result = _CONTEXTS[-1].run(f"cd {cwd} && {shlex.join(argv)}", env=dict(env))
        return result.exited

    monkeypatch.setattr(foreground, "run", fake)
    yield
    _CONTEXTS.clear()


def ctx(tree, dry=False, results=None, **elixir_cfg):
    cfg = {
        "elixir": {"root": str(tree.root), "mix": tree.mix, "iex": tree.iex, "web_app": "apps/web", **elixir_cfg},
        "dev": {"state_dir": str(tree.state)},
        "run": {"dry": dry},
    }
    base = Config(overrides=cfg)
    # The declared defaults, as the collection gives them.
    base.load_collection(elixir.ns.configuration())
    c = MockContext(config=base, run=results if results is not None else Result(exited=0), repeat=True)
    _CONTEXTS.append(c)
    return c


def commands(c):
    return [call.args[0] for call in c.run.call_args_list]


def envs(c):
    return [call.kwargs["env"] for call in c.run.call_args_list]


# deps / setup ----------------------------------------------------------------


def test_deps_runs_then_skips_then_reruns_on_lock_change(tree, capsys):
    c = ctx(tree)
    assert steps.run(tool.settings(c), "deps") == "ran"
    assert commands(c) == [f"cd {tree.root} && {tree.mix} deps.get"]
    assert envs(c)[0]["DATABASE_PORT"] == "15432" and envs(c)[0]["DATABASE_NAME"] == "firezone_dev"
    assert steps.run(tool.settings(c), "deps") == "skipped"
    assert "deps: up to date (mix.lock unchanged), skipped" in capsys.readouterr().out
    assert len(commands(c)) == 1
    (tree.root / "mix.lock").write_text('%{\n  "jason": {:hex, :jason, "1.4.1"},\n}\n')
    assert steps.run(tool.settings(c), "deps") == "ran"
    assert "deps: running (mix.lock changed)" in capsys.readouterr().out
    # The lock now lists a package, so deps/ must exist too.
    assert steps.run(tool.settings(c), "deps") == "ran"
    assert "deps is missing" in capsys.readouterr().out
    (tree.root / "deps" / "jason").mkdir(parents=True)
    assert steps.run(tool.settings(c), "deps") == "skipped"


def test_deps_force_runs_anyway(tree):
    c = ctx(tree)
    steps.run(tool.settings(c), "deps")
    assert elixir.deps(c, force=True) == "ran"
    assert len(commands(c)) == 2


def test_failed_step_is_not_recorded(tree):
    c = ctx(tree, results=Result(exited=1))
    with pytest.raises(Exit) as e:
        steps.run(tool.settings(c), "deps")
    assert e.value.code == 1 and "mix deps.get failed with exit code 1" in e.value.message
    assert not (tree.state / "fingerprints" / "deps.json").exists()


def test_setup_runs_in_web_app_and_checks_outputs(tree, capsys):
    c = ctx(tree)
    assert steps.run(tool.settings(c), "setup") == "ran"
    assert commands(c) == [f"cd {tree.web} && {tree.mix} setup"]
    assert "assets/node_modules, priv/static is still missing" in capsys.readouterr().err
    # The mock built nothing: outputs missing -> runs again.
    assert steps.run(tool.settings(c), "setup") == "ran"
    assert "assets/node_modules is missing" in capsys.readouterr().out
    (tree.web / "assets" / "node_modules").mkdir()
    (tree.web / "assets" / "node_modules" / ".installed").write_text("x")
    (tree.web / "priv" / "static").mkdir(parents=True)
    (tree.web / "priv" / "static" / "app.js").write_text("x")
    assert steps.run(tool.settings(c), "setup") == "skipped"
    assert "setup: up to date (web: pnpm-lock.yaml unchanged), skipped" in capsys.readouterr().out
    (tree.web / "assets" / "pnpm-lock.yaml").write_text("lockfileVersion: '9.0'\nchanged: true\n")
    assert steps.run(tool.settings(c), "setup") == "ran"


def test_setup_outputs_are_a_setting(tree):
    c = ctx(tree, setup_outputs=["priv/static"])
    assert [p.name for p in steps.setup_step(tool.settings(c)).outputs] == ["static"]


def test_dry_deps_runs_and_records_nothing(tree, capsys):
    c = ctx(tree, dry=True)
    assert steps.run(tool.settings(c), "deps") == "dry"
    assert commands(c) == []
    assert not tree.state.exists()
    out = capsys.readouterr().out
    assert f"$ ({tree.root}) DATABASE_HOST=localhost" in out and "deps.get" in out


# iex / server ----------------------------------------------------------------


def test_iex_replaces_the_process_in_root_with_extra_env(tree, monkeypatch):
    import os

    monkeypatch.setenv("WORKOS_CLIENT_ID", "client_123")
    calls = []
    monkeypatch.setattr(os, "chdir", lambda path: calls.append(("chdir", path)))
    monkeypatch.setattr(os, "execvpe", lambda prog, argv, env: calls.append(("exec", argv, env)))
    c = ctx(tree)
    elixir.iex(c, env=["FOO=bar", "FZFF_X=true"])
    assert calls[0] == ("chdir", tree.root)
    _, argv, env = calls[1]
    assert argv == [tree.iex, "-S", "mix"]
    assert env["FOO"] == "bar" and env["FZFF_X"] == "true"
    assert env["WORKOS_CLIENT_ID"] == "client_123" and env["DATABASE_PORT"] == "15432"
    assert "FZ_INV_RUN" not in env


def test_server_command_and_env(tree):
    c = ctx(tree)
    assert elixir.server(c, env=["FOO=bar"]) == "ran"
    assert commands(c) == [f"cd {tree.root} && {tree.mix} phx.server"]
    assert c.run.call_args.kwargs["env"]["FOO"] == "bar"


def test_server_bad_env_is_one_line(tree):
    with pytest.raises(Exit) as e:
        elixir.server(ctx(tree), env=["NOPE"])
    assert "KEY=VALUE" in e.value.message


def test_missing_mix_and_root(tree, tmp_path):
    with pytest.raises(Exit) as e:
        steps.run(tool.settings(ctx(tree, mix=str(tmp_path / "no" / "mix"))), "deps")
    assert "elixir.mix" in e.value.message
    with pytest.raises(Exit) as e:
        steps.run(tool.settings(ctx(tree, root=str(tmp_path / "nowhere"))), "deps")
    assert "elixir.root" in e.value.message


# seed ------------------------------------------------------------------------


@pytest.fixture
def marker(monkeypatch):
    state = {"marker": None, "writes": []}
    monkeypatch.setattr(seeding, "read_marker", lambda database: state["marker"])

    def write_marker(database, static):
        # Like the real one: records, and returns the marker it wrote.
        state["writes"].append((database.name, static))
        return seeding.make_marker(static)

    monkeypatch.setattr(seeding, "write_marker", write_marker)
    return state


def test_seed_unmarked_runs_seed_and_writes_marker(tree, marker):
    c = ctx(tree)
    assert seed.seed_once(tool.settings(c)) == "ran"
    assert commands(c) == [f"cd {tree.root} && {tree.mix} ecto.seed"]
    assert envs(c)[0]["DATABASE_PORT"] == "15432"
    assert marker["writes"] == [("firezone_dev", False)]


def test_seed_static_from_env_is_recorded(tree, marker, monkeypatch):
    monkeypatch.setenv("STATIC_SEEDS", "true")
    seed.seed_once(tool.settings(ctx(tree)))
    assert marker["writes"] == [("firezone_dev", True)]


def test_seed_marked_skips_migrate_when_migrations_unchanged(tree, marker, capsys):
    marker["marker"] = {"seeded_by": "inv", "static": False, "at": "2026-11-21T20:15:00+00:00"}
    first = ctx(tree)
    seed.seed_once(tool.settings(first))
    assert commands(first) == [f"cd {tree.root} && {tree.mix} ecto.setup"]
    second = ctx(tree)
    assert seed.seed_once(tool.settings(second)) == "skipped"
    assert commands(second) == []
    assert "migrations unchanged since the last migrate, skipped" in capsys.readouterr().out
    # A new migration file makes it migrate again.
    migrations = tree.root / "apps" / "domain" / "priv" / "repo" / "migrations"
    migrations.mkdir(parents=True, exist_ok=True)
    (migrations / "20260101_add.exs").write_text("# migration\n")
    third = ctx(tree)
    seed.seed_once(tool.settings(third))
    assert commands(third) == [f"cd {tree.root} && {tree.mix} ecto.setup"]


def test_a_reseeded_database_migrates_once_more(tree, marker):
    marker["marker"] = {"seeded_by": "inv", "static": False, "at": "2026-11-21T20:15:00+00:00"}
    seed.seed_once(tool.settings(ctx(tree)))
    marker["marker"] = {"seeded_by": "inv", "static": False, "at": "2026-11-22T08:00:00+00:00"}
    again = ctx(tree)
    seed.seed_once(tool.settings(again))
    assert commands(again) == [f"cd {tree.root} && {tree.mix} ecto.setup"]


def test_seed_marked_only_migrates(tree, marker, capsys):
    marker["marker"] = {"seeded_by": "inv", "static": True, "at": "2026-11-21T20:15:00+00:00"}
    c = ctx(tree)
    assert seed.seed_once(tool.settings(c)) == "skipped"
    assert commands(c) == [f"cd {tree.root} && {tree.mix} ecto.setup"]
    assert marker["writes"] == []
    out = capsys.readouterr().out
    assert "already seeded on 2026-11-21 20:15 UTC (static seeds: yes); migrated only. Use `inv db.reset` to start over" in out


def test_seed_force_seeds_despite_marker(tree, marker):
    marker["marker"] = {"seeded_by": "inv", "static": False, "at": "x"}
    c = ctx(tree)
    assert seed.seed_once(tool.settings(c), force=True) == "ran"
    assert commands(c) == [f"cd {tree.root} && {tree.mix} ecto.seed"]


def test_failed_seed_writes_no_marker(tree, marker):
    c = ctx(tree, results=Result(exited=1))
    with pytest.raises(Exit) as e:
        seed.seed_once(tool.settings(c))
    assert "inv db.reset" in e.value.message
    assert marker["writes"] == []


def test_dry_seed_writes_nothing(tree, marker, capsys):
    c = ctx(tree, dry=True)
    assert seed.seed_once(tool.settings(c)) == "dry"
    assert commands(c) == [] and marker["writes"] == []
    assert "would mark database firezone_dev" in capsys.readouterr().out


def test_seed_unreachable_says_infra_up(tree, monkeypatch):
    def boom(database):
        raise seeding.Unreachable("connection refused")

    monkeypatch.setattr(seeding, "read_marker", boom)
    with pytest.raises(Exit) as e:
        seed.seed_once(tool.settings(ctx(tree)))
    assert "inv infra.up" in e.value.message


def test_elixir_seed_is_db_seed(tree, marker):
    # Same body (pre-task infra.up on both).
    assert elixir.seed.pre == db.seed.pre
    c = ctx(tree)
    assert elixir.seed.body(c) == "ran"
    assert commands(c) == [f"cd {tree.root} && {tree.mix} ecto.seed"]


# reset -----------------------------------------------------------------------


def test_reset_static_composes_do_plus_and_static_seeds(tree, marker):
    c = ctx(tree)
    assert reset_database(c, static=True, yes=True) == "ran"
    assert commands(c) == [f"cd {tree.root} && {tree.mix} do ecto.reset + ecto.seed"]
    assert envs(c)[0]["STATIC_SEEDS"] == "true"
    assert marker["writes"] == [("firezone_dev", True)]


def test_reset_without_static_removes_inherited_static_seeds(tree, marker, monkeypatch, capsys):
    monkeypatch.setenv("STATIC_SEEDS", "true")
    c = ctx(tree)
    reset_database(c, static=False, yes=True)
    call = c.run.call_args
    assert "STATIC_SEEDS" not in call.kwargs["env"]
    assert call.kwargs["env"]["DATABASE_PORT"] == "15432"
    assert marker["writes"] == [("firezone_dev", False)]
    assert "env -u STATIC_SEEDS" in capsys.readouterr().out


def test_reset_comma_on_old_elixir(tree, marker):
    ebin = Path(tree.mix).parent.parent / "lib" / "elixir" / "ebin" / "elixir.app"
    ebin.write_text('{application,elixir,[{vsn,"1.13.4"}]}.')
    c = ctx(tree)
    reset_database(c, static=False, yes=True)
    assert commands(c) == [f"cd {tree.root} && {tree.mix} do ecto.reset, ecto.seed"]


def test_reset_refuses_remote_host_whatever_the_flags(tree, marker, monkeypatch):
    monkeypatch.setenv("DATABASE_HOST", "db.example.com")
    c = ctx(tree)
    for static in (False, True):
        with pytest.raises(Exit) as e:
            reset_database(c, static=static, yes=True)
        assert "DATABASE_HOST=db.example.com (from the shell environment)" in e.value.message
        assert "not a local address" in e.value.message
    with pytest.raises(Exit):
        db.reset(c, static=True, yes=True)  # the task refuses before infra.up
    assert commands(c) == [] and marker["writes"] == []


def test_reset_refuses_without_terminal_and_yes(tree, marker):
    c = ctx(tree)
    with pytest.raises(Exit) as e:
        reset_database(c, static=False, yes=False)
    assert "--yes" in e.value.message and "no terminal" in e.value.message
    assert commands(c) == []


def test_reset_asks_on_a_terminal(tree, marker, monkeypatch):
    import sys

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    answers = iter(["n", "y"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    c = ctx(tree)
    with pytest.raises(Exit) as e:
        reset_database(c, static=False, yes=False)
    assert "cancelled" in e.value.message and commands(c) == []
    assert reset_database(c, static=False, yes=False) == "ran"


def test_dry_reset_touches_nothing(tree, marker, capsys):
    c = ctx(tree, dry=True)
    assert reset_database(c, static=True, yes=False) == "dry"
    assert commands(c) == [] and marker["writes"] == []
    out = capsys.readouterr().out
    assert "would ask" in out and "STATIC_SEEDS=true" in out and "do ecto.reset + ecto.seed" in out


# seeding marker (pure parts) ---------------------------------------------------


def test_marker_round_trip_and_foreign_comments():
    m = seeding.make_marker(True, now=0)
    assert m == {"seeded_by": "inv", "static": True, "at": "1970-01-01T00:00:00+00:00"}
    import json

    assert seeding.parse_marker(json.dumps(m)) == m
    assert seeding.parse_marker("Firezone dev database") is None
    assert seeding.parse_marker('{"seeded_by": "someone else"}') is None
    assert seeding.parse_marker(None) is None
    assert seeding.describe(m) == "on 1970-01-01 00:00 UTC (static seeds: yes)"


def test_marker_from_a_sql_ascii_database_arrives_as_bytes():
    assert seeding.parse_marker(b'{"seeded_by": "inv", "static": false, "at": "x"}')["static"] is False


def test_the_no_terminal_hint_keeps_the_flags_given(tree, marker):
    with pytest.raises(Exit) as e:
        reset_database(ctx(tree), static=True, yes=False)
    assert "inv db.reset --static --yes" in e.value.message
