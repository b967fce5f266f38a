"""`inv dev.up`: the whole stack, each step once, Postgres in parallel, a timing table.

It runs the same steps as `infra.up`, `elixir.deps`, `elixir.setup` and `db.seed`,
then replaces itself with `iex -S mix`. It calls the steps itself instead of listing
them as invoke pre-tasks so that its flags reach them, Postgres can start while mix
works, and each step is timed.
"""

from __future__ import annotations

import sys

from tasks.lib import programs
from tasks.lib.console import PrefixedOutput, is_dry
from tasks.lib.database import database
from tasks.lib.mix import steps as mix_steps
from tasks.lib.stack import postgres, seed
from tasks.lib.stack.steps import Background, Steps


def _postgres(c) -> str:
    postgres.bring_up(c)
    return "dry" if is_dry(c) else "ready"


def up(c, force: bool = False, reseed: bool = False, yes: bool = False, no_iex: bool = False, env=None) -> None:
    steps = Steps()
    started = steps.clock()
    real_stdout = sys.stdout
    sys.stdout = PrefixedOutput(real_stdout)
    try:
        if reseed:  # asked before anything starts
            seed.check_reset(c, database(), yes, "inv dev.up --reseed --yes")
        # Postgres boots in the background while mix fetches deps and builds assets.
        pg = Background(steps, "postgres", lambda: _postgres(c)).start()
        steps.run("deps", lambda: mix_steps.run(c, "deps", force=force))
        steps.run("setup", lambda: mix_steps.run(c, "setup", force=force))
        pg.join()
        if reseed:
            steps.run("seed", lambda: seed.reset(c, database(), static=False))
        else:
            steps.run("seed", lambda: seed.seed_once(c))
    except BaseException:
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
