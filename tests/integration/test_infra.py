"""infra.* through `inv`, against the real Docker engine and Postgres image."""

from __future__ import annotations

import os
import socket
import time

import pytest

from .conftest import TEST_IMAGE, assert_fails, connect, container, free_port, volume_exists

pytestmark = pytest.mark.integration


def test_up_creates_container_bound_to_loopback_with_logical_wal(pg_project, docker_client):
    port = pg_project.env["DATABASE_PORT"]
    proc = pg_project.inv("infra.up", check=True)
    assert f"Postgres ready at localhost:{port} (container {pg_project.container_name} created" in proc.stdout
    assert "Traceback" not in proc.stderr

    ct = container(docker_client, pg_project.container_name)
    assert ct.status == "running"
    assert ct.attrs["HostConfig"]["PortBindings"] == {"5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": port}]}
    assert ct.attrs["NetworkSettings"]["Ports"]["5432/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": port}]
    assert ct.labels["dev.firezone.inv"] == "postgres"
    assert ct.labels["dev.firezone.inv.volume"] == f"{pg_project.container_name}-data"
    assert ct.attrs["Config"]["Image"] == TEST_IMAGE
    # credentials travel in the environment, not on the command line
    assert "POSTGRES_PASSWORD=postgres" in ct.attrs["Config"]["Env"]
    assert not any("PASSWORD" in a for a in ct.attrs["Args"] + ct.attrs["Config"]["Cmd"])
    vol = docker_client.volumes.get(f"{pg_project.container_name}-data")
    assert vol.attrs["Labels"]["dev.firezone.inv"] == "postgres-data"
    assert any(m["Name"] == vol.name and m["Destination"] == "/var/lib/postgresql/data" for m in ct.attrs["Mounts"])

    with connect(pg_project) as conn:
        assert conn.execute("SHOW wal_level").fetchone()[0] == "logical"
        assert conn.execute("SHOW max_connections").fetchone()[0] == "200"


def test_data_survives_down_and_up_and_a_second_up_reuses(pg_project, docker_client):
    pg_project.inv("infra.up", check=True)
    first_id = container(docker_client, pg_project.container_name).id
    with connect(pg_project) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")

    down = pg_project.inv("infra.down", check=True)
    assert f"stopped container {pg_project.container_name}; data kept" in down.stdout
    assert container(docker_client, pg_project.container_name).status == "exited"

    up = pg_project.inv("infra.up", check=True)
    assert f"container {pg_project.container_name} started" in up.stdout
    with connect(pg_project) as conn:
        assert conn.execute("SELECT v FROM kept").fetchall() == [("still here",)]

    start = time.monotonic()
    again = pg_project.inv("infra.up", check=True)
    elapsed = time.monotonic() - start
    assert f"container {pg_project.container_name} already running" in again.stdout
    assert container(docker_client, pg_project.container_name).id == first_id
    assert (
        len(docker_client.containers.list(all=True, filters={"label": "dev.firezone.inv.volume=" + f"{pg_project.container_name}-data"}))
        == 1
    )
    assert elapsed < 3.0, f"a second infra.up took {elapsed:.2f} s"


def test_status_and_logs(pg_project, docker_client):
    port = pg_project.env["DATABASE_PORT"]
    absent = pg_project.inv("infra.status", check=True)
    assert "does not exist (`inv infra.up` creates it)" in absent.stdout
    assert f"does not answer at localhost:{port}" in absent.stdout

    pg_project.inv("infra.up", check=True)
    proc = pg_project.inv("infra.status", check=True)
    assert f"container  {pg_project.container_name} (ours" in proc.stdout
    assert "state      running" in proc.stdout
    assert f"port       127.0.0.1:{port}" in proc.stdout
    assert f"image      {TEST_IMAGE}" in proc.stdout
    assert "health     " in proc.stdout
    assert f"database   answers at localhost:{port} (firezone_dev as postgres)" in proc.stdout

    logs = pg_project.inv("infra.logs", "--tail", "5", check=True)
    assert "ready to accept connections" in logs.stdout
    assert len(logs.stdout.strip().splitlines()) <= 5
    assert_fails(pg_project.inv("infra.logs", "--tail", "abc"), "--tail 'abc': expected a whole number of lines. Fix: e.g. --tail 50")

    pg_project.inv("infra.down", check=True)
    stopped = pg_project.inv("infra.status", check=True)
    assert "state      exited" in stopped.stdout
    assert "does not answer" in stopped.stdout


def test_destroy_asks_refuses_without_terminal_and_removes_with_yes(pg_project, docker_client):
    name = pg_project.container_name
    pg_project.inv("infra.up", check=True)
    with connect(pg_project) as conn:
        conn.execute("CREATE TABLE precious (v int)")

    refused = pg_project.inv("infra.destroy")  # stdin is /dev/null: no terminal to ask on
    assert_fails(refused, "there is no terminal to ask for confirmation", "inv infra.destroy --yes")
    assert container(docker_client, name).status == "running"
    with connect(pg_project) as conn:
        conn.execute("SELECT * FROM precious")

    done = pg_project.inv("infra.destroy", "--yes", check=True)
    assert f"removed container {name}" in done.stdout and f"removed volume {name}-data" in done.stdout
    assert container(docker_client, name) is None
    assert not volume_exists(docker_client, f"{name}-data")


def test_dry_up_creates_nothing(pg_project, docker_client):
    name = pg_project.container_name
    proc = pg_project.inv("--dry", "infra.up", check=True)
    assert (
        f"[dry] would create container {name} from image {TEST_IMAGE} (postgres.image from INVOKE_POSTGRES_IMAGE),"
        f" volume {name}-data at /var/lib/postgresql/data, 127.0.0.1:"
    ) in proc.stdout
    assert "[dry] would wait up to" in proc.stdout
    assert container(docker_client, name) is None
    assert not volume_exists(docker_client, f"{name}-data")

    pg_project.inv("infra.up", check=True)
    pg_project.inv("infra.down", check=True)
    proc = pg_project.inv("--dry", "infra.up", check=True)
    assert f"[dry] would start stopped container {name}" in proc.stdout
    assert container(docker_client, name).status == "exited"
    assert pg_project.inv("--dry", "infra.destroy", "--yes", check=True).stdout.startswith("[dry] would remove")
    assert container(docker_client, name) is not None


def test_engine_unreachable(project):
    proc = project.inv("infra.up", env={"DOCKER_HOST": "unix:///nonexistent.sock", "INVOKE_POSTGRES_BACKEND": "docker"})
    assert_fails(
        proc,
        "Docker engine not reachable at unix:///nonexistent.sock (DOCKER_HOST from the shell environment)",
        "dockerd",
    )


def test_image_absent_and_pull_failing(pg_project, docker_client):
    proc = pg_project.inv("infra.up", env={"INVOKE_POSTGRES_IMAGE": "fzdev-none:nope"})
    assert_fails(
        proc,
        "image fzdev-none:nope is not present and pulling it failed",
        "docker pull fzdev-none:nope",
        "INVOKE_POSTGRES_IMAGE",
    )
    assert container(docker_client, pg_project.container_name) is None


def test_port_taken_by_a_listening_process(pg_project, docker_client):
    port = int(pg_project.env["DATABASE_PORT"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        proc = pg_project.inv("infra.up")
    assert_fails(proc, f"host port 127.0.0.1:{port}", "already taken by another process", "set DATABASE_PORT")
    assert f"(pid {os.getpid()})" in proc.stderr  # psutil told us who
    assert container(docker_client, pg_project.container_name) is None


def test_port_taken_by_another_container(pg_project, docker_client):
    port = int(pg_project.env["DATABASE_PORT"])
    other = docker_client.containers.run(
        TEST_IMAGE,
        ["sleep", "300"],
        name=f"{pg_project.container_name}-other",
        ports={"5432/tcp": ("127.0.0.1", port)},
        detach=True,
    )
    try:
        proc = pg_project.inv("infra.up")
        assert_fails(proc, f"already taken by container {pg_project.container_name}-other", "set DATABASE_PORT")
        assert container(docker_client, pg_project.container_name) is None
    finally:
        other.remove(force=True)


def test_same_named_container_that_is_not_ours_is_never_touched(pg_project, docker_client):
    name = pg_project.container_name
    foreign = docker_client.containers.create(TEST_IMAGE, ["sleep", "300"], name=name)
    for args in (("infra.up",), ("infra.down",), ("infra.destroy", "--yes"), ("infra.logs",)):
        proc = pg_project.inv(*args)
        assert_fails(proc, f"a container named {name} exists but was not created by inv", "INVOKE_POSTGRES_CONTAINER")
    still = container(docker_client, name)
    assert still.id == foreign.id and still.status == "created" and not still.labels


def test_existing_container_with_other_settings_is_refused(pg_project, docker_client):
    pg_project.inv("infra.up", check=True)
    proc = pg_project.inv("infra.up", env={"DATABASE_USER": "someone"})
    assert_fails(proc, "already exists with another user postgres (configured: someone, DATABASE_USER from", "inv infra.destroy")
    # Another port (a typo, another checkout's .env): the safe fix, the container's own port, comes first.
    port = pg_project.env["DATABASE_PORT"]
    moved = pg_project.inv("infra.up", env={"DATABASE_PORT": str(free_port())})
    assert_fails(moved, f"Fix: set DATABASE_PORT={port} in .env back to the container's value (its data is kept), or `inv infra.destroy`")


def test_password_changed_after_the_volume_was_made(pg_project, docker_client):
    name = pg_project.container_name
    pg_project.inv("infra.up", check=True)
    container(docker_client, name).remove(force=True)  # the volume keeps the old password
    proc = pg_project.inv("infra.up", env={"DATABASE_PASSWORD": "a-new-password-123"})
    assert_fails(proc, "password authentication failed", "DATABASE_PASSWORD", "inv infra.destroy")
    assert "a-new-password-123" not in proc.stdout + proc.stderr


def test_a_container_that_exits_ends_the_wait_with_its_logs(pg_project, docker_client):
    start = time.monotonic()
    proc = pg_project.inv("infra.up", env={"INVOKE_POSTGRES_COMMAND": "postgres -c bogus_setting=1"})
    assert_fails(proc, f"container {pg_project.container_name} stopped (exited, exit code", "Last log lines of the container:")
    assert 'unrecognized configuration parameter "bogus_setting"' in proc.stderr
    assert time.monotonic() - start < 30  # not the 60 s ready_timeout
