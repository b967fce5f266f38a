import hashlib
import json
import socket
import threading

import pytest

from tasks.lib.docker import endpoint
from tasks.lib.docker import engine as engine_api


def socket_path(environ, home):
    try:
        return endpoint.resolve(environ, home).socket
    except endpoint.EndpointError:
        return None


def test_socket_path(tmp_path):
    home = tmp_path
    assert socket_path({}, home) == "/var/run/docker.sock"
    assert socket_path({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, home) == "/run/user/1000/docker.sock"
    assert socket_path({"DOCKER_HOST": "tcp://127.0.0.1:2375"}, home) is None


def _context(config_dir, name: str, host: str) -> None:
    meta = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host}}}))


def test_socket_path_follows_the_context_as_the_sdk_client_does(tmp_path):
    cfg = tmp_path / ".docker"
    _context(cfg, "colima", "unix:///Users/me/.colima/default/docker.sock")
    _context(cfg, "remote", "ssh://me@build")
    (cfg / "config.json").write_text(json.dumps({"currentContext": "colima"}))
    assert socket_path({}, tmp_path) == "/Users/me/.colima/default/docker.sock"
    assert socket_path({"DOCKER_CONTEXT": "default"}, tmp_path) == "/var/run/docker.sock"
    # Not a unix socket, or not resolvable: no answer here, the SDK path decides (and explains).
    assert socket_path({"DOCKER_CONTEXT": "remote"}, tmp_path) is None
    assert socket_path({"DOCKER_CONTEXT": "ghost"}, tmp_path) is None
    (cfg / "config.json").write_text("{not json")
    assert socket_path({}, tmp_path) is None


def test_parse_response():
    assert engine_api.parse_response(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{}") == (200, b"{}")
    assert engine_api.parse_response(b"HTTP/1.1 404 Not Found\r\n\r\nno") == (404, b"no")
    assert engine_api.parse_response(b"garbage") is None
    assert engine_api.parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}") is None


def _serve_once(path, reply: bytes, seen: list):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def main():
        conn, _ = srv.accept()
        seen.append(conn.recv(65536))
        conn.sendall(reply)
        conn.close()
        srv.close()

    threading.Thread(target=main, daemon=True).start()


@pytest.fixture
def environ(monkeypatch):
    def use(env):
        for key in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG"):
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    return use


def test_container_attrs_over_a_unix_socket(tmp_path, environ):
    path = str(tmp_path / "docker.sock")
    body = json.dumps({"Name": "/pg", "State": {"Status": "running"}}).encode()
    seen = []
    _serve_once(path, b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + body, seen)
    environ({"DOCKER_HOST": f"unix://{path}"})
    attrs = engine_api.container_attrs("pg")
    assert attrs == {"Name": "/pg", "State": {"Status": "running"}}
    assert seen[0].startswith(b"GET /containers/pg/json HTTP/1.0\r\n")


def test_absent_container_or_no_engine_is_none(tmp_path, environ):
    path = str(tmp_path / "docker.sock")
    _serve_once(path, b'HTTP/1.0 404 Not Found\r\n\r\n{"message":"No such container"}', [])
    environ({"DOCKER_HOST": f"unix://{path}"})
    assert engine_api.container_attrs("pg") is None
    environ({"DOCKER_HOST": f"unix://{tmp_path}/absent.sock"})
    assert engine_api.container_attrs("pg") is None


def test_container_attrs_through_a_context_socket(tmp_path, environ):
    path = str(tmp_path / "colima.sock")
    _context(tmp_path / "cfg", "colima", f"unix://{path}")
    seen = []
    _serve_once(path, b"HTTP/1.0 200 OK\r\n\r\n" + json.dumps({"Name": "/pg"}).encode(), seen)
    environ({"DOCKER_CONFIG": str(tmp_path / "cfg"), "DOCKER_CONTEXT": "colima"})
    attrs = engine_api.container_attrs("pg")
    assert attrs == {"Name": "/pg"} and seen
