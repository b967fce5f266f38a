"""billing.*: Stripe testing: the portal with billing on and `stripe listen` beside it."""

from invoke import Collection

from tasks.taskdef import task

ns = Collection("billing")
ns.configure(
    {
        "billing": {
            "stripe": "stripe",
            "forward_host": "localhost",
            "forward_port": 13001,
            "webhook_path": "/integrations/stripe/webhooks",
            "grace_period": 5.0,
        }
    }
)
