import json
import socket
import threading

from tasks.lib.postgres import engine_api


def test_socket_path():
    assert engine_api.socket_path({}) == "/var/run/docker.sock"
    assert engine_api.socket_path({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}) == "/run/user/1000/docker.sock"
    assert engine_api.socket_path({"DOCKER_HOST": "tcp://127.0.0.1:2375"}) is None


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


def test_container_attrs_over_a_unix_socket(tmp_path):
    path = str(tmp_path / "docker.sock")
    body = json.dumps({"Name": "/pg", "State": {"Status": "running"}}).encode()
    seen = []
    _serve_once(path, b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + body, seen)
    attrs = engine_api.container_attrs("pg", environ={"DOCKER_HOST": f"unix://{path}"})
    assert attrs == {"Name": "/pg", "State": {"Status": "running"}}
    assert seen[0].startswith(b"GET /containers/pg/json HTTP/1.0\r\n")


def test_absent_container_or_no_engine_is_none(tmp_path):
    path = str(tmp_path / "docker.sock")
    _serve_once(path, b"HTTP/1.0 404 Not Found\r\n\r\n{\"message\":\"No such container\"}", [])
    assert engine_api.container_attrs("pg", environ={"DOCKER_HOST": f"unix://{path}"}) is None
    assert engine_api.container_attrs("pg", environ={"DOCKER_HOST": f"unix://{tmp_path}/absent.sock"}) is None
