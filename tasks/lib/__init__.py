"""The suite's mechanisms, one job per module (each module's docstring says which); the task modules
(tasks/*.py) call into them, and nothing here imports a task module. Each heavy SDK is imported by one
module, inside the functions that need it: docker by docker/engine.py, psycopg by database/sql.py,
python-dotenv by envfile.py, psutil by supervise/proctable.py.

    config, envfile, state, problem, masking, console, programs, versions, portal_env, readiness
                settings read once (config.Settings) and checked in one place, .env, the state folder,
                the one error type, secrets kept out of output, echo/run/capture, the one wait loop
    repo/       what the repository decides (compose file, mix.exs, config, pins), each with its source
    docker/     the engine (found as the docker CLI finds it), ports, pulls, the one labelled service container
    database/   DATABASE_*, the Postgres container's spec, the handshake probe, SQL, the seed marker, locks
    pglocal/    Postgres without Docker: binaries, the server's account, the cluster
    vault       the acceptance tests' Vault container
    stack/      the backend interface (container or local cluster), dev.up's steps and table, seeds, dev.status
    mix/        the elixir.* settings (Elixir), up-to-date fingerprints, the deps/setup/migrate steps
    mixtest/    elixir.test (partitions, acceptance) and the browser check
    stripe/     the Stripe CLI and billing.*
    supervise/  processes: several at once with prefixed output, one in the foreground, what dies with us
    shlint/     lint.sh and lint.install-hook
    doctor, workos  inv doctor's rows; WorkOS checks
"""
