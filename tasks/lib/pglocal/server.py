"""The local backend's steps, as infra.* and the stack use them: up, plan, down, destroy, status rows, logs.

The spec comes from the postgres.* settings (bin_dir, local_dir, local_user,
create_user, command, host_ip) and DATABASE_*; the server is made, started and read by
cluster.py, found by binaries.py and run as the account of account.py. Every refusal is
one Exit line: what is wrong, where, the fix.
"""

from __future__ import annotations

import re
from pathlib import Path

from invoke import Exit

from tasks.lib import config, programs
from tasks.lib.console import is_dry
from tasks.lib.database import origin as database_origin
from tasks.lib.pglocal import account as accounts
from tasks.lib.pglocal import binaries, cluster
from tasks.lib.pglocal.cluster import LocalSpec
from tasks.lib.postgres.spec import spec_from_config


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
        binaries=found, account=account, base=base, base_setting=base_setting,
        host_ip=pg.host_ip, port=pg.port, user=pg.user, password=pg.password, name=pg.name,
        settings=cluster.settings_from_command(pg.command),
        ready_timeout=pg.ready_timeout, poll_interval=pg.poll_interval,
    )


def made_clusters(c) -> list[Path]:
    """The cluster folders made under the clusters' folder, newest major first."""
    base, _ = base_dir(c)
    try:
        homes = [p for p in base.iterdir() if p.name.isdigit() and (p / "data" / "PG_VERSION").is_file()]
    except OSError:
        return []
    return sorted(homes, key=lambda p: -int(p.name))


def running_cluster(c) -> Path | None:
    """A local cluster under the clusters' folder whose server runs (read without finding binaries)."""
    base, _ = base_dir(c)
    try:
        homes = sorted(p for p in base.iterdir() if p.is_dir() and p.name.isdigit())
    except OSError:
        return None
    for home in homes:
        found = cluster.read_pidfile(home / "data")
        if found is not None and cluster.alive(found.pid):
            return home
    return None


# ---------------------------------------------------------------------------
# checks before starting


def _port_message(spec: LocalSpec, holder: str) -> str:
    return (
        f"port {spec.address} (DATABASE_PORT from {database_origin('DATABASE_PORT')}) is already taken by {holder},"
        f" so the local Postgres server cannot listen there. Fix: stop it, or set DATABASE_PORT to a free port in .env"
    )


def check_port(spec: LocalSpec) -> None:
    from tasks.lib.postgres import ports

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
            f" allows {cluster.SOCKET_PATH_MAX}. Fix: set TMPDIR to a short folder such as /tmp"
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
    with cluster.locked(spec):
        now = cluster.server(spec)  # another inv may have started it meanwhile
        if now.state == "running":
            check_running_matches(spec, now)
            return "reused", cluster.log_size(spec)
        if now.state == "stale":
            raise Exit(stale_message(spec, now))
        action = "recovered" if now.state == "crashed" else "started"
        if now.state == "crashed" and now.pid is not None:
            _clear_crash(spec, now.pid)
        if not cluster.initialised(spec):
            for other in cluster.other_majors(spec):
                print(
                    f"note: a cluster of PostgreSQL {other} is in {programs.display_path(spec.base / other)} (kept);"
                    f" this one is new for PostgreSQL {spec.binaries.major}", flush=True,
                )
            cluster.initdb(spec)
            action = "created"
        check_major(spec)
        check_port(spec)
        return action, cluster.start(spec)


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
            f"warning: the local server runs with other settings than postgres.command/postgres.host_ip now say;"
            f" `inv infra.down` then `inv infra.up` applies them", flush=True,
        )


def plan(spec: LocalSpec) -> str:
    now = cluster.server(spec)
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
        text = cluster.log_tail(spec, 50, since)
        if "Address already in use" in text or "could not bind" in text:
            return _port_message(spec, "another process (the server's log says so)")
        if "could not create lock file" in text or "Permission denied" in text:
            return f"the server cannot write its folders ({spec.data}, {spec.socket_dir}) as {spec.account.name}: see the log lines below"
        return None

    return diagnose


def stop(spec: LocalSpec) -> str:
    now = cluster.server(spec)
    where = programs.display_path(spec.data)
    if now.state == "stale":
        return f"the local cluster is not running ({stale_message(spec, now)})"
    if now.state != "running":
        return f"the local cluster is not running; data kept in {where}"
    with cluster.locked(spec):
        cluster.stop(spec)
    return f"stopped the local Postgres server (pid {now.pid}); data kept in {where}"


def remove(spec: LocalSpec) -> list[str]:
    done = []
    with cluster.locked(spec):
        now = cluster.server(spec)
        if now.state == "running":
            cluster.stop(spec, mode="immediate", timeout=30)
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
        rows.append(("server", f"running, pid {now.pid}, listening on {now.listen or spec.host_ip}:{now.port or spec.port}, socket in {spec.socket_dir}"))
    elif now.state == "crashed":
        rows.append(("server", f"not running (it crashed: pid {now.pid} is gone; the next start recovers)"))
    elif now.state == "stale":
        rows.append(("server", f"not running: {stale_message(spec, now)}"))
    else:
        rows.append(("server", "stopped (`inv infra.up` starts it)"))
    rows.append(("log", programs.display_path(spec.log)))
    return rows
