"""billing.*: Stripe testing: the portal with billing on and `stripe listen` beside it.

`billing.serve` replaces the two-terminal routine (contract, "Stripe testing"): the
signing secret is fetched with `stripe listen --print-secret` and handed to the server,
and both processes run under one supervisor (tasks/supervisor.py). Secrets travel in
the children's environment only and are masked in everything printed.
"""

from __future__ import annotations

import os

from invoke import Collection, Exit

from tasks import infra
from tasks.taskdef import is_dry, lazy, task

envfile = lazy("tasks.envfile")
masking = lazy("tasks.masking")
mixtool = lazy("tasks.mixtool")
portal_env = lazy("tasks.portal_env")
proc = lazy("tasks.proc")
settings = lazy("tasks.settings")
stripe_cli = lazy("tasks.stripe_cli")
supervisor = lazy("tasks.supervisor")

# Exit codes of billing.serve / billing.listen that say which process stopped first.
PHX_EXITED = 3
STRIPE_EXITED = 4
INTERRUPTED = 130

ENV_HELP = (
    "extra KEY=VALUE for the server's environment (repeatable), e.g. --env FZFF_X=true;"
    " secrets belong in .env, not here"
)
_FROM_CLI = "(from `stripe listen --print-secret` when served)"


def forward_url(c) -> str:
    """Where `stripe listen` forwards events (settings billing.forward_host/port, webhook_path)."""
    host = settings.setting(c, "billing", "forward_host")
    port = settings.setting(c, "billing", "forward_port")
    path = str(settings.setting(c, "billing", "webhook_path"))
    if not path.startswith("/"):
        path = "/" + path
    if ":" in str(host) and not str(host).startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{port}{path}"


def extra_env(items) -> dict[str, str]:
    """--env KEY=VALUE items (secrets refused: argv is visible to every user via ps)."""
    return portal_env.parse_assignments(items or [])


def billing_vars(key: str, secret: str, environ=None) -> dict[str, str]:
    """The billing variables the server gets on top of server_env."""
    environ = os.environ if environ is None else environ
    env = {
        "BILLING_ENABLED": "true",
        "STRIPE_SECRET_KEY": key,
        "STRIPE_WEBHOOK_SIGNING_SECRET": secret,
    }
    if environ.get("STRIPE_DEFAULT_PRICE_ID"):
        env["STRIPE_DEFAULT_PRICE_ID"] = environ["STRIPE_DEFAULT_PRICE_ID"]
    return env


def server_env(key: str, secret: str, extra: dict[str, str], environ=None) -> dict[str, str]:
    """DATABASE_*, WORKOS_* when set, the billing variables, then --env values."""
    env = portal_env.server_env((), environ)
    env.update(billing_vars(key, secret, environ))
    env.update(extra)
    return env


def signing_secret(c, stripe: str, key: str) -> str:
    """The secret `stripe listen` signs with; a different one in .env is reported.

    When .env (or the shell) sets STRIPE_WEBHOOK_SIGNING_SECRET, the CLI's secret is
    still fetched and compared: if they differ, every webhook would fail its
    signature check, so the CLI's is used and the stale value reported.
    """
    timeout = float(settings.setting(c, "billing", "secret_timeout"))
    configured = os.environ.get(stripe_cli.SECRET_VAR)
    unset = stripe_cli.is_unset_secret(configured)
    origin = envfile.origin(stripe_cli.SECRET_VAR)
    try:
        secret = stripe_cli.print_secret(stripe, stripe_cli.cli_env(key), timeout=timeout)
    except Exit as e:
        if unset:
            raise
        print(
            f"warning: could not compare {stripe_cli.SECRET_VAR} from {origin} with the CLI's"
            f" ({e.message}); using {masking.mask(configured)} from {origin}",
            flush=True,
        )
        return configured
    if unset:
        print(f"Webhook signing secret {masking.mask(secret)} from `stripe listen --print-secret`", flush=True)
    elif secret != configured:
        print(
            f"warning: {stripe_cli.SECRET_VAR} from {origin} ({masking.mask(configured)}) differs from"
            f" the secret `stripe listen` signs with ({masking.mask(secret)}): webhooks would fail their"
            f" signature check, so the server gets the CLI's. Remove or update the value in {origin}",
            flush=True,
        )
    else:
        print(f"Webhook signing secret {masking.mask(secret)} from {origin} matches the CLI's", flush=True)
    return secret


def _supervise(c, programs: list[supervisor.Program], secrets: list[str]) -> None:
    grace = float(settings.setting(c, "billing", "grace_period"))
    try:
        code = supervisor.Supervisor(programs, grace_period=grace, secrets=secrets).run()
    except supervisor.SupervisorError as e:
        raise Exit(f"{e}. {stripe_cli.INSTALL_HINT if 'stripe' in str(e) else ''}".strip())
    if code:
        raise Exit(code=code)


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
    try:
        _serve(c, reset_static, yes, env)
    except KeyboardInterrupt:
        # invoke reports KeyboardInterrupt as exit 1; Ctrl-C means 130 everywhere else.
        raise Exit(code=INTERRUPTED)


def _serve(c, reset_static: bool, yes: bool, env) -> None:
    # Everything that can be refused is checked before anything starts.
    key = stripe_cli.validate_key(os.environ.get(stripe_cli.KEY_VAR))
    extra = extra_env(env)
    stripe = stripe_cli.find(c)
    mix = mixtool.mix_path(c)
    root = mixtool.elixir_root(c)
    from tasks import db

    if reset_static:
        database = settings.database()
        db.check_resettable(database)
        db.confirm_reset(c, database, yes)

    dry = is_dry(c)
    if dry:
        print(f"$ {proc.describe(stripe_cli.print_secret_args(stripe), env=stripe_cli.cli_env(key))}")
        secret = os.environ.get(stripe_cli.SECRET_VAR) or "whsec_from_the_cli"
    else:
        secret = signing_secret(c, stripe, key)

    infra.bring_up(c)
    if reset_static:
        db.reset_database(c, static=True, yes=True)

    phx_env = server_env(key, secret, extra)
    listen_env = stripe_cli.cli_env(key)
    phx_argv = [mix, *mixtool.task_args(settings.setting(c, "elixir", "server_task"))]
    listen_argv = stripe_cli.listen_args(forward_url(c), stripe)
    print(f"$ {proc.describe(phx_argv, root, phx_env)}", flush=True)
    print(f"$ {proc.describe(listen_argv, None, listen_env)}", flush=True)
    if dry:
        return
    base = dict(os.environ)
    programs = [
        supervisor.Program("phx", phx_argv, cwd=root, env={**base, **phx_env}, exit_code=PHX_EXITED),
        supervisor.Program("stripe", listen_argv, env={**base, **listen_env}, exit_code=STRIPE_EXITED),
    ]
    secrets = masking.secret_values({**base, **phx_env, **listen_env}) + [secret]
    _supervise(c, programs, secrets)


@task
def listen(c):
    """Forward Stripe webhooks to a server started elsewhere (stripe listen only)."""
    try:
        key = stripe_cli.validate_key(os.environ.get(stripe_cli.KEY_VAR))
        stripe = stripe_cli.find(c)
        listen_env = stripe_cli.cli_env(key)
        argv = stripe_cli.listen_args(forward_url(c), stripe)
        print(f"$ {proc.describe(argv, None, listen_env)}", flush=True)
        if is_dry(c):
            return
        base = dict(os.environ)
        secrets = masking.secret_values({**base, **listen_env})
        print(
            "The server must get the signing secret the CLI prints below as"
            f" {stripe_cli.SECRET_VAR} (or use `inv billing.serve`, which does it for you)",
            flush=True,
        )
        _supervise(c, [supervisor.Program("stripe", argv, env={**base, **listen_env})], secrets)
    except KeyboardInterrupt:
        raise Exit(code=INTERRUPTED)


@task(iterable=["env"], help={"env": ENV_HELP})
def env(c, env=None):
    """Show the environment `inv billing.serve` gives the server (secrets masked)."""
    extra = extra_env(env)
    key = os.environ.get(stripe_cli.KEY_VAR) or ""
    problem = None
    try:
        stripe_cli.validate_key(key)
    except Exit as e:
        problem = e.message
    configured = os.environ.get(stripe_cli.SECRET_VAR)
    secret = "" if stripe_cli.is_unset_secret(configured) else configured
    values = server_env(key, secret, extra)
    origins = {k: envfile.origin(k) for k in values}
    if not secret:
        values["STRIPE_WEBHOOK_SIGNING_SECRET"] = _FROM_CLI
        origins["STRIPE_WEBHOOK_SIGNING_SECRET"] = "`stripe listen --print-secret`"
    else:
        origins["STRIPE_WEBHOOK_SIGNING_SECRET"] += ", checked against the CLI's when served"
    for k in ("BILLING_ENABLED", *extra):
        origins[k] = "billing.serve" if k == "BILLING_ENABLED" else "--env"
    shown = masking.mask_env({k: v for k, v in values.items() if v != _FROM_CLI})
    shown.update({k: v for k, v in values.items() if v == _FROM_CLI})
    if not key:
        shown["STRIPE_SECRET_KEY"] = "(unset)"
    print("Server (mix phx.server) environment, added to the shell's:")
    width = max(len(k) for k in shown)
    for k in values:
        print(f"  {k.ljust(width)} = {shown[k]}   [{origins[k]}]")
    if "STRIPE_DEFAULT_PRICE_ID" not in values:
        print(f"  {'STRIPE_DEFAULT_PRICE_ID'.ljust(width)}   unset: the portal's dev.exs default applies")
    listen_env = masking.mask_env(stripe_cli.cli_env(key)) if key else {"STRIPE_API_KEY": "(unset)"}
    print("stripe listen environment:")
    print(f"  {'STRIPE_API_KEY'.ljust(width)} = {listen_env['STRIPE_API_KEY']}   [{stripe_cli.KEY_VAR}]")
    print(f"  forwards to {forward_url(c)}")
    if problem:
        print(f"problem: {problem}")


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
