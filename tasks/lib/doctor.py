"""The checks behind `inv doctor`: what the local stack needs and whether it is there.

Each check is a ``Row`` (ok, warn or FAIL, with a fix); the slow ones (Docker, the
tool versions) run in threads, which is safe because every import here is a plain one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from invoke import Exit

from tasks.lib import config, console, envfile, programs, versions
from tasks.lib.config import PROJECT_ROOT
from tasks.lib.database import database
from tasks.lib.database import origin as database_origin
from tasks.lib.mix import tool
from tasks.lib.mixtest import browser
from tasks.lib.pglocal import account, cluster, server
from tasks.lib.postgres import container, engine, ports
from tasks.lib.postgres.attrs import Status
from tasks.lib.postgres.spec import PostgresSpec, spec_from_config
from tasks.lib.repo import summary
from tasks.lib.stack import backend
from tasks.lib.stripe import cli as stripe_cli

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass
class Row:
    check: str
    status: str
    detail: str
    fix: str = ""


VERSION_COMMANDS = {
    "elixir": ["elixir", "--short-version"],
    "erl": ["erl", "-noshell", "-eval", 'io:format("~s", [erlang:system_info(otp_release)]), halt().'],
    "node": ["node", "--version"],
    "pnpm": ["pnpm", "--version"],
    "shellcheck": ["shellcheck", "--version"],
    "shfmt": ["shfmt", "--version"],
}


def tool_row(
    name: str, argv: list[str], wanted: dict[str, str], required: bool, install: str, sources: dict[str, str] | None = None
) -> Row:
    """``wanted``: the pins by asdf name; ``sources``: the file each pin came from (for the text)."""
    asdf_name = {v: k for k, v in versions.ALIASES.items()}.get(name, name)
    want = wanted.get(asdf_name)
    pin_file = (sources or {}).get(asdf_name, ".tool-versions")
    got = programs.version(argv)
    if got is None:
        return Row(name, FAIL if required else WARN, f"{argv[0]} not found", install)
    if versions.is_pin(want) and not versions.matches(want, got):
        return Row(name, WARN, f"{got} ({pin_file} wants {want})", f"install {asdf_name} {want} (asdf install / mise install)")
    return Row(name, OK, got + (f" ({pin_file} {want})" if want else ""))


def docker_rows(c) -> list[Row]:
    try:
        cl = engine.client()
        version = engine.server_version(cl)
    except Exit as e:  # nothing listening, an unknown context, a broken config.json
        return [_failed("docker engine", e.message or "")]
    rows = [Row("docker engine", OK, f"Docker {version} at {engine.where()}")]
    try:
        spec = spec_from_config(c)
        status = container.inspect(spec)
    except Exit as e:
        return rows + [Row("postgres settings", FAIL, e.message or "")]
    try:
        present = engine.image_present(cl, spec.image)
    except Exception:  # a doctor row must not fail the whole report
        present = False
    if present:
        rows.append(Row("postgres image", OK, spec.image))
    else:
        rows.append(Row("postgres image", WARN, f"{spec.image} not present; infra.up will pull it", f"docker pull {spec.image}"))
    rows.append(port_row(cl, spec, status))
    return rows


def postgres_rows(c) -> list[Row]:
    """The backend postgres.backend picks, then its rows: the engine and container, or the local cluster."""
    try:
        choice = backend.choose(c)
    except Exit as e:
        return [Row("postgres backend", FAIL, e.message or "")]
    if not choice.local:
        return [Row("postgres backend", OK, f"docker ({choice.why})"), *docker_rows(c)]
    rows = [Row("postgres backend", OK, f"local ({choice.why})")]
    if choice.why.startswith("postgres.backend=auto"):
        answers, where = backend.engine_answers()
        if answers:  # auto kept the running local cluster
            rows.append(Row("docker engine", OK, f"answers at {where} (not used: the local cluster is running)"))
        else:
            rows.append(
                Row(
                    "docker engine",
                    WARN,
                    f"not answering at {where}: not needed, the local cluster runs Postgres",
                    "start the engine to use the container instead (postgres.backend=auto picks it when it answers)",
                )
            )
    return rows + local_rows(c)


def _failed(check: str, message: str, status: str = FAIL) -> Row:
    """A row from a one-line error "problem. Fix: fix"."""
    problem, _, fix = message.partition(". Fix: ")
    return Row(check, status, problem, fix)


def _checked(check: str, run: Callable[[], object], ok_detail: str) -> Row:
    """OK with ``ok_detail`` when ``run()`` passes; its Exit as a failed row otherwise."""
    try:
        run()
    except Exit as e:
        return _failed(check, e.message or "")
    return Row(check, OK, ok_detail)


def local_rows(c) -> list[Row]:
    """The local cluster: binaries, the account it runs as (root), its folders, the port."""
    try:
        spec = server.local_spec(c, find_account=False)
    except Exit as e:
        return [_failed("postgres binaries", e.message or "")]
    rows = [Row("postgres binaries", OK, spec.binaries.describe())]
    wanted = server.wanted_major(c)
    if wanted is not None and wanted != spec.binaries.major:
        rows[-1] = Row(
            "postgres binaries",
            WARN,
            f"{spec.binaries.describe()}; the repository's compose file runs PostgreSQL {wanted}",
            f"set postgres.bin_dir to a PostgreSQL {wanted} install's bin folder to match it (or keep these: the portal runs on both)",
        )
    user = config.text(c, "postgres", "local_user")
    try:
        account.server_account(user, create=False)
    except Exit as e:
        if not config.flag(c, "postgres", "create_user"):
            rows.append(_failed("postgres account", e.message or ""))
        else:
            rows.append(Row("postgres account", OK, f"no user {user} yet: infra.up creates it (postgres.create_user)"))
    else:
        rows.append(Row("postgres account", OK, f"the server runs as {spec.account.name}"))
        rows.append(
            _checked(
                "postgres folders", lambda: server.check_reachable(spec), f"{spec.account.name} can reach the cluster and the programs"
            )
        )
    now = cluster.server(spec)
    where = programs.display_path(spec.data)
    if now.state == "stale":
        rows.append(_failed("local cluster", server.stale_message(spec, now)))
    elif not cluster.initialised(spec):
        rows.append(Row("local cluster", OK, f"{where}: not made yet (inv infra.up makes it)"))
    else:
        rows.append(_checked("local cluster", lambda: server.check_major(spec), f"{where} ({now.state})"))
    if now.state == "running" and now.port == spec.port:
        rows.append(Row("database port", OK, f"{spec.address}: our local server listens there (pid {now.pid})"))
    else:
        rows.append(_checked("database port", lambda: server.check_port(spec), f"{spec.address} free"))
    return rows


def port_row(cl, spec: PostgresSpec, status: Status | None) -> Row:
    """The host port: fine while our container runs on it; otherwise whoever holds it is named."""
    ours = status is not None and status.ours and status.host_port == spec.port
    if ours and status is not None and status.running:
        return Row("database port", OK, f"{spec.address} published by our container {spec.container} (running)")
    # Our container is stopped or absent: the port must really be free for it.
    try:
        holder = ports.port_holder(cl, spec, exclude=spec.container if ours else "")
    except Exception:  # a doctor row must not fail the whole report
        holder = None if ports.port_is_free(spec.host_ip, spec.port) else "something else"
    if holder:
        blocked = f", so our container {spec.container} ({status.state}) cannot start" if ours and status else ""
        stop = f"`docker stop {holder[len('container ') :]}`" if holder.startswith("container ") else "stop it"
        return Row(
            "database port",
            FAIL,
            f"{spec.address} is taken by {holder}{blocked}",
            f"{stop}, or set DATABASE_PORT to a free port in .env (the portal's replication wants 5432)",
        )
    if ours and status is not None:
        return Row("database port", OK, f"{spec.address} free for our container {spec.container} ({status.state})")
    return Row("database port", OK, f"{spec.address} free")


def env_rows() -> list[Row]:
    rows = []
    env_path = PROJECT_ROOT / ".env"
    example = PROJECT_ROOT / ".env.example"
    try:
        envfile.ensure_loaded(PROJECT_ROOT)
    except envfile.EnvFileError as e:
        return [Row(".env", FAIL, str(e), "fix the line named above")]
    if not env_path.is_file():
        rows.append(Row(".env", WARN, "absent (defaults apply)", "cp .env.example .env"))
    elif example.is_file():
        listed = list(envfile.parse_file(example)[1])
        missing = [k for k in listed if k not in os.environ]
        if missing:
            rows.append(Row(".env", WARN, f"lacks {', '.join(missing)} (listed in .env.example)", "copy those lines from .env.example"))
        else:
            rows.append(Row(".env", OK, f"has every key .env.example lists ({len(listed)})"))
    key = os.environ.get("STRIPE_SECRET_KEY", "").strip()
    if key.startswith(stripe_cli.LIVE_PREFIXES):
        rows.append(
            Row(
                "stripe key",
                FAIL,
                f"STRIPE_SECRET_KEY is a LIVE key (from {envfile.origin('STRIPE_SECRET_KEY')})",
                "use a test-mode key (sk_test_/rk_test_) from the Stripe dashboard",
            )
        )
    elif key.startswith(stripe_cli.TEST_PREFIXES):
        rows.append(Row("stripe key", OK, "set (test mode)"))
    elif key and key != stripe_cli.DEV_DEFAULT_KEY:
        rows.append(Row("stripe key", WARN, "set, but not sk_test_/rk_test_"))
    try:
        db = database()
    except Exit as e:
        return rows + [Row("database settings", FAIL, e.message or "")]
    if not db.is_local():
        rows.append(
            Row(
                "database host",
                WARN,
                f"DATABASE_HOST={db.host} (from {database_origin('DATABASE_HOST')}) is not this machine: db.reset will refuse",
                "set DATABASE_HOST=localhost in .env",
            )
        )
    return rows


def git_rows() -> list[Row]:
    """Secrets files git would commit: tracked fails (the secrets are in the repository's
    history or the next commit), not ignored warns (one `git add .` away). No row outside
    a git repository or without git."""
    from tasks.lib import gitexclude

    try:
        found = gitexclude.secrets(PROJECT_ROOT, envfile.FILES)
    except gitexclude.GitError as e:
        if str(e) == gitexclude.NO_GIT:
            return []
        return [Row("secrets in git", WARN, f"cannot ask git ({e})", "fix what git says, then run inv doctor again")]
    if found is None:
        return []
    exclude = gitexclude.display(found.repo.exclude)
    rows = []
    for name in found.tracked:
        also = f"; then echo '{gitexclude.exclude_line(found.repo, name)}' >> {exclude}" if name in found.uncovered else ""
        rows.append(
            Row(
                f"git: {name}",
                FAIL,
                f"{name} is tracked by git: the secrets in it are committed or will be",
                f"git rm --cached {name} and commit (rotate any key in it that was pushed){also}",
            )
        )
    for name in found.addable:
        rows.append(
            Row(
                f"git: {name}",
                WARN,
                f"{name} is not ignored: `git add .` would commit its secrets",
                f"echo '{gitexclude.exclude_line(found.repo, name)}' >> {exclude}",
            )
        )
    if not rows:
        have = ", ".join(found.present)
        rows.append(Row("secrets in git", OK, f"git ignores {have}" if have else f"no {' or '.join(envfile.FILES)} to protect"))
    return rows


def repository_rows(c) -> list[Row]:
    """What the repository decided (the compose file's image, the mix project's shape...), each with its source."""
    try:
        return [Row(name, OK, text) for name, text in summary.rows(c)]
    except Exit as e:
        return [Row("repository", FAIL, e.message or "")]


def _found(check: str, find, status_if_missing: str, note: str = "") -> Row:
    """A row for a lookup that raises a one-line Exit (which carries its own fix)."""
    try:
        return Row(check, OK, find())
    except Exit as e:
        return Row(check, status_if_missing, (e.message or "") + note)


def collect(c) -> list[Row]:
    repo = config.repository(c)
    wanted = {name: pin.version for name, pin in repo.pins.items()}
    sources = {name: repo.show(pin.source) for name, pin in repo.pins.items()}
    elixir_install = "install Elixir/Erlang (asdf install, or apt-get install elixir)"
    jobs = {
        "elixir": (VERSION_COMMANDS["elixir"], True, elixir_install),
        "erl": (VERSION_COMMANDS["erl"], True, elixir_install),
        "node": (VERSION_COMMANDS["node"], False, "install Node.js (assets): asdf install nodejs"),
        "pnpm": (VERSION_COMMANDS["pnpm"], False, "npm install -g pnpm (assets.setup runs pnpm i)"),
        "shellcheck": (
            [config.text(c, "lint", "shellcheck"), "--version"],
            False,
            "apt-get install shellcheck, brew install shellcheck, or pip install '.[lint-tools]'",
        ),
        "shfmt": (
            [config.text(c, "lint", "shfmt"), "--version"],
            False,
            "apt-get install shfmt, brew install shfmt, or pip install '.[lint-tools]'",
        ),
    }
    # Docker rows must see DATABASE_* and DOCKER_HOST from .env; a broken .env is
    # reported by env_rows (loading fails the same way again there).
    try:
        envfile.ensure_loaded(PROJECT_ROOT)
    except envfile.EnvFileError:
        pass
    with ThreadPoolExecutor(max_workers=4) as pool:
        docker_future = pool.submit(postgres_rows, c)
        browser_future = pool.submit(browser.doctor_rows, c)  # acceptance tests only: chromedriver, Chrome
        tool_futures = {name: pool.submit(tool_row, name, argv, wanted, req, hint, sources) for name, (argv, req, hint) in jobs.items()}
        rows = list(docker_future.result())
        rows.append(_found("elixir root", lambda: str(tool.settings(c).root), FAIL))
        rows.append(_found("mix", lambda: tool.settings(c).mix, FAIL))
        rows += [f.result() for f in tool_futures.values()]
        browser_rows = [Row(*found) for found in browser_future.result()]
    rows.append(_found("stripe cli", lambda: stripe_cli.find(c), WARN, " (only billing.serve/listen need it)"))
    rows += browser_rows
    rows += repository_rows(c)
    rows += env_rows()
    rows += git_rows()
    return rows


def render(rows: list[Row]) -> str:
    """One table: check, status, detail; a failed or warned check's fix on a row below it."""
    table: list[tuple[str, str, str]] = []
    for r in rows:
        table.append((r.check, r.status, r.detail))
        if r.fix and r.status != OK:
            table.append(("", "", f"fix: {r.fix}"))
    return console.table(table)


def report(c) -> None:
    """inv doctor: the table, then one verdict line; Exit 1 when a required check failed."""
    rows = collect(c)
    print(render(rows))
    failed = [r.check for r in rows if r.status == FAIL]
    if failed:
        raise Exit(f"doctor: {len(failed)} required check(s) failed: {', '.join(failed)}")
    warned = sum(r.status == WARN for r in rows)
    print(f"doctor: all required checks pass ({warned} warning(s))")
