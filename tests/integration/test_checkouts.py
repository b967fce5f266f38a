"""One checkout, one database: two copies of the repository on one engine, the container every checkout used before
names per checkout, and --dry making the real run's checks (issue 20)."""

from __future__ import annotations

import socket

import pytest

from tests.integration.conftest import TEST_IMAGE, assert_fails, connect, container, free_port, make_project, missing, volume_exists

pytestmark = pytest.mark.integration

LABEL = "dev.firezone.inv.checkout"


@pytest.fixture
def checkouts(tmp_path, docker_client):
    """Two checkouts of the fixture repository with the default (per-checkout) names and ports of their own."""
    made = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        project = make_project(tmp_path / name)
        project.env.update({"INVOKE_POSTGRES_IMAGE": TEST_IMAGE, "INVOKE_POSTGRES_BACKEND": "docker", "DATABASE_PORT": str(free_port())})
        made.append(project)
    yield made
    for project in made:
        for c in docker_client.containers.list(all=True, filters={"label": f"{LABEL}={project.root}"}):
            c.remove(force=True)
        for v in docker_client.volumes.list(filters={"label": f"{LABEL}={project.root}"}):
            v.remove(force=True)


def own_container(docker_client, project):
    found = docker_client.containers.list(all=True, filters={"label": f"{LABEL}={project.root}"})
    assert len(found) == 1, found
    return found[0]


def test_two_checkouts_get_a_database_each_and_never_remove_the_others(checkouts, docker_client):
    a, b = checkouts
    a.inv("infra.up", check=True)
    ca = own_container(docker_client, a)
    # The same port in both .env files: b's own container cannot publish it, and the holder is named.
    same = b.inv("infra.up", env={"DATABASE_PORT": a.env["DATABASE_PORT"]})
    assert_fails(same, f"already taken by container {ca.name} (the checkout at {a.root})")
    b.inv("infra.up", check=True)
    cb = own_container(docker_client, b)
    assert ca.name != cb.name and ca.name.startswith("firezone-dev-postgres-firezone-")
    with connect(a) as conn:
        conn.execute("CREATE TABLE precious (x int)")

    # b pointed at a's container by setting its names (sharing on purpose), with its own port: the safe fix only.
    shared = {"INVOKE_POSTGRES_CONTAINER": ca.name, "INVOKE_POSTGRES_VOLUME": f"{ca.name}-data"}
    proc = b.inv("infra.up", env=shared)
    assert_fails(proc, f"container {ca.name} (made by the checkout at {a.root})", f"set DATABASE_PORT={a.env['DATABASE_PORT']} in .env")
    assert "infra.destroy" not in proc.stderr
    doctor = b.inv("doctor", env=shared)
    assert doctor.returncode == 1 and "postgres container" in doctor.stdout and f"made by the checkout at {a.root}" in doctor.stdout
    assert_fails(b.inv("--dry", "infra.up", env=shared), f"made by the checkout at {a.root}")
    destroy = b.inv("infra.destroy", "--yes", env={**shared, "DATABASE_PORT": a.env["DATABASE_PORT"]})
    assert_fails(destroy, f"hold the database of the checkout at {a.root}", f"`inv infra.destroy` in {a.root}")
    status = b.inv("infra.status", env={**shared, "DATABASE_PORT": a.env["DATABASE_PORT"]}, check=True)
    assert f"the checkout at {a.root} made it" in status.stdout
    assert f"made by the checkout at {a.root}" in b.inv("dev.status", env=shared).stdout

    # Each checkout's own destroy removes its own only.
    b.inv("infra.destroy", "--yes", check=True)
    assert container(docker_client, cb.name) is None and not volume_exists(docker_client, f"{cb.name}-data")
    assert container(docker_client, ca.name).status == "running"
    with connect(a) as conn:
        conn.execute("SELECT * FROM precious")


def test_the_container_from_before_names_per_checkout_is_taken_over_once(checkouts, docker_client):
    a, b = checkouts
    legacy = "firezone-dev-postgres"
    if container(docker_client, legacy) is not None or volume_exists(docker_client, f"{legacy}-data"):
        missing(f"no container or volume named {legacy} on this engine (the test makes them; yours are never touched)")
    old = {"INVOKE_POSTGRES_CONTAINER": legacy, "INVOKE_POSTGRES_VOLUME": f"{legacy}-data"}
    try:
        # What the suite made before: the legacy names, our label, no checkout label (made here by hand).
        a.inv("infra.up", env=old, check=True)
        with connect(a) as conn:
            conn.execute("CREATE TABLE precious (x int)")
        before = container(docker_client, legacy)
        before.remove(force=True)
        docker_client.containers.create(
            TEST_IMAGE,
            before.attrs["Config"]["Cmd"],
            name=legacy,
            environment=before.attrs["Config"]["Env"],
            labels={"dev.firezone.inv": "postgres", "dev.firezone.inv.volume": f"{legacy}-data"},
            ports={"5432/tcp": ("127.0.0.1", int(a.env["DATABASE_PORT"]))},
            volumes={f"{legacy}-data": {"bind": "/var/lib/postgresql/data", "mode": "rw"}},
        ).start()

        dry = a.inv("--dry", "infra.up", check=True)
        assert f"would take over container {legacy}" in dry.stdout
        up = a.inv("infra.up", check=True)
        assert f"takes over container {legacy} and volume {legacy}-data" in up.stdout
        assert container(docker_client, legacy).labels[LABEL] == str(a.root)
        with connect(a) as conn:
            conn.execute("SELECT * FROM precious")  # the same data
        again = a.inv("infra.up", check=True)
        assert "takes over" not in again.stdout and f"container {legacy} already running" in again.stdout

        # b does not take it: it is a's now; b gets its own.
        b.inv("infra.up", check=True)
        assert own_container(docker_client, b).name != legacy
        a.inv("infra.destroy", "--yes", check=True)
        assert container(docker_client, legacy) is None and not (a.root / ".inv" / "postgres-container.json").exists()

        # The volume alone (its container pruned): the next checkout without a container of its own takes it over.
        docker_client.volumes.create(f"{legacy}-data", labels={"dev.firezone.inv": "postgres-data"})
        b.inv("infra.destroy", "--yes", check=True)
        taken = b.inv("infra.up", check=True)
        assert f"takes over volume {legacy}-data" in taken.stdout and container(docker_client, legacy).labels[LABEL] == str(b.root)
        b.inv("infra.destroy", "--yes", check=True)
    finally:
        for c in docker_client.containers.list(all=True, filters={"name": f"^/{legacy}$"}):
            c.remove(force=True)
        for v in docker_client.volumes.list(filters={"name": f"{legacy}-data"}):
            if v.name == f"{legacy}-data":
                v.remove(force=True)


def test_dry_makes_the_checks_of_the_real_run_and_fails_when_it_would(pg_project, docker_client):
    name, port = pg_project.container_name, int(pg_project.env["DATABASE_PORT"])
    with socket.socket() as s:  # the port taken by another process
        s.bind(("127.0.0.1", port))
        s.listen()
        assert_fails(pg_project.inv("--dry", "infra.up"), f"host port 127.0.0.1:{port}", "already taken by another process")
        assert_fails(pg_project.inv("--dry", "dev.up", "--no-iex"), "already taken by another process")
    pg_project.inv("infra.up", check=True)
    # A typo that moved the port (DATABSE_PORT in .env): the mismatch, and the safe fix first.
    moved = pg_project.inv("--dry", "infra.up", env={"DATABASE_PORT": str(free_port())})
    assert_fails(moved, f"container {name} already exists with another host port {port}", f"set DATABASE_PORT={port} in .env")
    pg_project.inv("infra.destroy", "--yes", check=True)
    docker_client.containers.create(TEST_IMAGE, ["sleep", "300"], name=name)  # someone else's, same name
    assert_fails(pg_project.inv("--dry", "infra.up"), f"a container named {name} exists but was not created by inv")
    assert_fails(pg_project.inv("--dry", "infra.down"), f"a container named {name} exists but was not created by inv")


def test_a_typo_in_env_fails_doctor_and_dry_with_the_safe_fix(pg_project):
    """`DATABSE_PORT=...` used to pass doctor and --dry; the real run then offered to destroy the container."""
    p = pg_project
    port = p.env.pop("DATABASE_PORT")
    p.write_env(f"DATABASE_PORT={port}\n")
    p.inv("infra.up", check=True)
    p.write_env(f"DATABSE_PORT={port}\n")  # the typo: DATABASE_PORT falls back to 5432
    dry = p.inv("--dry", "dev.up", "--no-iex")
    assert_fails(
        dry, f"already exists with another host port {port}", f"set DATABASE_PORT={port} in .env back", "rename it to DATABASE_PORT"
    )
    doctor = p.inv("doctor", timeout=120)
    assert doctor.returncode == 1, doctor.stdout
    row = next(ln for ln in doctor.stdout.splitlines() if ln.startswith("postgres container"))
    assert "FAIL" in row and f"host port {port}" in row, doctor.stdout


def test_a_moved_checkout_is_told_where_its_data_is_and_may_take_it(checkouts, docker_client):
    a = checkouts[0]
    a.inv("infra.up", check=True)
    old = own_container(docker_client, a)
    moved = a.root.parent / "moved"
    a.root.rename(moved)
    a.root, old_root = moved, a.root
    try:
        up = a.inv("--dry", "infra.up")  # its own port is still published by the old container: a fail, with the note
        assert_fails(up, f"already taken by container {old.name}")
        assert f"note: container {old.name} holds the database of a checkout that is gone ({old_root})" in up.stdout
        assert f"set postgres.container={old.name} and postgres.volume={old.name}-data" in up.stdout
        # Following the note: the same data, and from here it may be removed (its checkout is gone).
        named = {"INVOKE_POSTGRES_CONTAINER": old.name, "INVOKE_POSTGRES_VOLUME": f"{old.name}-data"}
        assert "already running" in a.inv("infra.up", env=named, check=True).stdout
        a.inv("infra.destroy", "--yes", env=named, check=True)
        assert container(docker_client, old.name) is None
    finally:  # the fixture cleans up by the moved path; what the old path made goes here
        for c in docker_client.containers.list(all=True, filters={"label": f"{LABEL}={old_root}"}):
            c.remove(force=True)
        for v in docker_client.volumes.list(filters={"label": f"{LABEL}={old_root}"}):
            v.remove(force=True)
