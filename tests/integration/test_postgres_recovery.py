"""Recovering Postgres from what users do to it: a dropped database, a first start killed
half-way, a port taken while our container is stopped, a container that will not start.

Real engine, real image (tests/images/postgres, or FZ_TEST_POSTGRES_IMAGE), `inv` as a
process. Timing comes from the image's FZ_TEST_INIT_PAUSE hook, never from sleeps: a
derived image sets it, the test waits for the pause's log line, then `docker kill`s.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
import uuid

import pytest

from .conftest import TEST_IMAGE, accounts, assert_fails, connect, container, volume_exists

pytestmark = pytest.mark.integration

PAUSE_LINE = "fz-test: pausing"


def row(stdout: str, name: str) -> str:
    """The text of the first table row called ``name``."""
    for line in stdout.splitlines():
        if line.split()[:1] == [name]:
            return line
    raise AssertionError(f"no row {name!r} in:\n{stdout}")


@pytest.fixture
def derived_image(docker_client):
    """Build images FROM the test image (offline: the base is local); removed after the test."""
    made: list[str] = []

    def build(*lines: str) -> str:
        tag = f"fzdev-test-derived-{uuid.uuid4().hex[:8]}:local"
        # The label makes the image this test's own: two tests building the same lines would
        # otherwise share one image (the build cache), and one's removal would take the other's.
        dockerfile = "\n".join([f"FROM {TEST_IMAGE}", *lines, f"LABEL dev.firezone.test={tag}"]) + "\n"
        docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, pull=False, rm=True, forcerm=True)
        made.append(tag)
        return tag

    yield build
    for tag in made:
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:  # already gone
            pass


def wait_for_log(docker_client, name: str, text: str, timeout: float = 60) -> None:
    """Poll the container's log until ``text`` shows up (the hook's signal, not a guess at timing)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ct = container(docker_client, name)
        if ct is not None and text in ct.logs().decode(errors="replace"):
            return
        time.sleep(0.05)
    ct = container(docker_client, name)
    logs = ct.logs().decode(errors="replace") if ct else "(no container)"
    raise AssertionError(f"{text!r} never appeared in the log of {name}:\n{logs}")


def start_paused_first_start(pg_project, docker_client, image: str) -> subprocess.Popen:
    """`inv infra.up` on a fresh volume with the pausing image; returns once the entrypoint paused."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "invoke", "infra.up"],
        cwd=pg_project.root,
        env={**pg_project.env, "INVOKE_POSTGRES_IMAGE": image},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_log(docker_client, pg_project.container_name, PAUSE_LINE)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc


def kill_first_start(pg_project, docker_client, proc: subprocess.Popen) -> None:
    """`docker kill` the paused container; the waiting `inv infra.up` notices and exits 1."""
    container(docker_client, pg_project.container_name).kill()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, out + err
    assert "stopped" in err and "Traceback" not in err, err


def half_initialised_hint(pg_project) -> str:
    return (
        f"the data volume {pg_project.container_name}-data was left half-initialised (Postgres was stopped during"
        " its first start; it holds no data of yours): `inv infra.destroy --yes` then `inv infra.up`"
    )


def destroy_and_start_over(pg_project) -> None:
    pg_project.inv("infra.destroy", "--yes", check=True)
    up = pg_project.inv("infra.up", check=True)
    assert "created" in up.stdout
    with connect(pg_project) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("firezone_dev",)


# --------------------------------------------------------------------------- 1: a dropped dev database


def test_a_dropped_dev_database_is_only_not_seeded_and_seed_or_reset_recreate_it(stack_project):
    stack_project.inv("dev.up", "--no-iex", check=True)
    assert len(accounts(stack_project)) == 2
    with connect(stack_project, dbname="postgres") as conn:
        conn.execute("DROP DATABASE firezone_dev WITH (FORCE)")

    up = stack_project.inv("infra.up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "already running" in up.stdout

    infra_status = stack_project.inv("infra.status", check=True)
    database = row(infra_status.stdout, "database")
    assert "the server answers" in database and "database firezone_dev does not exist" in database, database
    assert "`inv dev.up` or `inv db.seed`" in database

    dev_status = stack_project.inv("dev.status", check=True)
    assert "does not exist (the server answers)" in row(dev_status.stdout, "database")
    assert row(dev_status.stdout, "seeded").split(None, 1)[1].startswith("no: the database does not exist")
    assert "not answering" not in dev_status.stdout

    again = stack_project.inv("dev.up", "--no-iex")
    assert again.returncode == 0, again.stdout + again.stderr
    assert [slug for _, slug in accounts(stack_project)] == ["firezone", "not_firezone"]

    # db.seed and db.reset recreate a dropped database too (on the same stack: a cold
    # dev.up is the expensive part).
    for argv in (["db.seed"], ["db.reset", "--yes"]):
        with connect(stack_project, dbname="postgres") as conn:
            conn.execute("DROP DATABASE firezone_dev WITH (FORCE)")
        proc = stack_project.inv(*argv)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert len(accounts(stack_project)) == 2


# --------------------------------------------------------------------------- 6: Postgres killed during its first start


def test_first_start_killed_after_initdb_names_destroy(pg_project, docker_client, derived_image):
    pausing = derived_image("ENV FZ_TEST_INIT_PAUSE=120")
    proc = start_paused_first_start(pg_project, docker_client, pausing)
    kill_first_start(pg_project, docker_client, proc)

    # The same container again: its init is skipped (PG_VERSION exists), the host line never came.
    again = pg_project.inv("infra.up", env={"INVOKE_POSTGRES_IMAGE": pausing})
    assert_fails(again, "no pg_hba.conf entry", half_initialised_hint(pg_project))

    # A new container on the same volume (its logs know nothing of the first start).
    container(docker_client, pg_project.container_name).remove(force=True)
    fresh = pg_project.inv("infra.up")
    assert_fails(fresh, "no pg_hba.conf entry", half_initialised_hint(pg_project))

    destroy_and_start_over(pg_project)


def test_first_start_killed_during_initdb_names_destroy(pg_project, docker_client, derived_image):
    pausing = derived_image("ENV FZ_TEST_INIT_PAUSE=120")
    proc = start_paused_first_start(pg_project, docker_client, pausing)
    # As if initdb itself were cut off: a non-empty data directory without PG_VERSION.
    ct = container(docker_client, pg_project.container_name)
    code, out = ct.exec_run(["sh", "-c", 'rm "$PGDATA/PG_VERSION"'])
    assert code == 0, out
    kill_first_start(pg_project, docker_client, proc)
    ct.remove(force=True)

    again = pg_project.inv("infra.up")
    assert_fails(again, "exists but is not empty", half_initialised_hint(pg_project))

    destroy_and_start_over(pg_project)


# --------------------------------------------------------------------------- 9: doctor and the port


def test_doctor_names_a_container_holding_the_port_of_our_stopped_one(pg_project, docker_client):
    port = pg_project.env["DATABASE_PORT"]
    pg_project.inv("infra.up", check=True)
    pg_project.inv("infra.down", check=True)
    before = pg_project.inv("doctor")
    assert f"127.0.0.1:{port} free for our container {pg_project.container_name} (exited)" in row(before.stdout, "database")

    squatter = f"{pg_project.container_name}-squatter"
    docker_client.containers.run(
        TEST_IMAGE,
        name=squatter,
        detach=True,
        environment={"POSTGRES_PASSWORD": "x"},
        ports={"5432/tcp": ("127.0.0.1", int(port))},
    )
    try:
        doctor = pg_project.inv("doctor")
        assert doctor.returncode == 1, doctor.stdout + doctor.stderr
        line = row(doctor.stdout, "database")
        assert "FAIL" in line, doctor.stdout
        assert f"127.0.0.1:{port} is taken by container {squatter}" in line
        assert f"our container {pg_project.container_name} (exited) cannot start" in line
        assert f"fix: `docker stop {squatter}`, or set DATABASE_PORT" in doctor.stdout
        assert "database port" in doctor.stderr  # named in the verdict

        up = pg_project.inv("infra.up")
        assert_fails(up, f"container {squatter}")  # what doctor predicted
    finally:
        ct = container(docker_client, squatter)
        if ct is not None:
            ct.remove(force=True)


# --------------------------------------------------------------------------- 11: a container that will not start


def test_engine_refusing_to_start_prints_what_it_knows(pg_project, docker_client, derived_image):
    broken = derived_image('ENTRYPOINT ["/nonexistent-entrypoint"]')
    up = pg_project.inv("infra.up", env={"INVOKE_POSTGRES_IMAGE": broken})
    assert_fails(
        up,
        f"could not start container {pg_project.container_name}",
        "/nonexistent-entrypoint",
        f"The new container was removed (volume {pg_project.container_name}-data kept)",
    )
    assert "infra.logs" not in up.stderr  # there is nothing left for it to show
    assert container(docker_client, pg_project.container_name) is None
    assert volume_exists(docker_client, f"{pg_project.container_name}-data")


def test_server_exiting_at_once_shows_its_log_and_keeps_the_container(pg_project, docker_client):
    up = pg_project.inv("infra.up", env={"INVOKE_POSTGRES_COMMAND": "postgres -c nonsense=1"})
    assert_fails(up, 'unrecognized configuration parameter "nonsense"', "Fix: the container stopped")
    ct = container(docker_client, pg_project.container_name)
    assert ct is not None and ct.status == "exited"
    # The message's pointers hold: the container is there for `inv infra.logs`.
    logs = pg_project.inv("infra.logs", env={"INVOKE_POSTGRES_COMMAND": "postgres -c nonsense=1"}, check=True)
    assert 'unrecognized configuration parameter "nonsense"' in logs.stdout
