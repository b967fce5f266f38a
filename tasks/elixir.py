"""elixir.*: mix deps, web setup, seeds, iex and the Phoenix server."""

from invoke import Collection

from tasks.taskdef import task

ns = Collection("elixir")
ns.configure(
    {
        "elixir": {
            "root": "elixir",
            "web_app": "apps/web",
            "mix": "mix",
            "iex": "iex",
            "deps_task": "deps.get",
            "setup_task": "setup",
            "seed_task": "ecto.seed",
            # Run instead of seeding when the database was seeded already.
            "migrate_task": "ecto.setup",
            "reset_tasks": ["ecto.reset", "ecto.seed"],
            "server_task": "phx.server",
        }
    }
)
