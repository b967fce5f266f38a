"""infra.*: Postgres, as a Docker container or a local cluster, and the Vault container of the acceptance tests."""

from invoke import Collection

from tasks.taskdef import task


@task
def up(c):
    """Start Postgres (container or local cluster, per postgres.backend) and wait until it accepts connections."""
    from tasks.lib.stack import postgres

    postgres.bring_up(c)


@task
def down(c):
    """Stop Postgres: the container or the local server (keeps the data); and the Vault container if there is one."""
    from tasks.lib.stack import postgres

    postgres.stop(c, with_vault=True)


@task(help={"yes": "Do not ask: remove the container and its data volume (or the local cluster) right away."})
def destroy(c, yes=False):
    """Remove Postgres and its data: the container and volume, or the local cluster (asks first); and the Vault container."""
    from tasks.lib.stack import postgres

    postgres.destroy(c, yes)


@task
def status(c):
    """Show the backend, the container (engine, state, port, image) or local cluster (binaries, server), and whether it answers."""
    from tasks.lib.stack import postgres

    postgres.print_status(c)


@task(help={"tail": "How many of the last lines to show (default 100).", "follow": "Keep printing new lines until Ctrl-C."})
def logs(c, tail="100", follow=False):
    """Show Postgres's logs (the container's, or the local server's log file)."""
    from tasks.lib.stack import postgres

    postgres.print_logs(c, tail, follow)


@task(help={"backend": "docker or local."})
def use(c, backend):
    """Use this backend for this repository from now on (postgres.backend=auto); stops the other one, keeping its data."""
    from tasks.lib.stack import postgres

    postgres.use(c, backend)


@task(help={"yes": "Do not ask: upgrade right away (the old data is kept either way)."})
def upgrade(c, yes=False):
    """Move Postgres's data to the major the repository now runs (dump and restore); keeps the old data, named by its major."""
    from tasks.lib.stack import postgres

    postgres.upgrade(c, yes)


ns = Collection("infra", up, down, destroy, status, logs, use, upgrade)
ns.configure(
    {
        "postgres": {
            "backend": "auto",  # docker, local (a cluster in the state folder), or auto: docker when an engine answers
            "bin_dir": "",  # local: the folder with initdb, pg_ctl and postgres ("" = PATH, pg_config, install folders, the wheel)
            "local_dir": "",  # local: where the clusters live ("" = <dev.state_dir>/postgres/<major>)
            # local, run as root: the unprivileged account the server runs as, and whether inv may create it.
            "local_user": "postgres",
            "create_user": False,
            "image": "postgres:17",
            "container": "firezone-dev-postgres",
            "volume": "firezone-dev-postgres-data",
            "data_dir": "/var/lib/postgresql/data",
            "command": "postgres -c wal_level=logical -c max_connections=200",
            "host_ip": "127.0.0.1",  # 0.0.0.0 would expose a database with a known password to the network
            "ready_timeout": 60.0,
            "poll_interval": 0.05,
        },
        # The Vault dev server of elixir.test --acceptance, as Firezone's compose runs it.
        "vault": {
            "image": "vault:1.13.3",
            "container": "firezone-dev-vault",
            "host_ip": "127.0.0.1",
            "port": 8200,
            "token": "firezone",  # through the container's environment, never argv
            "ready_timeout": 30.0,
            "poll_interval": 0.1,
        },
    }
)
