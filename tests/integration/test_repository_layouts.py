"""The suite on the two Firezones: the contract's umbrella and today's one-app shape.

Each fixture brings its own compose file, mix.exs aliases, config and pins; the suite
reads them (tasks/lib/repo/) and a setting always wins. Real `inv`, real mix, real
Postgres.
"""

from __future__ import annotations

import re

from .conftest import TEST_IMAGE, accounts, container, free_port, make_project

STATIC_MAIN = "c89bcc8c-9392-4dae-a40d-888aef6d28e0"


def _row(text: str, name: str) -> str:
    m = re.search(rf"^{re.escape(name)}\s+(?:ok\s+)?(.*)$", text, re.M)
    assert m, f"no row {name!r} in\n{text}"
    return m.group(1)


def test_oneapp_dry_plan_reads_todays_repository(oneapp_project, require_mix):
    p = oneapp_project
    p.env["DATABASE_PORT"] = str(free_port())  # nothing answers there: the plan assumes unseeded
    proc = p.inv("--dry", "dev.up", "--no-iex", check=True)
    out = proc.stdout
    assert (
        "would create container firezone-dev-postgres-firezone-" in out
        and "from image postgres:18 (postgres.image from scripts/compose/portal.yml), volume firezone-dev-postgres-firezone-" in out
        and "-data at /var/lib/postgresql/18/docker" in out
    ), out
    assert "cert: would run (elixir/priv/cert/selfsigned_key.pem, elixir/priv/cert/selfsigned.pem missing" in out
    assert "mix phx.gen.cert" in out
    assert "setup: needs the database (the setup alias in elixir/mix.exs runs ecto.setup); waiting for Postgres first" in out
    # Steps in the order they need each other; the setup runs in the Elixir root (one app).
    order = [out.index(s) for s in ("mix deps.get", "mix phx.gen.cert", "setup: needs the database", "mix setup", "mix ecto.seed")]
    assert order == sorted(order), out
    assert "$ (elixir) " in out and "(elixir/apps/web)" not in out
    assert "as seeded (static seeds: yes)" in out
    assert not (p.root / "elixir" / "priv" / "cert").exists()
    assert not (p.root / ".inv").exists() or not any((p.root / ".inv").rglob("*.json"))


def test_umbrella_dry_plan_is_the_contracts(project, require_mix):
    project.env["DATABASE_PORT"] = str(free_port())
    out = project.inv("--dry", "dev.up", "--no-iex", check=True).stdout
    assert "from image postgres:17 (postgres.image from scripts/compose/portal.yml), volume firezone-dev-postgres-firezone-" in out
    assert "-data at /var/lib/postgresql/data" in out
    assert "cert:" not in out and "needs the database" not in out
    assert "$ (elixir/apps/web) " in out  # setup in the web app, while Postgres starts
    assert "as seeded (static seeds: no)" in out


def test_oneapp_real_run_then_warm(pg_oneapp_project, docker_client, require_mix):
    p = pg_oneapp_project
    cold = p.inv("dev.up", "--no-iex", timeout=600)
    assert cold.returncode == 0, cold.stdout + cold.stderr
    table = cold.stdout[cold.stdout.rindex("step ") :]
    for step in ("postgres", "deps", "cert", "setup", "seed"):
        assert re.search(rf"^{step}\s+(ran|ready)\b", table, re.M), table
    assert (p.root / "elixir/priv/cert/selfsigned.pem").is_file()
    assert (p.root / "elixir/priv/static/assets/app.js").is_file()
    # Today's seeds always use the static ids.
    assert (STATIC_MAIN, "firezone") in accounts(p)
    # The volume is mounted where the compose file says, and the data lives in it.
    ct = container(docker_client, p.container_name)
    assert [m["Destination"] for m in ct.attrs["Mounts"]] == ["/var/lib/postgresql/18/docker"]
    code, _ = ct.exec_run(["test", "-f", "/var/lib/postgresql/18/docker/PG_VERSION"])
    assert code == 0

    warm = p.inv("dev.up", "--no-iex", timeout=300)
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert "cert: up to date" in warm.stdout and "setup: up to date" in warm.stdout
    assert "already seeded" in warm.stdout
    assert len(accounts(p)) == 2

    reset = p.inv("db.reset", "--static", "--yes", timeout=300)
    assert reset.returncode == 0, reset.stdout + reset.stderr
    assert "--static changes nothing here: elixir/priv/repo/seeds.exs does not read STATIC_SEEDS" in reset.stdout
    assert (STATIC_MAIN, "firezone") in accounts(p)

    status = p.inv("dev.status", check=True).stdout
    assert "seeded" in status and "static seeds: yes" in status
    assert _row(status, "setup alias").endswith("needs the database, so it waits for Postgres")
    assert _row(status, "https cert").startswith("elixir/priv/cert present")


def test_oneapp_setup_alone_starts_postgres_first(pg_oneapp_project, require_mix):
    p = pg_oneapp_project
    proc = p.inv("elixir.setup", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.index("needs the database") < out.index("mix setup")
    assert "Postgres" in out and (p.root / "elixir/priv/cert/selfsigned.pem").is_file()
    again = p.inv("elixir.setup", timeout=300, check=True)
    assert "setup: up to date" in again.stdout


def test_doctor_and_status_show_each_derived_value_and_its_source(oneapp_project):
    p = oneapp_project
    p.env["INVOKE_POSTGRES_IMAGE"] = TEST_IMAGE
    p.env["DATABASE_PORT"] = str(free_port())
    out = p.inv("doctor").stdout
    assert _row(out, "postgres.image") == (
        f"{TEST_IMAGE} (from INVOKE_POSTGRES_IMAGE; the repository says postgres:18 in scripts/compose/portal.yml)"
    )
    assert _row(out, "postgres.data_dir") == "/var/lib/postgresql/18/docker (from scripts/compose/portal.yml)"
    assert _row(out, "elixir.web_app") == ". (from elixir/mix.exs, where the setup alias is)"
    assert _row(out, "DATABASE_PORT").endswith("(from the shell environment)")
    assert _row(out, "DATABASE_USER") == "postgres (from the default in scripts/compose/portal.yml)"
    assert _row(out, "mix project") == "one Mix app (no apps_path) in elixir/mix.exs"
    assert _row(out, "replication") == "follows DATABASE_* (elixir/config/dev.exs)"
    assert _row(out, "STATIC_SEEDS").startswith("not read: the seeds always use the static ids")
    assert _row(out, "WorkOS").startswith("not used")
    assert "elixir/.tool-versions: nodejs 22.20.0, pnpm 10.33.0, elixir 1.20.3-otp-29, erlang 29.0.5" in _row(out, "pins")
    # The Elixir pin comes from elixir/.tool-versions, and the tool rows say so.
    assert re.search(r"^elixir\s+\w+\s+.*elixir/\.tool-versions", out, re.M), out
    workos = p.inv("workos.check", check=True).stdout
    assert "this portal does not use it" in workos


def test_umbrella_doctor_shows_the_contracts_facts(project):
    out = project.inv("doctor").stdout
    assert _row(out, "postgres.image") == "postgres:17 (from scripts/compose/portal.yml)"
    assert _row(out, "elixir.web_app") == "apps/web (from elixir/apps/web/mix.exs, where the setup alias is)"
    assert _row(out, "replication").startswith("hard-wired to localhost:5432")
    assert _row(out, "STATIC_SEEDS").startswith("read")
    assert _row(out, "WorkOS").startswith("used")


def test_replication_warning_only_where_it_is_hard_wired(project, tmp_path):
    (tmp_path / "today").mkdir()
    oneapp_project = make_project(tmp_path / "today", layout="oneapp")
    for p in (project, oneapp_project):
        p.env["DATABASE_PORT"] = str(free_port())
    umbrella = project.inv("--dry", "infra.up")
    today = oneapp_project.inv("--dry", "infra.up")
    assert "replication connections are hard-wired" in umbrella.stderr
    assert "replication" not in today.stderr, today.stderr


def _cert_runs(log) -> list[str]:
    return [ln for ln in (log.read_text().splitlines() if log.exists() else []) if ln.startswith("cert ")]


def test_two_setups_at_once_make_the_cert_once(pg_oneapp_project, tmp_path, require_mix):
    """Phoenix's phx.gen.cert asks before overwriting: the second `inv` waits for the first's
    cert instead of running it again."""
    from .test_interrupts import reaped, started, wait_until

    p = pg_oneapp_project
    log, gate = tmp_path / "fixture.log", tmp_path / "cert.gate"
    env = {"FIXTURE_LOG": str(log), "FIXTURE_CERT_GATE": str(gate)}
    outs = [tmp_path / "a.out", tmp_path / "b.out"]
    with reaped(started(p, "elixir.setup", env=env, out=outs[0])) as procs:
        wait_until(lambda: _cert_runs(log), 240, "the first cert run", outs[0].read_text)
        procs.append(started(p, "elixir.setup", env=env, out=outs[1]))
        wait_until(lambda: "cert: waiting for another inv" in outs[1].read_text(), 120, "the second to wait", outs[1].read_text)
        gate.touch()
        codes = [proc.wait(300) for proc in procs]
    texts = [o.read_text() for o in outs]
    assert codes == [0, 0], "\n=====\n".join(texts)
    assert len(_cert_runs(log)) == 1, log.read_text()
    assert "cert: made meanwhile by another inv (elixir/priv/cert)" in texts[1]


def test_a_cert_run_killed_holding_the_lock_blocks_nobody(pg_oneapp_project, tmp_path, require_mix):
    """kill -9 of the `inv` making the cert: the kernel drops its lock, the next run makes it."""
    import os
    import signal

    from .test_interrupts import reaped, started, wait_until

    p = pg_oneapp_project
    log, gate = tmp_path / "fixture.log", tmp_path / "cert.gate"
    with reaped(started(p, "elixir.setup", env={"FIXTURE_LOG": str(log), "FIXTURE_CERT_GATE": str(gate)}, out=tmp_path / "a.out")) as (
        first,
    ):
        wait_until(lambda: _cert_runs(log), 240, "the first cert run", (tmp_path / "a.out").read_text)
        os.killpg(first.pid, signal.SIGKILL)  # inv and its mix: the whole group, as a closed terminal does
        first.wait(30)
    again = p.inv("elixir.setup", env={"FIXTURE_LOG": str(log)}, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "cert: waiting" not in again.stdout and "cert: running" in again.stdout
    assert len(_cert_runs(log)) == 2
    assert (p.root / "elixir/priv/cert/selfsigned.pem").is_file()


def test_elixir_below_mix_exs_requirement_fails_doctor_and_missing_hex_is_one_line(oneapp_project, require_mix, tmp_path):
    p = oneapp_project
    p.env["DATABASE_PORT"] = str(free_port())
    p.env["MIX_HOME"] = str(tmp_path / "mix-home")  # no Hex there
    mix_exs = p.root / "elixir" / "mix.exs"
    text = mix_exs.read_text()
    mix_exs.write_text(text.replace('version: "0.1.0",', 'version: "0.1.0",\n      elixir: "~> 99.0",'))
    doctor = p.inv("doctor")
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert re.search(r"^elixir requirement\s+FAIL\s+\S+ does not meet elixir/mix.exs's elixir: '~> 99.0'", doctor.stdout, re.M), (
        doctor.stdout
    )
    assert re.search(r"^hex\s+warn\s+not installed", doctor.stdout, re.M)
    assert "elixir requirement" in doctor.stderr
    # A package in mix.lock without Hex: mix's prompt gets no answer (stdin closed) and the failure says why.
    mix_exs.write_text(text.replace("deps: [],", 'deps: [{:jason, "~> 1.4"}],'))
    (p.root / "elixir" / "mix.lock").write_text('%{\n  "jason": {:hex, :jason, "1.4.4", "", [:mix], [], "hexpm", ""},\n}\n')
    deps = p.inv("elixir.deps")
    assert deps.returncode != 0
    assert (
        "mix deps.get failed: Hex is not installed, and mix needs it for the packages in mix.lock. Fix: mix local.hex --force"
        in deps.stderr
    )
    assert re.search(r"^hex\s+FAIL\s+not installed", p.inv("doctor").stdout, re.M)
    # Hex there but its registry out of reach (no network here; a mirror nobody serves): that is the line.
    (tmp_path / "mix-home" / "archives" / "hex-2.1.1").mkdir(parents=True)
    offline = p.inv("elixir.deps", env={"HEX_MIRROR": f"http://127.0.0.1:{free_port()}"})
    assert offline.returncode != 0
    assert "mix deps.get failed: the Hex registry http://127.0.0.1:" in offline.stderr and "cannot be reached from here" in offline.stderr
