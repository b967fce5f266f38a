"""dev.*: the whole local stack in one command.

`dev.up` runs the same steps as `infra.up`, `elixir.deps`, `elixir.setup` and
`db.seed`, each once, then `elixir.iex`. It calls them itself instead of listing
them as pre-tasks so that its flags (--force, --reseed) reach them, Postgres can
start while mix works, and it can time each step.
"""

from __future__ import annotations

import sys

from invoke import Collection

from tasks import db, elixir, infra
from tasks.taskdef import is_dry, task


@task(
    iterable=["env"],
    help={
        "force": "rerun every step even when it is up to date (deps, assets)",
        "reseed": "DROP the dev database and seed it again (asks first; --yes skips)",
        "yes": "with --reseed: do not ask before dropping the database",
        "no_iex": "stop after seeding instead of opening iex",
        "env": "KEY=VALUE for the iex process (repeatable), e.g. FZFF_X=true",
    },
)
def up(c, force=False, reseed=False, yes=False, no_iex=False, env=None):
    """Bring up the local stack: Postgres, deps, assets, seeds, then iex -S mix."""
    from tasks.steps import Background, PrefixedOutput, Steps

    steps = Steps()
    started = steps.clock()
    real_stdout = sys.stdout
    sys.stdout = PrefixedOutput(real_stdout)
    try:
        # Postgres boots in the background while mix fetches deps and builds assets.
        postgres = Background(steps, "postgres", lambda: _postgres(c)).start()
        steps.run("deps", lambda: elixir.deps(c, force=force))
        steps.run("setup", lambda: elixir.setup(c, force=force))
        postgres.join()
        if reseed:
            steps.run("seed", lambda: db.reset_database(c, static=False, yes=yes))
        else:
            steps.run("seed", lambda: db.seed_once(c))
    except BaseException:
        print(steps.table(steps.clock() - started), file=sys.stderr)
        raise
    finally:
        sys.stdout = real_stdout
    print(steps.table(steps.clock() - started))
    if no_iex:
        return
    from tasks import proc

    # The last step: iex replaces this process and gets the terminal to itself.
    argv, cwd, child_env = elixir.iex_command(c, env)
    proc.exec_in(c, argv, cwd=cwd, env=child_env)


def _postgres(c) -> str:
    infra.bring_up(c)
    return "dry" if is_dry(c) else "ready"


@task
def down(c):
    """Stop the local stack's Postgres container (keeps the data)."""
    infra.down(c)


@task
def status(c):
    """Show the container, the database (reachable, seeded) and which steps are up to date."""
    from tasks import devstatus

    devstatus.show(c)


ns = Collection("dev", up, down, status)
ns.configure({"dev": {"state_dir": ".inv"}})
