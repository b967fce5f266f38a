"""db.*: seeding and resetting the local dev database."""

from invoke import Collection

from tasks import infra
from tasks.elixir import FORCE_SEED_HELP
from tasks.taskdef import task


@task(pre=[infra.up], help={"force": FORCE_SEED_HELP})
def seed(c, force=False):
    """Seed the dev database once (mix ecto.seed); afterwards only migrate."""
    from tasks.lib.stack import up

    return up.step(c, "seed", force)


STATIC_HELP = "seed the staging Stripe account's fixed ids (STATIC_SEEDS=true; seeds that ignore it always use them)"


FRESH_HELP = "run mix even when the seeded template matches the repository (then keep a new template)"


@task(help={"static": STATIC_HELP, "yes": "do not ask before dropping the database", "fresh": FRESH_HELP})
def reset(c, static=False, yes=False, fresh=False):
    """Drop the local dev database and seed it again: a clone of the seeded template, else mix do ecto.reset + ecto.seed."""
    from tasks.lib.stack import seed

    return seed.reset_task(c, static=static, yes=yes, fresh=fresh)


ns = Collection("db", seed, reset)
