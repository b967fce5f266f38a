"""The local backend's steps, as infra.* and the stack use them: up, plan, down, destroy, status rows, logs.

The spec comes from the postgres.* settings (bin_dir, local_dir, local_user,
create_user, command, host_ip) and DATABASE_*; the server is made, started and read by
cluster.py, found by binaries.py and run as the account of account.py. Every refusal is
one Exit line: what is wrong, where, the fix.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

from invoke import Exit

from tasks.lib import config, programs
from tasks.lib.console import is_dry
from tasks.lib.database import origin as database_origin
from tasks.lib.database.server import spec_from_config
from tasks.lib.pglocal import account as accounts
from tasks.lib.pglocal import binaries, cluster
from tasks.lib.pglocal.cluster import LocalSpec


def base_dir(c) -> tuple[Path, str]:
    """The folder holding the clusters (one per major), and the setting that moves it."""
    chosen = config.optional(c, "postgres", "local_dir")
    if chosen:
        return config.project_path(chosen), "postgres.local_dir (INVOKE_POSTGRES_LOCAL_DIR)"
    return config.state_dir(c) / "postgres", "postgres.local_dir (INVOKE_POSTGRES_LOCAL_DIR)"


def wanted_major(c) -> int | None:
    """The major version the repository's compose file runs (postgres:18 -> 18), if it says."""
    try:
        image = config.text(c, "postgres", "image")
    except Exit:
        return None
    m = re.search(r":(\d+)", image.rsplit("/", 1)[-1])
    return int(m.group(1)) if m else None


def local_spec(c, find_account: bool = True) -> LocalSpec:
    """The local cluster's spec; ``find_account``: the server's account as starting needs it
    (created when postgres.create_user says so; one line when it cannot be had)."""
    base, base_setting = base_dir(c)
    # The version cache is state: never written under `inv --dry`.
    binaries.use_cache(None if is_dry(c) else config.state_dir(c) / "postgres" / "binaries.json")
    found = binaries.find(config.optional(c, "postgres", "bin_dir"), config.origin(c, "postgres", "bin_dir"), wanted_major(c))
    user = config.text(c, "postgres", "local_user")
    if find_account:
        account = accounts.server_account(user, config.flag(c, "postgres", "create_user"))
    else:  # reading or stopping: never create an account; whoever runs it is fine for that
        try:
            account = accounts.server_account(user, create=False)
        except Exit:
            account = accounts.current()
    # The container's spec: the same address, credentials, command and timing.
    pg = spec_from_config(c)
    return LocalSpec(
        binaries=found,
        account=account,
        base=base,
        base_setting=base_setting,
        host_ip=pg.host_ip,
        port=pg.port,
        user=pg.user,
        password=pg.password,
        name=pg.name,
        settings=cluster.settings_from_command(pg.command),
        ready_timeout=pg.ready_timeout,
        poll_interval=pg.poll_interval,
    )


def made_clusters(c) -> list[Path]:
    """The cluster folders inv made under the clusters' folder, newest major first."""
    return cluster.made_clusters(base_dir(c)[0])


def running_clusters(c) -> list[tuple[Path, cluster.Server]]:
    """The clusters (made by inv) whose server runs, with it; read without finding binaries."""
    found = []
    for home in made_clusters(c):
        now = cluster.server_at(home / "data")
        if now.state == "running":
            found.append((home, now))
    return found


def running_cluster(c) -> Path | None:
    running = running_clusters(c)
    return running[0][0] if running else None


# ---------------------------------------------------------------------------
# checks before starting


def _port_message(spec: LocalSpec, holder: str) -> str:
    return (
        f"port {spec.address} (DATABASE_PORT from {database_origin('DATABASE_PORT')}) is already taken by {holder},"
        f" so the local Postgres server cannot listen there. Fix: stop it, or set DATABASE_PORT to a free port in .env"
    )


def check_port(spec: LocalSpec) -> None:
    from tasks.lib.docker import ports

    if ports.port_is_free(spec.host_ip, spec.port):
        return
    who = ports.port_holder_process(spec.port)
    raise Exit(_port_message(spec, f"another process, {who}" if who else "another process"))


def check_major(spec: LocalSpec) -> None:
    made_by = cluster.data_major(spec)
    if made_by is not None and made_by != str(spec.binaries.major):
        raise Exit(
            f"the local cluster in {programs.display_path(spec.data)} was made by PostgreSQL {made_by}, and the"
            f" binaries found are {spec.binaries.describe()}. Fix: set postgres.bin_dir (INVOKE_POSTGRES_BIN_DIR) to"
            f" PostgreSQL {made_by}'s bin folder, or `inv infra.destroy` to start over (deletes its data)"
        )


def check_socket(spec: LocalSpec) -> None:
    if len(str(spec.socket).encode()) > cluster.SOCKET_PATH_MAX:
        raise Exit(
            f"the local server's socket path {spec.socket} is {len(str(spec.socket).encode())} bytes; Postgres"
            f" allows {cluster.SOCKET_PATH_MAX}. Fix: make /tmp exist (it is used when it does), or set TMPDIR to a short folder"
        )


def check_reachable(spec: LocalSpec) -> None:
    accounts.require_reachable(spec.account, spec.base, "the cluster folder", spec.base_setting)
    accounts.require_reachable(
        spec.account, spec.binaries.bin_dir, "the PostgreSQL programs in", "postgres.bin_dir (INVOKE_POSTGRES_BIN_DIR)"
    )


def stale_message(spec: LocalSpec, now: cluster.Server) -> str:
    pidfile = spec.data / "postmaster.pid"
    return (
        f"{programs.display_path(pidfile)} names pid {now.pid}, which is now another program ({now.other or '?'}),"
        f" not this cluster's server: the file is left from a crash. Fix: rm {pidfile}, then `inv infra.up`"
    )


def check_running_matches(spec: LocalSpec, now: cluster.Server) -> None:
    if now.port is not None and now.port != spec.port:
        raise Exit(
            f"the local cluster's server (pid {now.pid}) listens on port {now.port}, but DATABASE_PORT is {spec.port}"
            f" (from {database_origin('DATABASE_PORT')}). Fix: `inv infra.down` then `inv infra.up` to restart it on {spec.port}"
        )


# ---------------------------------------------------------------------------
# the steps


def ensure_running(spec: LocalSpec) -> tuple[str, int]:
    """Make (once) and start the cluster without waiting; returns (action, log offset of this start).

    action: "created", "started", "recovered" (after a crash) or "reused".
    """
    now = cluster.server(spec)
    if now.state == "running":  # the warm path: no lock, no program run
        check_running_matches(spec, now)
        _warn_conf(spec)
        return "reused", cluster.log_size(spec)
    check_reachable(spec)
    check_socket(spec)
    check_ours(spec)
    with cluster.locked(spec.home, spec.base_setting):
        now = cluster.server(spec)  # another inv may have started it meanwhile
        if now.state == "running":
            check_running_matches(spec, now)
            return "reused", cluster.log_size(spec)
        if now.state == "stale":
            raise Exit(stale_message(spec, now))
        check_other_majors(spec)
        if spec.home.exists():
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
        _await_pidfile(spec, since)  # the next inv (waiting on the lock) then sees it running
        return action, since


def _await_pidfile(spec: LocalSpec, since: int, timeout: float = 10.0) -> None:
    """Until postmaster.pid names the new server, or its log says it stopped, or ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cluster.server(spec).state == "running" or "FATAL" in cluster.log_tail(spec, 50, since):
            return
        time.sleep(0.01)


def check_ours(spec: LocalSpec) -> None:
    if cluster.foreign(spec.home):
        raise Exit(
            f"{spec.home} holds files inv did not make (no {cluster.MARKER}): inv will not use or remove it."
            f" Fix: set {spec.base_setting} to another folder"
        )


def check_other_majors(spec: LocalSpec) -> None:
    """Another major's cluster: running (it holds the port), or the only one there (its data would
    seem lost behind a new empty cluster)."""
    others = [home for home in cluster.made_clusters(spec.base) if home.name != str(spec.binaries.major)]
    for other in others:
        now = cluster.server_at(other / "data")
        if now.state == "running":
            raise Exit(
                f"the local cluster of PostgreSQL {other.name} in {programs.display_path(other)} is running (pid {now.pid}),"
                f" and the programs found now are {spec.binaries.describe()}. Fix: set postgres.bin_dir"
                f" (INVOKE_POSTGRES_BIN_DIR) to PostgreSQL {other.name}'s bin folder to keep using it, or `inv infra.down`"
                f" (its data is kept) and move it aside (mv {other} {other}-old) to start a new PostgreSQL"
                f" {spec.binaries.major} cluster"
            )
    if others and not cluster.initialised(spec):
        other = others[0]
        raise Exit(
            f"the local cluster in {programs.display_path(other)} was made by PostgreSQL {other.name}, and the programs"
            f" found now are {spec.binaries.describe()}. Fix: set postgres.bin_dir (INVOKE_POSTGRES_BIN_DIR) to"
            f" PostgreSQL {other.name}'s bin folder to keep its data, or move it aside (mv {other} {other}-old)"
            f" to start a new PostgreSQL {spec.binaries.major} cluster"
        )


def _clear_crash(spec: LocalSpec, pid: int) -> None:
    """After a crash whose server is a zombie (nobody reaps it, as in a container without an
    init), Postgres would take the dead pid for a running server: the pid file goes, once no
    process of the old server still works in the data folder."""
    from tasks.lib.supervise import proctable

    if not proctable.is_zombie(pid):
        return  # gone: Postgres recovers from the file by itself
    left = proctable.working_in(str(spec.data))
    if left:
        raise Exit(
            f"the local server (pid {pid}) died, but its processes {', '.join(map(str, left))} still run in"
            f" {programs.display_path(spec.data)}. Fix: wait a few seconds for them to exit, or `kill {' '.join(map(str, left))}`,"
            " then `inv infra.up`"
        )
    (spec.data / "postmaster.pid").unlink(missing_ok=True)
    for lock in spec.socket_dir.glob(".s.PGSQL.*.lock"):  # the socket's lock names the dead pid too
        try:
            if lock.read_text().split()[:1] == [str(pid)]:
                lock.unlink(missing_ok=True)
                Path(str(lock)[: -len(".lock")]).unlink(missing_ok=True)
        except OSError:
            pass


def _warn_conf(spec: LocalSpec) -> None:
    if cluster.conf_differs(spec):
        print(
            "warning: the local server runs with other settings than postgres.command/postgres.host_ip now say;"
            " `inv infra.down` then `inv infra.up` applies them",
            flush=True,
        )


def plan(spec: LocalSpec) -> str:
    now = cluster.server(spec)
    if now.state != "running":
        try:
            check_ours(spec)
            check_other_majors(spec)
        except Exit as e:
            return f"would refuse: {e.message}"
    if now.state == "running":
        return f"would reuse the running local cluster in {programs.display_path(spec.data)} (pid {now.pid}, {spec.address})"
    what = f"{spec.address}, settings {', '.join(f'{k}={v}' for k, v in spec.settings) or 'none'}"
    if not cluster.initialised(spec):
        return (
            f"would make a local cluster in {programs.display_path(spec.data)} with initdb ({spec.binaries.describe()},"
            f" run as {spec.account.name}), then start it with pg_ctl on {what}"
        )
    return f"would start the local cluster in {programs.display_path(spec.data)} with pg_ctl ({spec.binaries.describe()}) on {what}"


def diagnosis(spec: LocalSpec, since: int):
    """For wait_ready's ``diagnose``: a port clash or a refusal the server's log names."""

    def diagnose(error: str, log_text: str) -> str | None:
        low = (error or "").lower()
        if "password authentication failed" in low or ("role" in low and "does not exist" in low):
            return (
                f"the local cluster in {programs.display_path(spec.data)} was made with another DATABASE_USER or"
                " DATABASE_PASSWORD: set them back, or `inv infra.destroy` then `inv infra.up` to start over (deletes its data)"
            )
        text = cluster.log_tail(spec, 50, since)
        if cluster.shutdown_request(text):
            return "another command stopped it while this run waited (an `inv infra.down` in another terminal, or pg_ctl stop): run `inv infra.up` again"
        if "Address already in use" in text or "could not bind" in text:
            return _port_message(spec, "another process (the server's log says so)")
        if "could not create lock file" in text or "Permission denied" in text:
            return f"the server cannot write its folders ({spec.data}, {spec.socket_dir}) as {spec.account.name}: see the log lines below"
        return None

    return diagnose


def stop(c) -> list[str]:
    """infra.down: stop every running cluster inv made (whatever major; no binaries needed).
    Each under its lock, including one an `inv infra.up` is still making: that up finishes
    first, then its server is stopped."""
    done = []
    base, setting = base_dir(c)
    for home in cluster.touched_clusters(base):
        with cluster.locked(home, setting):
            now = cluster.server_at(home / "data")
            if now.state != "running" or now.pid is None or not cluster.is_ours(home):
                continue
            if not cluster.stop_server(home / "data", now.pid):
                raise Exit(
                    f"the local Postgres server (pid {now.pid}) did not stop within 60 s (a fast shutdown still writes a checkpoint)."
                    f" Fix: wait and run `inv infra.down` again, or `kill -QUIT {now.pid}` to stop it at once (Postgres then recovers at the next start)"
                )
        done.append(f"stopped the local Postgres server (pid {now.pid}); data kept in {programs.display_path(home / 'data')}")
    if not done:
        made = made_clusters(c)
        where = f"; data kept in {programs.display_path(made[0] / 'data')}" if made else ""
        return [f"the local cluster is not running{where}"]
    return done


def remove(spec: LocalSpec) -> list[str]:
    check_ours(spec)
    done = []
    with cluster.locked(spec.home, spec.base_setting):
        now = cluster.server(spec)
        if now.state == "running" and now.pid is not None:
            if not cluster.stop_server(spec.data, now.pid, signal.SIGQUIT, timeout=30):
                raise Exit(
                    f"the local Postgres server (pid {now.pid}) did not stop within 30 s, so nothing was removed."
                    f" Fix: `kill -KILL {now.pid}`, then `inv infra.destroy` again"
                )
            done.append(f"stopped the local Postgres server (pid {now.pid})")
        if spec.home.exists():
            cluster.remove(spec)
            done.append(f"removed the local cluster {programs.display_path(spec.home)}")
        else:
            done.append(f"the local cluster {programs.display_path(spec.home)} does not exist")
    return done


def status_rows(spec: LocalSpec) -> list[tuple[str, str]]:
    now = cluster.server(spec)
    rows = [("binaries", spec.binaries.describe())]
    where = programs.display_path(spec.data)
    if not cluster.initialised(spec):
        rows.append(("cluster", f"{where}: does not exist (`inv infra.up` makes it)"))
        return rows
    made_by = cluster.data_major(spec)
    rows.append(("cluster", f"{where} (PostgreSQL {made_by}, run as {spec.account.name})"))
    if now.state == "running":
        rows.append(
            (
                "server",
                f"running, pid {now.pid}, listening on {now.listen or spec.host_ip}:{now.port or spec.port}, socket in {spec.socket_dir}",
            )
        )
    elif now.state == "crashed":
        rows.append(("server", f"not running (it crashed: pid {now.pid} is gone; the next start recovers)"))
    elif now.state == "stale":
        rows.append(("server", f"not running: {stale_message(spec, now)}"))
    else:
        rows.append(("server", "stopped (`inv infra.up` starts it)"))
    rows.append(("log", programs.display_path(spec.log)))
    return rows
