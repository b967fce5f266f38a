"""Finding the Docker engine as the docker CLI does: DOCKER_HOST, DOCKER_CONTEXT, the
current context, the platform default; with real context folders in a temp DOCKER_CONFIG."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from invoke import Exit

from tasks.lib.docker import endpoint, engine
from tasks.lib.docker.endpoint import EndpointError, resolve


def add_context(config_dir: Path, name: str, host: str, skip_tls_verify: bool = False, tls: bool = False) -> Path:
    """A context as `docker context create` stores it; returns its meta folder."""
    sha = hashlib.sha256(name.encode()).hexdigest()
    meta = config_dir / "contexts" / "meta" / sha
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps({"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip_tls_verify}}})
    )
    if tls:
        folder = config_dir / "contexts" / "tls" / sha / "docker"
        folder.mkdir(parents=True)
        for f in ("ca.pem", "cert.pem", "key.pem"):
            (folder / f).write_text("pem")
    return meta


def use(config_dir: Path, name: str) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "config.json").write_text(json.dumps({"auths": {}, "currentContext": name}))


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def dotdocker(home) -> Path:
    return home / ".docker"


def test_nothing_set_is_the_platform_default(home):
    ep = resolve({}, home)
    assert (ep.host, ep.source, ep.context, ep.tls_dir) == ("unix:///var/run/docker.sock", "the default", None, None)
    assert ep.describe() == "unix:///var/run/docker.sock (the default)"
    assert ep.socket == "/var/run/docker.sock" and ep.is_local
    assert endpoint.platform_default(windows=True) == "npipe:////./pipe/docker_engine"
    assert resolve({}, home, windows=True).host == "npipe:////./pipe/docker_engine"
    assert resolve({}, home, windows=True).socket is None and resolve({}, home, windows=True).is_local


def test_context_folders_are_the_sha256_of_the_name(dotdocker, home):
    meta = add_context(dotdocker, "colima", "unix:///Users/me/.colima/default/docker.sock")
    assert meta.name == hashlib.sha256(b"colima").hexdigest() == endpoint.context_id("colima")
    use(dotdocker, "colima")
    ep = resolve({}, home)
    assert ep.host == "unix:///Users/me/.colima/default/docker.sock"
    assert ep.context == "colima"
    assert ep.describe() == "unix:///Users/me/.colima/default/docker.sock (context colima, from ~/.docker/config.json currentContext)"


def test_precedence_host_over_context_over_current_over_default(dotdocker, home):
    add_context(dotdocker, "colima", "unix:///colima.sock")
    add_context(dotdocker, "orbstack", "unix:///orb.sock")
    assert resolve({}, home).host == "unix:///var/run/docker.sock"
    use(dotdocker, "colima")
    assert resolve({}, home).host == "unix:///colima.sock"
    over = resolve({"DOCKER_CONTEXT": "orbstack"}, home)
    assert (over.host, over.source) == ("unix:///orb.sock", "context orbstack, from DOCKER_CONTEXT")
    both = resolve({"DOCKER_CONTEXT": "orbstack", "DOCKER_HOST": "tcp://10.0.0.5:2375"}, home)
    assert (both.host, both.source, both.context) == ("tcp://10.0.0.5:2375", "DOCKER_HOST from the shell environment", None)
    assert both.socket is None and not both.is_local


def test_docker_host_reads_no_file(dotdocker, home):
    # A broken config.json and an unknown context do not matter when DOCKER_HOST is set.
    dotdocker.mkdir(parents=True)
    (dotdocker / "config.json").write_text("{broken")
    ep = resolve({"DOCKER_HOST": "unix:///run/user/1000/docker.sock", "DOCKER_CONTEXT": "nope"}, home)
    assert ep.socket == "/run/user/1000/docker.sock"


def test_sources_name_the_env_file_line(dotdocker, home):
    add_context(dotdocker, "colima", "unix:///colima.sock")
    origins = {"DOCKER_HOST": ".env line 3", "DOCKER_CONTEXT": ".env line 4"}
    host = resolve({"DOCKER_HOST": "unix:///x.sock"}, home, origin=origins.get)
    assert host.describe() == "unix:///x.sock (DOCKER_HOST from .env line 3)"
    ctx = resolve({"DOCKER_CONTEXT": "colima"}, home, origin=origins.get)
    assert ctx.describe() == "unix:///colima.sock (context colima, from DOCKER_CONTEXT in .env line 4)"
    with pytest.raises(EndpointError) as e:
        resolve({"DOCKER_CONTEXT": "ghost"}, home, origin=origins.get)
    assert "(from DOCKER_CONTEXT in .env line 4)" in str(e.value)
    assert "remove DOCKER_CONTEXT from .env line 4" in str(e.value)


def test_the_default_context_is_docker_host_or_the_platform_default(dotdocker, home):
    use(dotdocker, "default")
    assert resolve({}, home).describe() == "unix:///var/run/docker.sock (the default)"
    ep = resolve({"DOCKER_CONTEXT": "default"}, home)
    assert ep.describe() == "unix:///var/run/docker.sock (context default, from DOCKER_CONTEXT)"
    assert resolve({"DOCKER_CONTEXT": "default", "DOCKER_HOST": "unix:///h.sock"}, home).host == "unix:///h.sock"
    # An empty currentContext is the default as well.
    use(dotdocker, "")
    assert resolve({}, home).source == "the default"


def test_unknown_context_from_docker_context_names_it_and_the_fix(home):
    with pytest.raises(EndpointError) as e:
        resolve({"DOCKER_CONTEXT": "colima"}, home)
    msg = str(e.value)
    assert msg.startswith("Docker context colima (from DOCKER_CONTEXT) does not exist: it is not in ~/.docker/contexts. Fix: ")
    assert "`docker context ls`" in msg and "unset DOCKER_CONTEXT" in msg
    assert "\n" not in msg
    assert e.value.what + ". Fix: " + e.value.fix == msg


def test_unknown_current_context_names_config_json_and_the_fix(dotdocker, home):
    use(dotdocker, "desktop-linux")
    with pytest.raises(EndpointError) as e:
        resolve({}, home)
    msg = str(e.value)
    assert msg.startswith("Docker context desktop-linux (from ~/.docker/config.json currentContext) does not exist")
    assert "`docker context ls`" in msg and "`docker context use default`" in msg
    assert "\n" not in msg


def test_bad_config_json_is_one_line_naming_the_file(dotdocker, home):
    dotdocker.mkdir(parents=True)
    (dotdocker / "config.json").write_text('{"currentContext": "colima",\n')
    with pytest.raises(EndpointError) as e:
        resolve({}, home)
    msg = str(e.value)
    assert msg.startswith("~/.docker/config.json is not valid JSON (")
    assert "\n" not in msg
    (dotdocker / "config.json").write_text("[]")
    with pytest.raises(EndpointError, match="is not a docker config"):
        resolve({}, home)
    # DOCKER_CONTEXT does not need config.json, so a broken one does not stop it.
    (dotdocker / "config.json").write_text("{broken")
    assert resolve({"DOCKER_CONTEXT": "default"}, home).context == "default"


def test_bad_meta_json_names_the_file(dotdocker, home):
    meta = add_context(dotdocker, "colima", "unix:///colima.sock")
    (meta / "meta.json").write_text("{")
    with pytest.raises(EndpointError) as e:
        resolve({"DOCKER_CONTEXT": "colima"}, home)
    assert str(e.value).startswith(f"~/.docker/contexts/meta/{meta.name}/meta.json is not valid JSON")
    for odd in ({"Name": "colima", "Endpoints": {}}, {"Endpoints": []}, {"Endpoints": {"docker": {"Host": 5}}}, []):
        (meta / "meta.json").write_text(json.dumps(odd))
        with pytest.raises(EndpointError, match=r"Docker context colima \(from DOCKER_CONTEXT\) has no Docker endpoint"):
            resolve({"DOCKER_CONTEXT": "colima"}, home)


def test_docker_config_is_honoured(tmp_path, home, dotdocker):
    add_context(dotdocker, "colima", "unix:///in-home.sock")
    use(dotdocker, "colima")
    elsewhere = tmp_path / "cfg"
    add_context(elsewhere, "colima", "unix:///elsewhere.sock")
    use(elsewhere, "colima")
    ep = resolve({"DOCKER_CONFIG": str(elsewhere)}, home)
    assert ep.host == "unix:///elsewhere.sock"
    assert ep.source == f"context colima, from {elsewhere}/config.json currentContext"
    with pytest.raises(EndpointError, match=f"it is not in {elsewhere}/contexts"):
        resolve({"DOCKER_CONFIG": str(elsewhere), "DOCKER_CONTEXT": "orbstack"}, home)


def test_tls_folder_of_a_context(dotdocker, home):
    add_context(dotdocker, "remote", "tcp://build.example:2376", tls=True)
    add_context(dotdocker, "insecure", "tcp://build.example:2376", skip_tls_verify=True, tls=True)
    add_context(dotdocker, "plain", "tcp://build.example:2375")
    remote = resolve({"DOCKER_CONTEXT": "remote"}, home)
    assert remote.tls_dir == dotdocker / "contexts" / "tls" / endpoint.context_id("remote") / "docker"
    assert remote.tls_verify is True
    insecure = resolve({"DOCKER_CONTEXT": "insecure"}, home)
    assert insecure.tls_dir is not None and insecure.tls_verify is False
    assert resolve({"DOCKER_CONTEXT": "plain"}, home).tls_dir is None


def test_tls_from_the_environment_for_docker_host(tmp_path, home):
    certs = tmp_path / "certs"
    ep = resolve({"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}, home)
    assert (ep.tls_dir, ep.tls_verify) == (certs, True)
    ep = resolve({"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1"}, home)
    assert (ep.tls_dir, ep.tls_verify) == (home / ".docker", True)
    ep = resolve({"DOCKER_HOST": "tcp://h:2376", "DOCKER_CERT_PATH": str(certs)}, home)
    assert (ep.tls_dir, ep.tls_verify) == (certs, False)
    assert resolve({"DOCKER_HOST": "tcp://h:2375", "DOCKER_TLS_VERIFY": ""}, home).tls_dir is None


def test_the_sdk_gets_a_tls_config_from_the_folder(dotdocker, home, monkeypatch):
    add_context(dotdocker, "remote", "tcp://build.example:2376", tls=True)
    ep = resolve({"DOCKER_CONTEXT": "remote"}, home)
    tls = engine.tls_config(ep)
    assert tls.cert == (str(ep.tls_dir / "cert.pem"), str(ep.tls_dir / "key.pem"))
    assert tls.ca_cert == str(ep.tls_dir / "ca.pem") and tls.verify is True
    assert engine.tls_config(resolve({}, home)) is None


# ------------------------------------------------------------------ the callers


def test_engine_uses_the_resolved_endpoint(monkeypatch, tmp_path):
    cfg = tmp_path / "cfg"
    add_context(cfg, "colima", "unix:///nowhere/colima.sock")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
    monkeypatch.setenv("DOCKER_CONTEXT", "colima")
    assert engine.endpoint().host == "unix:///nowhere/colima.sock"
    assert engine.where() == "unix:///nowhere/colima.sock (context colima, from DOCKER_CONTEXT)"
    assert engine.endpoint().is_local
    monkeypatch.setattr(engine, "_client", None)
    with pytest.raises(Exit) as e:
        engine.client()
    msg = e.value.message
    assert msg.startswith("Docker engine not reachable at unix:///nowhere/colima.sock (context colima, from DOCKER_CONTEXT): ")
    assert "start the engine context colima points at" in msg and "\n" not in msg


def test_engine_turns_an_unknown_context_into_one_exit_line(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.setenv("DOCKER_CONTEXT", "ghost")
    for call in (engine.where, engine.endpoint, engine.client):
        with pytest.raises(Exit) as e:
            call()
        assert e.value.message.startswith("Docker context ghost (from DOCKER_CONTEXT) does not exist: it is not in ")
    # The warm path has no answer then, so the caller asks the SDK path, which says why.
    assert engine.container_attrs("pg") is None and engine.answers() is False


def test_env_file_origin_reaches_the_message(monkeypatch, tmp_path):
    from tasks.lib import envfile

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    monkeypatch.setattr(envfile, "_origins", {"DOCKER_HOST": ".env line 3"})
    assert engine.where() == "unix:///nonexistent.sock (DOCKER_HOST from .env line 3)"
