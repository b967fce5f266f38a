"""billing.*: Stripe testing: the portal with billing on and `stripe listen` beside it.

Mechanisms: tasks/lib/stripe/serve.py (serve, listen, env), tasks/lib/stripe/cli.py
(the CLI, keys, the signing secret), tasks/lib/supervise/ (the two processes).
"""

from invoke import Collection, Exit

from tasks.taskdef import task

ENV_HELP = "extra KEY=VALUE for the server's environment (repeatable), e.g. --env FZFF_X=true; secrets belong in .env, not here"
# Ctrl-C exits 130 (invoke would report a KeyboardInterrupt as 1).
INTERRUPTED = 130


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

    try:
        stripe_serve.serve(c, reset_static, yes, env)
    except KeyboardInterrupt:
        raise Exit(code=INTERRUPTED)


@task
def listen(c):
    """Forward Stripe webhooks to a server started elsewhere (stripe listen only)."""
    from tasks.lib.stripe import serve as stripe_serve

    try:
        stripe_serve.listen(c)
    except KeyboardInterrupt:
        raise Exit(code=INTERRUPTED)


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
