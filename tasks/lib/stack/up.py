"""`inv dev.up`: the whole stack, each step once, Postgres in parallel, a timing table.

It runs the same steps as `infra.up`, `elixir.deps`, `elixir.setup` and `db.seed`,
then replaces itself with `iex -S mix`. It calls the steps itself instead of listing
them as invoke pre-tasks so that its flags reach them, Postgres can start while mix
works, and each step is timed.
"""

from __future__ import annotations

import shlex
import sys

from tasks.lib import portal_env, programs
from tasks.lib.console import PrefixedOutput, is_dry
from tasks.lib.database import database
from tasks.lib.mix import steps as mix_steps
from tasks.lib.postgres import readiness
from tasks.lib.stack import postgres, seed
from tasks.lib.stack import setup as stack_setup
from tasks.lib.stack.steps import Background, Steps


def _postgres(c, cancelled) -> str:
    try:
        postgres.bring_up(c, cancelled=cancelled)
    except readiness.Cancelled:
        return "stopped"
    return "dry" if is_dry(c) else "ready"


def command_line(force: bool, no_iex: bool, env) -> str:
    """The dev.up command with --reseed --yes and every other flag given (for hints)."""
    words = ["inv dev.up", "--reseed", "--yes"]
    words += ["--force"] if force else []
    words += ["--no-iex"] if no_iex else []
    words += [f"--env {shlex.quote(item)}" for item in env or []]  # never secrets: refused
    return " ".join(words)


def up(c, force: bool = False, reseed: bool = False, yes: bool = False, no_iex: bool = False, env=None) -> None:
    portal_env.parse_assignments(env or [])  # a bad or secret --env is refused before anything starts
    if reseed:  # asked before anything starts
        seed.check_reset(c, database(), yes, command_line(force, no_iex, env))
    steps = Steps()
    started = steps.clock()
    real_stdout = sys.stdout
    sys.stdout = PrefixedOutput(real_stdout)
    # Postgres boots in the background while mix fetches deps and builds assets.
    pg = Background(steps, "postgres", lambda cancelled: _postgres(c, cancelled))
    try:
        pg.start()
        steps.run("deps", lambda: mix_steps.run(c, "deps", force=force))
        if mix_steps.cert_files(c):
            steps.run("cert", lambda: mix_steps.cert(c, force=force))
        needs_database = mix_steps.setup_needs_database(c)
        if needs_database is not None:
            # Today's root `setup` runs ecto.setup: it waits for Postgres.
            print(f"setup: needs the database ({needs_database}); waiting for Postgres first", flush=True)
            pg.join()
            steps.run("setup", lambda: stack_setup.mix_setup(c, force, needs_database))
        else:
            steps.run("setup", lambda: stack_setup.mix_setup(c, force))
            pg.join()
        if reseed:
            steps.run("seed", lambda: seed.reset(c, database(), static=False))
        else:
            steps.run("seed", lambda: seed.seed_once(c))
    except BaseException:
        # Postgres is never cut off half-made: it stops at its next check, and says why
        # if it failed on its own.
        pg.finish()
        print(steps.table(steps.clock() - started), file=sys.stderr)
        raise
    finally:
        sys.stdout = real_stdout
    print(steps.table(steps.clock() - started))
    if no_iex:
        return
    # The last step: iex replaces this process and gets the terminal to itself.
    argv, cwd, child_env = mix_steps.iex_command(c, env)
    programs.exec_in(c, argv, cwd=cwd, env=child_env)
