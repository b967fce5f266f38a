"""Which Postgres the stack runs, chosen once per run (postgres.backend): a Docker container or a local cluster
(pglocal), behind one interface: start, plan, stop, destroy, status, logs, doctor rows."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timezone

from invoke import Exit

from tasks.lib import config, console, envfile, programs, state
from tasks.lib.database import handshake, server
from tasks.lib.database.server import PostgresSpec
from tasks.lib.docker import engine, ports, service
from tasks.lib.pglocal import account, cluster
from tasks.lib.pglocal import server as local
from tasks.lib.problem import Problem, what_and_fix
from tasks.lib.stack import bump

Row = tuple[str, str, str, str]  # doctor's check, status (ok, warn, FAIL), detail, fix


def failed_row(check: str, e: Exit, status: str = "FAIL") -> Row:
    what, fix = what_and_fix(e)
    return (check, status, what, fix)


class ContainerBackend:
    name, local = "docker", False
    removing = "remove"  # what destroy does, for its --dry line

    decided = ""  # auto's fresh decision, remembered once Postgres started (settle)

    def __init__(self, spec: PostgresSpec, why: str, auto: bool = False):
        self.spec, self.why, self.auto, self.svc = spec, why, auto, spec.service

    def take_over(self, dry: bool = False) -> None:
        """Before containers were named per checkout, every checkout used LEGACY_NAMES: the first checkout to come up
        after that change (its own container not made yet) takes them over, saying so, and records it. Its container, or
        its volume alone (a pruned container), unless the container was made for another port or user."""
        spec, (container, volume) = self.spec, server.LEGACY_NAMES
        if spec.names_record is None or spec.container == container or engine.container_attrs(spec.container) is not None:
            return
        for line in service.orphans(self.svc):  # a moved checkout: its data is not lost, and not used without a word
            print(f"postgres: note: {line}", flush=True)
        taken = replace(spec, container=container, volume=volume)
        attrs = engine.container_attrs(container)
        if attrs is None:  # no container: its volume alone, ours and nobody's yet
            with engine.docker_errors(f"looking for volume {volume}"):
                vol = engine.lookup(engine.client().volumes, volume)
            if vol is None or (vol.attrs.get("Labels") or {}).get(service.LABEL) != "postgres-data" or service.owner(vol.attrs):
                return
        elif not service.is_ours(self.svc, attrs) or service.owner(attrs) not in ("", spec.checkout):
            return
        # Another port or user: another checkout's. Another image or data folder: a major bump, which infra.up then names.
        changed = (
            [d for d in service.differences(taken.service, attrs) if d.startswith(("host ", "another ", "user ", "database "))]
            if attrs
            else []
        )
        if changed:
            return print(
                f"postgres: not taking over container {container} from before names per checkout: {'; '.join(changed)}", flush=True
            )
        self.spec, self.svc = taken, taken.service
        took = f"container {container} and volume {volume}" if attrs else f"volume {volume}"
        took += ", made before inv named them per checkout (the data there is kept)"
        if dry:
            return console.dry(f"would take over {took}")
        state.write_json(spec.names_record, {"container": container, "volume": volume})
        print(f"postgres: this checkout ({spec.checkout}) takes over {took}; recorded in {spec.names_record}", flush=True)
        if attrs and not service.owner(attrs) and not service.differences(taken.service, attrs):  # made again with our label
            with engine.docker_errors(f"relabelling container {container}"):
                ct = engine.client().containers.get(attrs["Id"])
                ct.stop(timeout=20)  # a clean shutdown, never a kill
                ct.remove(v=True)

    def plan(self) -> str:
        self.take_over(dry=True)
        plan = service.plan(self.svc)
        bump.refuse(self.spec, probe=False)  # --dry fails where the real run would
        return plan

    def start(self) -> handshake.Server:
        self.take_over()
        spec = self.spec
        try:
            attrs = engine.container_attrs(spec.container)  # stdlib: the warm path asks nothing more
            if attrs is None or service.differences(self.svc, attrs) or (attrs.get("State") or {}).get("Status") != "running":
                bump.refuse(spec)
            status = service.ensure_running(self.svc)
        except engine.Unreachable as e:
            if not self.auto:
                raise
            switch = f"or `inv infra.use local` to switch to a local cluster on purpose (this data stays in volume {spec.volume})"
            raise Problem(e.what, f"{e.fix}; {switch}") from None
        return handshake.Server(
            described=f"container {status.name} {status.said}, image {status.image}, published on {status.published}",
            logs=lambda: service.logs_tail(self.svc, 20),
            alive=lambda: service.alive(self.svc),
            diagnose=lambda error, tail: server.diagnose(spec, error, tail),
            stopped_hint="the container stopped: the log lines below say why; fix that (often postgres.command or the data volume)"
            " and rerun `inv infra.up`",
            log_source="the container",
            container=spec.container,
        )

    def stop(self, dry: bool) -> list[str]:
        return [service.stop(self.svc, dry)]

    def destroy_what(self) -> str:
        status = service.inspect(self.svc)
        if status is not None and not status.ours:
            raise service.refuse_foreign(self.svc, "remove")
        if status is not None and (other := service.other_checkout(self.svc, status.checkout)):
            raise service.refuse_elsewhere(self.svc, other)
        return f"container {self.spec.container} and volume {self.spec.volume} (all the database's data, the seeded template too)"

    def destroy(self) -> list[str]:
        done = service.remove(self.svc)
        if self.spec.names_record is not None:  # a taken-over container is gone: this checkout's own comes next
            state.remove(self.spec.names_record)
        return done

    def status_rows(self) -> list[tuple[str, str]]:
        spec = self.spec
        st = service.inspect(self.svc)
        rows = [("backend", f"docker ({self.why})"), ("engine", engine.where())]
        if st is None:
            rows.append(("container", f"{spec.container}: does not exist (`inv infra.up` creates it)"))
        else:
            mine = {"": "ours, made before checkouts were labelled", spec.checkout: "ours, this checkout's"}
            theirs = f"ours, but the checkout at {st.checkout} made it and keeps its data there"
            owner = mine.get(st.checkout, theirs) if st.ours else f"NOT ours: no label {service.LABEL}, inv will not touch it"
            health = st.health or "no healthcheck (the readiness probe is a real handshake)"
            rows += [("container", f"{st.name} ({owner}, id {st.id[:12]})"), ("state", st.state), ("port", st.published)]
            rows += [("image", st.image), ("health", health)]
        try:
            bump.refuse(spec, probe=False)
        except Exit as e:
            rows.append(("data", str(e)))
        return [*rows, ("volume", spec.volume)]

    def logs(self, tail: int, follow: bool) -> Iterator[str]:
        return service.read_logs(self.svc, tail, follow)

    def doctor_rows(self) -> list[Row]:
        spec = self.spec
        try:
            cl = engine.client()
            with engine.docker_errors("asking the engine its version"):
                version = cl.version().get("Version", "?")
        except Exit as e:  # nothing listening, an unknown context, a broken config.json
            what, fix = what_and_fix(e)
            switch = "; or `inv infra.use local` (the container's data stays in its volume)" if self.auto else ""
            return [("docker engine", "FAIL", what, fix + switch)]
        rows: list[Row] = [("docker engine", "ok", f"Docker {version} at {engine.where()}", "")]
        try:
            status = service.inspect(self.svc)
            present = engine.lookup(cl.images, spec.image) is not None
        except Exception:  # a doctor row must not fail the whole report
            status, present = None, False
        pull = ("warn", f"{spec.image} not present; infra.up will pull it", f"docker pull {spec.image}")
        rows += [("postgres image", *(("ok", spec.image, "") if present else pull)), self._container_row(cl), self._port_row(cl, status)]
        return rows + [_checked("postgres data", lambda _: bump.refuse(spec, probe=False), None, f"volume {spec.volume}: no major bump")]

    def _container_row(self, cl) -> Row:
        """What infra.up will find: nothing, this checkout's container, or one it refuses (the checks of ``--dry``)."""
        spec, check = self.svc, "postgres container"
        try:
            ct = engine.get_container(cl, spec.name)
            if ct is None:
                return (check, "ok", f"{spec.name}: not made yet (infra.up makes it)", "")
            if not service.is_ours(spec, ct.attrs):
                raise service.refuse_foreign(spec, "use")
            changed = service.differences(spec, ct.attrs)
            if changed and spec.volume:
                bump.refuse(self.spec, probe=False)  # a major bump is the postgres data row's, as infra.up says it first
                raise service.mismatch(spec, ct.attrs, changed)
        except Exit as e:
            if getattr(e, "setting", "") == "postgres.image":  # bump.refuse's
                return (check, "ok", f"{spec.name} ({ct.status}): its data is of another major (the postgres data row says what to do)", "")
            return failed_row(check, e)
        except Exception as e:  # a doctor row must not fail the whole report
            return (check, "warn", f"could not inspect {spec.name}: {engine.short_error(e)}", "")
        if other := service.elsewhere(spec, ct.attrs):
            fix = "unset postgres.container and postgres.volume for this checkout's own"
            return (check, "warn", f"{spec.name} ({ct.status}) holds the database of the checkout at {other}", fix)
        return (check, "ok", f"{spec.name} ({ct.status}), this checkout's", "")

    def _port_row(self, cl, status: service.Status | None) -> Row:
        spec, check = self.spec, "database port"
        ours = status is not None and status.ours and status.host_port == spec.port
        if ours and status is not None and status.running:
            return (check, "ok", f"{spec.address} published by our container {spec.container} (running)", "")
        try:
            holder = ports.holder(cl, spec.host_ip, spec.port, spec.container if ours else "", engine.endpoint().is_local)
        except Exception:  # a doctor row must not fail the whole report
            holder = None if ports.port_is_free(spec.host_ip, spec.port) else "something else"
        if holder:
            blocked = f", so our container {spec.container} ({status.state}) cannot start" if ours and status else ""
            stop = f"`docker stop {holder.split()[1]}`" if holder.startswith("container ") else "stop it"
            wants = " (this portal's replication is hard-wired to 5432)" if spec.replication_hardwired else ""
            fix = f"{stop}, or set DATABASE_PORT to a free port in .env{wants}"
            return (check, "FAIL", f"{spec.address} is taken by {holder}{blocked}", fix)
        mine = f" for our container {spec.container} ({status.state})" if ours and status is not None else ""
        return (check, "ok", f"{spec.address} free{mine}", "")


class LocalBackend:
    name, local = "local", True
    removing = "stop the local server and remove"
    decided = ""

    def __init__(self, s: config.Settings, spec: PostgresSpec, why: str, auto: bool = False, no_engine: bool = False):
        self.s, self.spec, self.why, self.auto, self.no_engine = s, spec, why, auto, no_engine
        self.base = local.base_dir(s)

    def _local(self, find_account: bool = False) -> cluster.LocalSpec:
        try:
            return local.local_spec(self.s, find_account=find_account)
        except Exit as e:
            if not self.no_engine:
                raise
            # auto fell back to local for want of an engine: both ways out are the fix.
            what, fix = what_and_fix(e)
            if fix:
                raise Problem(what, f"{fix}. Or start the Docker engine: {self.why}") from None
            raise Exit(f"{what.rstrip('. ')}. Or start the Docker engine: {self.why}") from None

    def plan(self) -> str:
        return local.plan(self._local())

    def start(self, spec: cluster.LocalSpec | None = None) -> handshake.Server:
        """This major's cluster, or ``spec``'s (infra.upgrade's old and new ones)."""
        spec = spec or self._local(find_account=True)
        action, since = local.ensure_running(spec)
        verb = {"recovered": "started after a crash (recovered)", "reused": "already running"}.get(action, action)
        return handshake.Server(
            described=f"local cluster {programs.display_path(spec.data)} {verb}, PostgreSQL {spec.binaries.version}, listening on {spec.address}",
            logs=lambda: cluster.log_tail(spec, 20, since),
            alive=cluster.stopped_reason(spec, since),
            diagnose=local.diagnosis(spec, since),
            stopped_hint="the local server stopped: the log lines below say why; fix that (often postgres.command) and rerun `inv infra.up`",
            log_source=f"the local server ({programs.display_path(spec.log)})",
        )

    def stop(self, dry: bool) -> list[str]:
        if not dry:
            return local.stop(self.base)
        running = local.running_clusters(self.base)
        if running:
            return [f"would stop the local Postgres server (pid {running[0][1].pid}); data kept"]
        return ["the local cluster is not running; nothing to stop"]

    def destroy_what(self) -> str:
        return f"the local cluster {', '.join(map(programs.display_path, local.destroyed(self._local())))} (all the database's data, the seeded template too)"

    def destroy(self) -> list[str]:
        spec = self._local()
        return [line for home in local.destroyed(spec) for line in local.remove(spec, home)]

    def status_rows(self) -> list[tuple[str, str]]:
        rows = [("backend", f"local ({self.why})")]
        try:
            return rows + local.status_rows(self._local())
        except Exit as e:  # no binaries: what is there is still shown
            rows.append(("binaries", str(e)))
            return rows + [
                ("cluster", f"{programs.display_path(home)}: {cluster.server_at(home / 'data').state}")
                for home in local.made_clusters(self.base)
            ]

    def logs(self, tail: int, follow: bool) -> Iterator[str]:
        return cluster.follow_log(self._local(), tail, follow)

    def doctor_rows(self) -> list[Row]:
        rows: list[Row] = []
        if self.auto:
            answers, where = engine_answers()
            said = "answers" if answers else "not answering"
            rows.append(("docker engine", "ok", f"{said} at {where} (not needed: this repository uses the local cluster)", ""))
        try:
            spec = local.local_spec(self.s, find_account=False)
        except Exit as e:
            return [*rows, failed_row("postgres binaries", e)]
        found, wanted = spec.binaries, spec.wanted_major
        if wanted is not None and wanted != found.major:
            fix = f"set postgres.bin_dir to a PostgreSQL {wanted} install's bin folder to match it (or keep these: the portal runs on both)"
            rows.append(("postgres binaries", "warn", f"{found.describe()}; the repository's compose file runs PostgreSQL {wanted}", fix))
        else:
            rows.append(("postgres binaries", "ok", found.describe(), ""))
        user = self.s.text("postgres", "local_user")
        try:
            account.server_account(user, create=False)
        except Exit as e:
            if self.s.flag("postgres", "create_user"):
                rows.append(("postgres account", "ok", f"no user {user} yet: infra.up creates it (postgres.create_user)", ""))
            else:
                rows.append(failed_row("postgres account", e))
        else:
            reach = _checked("postgres folders", local.check_reachable, spec, f"{spec.account.name} can reach the cluster and the programs")
            rows += [("postgres account", "ok", f"the server runs as {spec.account.name}", ""), reach]
        now = cluster.server(spec)
        where = programs.display_path(spec.data)
        if now.state == "stale":
            rows.append(failed_row("local cluster", local.stale_problem(spec, now)))
        elif not cluster.initialised(spec):
            rows.append(_checked("local cluster", local.check_other_majors, spec, f"{where}: not made yet (inv infra.up makes it)"))
        else:
            rows.append(_checked("local cluster", local.check_major, spec, f"{where} ({now.state})"))
        if now.state == "running" and now.port == spec.port:
            return [*rows, ("database port", "ok", f"{spec.address}: our local server listens there (pid {now.pid})", "")]
        return [*rows, _checked("database port", local.check_port, spec, f"{spec.address} free")]


def _checked(check: str, run: Callable, spec: cluster.LocalSpec | None, ok_detail: str) -> Row:
    try:
        run(spec)
    except Exit as e:
        return failed_row(check, e)
    return (check, "ok", ok_detail, "")


def engine_answers() -> tuple[bool, str]:
    """Whether the Docker engine answers, and where it is (for messages)."""
    try:
        where = engine.where()
    except Exit as e:
        return False, what_and_fix(e)[0]
    return engine.answers(), where


Backend = ContainerBackend | LocalBackend
MEMORY = "backend.json"  # in the state folder: auto's decision for this repository


def remembered(s: config.Settings) -> dict | None:
    """auto's earlier decision ({"backend", "why", "by", "at"}), or None."""
    return state.read_json(s.state_dir / MEMORY, "postgres.backend=auto decides again", lambda d: d.get("backend") in NAMES)


def remember(s: config.Settings, name: str, why: str, by: str = "auto") -> None:
    at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    state.write_json(s.state_dir / MEMORY, {"backend": name, "why": why, "by": by, "at": at})


NAMES = ("docker", "local")


def choose(s: config.Settings, spec: PostgresSpec | None = None) -> Backend:
    """The backend for this run: postgres.backend, or auto's decision for this repository, made at its first start and
    remembered in the state folder (`settle`); DOCKER_HOST or DOCKER_CONTEXT set by the user means docker."""
    setting = s.choice("postgres", "backend")
    spec = spec or server.spec_from_config(s)
    if setting in NAMES:
        return make(setting, s, spec, f"postgres.backend={setting} from {s.origin('postgres', 'backend')}")
    memory, where = remembered(s), programs.display_path(s.state_dir / MEMORY)
    named = [key for key in ("DOCKER_HOST", "DOCKER_CONTEXT") if os.environ.get(key)]
    if memory and (memory.get("by") == "infra.use" or not named or memory["backend"] == "docker"):
        why = f"postgres.backend=auto: {memory['backend']}, remembered in {where} ({memory.get('why')}, {memory.get('at')})"
        return make(memory["backend"], s, spec, why, decided="")
    base = local.base_dir(s)
    running = local.running_clusters(base)
    if named:
        name, why = "docker", f"{named[0]} is set (from {envfile.origin(named[0])})"
    elif running:
        name, why = "local", f"the local cluster in {programs.display_path(running[0][0])} was running"
    else:
        answers, at = engine_answers()
        name, why = ("docker", f"a Docker engine answered at {at}") if answers else ("local", f"no Docker engine answered at {at}")
        if not answers and not local.made_clusters(base) and any((s.state_dir / f).is_dir() for f in ("fingerprints", "seeding")):
            # Steps ran here before, and never on a local cluster: Docker is only not started yet; a new cluster would split the data.
            name, why = "docker", f"this repository ran on Docker before (no Docker engine answers at {at} now)"
    shown = f"postgres.backend=auto: {why}" + ("" if memory else "; the first start remembers it")
    if name == "docker" and (kept := local.made_clusters(base)):  # data a user may look for: where it is, how to get back to it
        shown += f" (the local cluster in {programs.display_path(kept[0])} is kept: `inv infra.use local` uses it)"
    return make(name, s, spec, shown, "" if memory else why)


def make(name: str, s: config.Settings, spec: PostgresSpec, why: str, decided: str = "") -> Backend:
    auto = why.startswith("postgres.backend=auto")
    be: Backend = ContainerBackend(spec, why, auto) if name == "docker" else LocalBackend(s, spec, why, auto, "no Docker engine" in decided)
    be.decided = decided
    return be


def settle(s: config.Settings, be: Backend) -> None:
    """After auto's first start: remember the backend it chose for this repository."""
    if be.decided and not s.dry:
        remember(s, be.name, be.decided)
        switch = f"`inv infra.use {'local' if be.name == 'docker' else 'docker'}` switches"
        print(f"postgres.backend=auto: {be.name} from now on for this repository (in {MEMORY}; {switch})", flush=True)
