"""billing.*: Stripe testing: the portal with billing on and `stripe listen` beside it."""

from invoke import Collection

from tasks.taskdef import task

ENV_HELP = "extra KEY=VALUE for the server's environment (repeatable), e.g. --env FZFF_X=true; secrets belong in .env, not here"


@task(
    iterable=["env"],
    help={
        "reset_static": "first DROP the local dev database and seed it again with the static ids"
        " matching the staging Stripe account (inv db.reset --static); asks first unless --yes",
        "yes": "with --reset-static: drop the dev database without asking",
        "env": ENV_HELP,
    },
)
def serve(c, reset_static=False, yes=False, env=None):
    """Run the portal with billing on and `stripe listen` forwarding webhooks to it."""
    from tasks.lib.stripe import serve as stripe_serve

    stripe_serve.serve(c, reset_static, yes, env)


@task
def listen(c):
    """Forward Stripe webhooks to a server started elsewhere (stripe listen only)."""
    from tasks.lib.stripe import serve as stripe_serve

    stripe_serve.listen(c)


@task(iterable=["env"], help={"env": ENV_HELP})
def env(c, env=None):
    """Show the environment `inv billing.serve` gives the server (secrets masked)."""
    from tasks.lib.stripe import serve as stripe_serve

    stripe_serve.show_env(c, env)


ns = Collection("billing", serve, listen, env)
ns.configure(
    {
        "billing": {
            "stripe": "stripe",
            "forward_host": "localhost",
            "forward_port": 13001,
            "webhook_path": "/integrations/stripe/webhooks",
            "grace_period": 5.0,
            # How long `stripe listen --print-secret` may take (it asks Stripe's API).
            "secret_timeout": 60.0,
        }
    }
)
