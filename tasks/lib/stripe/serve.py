"""Stripe testing: the portal with billing on and `stripe listen` beside it.

``serve`` replaces the two-terminal routine (contract, "Stripe testing"): the signing
secret is fetched with `stripe listen --print-secret` and handed to the server, and
both processes run under one supervisor (tasks/lib/supervise/). Secrets travel in the
children's environment only and are masked in everything printed. Everything that
can be refused (a live key, a missing CLI, a bad --env) is checked before anything
starts.
"""

from __future__ import annotations

import os
import shlex

from invoke import Exit

from tasks.lib import config, console, envfile, masking, portal_env, programs
from tasks.lib.console import is_dry
from tasks.lib.database import database
from tasks.lib.mix import steps as mix_steps
from tasks.lib.mix import tool as mix_tool
from tasks.lib.stack import postgres, seed
from tasks.lib.stripe import cli
from tasks.lib.supervise.manager import Program, Supervisor, SupervisorError

# Exit codes of billing.serve / billing.listen that say which process stopped first.
PHX_EXITED = 3
STRIPE_EXITED = 4

_FROM_CLI = "(from `stripe listen --print-secret` when served)"


def forward_url(c) -> str:
    """Where `stripe listen` forwards events (settings billing.forward_host/port, webhook_path)."""
    host = config.text(c, "billing", "forward_host")
    port = config.whole(c, "billing", "forward_port", minimum=1)
    path = config.text(c, "billing", "webhook_path")
    if not path.startswith("/"):
        path = "/" + path
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{port}{path}"


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
    timeout = config.positive(c, "billing", "secret_timeout")
    configured = os.environ.get(cli.SECRET_VAR)
    unset = cli.is_unset_secret(configured)
    origin = envfile.origin(cli.SECRET_VAR)
    try:
        secret = cli.print_secret(stripe, cli.cli_env(key), timeout=timeout)
    except Exit as e:
        if unset or configured is None:
            raise
        print(
            f"warning: could not compare {cli.SECRET_VAR} from {origin} with the CLI's"
            f" ({e.message}); using {masking.mask(configured)} from {origin}",
            flush=True,
        )
        return configured
    if unset or configured is None:
        print(f"Webhook signing secret {masking.mask(secret)} from `stripe listen --print-secret`", flush=True)
    elif secret != configured:
        print(
            f"warning: {cli.SECRET_VAR} from {origin} ({masking.mask(configured)}) differs from"
            f" the secret `stripe listen` signs with ({masking.mask(secret)}): webhooks would fail their"
            f" signature check, so the server gets the CLI's. Remove or update the value in {origin}",
            flush=True,
        )
    else:
        print(f"Webhook signing secret {masking.mask(secret)} from {origin} matches the CLI's", flush=True)
    return secret


def check_server_port(c) -> None:
    """Exit when the server's port (billing.forward_port) is taken, naming the holder
    (often a server left by an earlier run) and the command that stops it."""
    from tasks.lib.postgres import ports
    from tasks.lib.supervise import proctable

    port = config.whole(c, "billing", "forward_port", minimum=1)
    if ports.port_is_free("127.0.0.1", port):
        return
    pid = proctable.listener_pid(port)
    if pid is None:
        raise Exit(
            f"port {port} (billing.forward_port), where the server must listen, is taken by a process we cannot see:"
            f" find it with `lsof -i :{port}` (or `ss -ltnp`) and stop it, or set billing.forward_port"
        )
    raise Exit(
        f"port {port} (billing.forward_port), where the server must listen, is held by pid {pid}"
        f" ({masking.mask_text(proctable.command_line(pid), masking.secret_values(dict(os.environ)))[:200]}),"
        " perhaps left by an earlier run:"
        f" stop it with `kill {pid}`, then rerun"
    )


def _supervise(c, programs_: list[Program], secrets: list[str]) -> None:
    grace = config.positive(c, "billing", "grace_period")
    try:
        code = Supervisor(programs_, grace_period=grace, secrets=secrets).run()
    except SupervisorError as e:
        raise Exit(f"{e}. {cli.INSTALL_HINT if 'stripe' in str(e) else ''}".strip())
    if code:
        raise Exit(code=code)


def serve(c, reset_static: bool, yes: bool, env) -> None:
    """billing.serve: (reset with static seeds,) Postgres up, then phx.server and stripe listen."""
    key = cli.validate_key(os.environ.get(cli.KEY_VAR))
    extra = portal_env.parse_assignments(env or [])
    stripe = cli.find(c)
    elixir = mix_tool.settings(c)
    phx_argv, root, _ = mix_steps.server_command(elixir)
    config.positive(c, "billing", "grace_period")  # a bad setting fails before anything starts
    url = forward_url(c)
    if reset_static:
        rerun = " ".join(["inv billing.serve --reset-static --yes", *(f"--env {shlex.quote(i)}" for i in env or [])])
        seed.check_reset(elixir, database(), yes, rerun)

    dry = is_dry(c)
    if not dry:
        check_server_port(c)
    if dry:
        print(f"$ {programs.describe(cli.print_secret_args(stripe), env=cli.cli_env(key))}")
        secret = os.environ.get(cli.SECRET_VAR) or "whsec_from_the_cli"
    else:
        secret = signing_secret(c, stripe, key)

    postgres.bring_up(c)
    if reset_static:
        seed.reset(elixir, database(), static=True)

    phx_env = server_env(key, secret, extra)
    listen_env = cli.cli_env(key)
    listen_argv = cli.listen_args(url, stripe)
    print(f"$ {programs.describe(phx_argv, root, phx_env)}", flush=True)
    print(f"$ {programs.describe(listen_argv, None, listen_env)}", flush=True)
    if dry:
        return
    base = dict(os.environ)
    procs = [
        Program("phx", phx_argv, cwd=root, env={**base, **phx_env}, exit_code=PHX_EXITED),
        Program("stripe", listen_argv, env={**base, **listen_env}, exit_code=STRIPE_EXITED),
    ]
    secrets = masking.secret_values({**base, **phx_env, **listen_env}) + [secret]
    _supervise(c, procs, secrets)


def listen(c) -> None:
    """billing.listen: `stripe listen` alone, for a server started elsewhere."""
    key = cli.validate_key(os.environ.get(cli.KEY_VAR))
    stripe = cli.find(c)
    listen_env = cli.cli_env(key)
    argv = cli.listen_args(forward_url(c), stripe)
    print(f"$ {programs.describe(argv, None, listen_env)}", flush=True)
    if is_dry(c):
        return
    base = dict(os.environ)
    secrets = masking.secret_values({**base, **listen_env})
    print(
        "The server must get the signing secret the CLI prints below as"
        f" {cli.SECRET_VAR} (or use `inv billing.serve`, which does it for you)",
        flush=True,
    )
    _supervise(c, [Program("stripe", argv, env={**base, **listen_env})], secrets)


def show_env(c, env) -> None:
    """billing.env: the environment `inv billing.serve` gives the server, masked, with origins."""
    extra = portal_env.parse_assignments(env or [])
    key = os.environ.get(cli.KEY_VAR) or ""
    problem = None
    try:
        cli.validate_key(key)
    except Exit as e:
        problem = e.message
    configured = os.environ.get(cli.SECRET_VAR)
    secret = "" if cli.is_unset_secret(configured) else (configured or "")
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
    rows = [(k, f"= {shown[k]}   [{origins[k]}]") for k in values]
    if "STRIPE_DEFAULT_PRICE_ID" not in values:
        rows.append(("STRIPE_DEFAULT_PRICE_ID", "  unset: the portal's dev.exs default applies"))
    listen_key = masking.mask_env(cli.cli_env(key))["STRIPE_API_KEY"] if key else "(unset)"
    rows.append(("STRIPE_API_KEY", f"= {listen_key}   [{cli.KEY_VAR}]"))
    lines = console.table(rows, sep=" ").splitlines()
    print("Server (mix phx.server) environment, added to the shell's:")
    print("\n".join("  " + ln for ln in lines[:-1]))
    print("stripe listen environment:")
    print("  " + lines[-1])
    print(f"  forwards to {forward_url(c)}")
    if problem:
        print(f"problem: {problem}")
