"""billing.serve, billing.listen, billing.env: the portal with billing on, `stripe listen` beside it, secrets masked."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass

from invoke import Exit

from tasks.lib import config, console, envfile, masking, portal_env, programs
from tasks.lib.database import database
from tasks.lib.docker import ports
from tasks.lib.mix import steps as mix_steps
from tasks.lib.mix import tool as mix_tool
from tasks.lib.problem import Problem
from tasks.lib.stack import postgres, seed
from tasks.lib.stripe import cli
from tasks.lib.supervise import proctable
from tasks.lib.supervise.manager import Program, Supervisor

# Exit codes of billing.serve / billing.listen that say which process stopped first.
PHX_EXITED = 3
STRIPE_EXITED = 4

_FROM_CLI = "(from `stripe listen --print-secret` when served)"


@dataclass(frozen=True)
class Settings:
    stripe: str  # billing.stripe, not yet looked up
    forward_url: str
    port: int
    grace_period: float
    secret_timeout: float
    dry: bool


def settings(s: config.Settings) -> Settings:
    """The billing.* settings, each checked, and --dry."""
    host = s.text("billing", "forward_host")
    port = s.whole("billing", "forward_port", minimum=1)
    path = s.text("billing", "webhook_path")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    url = f"http://{host}:{port}/{path.lstrip('/')}"
    grace, timeout = s.positive("billing", "grace_period"), s.positive("billing", "secret_timeout")
    return Settings(s.text("billing", "stripe"), url, port, grace, timeout, s.dry)


def server_env(key: str, secret: str, extra: dict[str, str], environ=None) -> dict[str, str]:
    """DATABASE_*, WORKOS_* when set, the billing variables, then --env values."""
    environ = os.environ if environ is None else environ
    env = portal_env.server_env((), environ)
    env.update({"BILLING_ENABLED": "true", cli.KEY_VAR: key, cli.SECRET_VAR: secret})
    if environ.get("STRIPE_DEFAULT_PRICE_ID"):
        env["STRIPE_DEFAULT_PRICE_ID"] = environ["STRIPE_DEFAULT_PRICE_ID"]
    return {**env, **extra}


def signing_secret(stripe: str, key: str, timeout: float) -> str:
    """The secret `stripe listen` signs with; it wins over a different (stale) one in .env, which is used if the CLI cannot tell."""
    configured = os.environ.get(cli.SECRET_VAR)
    unset = cli.is_unset_secret(configured)
    origin = envfile.origin(cli.SECRET_VAR)
    try:
        secret = cli.print_secret(stripe, cli.cli_env(key), timeout=timeout)
    except Exit as e:
        if unset or configured is None:
            raise
        using = f"using {masking.mask(configured)} from {origin}"
        print(f"warning: could not compare {cli.SECRET_VAR} from {origin} with the CLI's ({e.message}); {using}", flush=True)
        return configured
    if unset or configured is None:
        print(f"Webhook signing secret {masking.mask(secret)} from `stripe listen --print-secret`", flush=True)
    elif secret != configured:
        differs = f"{cli.SECRET_VAR} from {origin} ({masking.mask(configured)}) differs from the secret `stripe listen` signs with"
        fails = "webhooks would fail their signature check, so the server gets the CLI's"
        print(f"warning: {differs} ({masking.mask(secret)}): {fails}. Remove or update the value in {origin}", flush=True)
    else:
        print(f"Webhook signing secret {masking.mask(secret)} from {origin} matches the CLI's", flush=True)
    return secret


def check_server_port(port: int) -> None:
    """A Problem when the server's port is taken, naming the holder (often a server left by an earlier run)."""
    if ports.port_is_free("127.0.0.1", port):
        return
    pid = proctable.listener_pid(port)
    if pid is None:
        what, fix = (
            "is taken by a process we cannot see",
            f"find it with `lsof -i :{port}` (or `ss -ltnp`) and stop it, or set billing.forward_port",
        )
    else:
        holder = masking.mask_text(proctable.command_line(pid), masking.secret_values(dict(os.environ)))[:200]
        what, fix = f"is held by pid {pid} ({holder}), perhaps left by an earlier run", f"stop it with `kill {pid}`, then rerun"
    raise Problem(f"port {port} (billing.forward_port), where the server must listen, {what}", fix, "billing.forward_port")


def _supervise(procs: list[Program], secrets: list[str], grace: float) -> None:
    code = Supervisor(procs, grace_period=grace, secrets=secrets).run()
    if code:
        raise Exit(code=code)


def serve(c, reset_static: bool, yes: bool, env) -> None:
    """billing.serve: (reset with static seeds,) Postgres up, then phx.server and stripe listen."""
    s = settings(config.settings(c))
    key = cli.validate_key(os.environ.get(cli.KEY_VAR))
    extra = portal_env.parse_assignments(env or [])
    stripe = cli.find(s.stripe)
    elixir = mix_tool.settings(c)
    phx_argv, root, _ = mix_steps.server_command(elixir)
    if reset_static:
        rerun = " ".join(["inv billing.serve --reset-static --yes", *(f"--env {shlex.quote(i)}" for i in env or [])])
        seed.check_reset(elixir, database(), yes, rerun)
    if s.dry:
        print(f"$ {programs.describe(cli.print_secret_args(stripe), env=cli.cli_env(key))}")
        secret = os.environ.get(cli.SECRET_VAR) or "whsec_from_the_cli"
    else:
        check_server_port(s.port)
        secret = signing_secret(stripe, key, s.secret_timeout)
    postgres.bring_up(c)
    if reset_static:
        seed.reset(elixir, database(), static=True)
    phx_env, listen_env = server_env(key, secret, extra), cli.cli_env(key)
    listen_argv = cli.listen_args(s.forward_url, stripe)
    print(f"$ {programs.describe(phx_argv, root, phx_env)}", flush=True)
    print(f"$ {programs.describe(listen_argv, None, listen_env)}", flush=True)
    if s.dry:
        return
    base = dict(os.environ)
    procs = [
        Program("phx", phx_argv, cwd=root, env={**base, **phx_env}, exit_code=PHX_EXITED),
        Program("stripe", listen_argv, env={**base, **listen_env}, exit_code=STRIPE_EXITED, fix=cli.INSTALL_HINT),
    ]
    _supervise(procs, masking.secret_values({**base, **phx_env, **listen_env}) + [secret], s.grace_period)


def listen(c) -> None:
    """billing.listen: `stripe listen` alone, for a server started elsewhere."""
    s = settings(config.settings(c))
    key = cli.validate_key(os.environ.get(cli.KEY_VAR))
    listen_env = cli.cli_env(key)
    argv = cli.listen_args(s.forward_url, cli.find(s.stripe))
    print(f"$ {programs.describe(argv, None, listen_env)}", flush=True)
    if s.dry:
        return
    base = {**os.environ, **listen_env}
    print(f"The server must get the signing secret the CLI prints below as {cli.SECRET_VAR} (or use `inv billing.serve`)", flush=True)
    _supervise([Program("stripe", argv, env=base, fix=cli.INSTALL_HINT)], masking.secret_values(base), s.grace_period)


def show_env(c, env) -> None:
    """billing.env: the environment `inv billing.serve` gives the server, masked, with origins; exit 1 on a bad key."""
    s = settings(config.settings(c))
    extra = portal_env.parse_assignments(env or [])
    key = os.environ.get(cli.KEY_VAR) or ""
    problem = None
    try:
        cli.validate_key(key)
    except Problem as e:
        problem = e
    configured = os.environ.get(cli.SECRET_VAR)
    secret = "" if cli.is_unset_secret(configured) else (configured or "")
    values = server_env(key, secret, extra)
    origins = {k: envfile.origin(k) for k in values}
    if not secret:
        values[cli.SECRET_VAR] = _FROM_CLI
        origins[cli.SECRET_VAR] = "`stripe listen --print-secret`"
    else:
        origins[cli.SECRET_VAR] += ", checked against the CLI's when served"
    origins.update(
        {"BILLING_ENABLED": "billing.serve", "PGHOST": "DATABASE_HOST", "PGPORT": "DATABASE_PORT", **{k: "--env" for k in extra}}
    )
    shown = {**masking.mask_env(values), cli.SECRET_VAR: masking.mask(secret) if secret else _FROM_CLI}
    if not key:
        shown[cli.KEY_VAR] = "(unset)"
    rows = [(k, f"= {shown[k]}   [{origins[k]}]") for k in values]
    if "STRIPE_DEFAULT_PRICE_ID" not in values:
        rows.append(("STRIPE_DEFAULT_PRICE_ID", "  unset: the portal's dev.exs default applies"))
    rows.append(("STRIPE_API_KEY", f"= {masking.mask(key) if key else '(unset)'}   [{cli.KEY_VAR}]"))
    lines = console.table(rows, sep=" ").splitlines()
    print("Server (mix phx.server) environment, added to the shell's:")
    print("\n".join("  " + ln for ln in lines[:-1]))
    print("stripe listen environment:")
    print("  " + lines[-1])
    print(f"  forwards to {s.forward_url}")
    if problem:
        print(f"problem: {problem}")
        raise Exit(code=1)
