"""The Postgres container: database/server.py's spec on docker/ (service, ports, engine) against a fake Docker client (no engine needed)."""

from __future__ import annotations

import hashlib
import os
import pathlib
import socket
import sys
from types import SimpleNamespace

import docker.errors
import psutil
import pytest
from invoke import Exit, MockContext

from tasks import infra
from tasks.lib import config
from tasks.lib.database import Database
from tasks.lib.database import server as pgserver
from tasks.lib.database.server import PostgresSpec, spec_from_config
from tasks.lib.database.server import warnings as setting_warnings
from tasks.lib.docker import engine as sdk
from tasks.lib.docker import ports, service
from tasks.lib.docker.service import LABEL


def make_spec(**over) -> PostgresSpec:
    db = {k: over.pop(k) for k in ("port", "user", "password", "name") if k in over}
    values = dict(
        image="postgres:17",
        container="fz-pg",
        volume="fz-pg-data",
        data_dir="/var/lib/postgresql/data",
        command=("postgres", "-c", "wal_level=logical", "-c", "max_connections=200"),
        host_ip="127.0.0.1",
    )
    values.update(over)
    database = {**dict(host="localhost", port=5432, user="postgres", password="postgres", name="firezone_dev"), **db}
    return PostgresSpec(db=Database(**database), **values)


def published(attrs):
    return service.published(attrs, "5432/tcp")


def mismatch(spec, attrs):
    return "; ".join(service.differences(spec.service, attrs)) or None


class containers:  # noqa: N801 (the service's calls on a Postgres spec, as the backend makes them)
    ensure_running = staticmethod(lambda spec: service.ensure_running(spec.service))
    stop = staticmethod(lambda spec: service.stop(spec.service))
    remove = staticmethod(lambda spec: service.remove(spec.service))
    plan = staticmethod(lambda spec: service.plan(spec.service))
    inspect = staticmethod(lambda spec: service.inspect(spec.service))
    logs_tail = staticmethod(lambda spec, n=20: service.logs_tail(spec.service, n))
    only_loopback_hosts = staticmethod(pgserver.only_loopback_hosts)
    diagnosis = staticmethod(lambda spec: lambda error, log_text: pgserver.diagnose(spec, error, log_text))
    read_data_file = staticmethod(
        lambda spec, name: service.read_file(
            spec.service, 'cat -- "${PGDATA:-$FZ_DATA_DIR}/$FZ_FILE"', {"FZ_DATA_DIR": spec.data_dir, "FZ_FILE": name}
        )
    )


# --------------------------------------------------------------------------- fake engine


class FakeContainer:
    def __init__(self, engine, attrs):
        self.engine = engine
        self.attrs = attrs
        self.calls = []

    @property
    def status(self):
        return self.attrs["State"]["Status"]

    @property
    def name(self):
        return self.attrs["Name"].lstrip("/")

    def start(self):
        self.calls.append("start")
        if self.engine.start_error:
            raise docker.errors.APIError("500 Server Error", explanation=self.engine.start_error)
        self.attrs["State"]["Status"] = "running"

    def unpause(self):
        self.calls.append("unpause")
        self.attrs["State"]["Status"] = "running"

    def stop(self, timeout=10):
        self.calls.append("stop")
        self.attrs["State"]["Status"] = "exited"

    def remove(self, force=False, v=False):
        self.calls.append("remove")
        del self.engine.by_name[self.name]

    def reload(self):
        pass

    def logs(self, **kw):
        return self.engine.log_text.encode()

    def exec_run(self, cmd, environment=None, **kw):
        self.calls.append(("exec", cmd, environment))
        if isinstance(self.engine.exec_result, Exception):
            raise self.engine.exec_result
        return self.engine.exec_result


class FakeVolume:
    def __init__(self, engine, name, labels):
        self.engine = engine
        self.name = name
        self.attrs = {"Name": name, "Labels": labels}

    def remove(self, force=False):
        del self.engine.volumes_by_name[self.name]


class FakeEngine:
    """Just enough of docker.DockerClient: containers, images, volumes, api.containers()."""

    def __init__(self):
        self.by_name: dict[str, FakeContainer] = {}
        self.volumes_by_name: dict[str, FakeVolume] = {}
        self.images_present = {"postgres:17"}
        self.pull_error = None
        self.start_error = None
        self.create_conflict = False
        self.log_text = ""
        self.exec_result = (0, b"")  # (exit code, stdout) of exec_run, or an exception to raise
        self.summaries = []  # other running containers, as api.containers() reports them
        self.created = []
        self.containers = self
        self.images = _Images(self)
        self.volumes = _Volumes(self)
        # api.containers(): the running-container summaries; api.pull(): the streaming pull
        self.api = type(
            "Api", (), {"containers": lambda _self: self.summaries, "pull": lambda _self, repo, tag=None, **kw: self.pull(repo, tag)}
        )()

    def pull(self, repo, tag):
        self.images.pull(repo, tag)
        return iter([{"status": f"Status: Downloaded newer image for {repo}:{tag}"}])

    # containers collection
    def get(self, name):
        if name not in self.by_name:
            raise docker.errors.NotFound(f"No such container: {name}")
        return self.by_name[name]

    def create(self, **kw):
        if self.create_conflict:
            self.create_conflict = False
            self.add(make_attrs(make_spec(container=kw["name"]), state="running"))
            raise docker.errors.APIError("409 Conflict", response=_Response(409), explanation="Conflict. name in use")
        self.created.append(kw)
        host_ip, host_port = kw["ports"]["5432/tcp"]
        attrs = {
            "Id": f"id{len(self.created):04d}" + "0" * 60,
            "Name": "/" + kw["name"],
            "State": {"Status": "created"},
            "Config": {
                "Image": kw["image"],
                "Cmd": kw["command"],
                "Labels": kw["labels"],
                "Env": [f"{k}={v}" for k, v in kw["environment"].items()],
            },
            "HostConfig": {"PortBindings": {"5432/tcp": [{"HostIp": host_ip, "HostPort": str(host_port)}]}},
            "Mounts": [{"Type": "volume", "Name": v, "Destination": b["bind"]} for v, b in kw["volumes"].items()],
        }
        return self.add(attrs)

    def add(self, attrs):
        ct = FakeContainer(self, attrs)
        self.by_name[ct.name] = ct
        return ct

    def ping(self):
        return True


class _Response:
    def __init__(self, code):
        self.status_code = code
        self.reason = "Conflict"


class _Images:
    def __init__(self, engine):
        self.engine = engine

    def get(self, name):
        if name not in self.engine.images_present:
            raise docker.errors.ImageNotFound(f"No such image: {name}")

    def pull(self, repo, tag=None):
        if self.engine.pull_error:
            raise docker.errors.APIError("500 Server Error", explanation=self.engine.pull_error)
        self.engine.images_present.add(f"{repo}:{tag}")


class _Volumes:
    def __init__(self, engine):
        self.engine = engine

    def get(self, name):
        if name not in self.engine.volumes_by_name:
            raise docker.errors.NotFound(f"no such volume {name}")
        return self.engine.volumes_by_name[name]

    def create(self, name, labels=None):
        vol = FakeVolume(self.engine, name, labels or {})
        self.engine.volumes_by_name[name] = vol
        return vol


def make_attrs(spec: PostgresSpec, state="running", ours=True, **over):
    attrs = {
        "Id": "f" * 64,
        "Name": "/" + spec.container,
        "State": {"Status": state},
        "Config": {
            "Image": spec.image,
            "Cmd": list(spec.command),
            "Labels": spec.service.create_kwargs()["labels"] if ours else {"com.example": "x"},
            "Env": [f"{k}={v}" for k, v in spec.service.env.items()],
        },
        "HostConfig": {"PortBindings": {"5432/tcp": [{"HostIp": spec.host_ip, "HostPort": str(spec.port)}]}},
        "NetworkSettings": {"Ports": {}},
        "Mounts": [{"Type": "volume", "Name": spec.volume, "Destination": spec.data_dir}],
    }
    attrs.update(over)
    return attrs


@pytest.fixture
def engine(monkeypatch):
    eng = FakeEngine()
    monkeypatch.setattr(sdk, "client", lambda: eng)
    monkeypatch.setattr(sdk, "container_attrs", lambda name: None)  # no warm path: the fake engine answers
    monkeypatch.setattr(ports, "port_is_free", lambda ip, port: True)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    return eng


# --------------------------------------------------------------------------- settings


def test_spec_from_config_reads_postgres_settings_and_database_env(monkeypatch):
    monkeypatch.setenv("DATABASE_PORT", "5544")
    monkeypatch.setenv("DATABASE_USER", "me")
    monkeypatch.setenv("DATABASE_PASSWORD", "s3cret-pass")
    monkeypatch.setenv("DATABASE_NAME", "dev")
    c = MockContext()
    c.config.load_collection(infra.ns.configuration())
    c.config.postgres.command = "postgres -c 'shared_buffers=64MB'"
    c.config.dev = {"state_dir": "/nonexistent/.inv"}
    spec = spec_from_config(config.settings(c))
    assert spec.image == "postgres:17"
    # This checkout's own names: its folder and a hash of its path.
    root = config.PROJECT_ROOT
    assert spec.container == f"firezone-dev-postgres-{root.name}-{hashlib.sha1(str(root).encode()).hexdigest()[:6]}"
    assert spec.volume == spec.container + "-data" and spec.checkout == str(root)
    assert spec.names_record == pathlib.Path("/nonexistent/.inv/postgres-container.json")
    c.config.postgres.container = "mine"
    assert spec_from_config(config.settings(c)).names_record is None  # named by the user: nothing is taken over
    assert spec.command == ("postgres", "-c", "shared_buffers=64MB")
    assert (spec.port, spec.db.user, spec.db.password, spec.db.name) == (5544, "me", "s3cret-pass", "dev")
    assert spec.host_ip == "127.0.0.1"
    assert spec.poll_interval == 0.05
    assert "s3cret-pass" not in repr(spec)


def test_spec_from_config_rejects_bad_numbers_and_commands():
    c = MockContext()
    c.config.load_collection(infra.ns.configuration())
    c.config.postgres.ready_timeout = "soon"
    with pytest.raises(Exit, match="postgres.ready_timeout = 'soon'.*INVOKE_POSTGRES_READY_TIMEOUT"):
        spec_from_config(config.settings(c))
    c.config.postgres.ready_timeout = 5
    c.config.postgres.command = "postgres -c 'unclosed"
    with pytest.raises(Exit, match="postgres.command"):
        spec_from_config(config.settings(c))


def test_create_kwargs_credentials_in_env_port_on_host_ip_and_labels():
    spec = make_spec(password="hunter2-long", port=6543)
    kw = spec.service.create_kwargs()
    assert kw["environment"] == {
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD": "hunter2-long",
        "POSTGRES_DB": "firezone_dev",
        "PGDATA": "/var/lib/postgresql/data",  # the data lives in the mount, whatever the image's default
    }
    assert "hunter2-long" not in " ".join(kw["command"])
    assert kw["command"] == ["postgres", "-c", "wal_level=logical", "-c", "max_connections=200"]
    assert kw["ports"] == {"5432/tcp": ("127.0.0.1", 6543)}
    assert kw["volumes"] == {"fz-pg-data": {"bind": "/var/lib/postgresql/data", "mode": "rw"}}
    assert kw["labels"] == {LABEL: "postgres", f"{LABEL}.volume": "fz-pg-data"}


def test_no_warning_for_firezone_defaults():
    assert setting_warnings(make_spec()) == []


def test_warning_when_the_portal_replication_values_differ():
    lines = setting_warnings(make_spec(port=6543, password="other-password", replication_hardwired=True))
    assert len(lines) == 1
    assert "DATABASE_PORT=6543" in lines[0] and "localhost:5432" in lines[0]
    assert "other-password" not in lines[0]


def test_no_replication_warning_where_the_portal_follows_database_settings():
    # Today's Firezone: the replication connections use DATABASE_* (nothing hard-wired).
    assert setting_warnings(make_spec(port=6543, password="other-password")) == []


def test_warning_when_published_beyond_loopback():
    lines = setting_warnings(make_spec(host_ip="0.0.0.0"))
    assert len(lines) == 1 and "0.0.0.0" in lines[0]


# --------------------------------------------------------------------------- reading attrs


def test_published_reads_host_config_then_network_settings():
    spec = make_spec(port=6000)
    assert published(make_attrs(spec)) == ("127.0.0.1", 6000)
    attrs = make_attrs(spec, HostConfig={}, NetworkSettings={"Ports": {"5432/tcp": [{"HostIp": "", "HostPort": "7000"}]}})
    assert published(attrs) == ("0.0.0.0", 7000)
    assert published({"HostConfig": {}, "NetworkSettings": {"Ports": {}}}) == (None, None)


def test_mismatch_none_when_everything_matches():
    spec = make_spec()
    assert mismatch(spec, make_attrs(spec)) is None


@pytest.mark.parametrize(
    "existing, expected",
    [
        (dict(port=6000), "host port 6000 (configured: 5432, DATABASE_PORT from"),
        (dict(host_ip="0.0.0.0"), "host address 0.0.0.0 (configured: 127.0.0.1, postgres.host_ip)"),
        (dict(image="postgres:16"), "image postgres:16 (configured: postgres:17"),
        (dict(user="admin"), "user admin (configured: postgres, DATABASE_USER from"),
        (dict(name="other"), "database other (configured: firezone_dev, DATABASE_NAME from"),
        (dict(volume="old-data"), "volume old-data (configured: fz-pg-data, postgres.volume)"),
        (dict(command=("postgres",)), "command `postgres` (configured"),
    ],
)
def test_mismatch_names_the_value_and_the_fix(existing, expected):
    message = mismatch(make_spec(), make_attrs(make_spec(**existing)))
    assert expected in message
    assert "\n" not in message


# --------------------------------------------------------------------------- ensure_running


def test_creates_container_and_labelled_volume(engine, capsys):
    spec = make_spec()
    status = containers.ensure_running(spec)
    assert status.action == "created" and status.running and status.ours
    assert (status.host_ip, status.host_port) == ("127.0.0.1", 5432)
    assert len(engine.created) == 1
    assert engine.volumes_by_name["fz-pg-data"].attrs["Labels"] == {LABEL: "postgres-data"}


def test_second_call_reuses_and_never_creates_a_second_container(engine):
    spec = make_spec()
    first = containers.ensure_running(spec)
    second = containers.ensure_running(spec)
    assert second.action == "reused" and second.id == first.id
    assert len(engine.created) == 1


def test_stopped_container_is_started(engine):
    spec = make_spec()
    ct = engine.add(make_attrs(spec, state="exited"))
    status = containers.ensure_running(spec)
    assert status.action == "started" and ct.calls == ["start"]
    assert engine.created == []


def test_existing_unlabelled_volume_is_reused_not_recreated(engine):
    engine.volumes.create("fz-pg-data", labels={})
    containers.ensure_running(make_spec())
    assert engine.volumes_by_name["fz-pg-data"].attrs["Labels"] == {}


def test_mismatching_container_is_refused_untouched(engine):
    ct = engine.add(make_attrs(make_spec(port=6000), state="exited"))
    with pytest.raises(Exit) as e:
        containers.ensure_running(make_spec())
    assert "host port 6000" in e.value.message and "inv infra.destroy" in e.value.message
    assert ct.calls == []


def test_foreign_container_with_our_name_is_never_touched(engine):
    ct = engine.add(make_attrs(make_spec(), state="exited", ours=False))
    for action in (containers.ensure_running, containers.stop, containers.remove):
        with pytest.raises(Exit) as e:
            action(make_spec())
        assert "not created by inv" in e.value.message
        assert "INVOKE_POSTGRES_CONTAINER" in e.value.message
    assert ct.calls == [] and "fz-pg" in engine.by_name


def test_absent_image_that_cannot_be_pulled(engine, capsys):
    engine.pull_error = 'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host'
    with pytest.raises(Exit) as e:
        containers.ensure_running(make_spec(image="fzdev-none:nope"))
    msg = e.value.message
    assert "image fzdev-none:nope is not present and pulling it failed" in msg
    assert "no such host" in msg
    assert "docker pull fzdev-none:nope" in msg and "INVOKE_POSTGRES_IMAGE" in msg
    assert "\n" not in msg
    assert engine.created == [] and engine.volumes_by_name == {}


def test_absent_image_is_pulled(engine, capsys):
    status = containers.ensure_running(make_spec(image="postgres:18"))
    assert status.action == "created"
    assert "pulling image postgres:18" in capsys.readouterr().out


def test_port_taken_by_another_container(engine):
    engine.summaries = [
        {"Id": "abc", "Names": ["/someone-elses-db"], "Ports": [{"IP": "0.0.0.0", "PrivatePort": 5432, "PublicPort": 5432, "Type": "tcp"}]}
    ]
    with pytest.raises(Exit) as e:
        containers.ensure_running(make_spec())
    msg = e.value.message
    assert "host port 127.0.0.1:5432" in msg and "container someone-elses-db" in msg
    assert "set DATABASE_PORT" in msg
    assert engine.created == []


def test_port_on_another_address_of_another_container_is_no_conflict(engine):
    engine.summaries = [{"Id": "abc", "Names": ["/x"], "Ports": [{"IP": "127.0.0.2", "PublicPort": 5432, "Type": "tcp"}]}]
    assert containers.ensure_running(make_spec()).action == "created"


def test_port_taken_by_another_process(engine, monkeypatch):
    monkeypatch.setattr(ports, "port_is_free", lambda ip, port: False)
    monkeypatch.setattr(ports, "port_holder_process", lambda port: "nc (pid 4242)")
    with pytest.raises(Exit) as e:
        containers.ensure_running(make_spec())
    assert "already taken by another process, nc (pid 4242)" in e.value.message
    monkeypatch.setattr(ports, "port_holder_process", lambda port: None)
    with pytest.raises(Exit) as e:
        containers.ensure_running(make_spec())
    assert "already taken by another process. Fix: stop it, or set DATABASE_PORT" in e.value.message


def test_engine_refusing_a_new_container_removes_it_and_prints_its_output(engine):
    engine.start_error = 'OCI runtime create failed: exec: "/nonexistent": stat /nonexistent: no such file or directory'
    engine.log_text = "some output a-real-secret-password\nlast line\n"
    with pytest.raises(Exit) as e:
        containers.ensure_running(make_spec(password="a-real-secret-password"))
    msg = e.value.message
    first = msg.splitlines()[0]
    assert first.startswith('could not start container fz-pg: OCI runtime create failed: exec: "/nonexistent"')
    assert "The new container was removed (volume fz-pg-data kept)" in first
    assert "infra.logs" not in msg  # nothing is left for it to show
    assert "Last log lines of the container:\n  some output ****\n  last line" in msg
    assert engine.by_name == {} and "fz-pg-data" in engine.volumes_by_name


def test_engine_refusing_a_new_container_without_output_says_so_in_one_line(engine):
    engine.start_error = "error mounting volume: permission denied"
    with pytest.raises(Exit) as e:
        containers.ensure_running(make_spec())
    assert "\n" not in e.value.message and "infra.logs" not in e.value.message


def test_engine_refusing_an_existing_container_keeps_it_and_points_at_its_logs(engine):
    spec = make_spec()
    ct = engine.add(make_attrs(spec, state="exited"))
    engine.start_error = "error mounting volume: permission denied"
    engine.log_text = "LOG: an earlier run\n"
    with pytest.raises(Exit) as e:
        containers.ensure_running(spec)
    msg = e.value.message
    assert "the container is kept, so `inv infra.logs` shows its earlier output" in msg
    assert "  LOG: an earlier run" in msg
    assert "fz-pg" in engine.by_name and ct.calls == ["start"]


def test_start_failure_removes_the_new_container_and_explains(engine):
    engine.start_error = "driver failed programming external connectivity: Bind for 127.0.0.1:5432 failed: port is already allocated"
    with pytest.raises(Exit) as e:
        containers.ensure_running(make_spec())
    assert "already taken" in e.value.message
    assert engine.by_name == {}  # no half-made container left behind
    assert "fz-pg-data" in engine.volumes_by_name


def test_create_race_falls_back_to_the_winner(engine):
    engine.create_conflict = True
    status = containers.ensure_running(make_spec())
    assert status.action == "reused"


# --------------------------------------------------------------------------- stop, remove, plan, logs


def test_stop_keeps_data(engine):
    spec = make_spec()
    containers.ensure_running(spec)
    assert "stopped container fz-pg" in containers.stop(spec)
    assert engine.by_name["fz-pg"].status == "exited"
    assert "already stopped" in containers.stop(spec)
    assert "fz-pg-data" in engine.volumes_by_name


def test_remove_takes_container_and_our_volume(engine):
    spec = make_spec()
    containers.ensure_running(spec)
    assert containers.remove(spec) == ["removed container fz-pg", "removed volume fz-pg-data"]
    assert engine.by_name == {} and engine.volumes_by_name == {}


def test_remove_keeps_a_volume_that_is_not_ours(engine):
    engine.volumes.create("fz-pg-data", labels={})
    lines = containers.remove(make_spec())
    assert "kept volume fz-pg-data" in lines[1]
    assert "fz-pg-data" in engine.volumes_by_name


def test_plan_for_each_state(engine):
    spec = make_spec()
    assert containers.plan(spec).startswith(
        "would create container fz-pg from image postgres:17 (postgres.image), volume fz-pg-data at /var/lib/postgresql/data, 127.0.0.1:5432"
    )
    engine.add(make_attrs(spec, state="exited"))
    assert containers.plan(spec).startswith("would start stopped container fz-pg")
    engine.by_name["fz-pg"].attrs["State"]["Status"] = "running"
    assert containers.plan(spec).startswith("would reuse running container fz-pg")
    engine.by_name["fz-pg"].attrs["Config"]["Labels"] = {}
    with pytest.raises(Exit, match="exists but was not created by inv"):  # --dry fails where the real run would
        containers.plan(spec)
    assert engine.created == [] and engine.by_name["fz-pg"].calls == []


def test_unexpected_engine_error_is_one_exit_line(engine, monkeypatch):
    def broken(name):
        raise docker.errors.APIError("500 Server Error", explanation="engine\n  is busy")

    monkeypatch.setattr(engine, "get", broken)
    with pytest.raises(Exit) as e:
        containers.stop(make_spec())
    assert e.value.message == "Docker failed while stopping container fz-pg: engine is busy"


def test_plan_without_an_engine(monkeypatch):
    def unreachable():
        raise Exit("Docker engine not reachable at unix:///x.sock")

    monkeypatch.setattr(sdk, "client", unreachable)
    with pytest.raises(Exit, match="not reachable"):  # the real run would fail the same way
        containers.plan(make_spec())


def test_logs_tail_masks_the_password(engine):
    spec = make_spec(password="a-real-secret-password")
    engine.add(make_attrs(spec))
    engine.log_text = "FATAL: password a-real-secret-password rejected\n"
    text = containers.logs_tail(spec, 5)
    assert "a-real-secret-password" not in text and "****" in text


def test_inspect_reports_state_and_health(engine):
    spec = make_spec()
    assert containers.inspect(spec) is None
    engine.add(make_attrs(spec, State={"Status": "running", "Health": {"Status": "healthy"}}))
    st = containers.inspect(spec)
    assert (st.state, st.health, st.ours, st.published) == ("running", "healthy", True, "127.0.0.1:5432")


# --------------------------------------------------------------------------- the engine and the port holder


def test_unreachable_engine_names_docker_host_and_what_to_start(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    monkeypatch.setattr(sdk, "_client", None)
    with pytest.raises(Exit) as e:
        sdk.client()
    msg = e.value.message
    assert "Docker engine not reachable at unix:///nonexistent.sock" in msg
    assert "systemctl start docker" in msg and "dockerd" in msg
    assert "\n" not in msg


def test_default_socket_named_when_docker_host_unset(monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert "unix:///var/run/docker.sock (the default" in sdk.where()


def test_short_error_one_line_from_sdk_text():
    e = docker.errors.DockerException(
        "Error while fetching server API version: ('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))"
    )
    assert sdk.short_error(e) == "No such file or directory (FileNotFoundError)"
    assert sdk.short_error(RuntimeError("a\n  b")) == "a b"


def listener(port, pid, status=psutil.CONN_LISTEN):
    return SimpleNamespace(laddr=SimpleNamespace(ip="127.0.0.1", port=port), status=status, pid=pid)


class FakeProcess:
    names = {77: "pgbouncer"}

    def __init__(self, pid):
        if pid not in self.names:
            raise psutil.NoSuchProcess(pid)
        self.pid = pid

    def name(self):
        return self.names[self.pid]


@pytest.fixture
def fake_psutil(monkeypatch):
    table = []
    monkeypatch.setattr(psutil, "net_connections", lambda kind="inet": list(table))
    monkeypatch.setattr(psutil, "Process", FakeProcess)
    return table


def test_port_holder_process_names_the_listener(fake_psutil):
    fake_psutil += [listener(5432, 99, status=psutil.CONN_ESTABLISHED), listener(8080, 77), listener(5432, 77)]
    assert ports.port_holder_process(5432) == "pgbouncer (pid 77)"
    assert ports.port_holder_process(1) is None


def test_port_holder_process_unknown_when_hidden_or_gone(fake_psutil, monkeypatch):
    fake_psutil += [listener(5432, None)]  # another user's socket: no pid
    assert ports.port_holder_process(5432) is None
    fake_psutil[:] = [listener(5432, 4242)]  # exited between the two calls
    assert ports.port_holder_process(5432) is None

    def denied(kind="inet"):
        raise psutil.AccessDenied()

    monkeypatch.setattr(psutil, "net_connections", denied)  # macOS without root
    assert ports.port_holder_process(5432) is None


def test_port_is_free_sees_a_listening_socket():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert ports.port_is_free("127.0.0.1", port) is False
        holder = ports.port_holder_process(port)
        if sys.platform.startswith("linux"):  # our own sockets are visible without root
            assert holder is not None and holder.endswith(f"(pid {os.getpid()})")
        else:
            assert holder is None or f"(pid {os.getpid()})" in holder
    assert ports.port_is_free("127.0.0.1", port) is True


# --------------------------------------------------------------------------- a first start cut off

INITDB_HBA = """\
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     trust
host    all             all             127.0.0.1/32            scram-sha-256
host    all             all             ::1/128                 scram-sha-256
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            scram-sha-256
host    replication     all             ::1/128                 scram-sha-256
"""
FINISHED_HBA = INITDB_HBA + "host all all all scram-sha-256\nhost replication all all scram-sha-256\n"
NO_ENTRY = 'connection failed: FATAL:  no pg_hba.conf entry for host "172.17.0.1", user "postgres", database "postgres", no encryption'


def test_only_loopback_hosts_tells_initdbs_file_from_a_finished_one():
    assert containers.only_loopback_hosts(INITDB_HBA)
    assert not containers.only_loopback_hosts(FINISHED_HBA)
    assert not containers.only_loopback_hosts(INITDB_HBA + "hostssl all all 0.0.0.0/0 md5 # someone's\n")
    assert containers.only_loopback_hosts(INITDB_HBA + "# host all all all trust\n")


def test_half_initialised_volume_is_diagnosed_from_pg_hba(engine):
    spec = make_spec()
    ct = engine.add(make_attrs(spec))
    engine.exec_result = (0, INITDB_HBA.encode())
    hint = containers.diagnosis(spec)(NO_ENTRY, "")
    assert hint == (
        "the data volume fz-pg-data was left half-initialised (Postgres was stopped during its first start;"
        " it holds no data of yours): `inv infra.destroy --yes` then `inv infra.up`"
    )
    _, argv, environment = ct.calls[-1]
    assert argv[:2] == ["sh", "-c"] and "pg_hba.conf" not in argv[2]  # the name travels in the environment
    assert environment == {"FZ_DATA_DIR": "/var/lib/postgresql/data", "FZ_FILE": "pg_hba.conf"}


def test_a_finished_pg_hba_or_an_unreadable_one_is_not_called_half_initialised(engine):
    spec = make_spec()
    engine.add(make_attrs(spec))
    engine.exec_result = (0, FINISHED_HBA.encode())
    assert containers.diagnosis(spec)(NO_ENTRY, "") is None
    engine.exec_result = (1, b"")
    assert containers.diagnosis(spec)(NO_ENTRY, "") is None
    engine.exec_result = docker.errors.APIError("500 Server Error", explanation="exec not supported")
    assert containers.diagnosis(spec)(NO_ENTRY, "") is None


def test_pg_hba_of_a_stopped_or_foreign_container_is_not_read(engine):
    spec = make_spec()
    ct = engine.add(make_attrs(spec, state="exited"))
    engine.exec_result = (0, INITDB_HBA.encode())
    assert containers.read_data_file(spec, "pg_hba.conf") is None
    ct.attrs["State"]["Status"] = "running"
    ct.attrs["Config"]["Labels"] = {}
    assert containers.read_data_file(spec, "pg_hba.conf") is None
    assert not any(call[0] == "exec" for call in ct.calls)


def test_other_errors_never_read_pg_hba(engine):
    spec = make_spec()
    ct = engine.add(make_attrs(spec))
    assert containers.diagnosis(spec)("password authentication failed", "") is None
    assert ct.calls == []


@pytest.mark.parametrize(
    "log_text",
    [
        'initdb: error: directory "/var/lib/postgresql/data" exists but is not empty\n'
        "initdb: hint: If you want to create a new database system, either remove or empty the directory",
        'postgres: could not open file "global/pg_control": No such file or directory',
    ],
)
def test_a_cluster_killed_during_initdb_is_diagnosed_from_the_logs(engine, log_text):
    spec = make_spec()
    assert containers.diagnosis(spec)("connection refused", log_text).startswith("the data volume fz-pg-data was left half-initialised")


def test_exec_output(engine):
    ct = FakeContainer(engine, make_attrs(make_spec()))
    engine.exec_result = (0, b"text\n")
    assert sdk.exec_output(ct, ["cat", "x"]) == "text\n"
    engine.exec_result = (2, b"")
    assert sdk.exec_output(ct, ["cat", "x"]) is None
