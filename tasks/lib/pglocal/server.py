"""The local cluster as the backend uses it: its spec from the settings, up, plan, down, destroy, status rows, doctor's checks."""

from __future__ import annotations

import re
import shutil
import signal
import time
from pathlib import Path

from invoke import Exit

from tasks.lib import config, programs
from tasks.lib.database import database
from tasks.lib.database import origin as database_origin
from tasks.lib.database.server import server_command
from tasks.lib.docker import ports
from tasks.lib.pglocal import account as accounts
from tasks.lib.pglocal import binaries, cluster
from tasks.lib.pglocal.cluster import LOCAL_DIR, LocalSpec, made_clusters, shown, touched_clusters
from tasks.lib.problem import Problem

__all__ = ["made_clusters", "touched_clusters"]
BIN_DIR = binaries.SETTING


def base_dir(s: config.Settings) -> Path:
    """The folder holding the clusters (one per major): postgres.local_dir, else <state>/postgres."""
    chosen = s.optional("postgres", "local_dir")
    return config.project_path(chosen) if chosen else s.state_dir / "postgres"


def local_spec(s: config.Settings, find_account: bool = True) -> LocalSpec:
    """``find_account``: as starting needs it (created when postgres.create_user says so); else whoever runs inv stands in for a missing one."""
    m = re.search(r":(\d+)", s.text("postgres", "image").rsplit("/", 1)[-1])
    wanted = int(m.group(1)) if m else None
    cache = None if s.dry else s.state_dir / "postgres" / "binaries.json"  # state: never written under --dry
    found = binaries.find(s.optional("postgres", "bin_dir"), s.origin("postgres", "bin_dir"), wanted, cache)
    try:
        account = accounts.server_account(s.text("postgres", "local_user"), find_account and s.flag("postgres", "create_user"))
    except Exit:
        if find_account:
            raise
        account = accounts.current()
    settings = cluster.settings_from_command(server_command(s))
    waits = s.positive("postgres", "ready_timeout"), s.positive("postgres", "poll_interval")
    return LocalSpec(found, account, base_dir(s), database(), s.text("postgres", "host_ip"), settings, *waits, wanted_major=wanted)


def running_clusters(base: Path) -> list[tuple[Path, cluster.Server]]:
    """The clusters (made by inv) whose server runs, with it; read without finding binaries."""
    found = [(home, cluster.server_at(home / "data")) for home in made_clusters(base)]
    return [(home, now) for home, now in found if now.state == "running"]


def _port_taken(spec: LocalSpec, holder: str) -> Problem:
    origin = f"DATABASE_PORT from {database_origin('DATABASE_PORT')}"
    return ports.taken(spec.address, origin, holder, "set DATABASE_PORT to a free port in .env", "DATABASE_PORT")


def check_port(spec: LocalSpec) -> None:
    if not ports.port_is_free(spec.host_ip, spec.port):
        who = ports.port_holder_process(spec.port)
        raise _port_taken(spec, f"another process, {who}" if who else "another process")


def _made_by_another(spec: LocalSpec, other: Path, major: str, running: cluster.Server | None = None) -> Problem:
    where, new = programs.display_path(other), spec.binaries.major
    if other == spec.data:  # the cluster of this major's folder: its files say otherwise
        what = f"the local cluster in {where} was made by PostgreSQL {major}, and the programs found now are {spec.binaries.describe()}"
        fix = f"set {shown(BIN_DIR)} to PostgreSQL {major}'s bin folder to keep using it, or `inv infra.destroy` to start over (deletes its data)"
        return Problem(what, fix, BIN_DIR)
    runs = f" (its server runs, pid {running.pid})" if running is not None else ""
    what = f"the local cluster's data in {where} is PostgreSQL {major}{runs}, and this run would use PostgreSQL {new} ({spec.binaries.describe()})"
    keep = f"set {shown(BIN_DIR)} to PostgreSQL {major}'s bin folder to keep it as it is"
    if int(major) > new:  # no upgrade goes down a major
        return Problem(what, f"{keep} (the data is kept)", BIN_DIR)
    fix = f"`inv infra.upgrade` moves the data to PostgreSQL {new} (the {major} cluster is kept), or `inv infra.destroy --yes` starts over"
    return Problem(what, f"{fix} (deletes it); or {keep}", BIN_DIR)


def other_majors(spec: LocalSpec) -> list[Path]:
    return [home for home in made_clusters(spec.base) if home.name != str(spec.binaries.major)]


def check_major(spec: LocalSpec) -> None:
    if (made_by := cluster.data_major(spec)) not in (None, str(spec.binaries.major)):
        raise _made_by_another(spec, spec.data, made_by)


def check_other_majors(spec: LocalSpec) -> None:
    """Another major's cluster: running (it holds the port), or the only one (its data would seem lost behind a new empty one)."""
    others = other_majors(spec)
    for other, now in ((home, cluster.server_at(home / "data")) for home in others):
        if now.state == "running":
            raise _made_by_another(spec, other, other.name, now)
    if others and not cluster.initialised(spec):
        raise _made_by_another(spec, others[0], others[0].name)


def check_reachable(spec: LocalSpec) -> None:
    accounts.require_reachable(spec.account, spec.base, "the cluster folder", LOCAL_DIR)
    accounts.require_reachable(spec.account, spec.binaries.bin_dir, "the PostgreSQL programs in", BIN_DIR)


def stale_problem(spec: LocalSpec, now: cluster.Server) -> Problem:
    pidfile = spec.data / "postmaster.pid"
    what = f"{programs.display_path(pidfile)} names pid {now.pid}, which is now another program ({now.other or '?'}), not this cluster's server"
    return Problem(f"{what}: the file is left from a crash", f"rm {pidfile}, then `inv infra.up`")


def ensure_running(spec: LocalSpec) -> tuple[str, int]:
    """Make (once) and start the cluster without waiting: the action (created, started, recovered, reused) and this start's log offset."""
    now = cluster.server(spec)
    if now.state != "running":  # else the warm path: no lock, no program run
        check_reachable(spec)
        cluster.check_ours(spec.home)
        with cluster.locked(spec.home):
            now = cluster.server(spec)  # another inv may have started it meanwhile
            if now.state != "running":
                return _start(spec, now)
    check_running_port(spec, now)
    if cluster.read(spec.data / cluster.CONF_NAME) != spec.conf().encode():
        warning = "warning: the local server runs with other settings than postgres.command/postgres.host_ip now say;"
        print(f"{warning} `inv infra.down` then `inv infra.up` applies them", flush=True)
    return "reused", cluster.log_size(spec)


def check_running_port(spec: LocalSpec, now: cluster.Server) -> None:
    if now.port is not None and now.port != spec.port:
        what = f"the local cluster's server (pid {now.pid}) listens on port {now.port}, but DATABASE_PORT is {spec.port}"
        fix = f"set DATABASE_PORT={now.port} in .env back to the server's port, or `inv infra.down` then `inv infra.up` to restart it on {spec.port}"
        raise Problem(f"{what} (from {database_origin('DATABASE_PORT')})", fix, "DATABASE_PORT")


def _start(spec: LocalSpec, now: cluster.Server) -> tuple[str, int]:
    """Under the cluster's lock: clear what a crash left, make the cluster when new, start it."""
    if now.state == "stale":
        raise stale_problem(spec, now)
    check_other_majors(spec)
    cluster.clear_leftovers(spec)
    action = "recovered" if now.state == "crashed" else "started"
    if now.state == "crashed" and now.pid is not None:
        _clear_crash(spec, now.pid)
    check_port(spec)
    if not cluster.initialised(spec):
        cluster.initdb(spec)
        action = "created"
    check_major(spec)
    since = cluster.start(spec)
    # Until postmaster.pid names the new server (the next inv, waiting on the lock, then sees it running), or its log says it stopped.
    deadline = time.monotonic() + 10
    while cluster.server(spec).state != "running" and "FATAL" not in cluster.log_tail(spec, 50, since) and time.monotonic() < deadline:
        time.sleep(0.01)
    return action, since


def _clear_crash(spec: LocalSpec, pid: int) -> None:
    """After a crash whose server is a zombie (unreaped, as in a container without an init), Postgres would take the dead pid for
    a running server: the pid file goes, once no old process works in the folder."""
    from tasks.lib.supervise import proctable

    if not proctable.is_zombie(pid):
        return  # gone: Postgres recovers from the file by itself
    left = " ".join(map(str, proctable.working_in(str(spec.data))))
    if left:
        what = f"the local server (pid {pid}) died, but its processes {left.replace(' ', ', ')} still run in {programs.display_path(spec.data)}"
        raise Problem(what, f"wait a few seconds for them to exit, or `kill {left}`, then `inv infra.up`")
    (spec.data / "postmaster.pid").unlink(missing_ok=True)
    for lock in spec.socket_dir.glob(".s.PGSQL.*.lock"):  # the socket's lock names the dead pid too
        if (cluster.read(lock) or b"").split()[:1] == [str(pid).encode()]:
            lock.unlink(missing_ok=True)
            lock.with_suffix("").unlink(missing_ok=True)


def plan(spec: LocalSpec) -> str:
    """What ensure_running would do, after its checks (a Problem when the real run would fail), for `inv --dry`."""
    now = cluster.server(spec)
    where = programs.display_path(spec.data)
    if now.state == "running":
        check_running_port(spec, now)
        return f"would reuse the running local cluster in {where} (pid {now.pid}, {spec.address})"
    if now.state == "stale":
        raise stale_problem(spec, now)
    cluster.check_ours(spec.home)
    check_other_majors(spec)
    check_port(spec)
    what = f"{spec.address}, settings {', '.join(f'{k}={v}' for k, v in spec.settings) or 'none'}"
    if not cluster.initialised(spec):
        made = f"would make a local cluster in {where} with initdb ({spec.binaries.describe()}, run as {spec.account.name})"
        return f"{made}, then start it with pg_ctl on {what}"
    return f"would start the local cluster in {where} with pg_ctl ({spec.binaries.describe()}) on {what}"


def diagnosis(spec: LocalSpec, since: int):
    """For the readiness loop: a port clash or a refusal the server's log names."""

    def diagnose(error: str, log_text: str) -> str | None:
        low = (error or "").lower()
        if "password authentication failed" in low or ("role" in low and "does not exist" in low):
            made = f"the local cluster in {programs.display_path(spec.data)} was made with another DATABASE_USER or DATABASE_PASSWORD"
            return f"{made}: set them back, or `inv infra.destroy` then `inv infra.up` to start over (deletes its data)"
        text = cluster.log_tail(spec, 50, since)
        if cluster.shutdown_request(text):
            return "another command stopped it while this run waited (an `inv infra.down` in another terminal, or pg_ctl stop): run `inv infra.up` again"
        if "Address already in use" in text or "could not bind" in text:
            taken = _port_taken(spec, "another process (the server's log says so)")
            return f"{taken.what}: {taken.fix}"
        if "could not create lock file" in text or "Permission denied" in text:
            return f"the server cannot write its folders ({spec.data}, {spec.socket_dir}) as {spec.account.name}: see the log lines below"
        return None

    return diagnose


def stop(base: Path) -> list[str]:
    """infra.down: stop every running cluster inv made under ``base`` (any major, no binaries needed), each under its lock
    (one an `inv infra.up` is still making stops once that up is done)."""
    done = []
    for home in touched_clusters(base):
        with cluster.locked(home):
            now = cluster.server_at(home / "data")
            if now.state != "running" or now.pid is None or not cluster.is_ours(home):
                continue
            if not cluster.stop_server(now.pid):
                what = f"the local Postgres server (pid {now.pid}) did not stop within 60 s (a fast shutdown still writes a checkpoint)"
                quit = f"`kill -QUIT {now.pid}` to stop it at once (Postgres then recovers at the next start)"
                raise Problem(what, f"wait and run `inv infra.down` again, or {quit}")
        done.append(f"stopped the local Postgres server (pid {now.pid}); data kept in {programs.display_path(home / 'data')}")
    if done:
        return done
    made = made_clusters(base)
    where = f"; data kept in {programs.display_path(made[0] / 'data')}" if made else ""
    return [f"the local cluster is not running{where}"]


def remove(spec: LocalSpec, home: Path) -> list[str]:
    """Remove the cluster in ``home`` (one of ``destroyed``) and its socket folder, its server stopped first."""
    cluster.check_ours(home)
    done = []
    where = programs.display_path(home)
    with cluster.locked(home):
        now = cluster.server_at(home / "data")
        if now.state == "running" and now.pid is not None:
            if not cluster.stop_server(now.pid, signal.SIGQUIT, timeout=30):
                what = f"the local Postgres server (pid {now.pid}) did not stop within 30 s, so nothing was removed"
                raise Problem(what, f"`kill -KILL {now.pid}`, then `inv infra.destroy` again")
            done.append(f"stopped the local Postgres server (pid {now.pid})")
        exists = home.exists()
        if exists:
            shutil.rmtree(home)
            shutil.rmtree(cluster.socket_dir_for(home / "data"), ignore_errors=True)
        done.append(f"removed the local cluster {where}" if exists else f"the local cluster {where} does not exist")
    return done


def destroyed(spec: LocalSpec) -> list[Path]:
    """What infra.destroy removes: this major's cluster, else (a bump not upgraded) the other majors' whose data it is."""
    return [spec.home] if cluster.initialised(spec) else (other_majors(spec) or [spec.home])


def status_rows(spec: LocalSpec) -> list[tuple[str, str]]:
    rows = [("binaries", spec.binaries.describe())]
    where = programs.display_path(spec.data)
    if not cluster.initialised(spec):
        if others := other_majors(spec):
            return [*rows, ("cluster", f"{where}: does not exist; {_made_by_another(spec, others[0], others[0].name)}")]
        return [*rows, ("cluster", f"{where}: does not exist (`inv infra.up` makes it)")]
    rows.append(("cluster", f"{where} (PostgreSQL {cluster.data_major(spec)}, run as {spec.account.name})"))
    now = cluster.server(spec)
    server = {
        "running": f"running, pid {now.pid}, listening on {now.listen or spec.host_ip}:{now.port or spec.port}, socket in {spec.socket_dir}",
        "crashed": f"not running (it crashed: pid {now.pid} is gone; the next start recovers)",
        "stale": f"not running: {stale_problem(spec, now)}",
    }
    return [*rows, ("server", server.get(now.state, "stopped (`inv infra.up` starts it)")), ("log", programs.display_path(spec.log))]
