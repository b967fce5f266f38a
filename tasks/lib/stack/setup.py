"""The set-up steps: the dev https cert, then `mix setup`, with the database when setup needs it.

Contract-era Firezone's `setup` (in the web app) only builds assets; today's root
`setup` alias runs `ecto.setup`, so it needs Postgres up and, like seeding and
migrating, takes the database's seed lock (two runs migrating at once collide).
"""

from __future__ import annotations

from tasks.lib.database import database
from tasks.lib.mix import steps as mix_steps
from tasks.lib.stack import postgres, seed


def mix_setup(c, force: bool = False, needs_database: str | None = None) -> str:
    """`mix setup` unless up to date; under the seed lock when ``needs_database`` (the reason)."""
    if needs_database is None:
        return mix_steps.run(c, "setup", force=force)
    with seed.locked(c, database(), "setting up"):
        return mix_steps.run(c, "setup", force=force)


def task(c, force: bool = False) -> str:
    """elixir.setup: the cert, Postgres when setup needs it, then `mix setup`."""
    mix_steps.cert(c)
    needs = mix_steps.setup_needs_database(c)
    if needs is not None:
        print(f"setup: needs the database ({needs}); starting Postgres first", flush=True)
        postgres.bring_up(c)
    return mix_setup(c, force, needs)
