"""infra.upgrade: the dev data of one PostgreSQL major moved to the major the repository now runs, by dump and restore
(pg_dumpall: roles, every database with its comment, so the seed marker; the templates, which refuse connections and so
are not dumped as they are, are opened for the dump and made templates again, their key's major updated). The databases
restored are compared with those dumped. The old data is kept, named by its major; a cut-off run leaves it untouched and
the next run starts again."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import replace

from tasks.lib import config, console, programs, readiness, state
from tasks.lib.database import handshake
from tasks.lib.docker import engine, service
from tasks.lib.pglocal import binaries, cluster
from tasks.lib.pglocal import server as local
from tasks.lib.problem import Problem
from tasks.lib.stack import bump
from tasks.lib.stack.backend import Backend, ContainerBackend, LocalBackend

DUMP = "fz-upgrade.sql"
AGAIN = "fix the cause, then `inv infra.upgrade` again"
# Before the dump: what there is (templates marked), then every database opened (pg_dumpall skips those refusing connections).
LIST = (
    "SELECT coalesce(string_agg(datname || CASE WHEN datistemplate THEN ' (template)' ELSE '' END, ', ' ORDER BY datname), '')"
    " FROM pg_database WHERE datname NOT IN ('template0', 'template1', 'postgres')"
)
OPEN = (
    "DO $$DECLARE d text; BEGIN FOR d IN SELECT datname FROM pg_database WHERE NOT datallowconn AND datname <> 'template0'"
    " LOOP EXECUTE format('ALTER DATABASE %I ALLOW_CONNECTIONS true', d); END LOOP; END$$"
)
# After the restore: the templates made templates again, refusing connections, the key's major the new one.
RETEMPLATE = (
    "DO $$DECLARE d record; BEGIN FOR d IN SELECT datname, shobj_description(oid, 'pg_database') AS c FROM pg_database"
    " WHERE datname = ANY(string_to_array($n${names}$n$, ', ')) LOOP BEGIN"
    " EXECUTE format('COMMENT ON DATABASE %I IS %L', d.datname, jsonb_set(d.c::jsonb, '{{key,postgres major}}', to_jsonb('{major}'::text)));"
    " EXCEPTION WHEN others THEN NULL; END;"
    " EXECUTE format('ALTER DATABASE %I WITH IS_TEMPLATE true ALLOW_CONNECTIONS false', d.datname); END LOOP; END$$"
)


def carried(before: str, after: str, major: int) -> str:
    """The SQL that makes the templates of ``before`` (LIST's answer) templates again; a Problem when ``after`` lacks a database."""
    names = [item.removesuffix(" (template)") for item in before.split(", ") if item]
    if lost := sorted(set(names) - {item.removesuffix(" (template)") for item in after.split(", ") if item}):
        raise Problem(f"the restore lacks database(s) {', '.join(lost)}", f"the old data is kept; {AGAIN}")
    templates = ", ".join(item.removesuffix(" (template)") for item in before.split(", ") if item.endswith(" (template)"))
    return RETEMPLATE.format(names=templates, major=major)


def _wait(started: handshake.Server, spec) -> None:
    readiness.wait(handshake.target(spec.db, started), spec.ready_timeout, spec.poll_interval)


def unexpected_errors(stderr: str, user: str) -> list[str]:
    """psql's ERROR lines of a restore, but for what a fresh server made already (the user's role, the dev database)."""
    made = re.compile(rf'ERROR:\s+(role "{re.escape(user)}"|database "[^"]*") already exists$')
    return [ln for ln in stderr.splitlines() if "ERROR:" in ln and not made.search(ln)]


def _ask(s: config.Settings, plan: list[str], question: str, yes: bool) -> bool:
    """Print the plan; under --dry that is all (False); else ask (or --yes)."""
    for line in plan:
        (console.dry if s.dry else print)(f"would {line}" if s.dry else f"infra.upgrade will {line}")
    if s.dry:
        return False
    console.confirm(question, yes=yes, rerun="inv infra.upgrade --yes", declined="not upgraded (answer was not yes); nothing changed")
    return True


def run(s: config.Settings, be: Backend, yes: bool) -> bool:
    """Upgrade on ``be``; False when there is nothing to upgrade (said why)."""
    return _local(s, be, yes) if isinstance(be, LocalBackend) else _container(s, be, yes)


def _container(s: config.Settings, be: ContainerBackend, yes: bool) -> bool:
    spec, record = be.spec, bump.record_path(s.state_dir)
    left = bump.under_way(s.state_dir)
    found = (
        bump.container_bump(spec)
        if left is None
        else bump.Bump(left["old"], left["new"], left["image"], left["data_dir"], tuple(left.get("command") or ()))
    )
    if found is None:
        print(f"nothing to upgrade: volume {spec.volume} holds no data of another PostgreSQL major than {spec.image}")
        return False
    if not found.image or found.old > found.new:  # no container says which image made the data; or a downgrade
        bump.refuse(spec)
    cl = engine.client()
    kept = left["kept"] if left else _free_name(cl, f"{spec.volume}-pg{found.old}")
    kept_in = f"the PostgreSQL {found.old} data is kept in volume {kept}"
    plan = [
        f"copy volume {spec.volume} (PostgreSQL {found.old}) to volume {kept}, kept" if left is None else f"resume from volume {kept}",
        f"dump it with {found.image} (pg_dumpall, roles included) and make volume {spec.volume} anew with {spec.image} at {spec.data_dir}",
        "restore the dump there (rows, roles, seed marker)",
    ]
    if not _ask(s, plan, f"Upgrade the data in volume {spec.volume} from PostgreSQL {found.old} to {found.new}?", yes):
        return False
    client, pw = ["-h", "127.0.0.1", "-U", spec.db.user], {"PGPASSWORD": spec.db.password}

    def psql(ct, *args: str) -> str:
        code, out, err = engine.exec_run(ct, ["psql", "-X", "-q", "-At", *client, "-d", "postgres", *args], pw)
        if code != 0:
            raise Problem(f"psql in {ct.name} failed (exit {code}): {err.strip()[-300:]}", f"{kept_in}; {AGAIN}")
        return out.strip()

    with engine.docker_errors(f"upgrading volume {spec.volume}"):
        if (vol := engine.lookup(cl.volumes, spec.volume)) and (vol.attrs.get("Labels") or {}).get(service.LABEL) != "postgres-data":
            raise Problem(f"volume {spec.volume} was not made by inv (no label {service.LABEL}): inv will not replace it")
        if left is None or not left.get("copied", True):  # a copy cut off is made again: `kept` is then this upgrade's own
            facts = {"old": found.old, "new": found.new, "image": found.image, "data_dir": found.data_dir, "command": list(found.command)}
            state.write_json(record, {**facts, "kept": kept, "copied": False})
            _copy_volume(cl, spec, found, kept)
            state.write_json(record, {**facts, "kept": kept, "copied": True})
        service.remove(spec.service)  # the old container and the configured volume: their data is safe in `kept`
        old = replace(spec, container=f"{spec.container}-pg{found.old}", image=found.image, volume=kept, data_dir=found.data_dir)
        old = replace(old, command=found.command or spec.command)  # the old server's own settings
        _wait(ContainerBackend(old, "infra.upgrade").start(), spec)
        try:
            ct = engine.get_container(cl, old.container)
            before = psql(ct, "-c", LIST)
            psql(ct, "-c", OPEN)
            code, dump, err = engine.exec_run(ct, ["pg_dumpall", *client], pw)
        finally:
            service.remove(replace(old.service, volume=""))  # the container only: `kept` stays
        if code != 0:
            raise Problem(f"pg_dumpall in {old.container} failed (exit {code}): {err.strip()[-300:]}", f"{kept_in}; {AGAIN}")
        _wait(be.start(), spec)
        ct = engine.get_container(cl, spec.container)
        engine.put_file(ct, "/tmp", DUMP, dump.encode())
        code, _, err = engine.exec_run(ct, ["psql", "-X", "-q", *client, "-d", "postgres", "-f", f"/tmp/{DUMP}"], pw)
        engine.exec_run(ct, ["rm", "-f", f"/tmp/{DUMP}"])
        if errors := unexpected_errors(err, spec.db.user) or ([f"psql exited {code}"] if code else []):
            raise Problem(f"restoring into PostgreSQL {found.new} failed: {errors[0]}", f"{kept_in}; {AGAIN}")
        psql(ct, "-c", carried(before, psql(ct, "-c", LIST), found.new))
    state.remove(record)
    rm = f"`docker volume rm {kept}` removes it once sure"
    print(f"upgraded volume {spec.volume} from PostgreSQL {found.old} to {found.new}; {kept_in} ({rm})")
    return True


def _copy_volume(cl, spec, found: bump.Bump, kept: str) -> None:
    """The old data copied, as it is, into a volume named after its major (the configured name goes to the new data)."""
    ct = engine.get_container(cl, spec.container)
    if ct is not None and ct.status in ("running", "paused", "restarting"):
        ct.stop(timeout=20)
    if (vol := engine.lookup(cl.volumes, kept)) is not None:
        vol.remove(force=True)  # a copy this upgrade's record says was cut off (others are never reused: _free_name)
    cl.volumes.create(
        name=kept, labels={service.LABEL: "postgres-data-kept", f"{service.LABEL}.major": str(found.old), **spec.service.checkout_label}
    )
    volumes = {spec.volume: {"bind": "/from", "mode": "ro"}, kept: {"bind": "/to", "mode": "rw"}}
    copy = {"image": found.image, "entrypoint": ["cp", "-a", "/from/.", "/to/"], "user": "root", "volumes": volumes}
    code, log = engine.run_once(cl, {**copy, "labels": {service.LABEL: "postgres-upgrade"}})
    if code != 0:
        engine.lookup(cl.volumes, kept).remove(force=True)
        what = f"copying volume {spec.volume} to {kept} failed (exit {code}): {log.strip()[-300:]}"
        raise Problem(what, f"the data is untouched; {AGAIN}")


def _free_name(cl, name: str) -> str:
    """``name``, or ``name-2``, ``name-3``...: the first no volume has (the data an earlier upgrade kept is never replaced)."""
    taken = {v.name for v in cl.volumes.list(filters={"name": name})}
    return next(n for n in (name, *(f"{name}-{i}" for i in range(2, 1000))) if n not in taken)


def _local(s: config.Settings, be: LocalBackend, yes: bool) -> bool:
    spec = local.local_spec(s)
    others = [home for home in local.other_majors(spec) if int(home.name) < spec.binaries.major]
    if cluster.initialised(spec) or not others:
        print(f"nothing to upgrade: no local cluster of a PostgreSQL major older than {spec.binaries.major} and none of it")
        return False
    old_home, old_major = others[0], int(others[0].name)
    where = programs.display_path(old_home)
    old_bins = binaries.find("", wanted_major=old_major, cache=None if s.dry else s.state_dir / "postgres" / "binaries.json")
    if old_bins.major != old_major:
        what = f"no PostgreSQL {old_major} programs found to read {where} (found {old_bins.describe()})"
        raise Problem(what, f"install PostgreSQL {old_major}'s server (postgresql-{old_major}, postgresql@{old_major}); {AGAIN}")
    stage = replace(spec, base=spec.base / ".upgrade")
    plan = [
        f"dump {where} (PostgreSQL {old_major}, {old_bins.bin_dir}) with pg_dumpall, roles included",
        f"restore it into a new cluster {programs.display_path(spec.home)} ({spec.binaries.describe()}); {where} is kept",
    ]
    if not _ask(s, plan, f"Upgrade the local cluster from PostgreSQL {old_major} to {spec.binaries.major}?", yes):
        return False
    _clear_stage(stage)
    cluster.private_folder(stage, stage.base, "the upgrade folder")
    old, dump = replace(spec, binaries=old_bins), stage.base / DUMP
    pg = ["-h", str(old.socket_dir), "-p", str(spec.port), "-U", spec.db.user]
    psql = [spec.binaries.program("psql"), "-X", "-q", "-At", "-d", "postgres"]
    try:  # a failure or Ctrl-C at any step stops what this run started and removes the staged cluster and the dump
        _wait(be.start(old), spec)
        before = cluster.run(spec, [*psql, *pg, "-c", LIST], "psql", password=True).stdout.strip()
        cluster.run(spec, [*psql, *pg, "-c", OPEN], "psql", password=True)
        cluster.run(spec, [spec.binaries.program("pg_dumpall"), *pg, "-f", str(dump)], "pg_dumpall", password=True)
        _stop(old)
        _wait(be.start(stage), spec)
        pg[1] = str(stage.socket_dir)
        done = cluster.run(spec, [*psql, *pg, "-f", str(dump)], "psql", password=True)
        if errors := unexpected_errors(done.stderr, spec.db.user):
            raise Problem(f"restoring into PostgreSQL {spec.binaries.major} failed: {errors[0]}", f"{where} is untouched; {AGAIN}")
        after = cluster.run(spec, [*psql, *pg, "-c", LIST], "psql", password=True).stdout.strip()
        cluster.run(spec, [*psql, *pg, "-c", carried(before, after, spec.binaries.major)], "psql", password=True)
    except BaseException:
        _stop(old)
        _clear_stage(stage)
        raise
    _stop(stage)
    if spec.home.is_dir() and not any(spec.home.iterdir()):
        spec.home.rmdir()
    os.rename(stage.home, spec.home)
    shutil.rmtree(stage.base, ignore_errors=True)
    new = f"{spec.binaries.major} ({programs.display_path(spec.home)}); {where} is kept"
    print(f"upgraded the local cluster from PostgreSQL {old_major} ({where}) to {new} (`rm -rf {where}` removes it once sure)")
    return True


def _stop(spec: cluster.LocalSpec) -> None:
    now = cluster.server(spec)
    if now.state == "running" and now.pid is not None:
        cluster.stop_server(now.pid)
    shutil.rmtree(spec.socket_dir, ignore_errors=True)


def _clear_stage(stage: cluster.LocalSpec) -> None:
    """What a cut-off run left of the new cluster: its server stopped, its folders removed (the old cluster is untouched)."""
    _stop(stage)
    shutil.rmtree(stage.base, ignore_errors=True)
