"""infra.*: the Postgres container, through the Docker SDK."""

from invoke import Collection

from tasks.taskdef import task

ns = Collection("infra")
ns.configure(
    {
        "postgres": {
            "image": "postgres:17",
            "container": "firezone-dev-postgres",
            "volume": "firezone-dev-postgres-data",
            "data_dir": "/var/lib/postgresql/data",
            "command": "postgres -c wal_level=logical -c max_connections=200",
            # Host address the port is published on; 0.0.0.0 exposes a database
            # with a known password to the network.
            "host_ip": "127.0.0.1",
            "ready_timeout": 60.0,
            "poll_interval": 0.05,
        }
    }
)
