"""elixir.*: mix deps, web setup, seeds, iex, the Phoenix server and the tests."""

from invoke import Collection

from tasks import infra
from tasks.taskdef import task

ENV_HELP = "extra KEY=VALUE for the process (repeatable), e.g. FZFF_SOME_FLAG=true"
FORCE_SEED_HELP = "seed even when the database is marked as seeded (Firezone's seeds then fail on duplicates)"


@task(help={"force": "run even when mix.lock and mix.exs are unchanged and deps/ is present"})
def deps(c, force=False):
    """Fetch the Elixir dependencies (mix deps.get), unless they are up to date."""
    from tasks.lib.stack import up

    return up.step(c, "deps", force)


@task(help={"force": "run even when the assets lock file and mix.exs are unchanged and the outputs exist"})
def setup(c, force=False):
    """Set up the portal (the dev cert, then mix setup), unless it is up to date."""
    from tasks.lib.stack import up

    return up.step(c, "setup", force)


@task(pre=[infra.up], help={"force": FORCE_SEED_HELP})
def seed(c, force=False):
    """Seed the dev database once (mix ecto.seed); afterwards only migrate. Same as db.seed."""
    from tasks.lib.stack import up

    return up.step(c, "seed", force)


@task(iterable=["env"], help={"env": ENV_HELP})
def iex(c, env=None):
    """Start the portal in an interactive shell (iex -S mix in the Elixir root)."""
    from tasks.lib.mix import steps

    return steps.start(c, env, shell=True)


@task(iterable=["env"], help={"env": ENV_HELP})
def server(c, env=None):
    """Run the Phoenix server without a shell (mix phx.server in the Elixir root)."""
    from tasks.lib.mix import steps

    return steps.start(c, env)


@task(
    iterable=["path", "env"],
    shortflags={"partitions": "n", "acceptance": "a"},
    help={
        "path": "a test file or folder, optionally :LINE (repeatable), relative to the Elixir root, e.g. -p apps/web/test/web/live_test.exs:42",
        "failed": "rerun only the tests that failed last time (mix test --failed)",
        "partitions": "run the tests in N partitions at once (MIX_TEST_PARTITION=1..N, databases firezone_test_p<N>), prefixed output; fails if any fails",
        "acceptance": "run the acceptance tests (mix test --only acceptance:true; only where the repository has some, not today's Firezone)"
        " with Vault and chromedriver, headless unless a test is tagged `@tag debug: true`",
        "env": ENV_HELP,
    },
)
def test(c, path=None, failed=False, partitions=None, acceptance=False, env=None):
    """Run the portal's tests (mix test, MIX_ENV=test) with Postgres up; --acceptance for the browser tests."""
    from tasks.lib.mixtest import run

    run.test(c, paths=path, failed=failed, partitions=partitions, acceptance=acceptance, env=env)


ns = Collection("elixir", deps, setup, seed, iex, server, test)
ns.configure(
    {
        "elixir": {
            "root": "elixir",
            "web_app": "apps/web",
            "mix": "mix",
            "iex": "iex",
            "deps_task": "deps.get",
            "setup_task": "setup",
            # Makes the dev https cert the portal's config names when it is missing; "" turns the step off.
            "cert_task": "phx.gen.cert",
            "seed_task": "ecto.seed",
            # Run instead of seeding when the database was seeded already.
            "migrate_task": "ecto.setup",
            "reset_tasks": ["ecto.reset", "ecto.seed"],
            "server_task": "phx.server",
            # elixir.test: the task (its root alias creates and migrates the test database) and CI's tag filters.
            "test_task": "test",
            "test_args": "--exclude flaky:true --exclude acceptance:true",
            "acceptance_args": "--only acceptance:true",
            # The acceptance tests' chromedriver and browser ("": the first Chrome or Chromium on PATH).
            "chromedriver": "chromedriver",
            "chrome": "",
            # Up-to-date checks (paths relative to the Elixir root / the web app; globs allowed).
            "deps_inputs": ["mix.lock", "mix.exs", "apps/*/mix.exs"],
            "deps_outputs": ["deps"],
            "setup_inputs": ["assets/pnpm-lock.yaml", "assets/package.json", "mix.exs"],
            "setup_outputs": ["assets/node_modules", "priv/static"],
            # A seeded database is migrated again only when these change (apps/domain/priv/repo/*migrations).
            "migrate_inputs": ["apps/*/priv/repo/*migrations", "apps/*/priv/repo/*migrations/*.exs", "priv/repo/*migrations/*.exs"],
        }
    }
)
