"""dev.*: the whole local stack in one command."""

from invoke import Collection

from tasks.taskdef import task


@task(
    iterable=["env"],
    help={
        "force": "rerun every step even when it is up to date (deps, assets; with --reseed: mix, not the seeded template)",
        "reseed": "DROP the dev database and seed it again (asks first; --yes skips)",
        "yes": "with --reseed: do not ask before dropping the database",
        "no_iex": "stop after seeding instead of opening iex",
        "env": "KEY=VALUE for the iex process (repeatable), e.g. FZFF_X=true",
    },
)
def up(c, force=False, reseed=False, yes=False, no_iex=False, env=None):
    """Bring up the local stack: Postgres, deps, assets, seeds, then iex -S mix."""
    from tasks.lib.stack import up as stack

    stack.up(c, force=force, reseed=reseed, yes=yes, no_iex=no_iex, env=env)


@task
def down(c):
    """Stop the local stack's Postgres container (keeps the data)."""
    from tasks.lib.stack import postgres

    postgres.stop(c)


@task
def status(c):
    """Show the container, the database (reachable, seeded) and which steps are up to date."""
    from tasks.lib.stack import status as stack_status

    stack_status.show(c)


ns = Collection("dev", up, down, status)
ns.configure({"dev": {"state_dir": ".inv"}})
