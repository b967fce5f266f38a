"""Which Postgres the stack runs, chosen once per run (postgres.backend): a Docker container or a local cluster
(pglocal), behind one interface: start, plan, stop, destroy, status, logs, doctor rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from invoke import Exit

from tasks.lib import config, programs
from tasks.lib.database import handshake, server
from tasks.lib.database.server import PostgresSpec
from tasks.lib.docker import engine, ports, service
from tasks.lib.pglocal import account, cluster
from tasks.lib.pglocal import server as local
from tasks.lib.problem import Problem, what_and_fix

Row = tuple[str, str, str, str]  # doctor's check, status (ok, warn, FAIL), detail, fix


def failed_row(check: str, e: Exit, status: str = "FAIL") -> Row:
    what, fix = what_and_fix(e)
    return (check, status, what, fix)


class ContainerBackend:
    name, local = "docker", False
    removing = "remove"  # what destroy does, for its --dry line

    def __init__(self, spec: PostgresSpec, why: str, auto: bool = False):
        self.spec, self.why, self.auto, self.svc = spec, why, auto, spec.service

    def plan(self) -> str:
        return service.plan(self.svc)

    def start(self) -> handshake.Server:
        status, spec = service.ensure_running(self.svc), self.spec
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
        return f"container {self.spec.container} and volume {self.spec.volume} (all the database's data, the seeded template too)"

    def destroy(self) -> list[str]:
        return service.remove(self.svc)

    def status_rows(self) -> list[tuple[str, str]]:
        spec = self.spec
        st = service.inspect(self.svc)
        rows = [("backend", f"docker ({self.why})"), ("engine", engine.where())]
        if st is None:
            rows.append(("container", f"{spec.container}: does not exist (`inv infra.up` creates it)"))
        else:
            owner = "ours" if st.ours else f"NOT ours: no label {service.LABEL}, inv will not touch it"
            health = st.health or "no healthcheck (the readiness probe is a real handshake)"
            rows += [("container", f"{st.name} ({owner}, id {st.id[:12]})"), ("state", st.state), ("port", st.published)]
            rows += [("image", st.image), ("health", health)]
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
            return [failed_row("docker engine", e)]
        rows: list[Row] = [("docker engine", "ok", f"Docker {version} at {engine.where()}", "")]
        try:
            status = service.inspect(self.svc)
            present = engine.lookup(cl.images, spec.image) is not None
        except Exception:  # a doctor row must not fail the whole report
            status, present = None, False
        pull = ("warn", f"{spec.image} not present; infra.up will pull it", f"docker pull {spec.image}")
        return [*rows, ("postgres image", *(("ok", spec.image, "") if present else pull)), self._port_row(cl, status)]

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
            stop = f"`docker stop {holder[len('container ') :]}`" if holder.startswith("container ") else "stop it"
            wants = " (this portal's replication is hard-wired to 5432)" if spec.replication_hardwired else ""
            fix = f"{stop}, or set DATABASE_PORT to a free port in .env{wants}"
            return (check, "FAIL", f"{spec.address} is taken by {holder}{blocked}", fix)
        mine = f" for our container {spec.container} ({status.state})" if ours and status is not None else ""
        return (check, "ok", f"{spec.address} free{mine}", "")


class LocalBackend:
    name, local = "local", True
    removing = "stop the local server and remove"

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

    def start(self) -> handshake.Server:
        spec = self._local(find_account=True)
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
        return f"the local cluster {programs.display_path(self._local().home)} (all the database's data, the seeded template too)"

    def destroy(self) -> list[str]:
        return local.remove(self._local())

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
            if answers:  # auto kept the running local cluster
                rows.append(("docker engine", "ok", f"answers at {where} (not used: the local cluster is running)", ""))
            else:
                fix = "start the engine to use the container instead (postgres.backend=auto picks it when it answers)"
                rows.append(("docker engine", "warn", f"not answering at {where}: not needed, the local cluster runs Postgres", fix))
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
            rows.append(("local cluster", "ok", f"{where}: not made yet (inv infra.up makes it)", ""))
        else:
            rows.append(_checked("local cluster", local.check_major, spec, f"{where} ({now.state})"))
        if now.state == "running" and now.port == spec.port:
            return [*rows, ("database port", "ok", f"{spec.address}: our local server listens there (pid {now.pid})", "")]
        return [*rows, _checked("database port", local.check_port, spec, f"{spec.address} free")]


def _checked(check: str, run: Callable[[cluster.LocalSpec], None], spec: cluster.LocalSpec, ok_detail: str) -> Row:
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


def choose(s: config.Settings, spec: PostgresSpec | None = None) -> Backend:
    """The backend for this run: postgres.backend, or auto's pick with its reason: a running local
    cluster stays in use (it holds the port and the data); else docker when an engine answers; else local."""
    setting = s.choice("postgres", "backend")
    spec = spec or server.spec_from_config(s)
    chosen = f"postgres.backend={setting} from {s.origin('postgres', 'backend')}"
    if setting == "docker":
        return ContainerBackend(spec, chosen)
    if setting == "local":
        return LocalBackend(s, spec, chosen)
    base = local.base_dir(s)
    running = local.running_clusters(base)
    if running:
        return LocalBackend(
            s, spec, f"postgres.backend=auto: the local cluster in {programs.display_path(running[0][0])} is running", auto=True
        )
    answers, where = engine_answers()
    if answers:
        why = f"postgres.backend=auto: a Docker engine answers at {where}"
        kept = local.made_clusters(base)
        if kept:  # data a user may look for: say where it is and how to get back to it
            why += f" (the stopped local cluster in {programs.display_path(kept[0])} is kept: postgres.backend=local uses it)"
        return ContainerBackend(spec, why, auto=True)
    return LocalBackend(s, spec, f"postgres.backend=auto: no Docker engine answers at {where}", auto=True, no_engine=True)
