"""tasks/lib/vault.py: the container's spec, reading its attributes, readiness by /v1/sys/health
(a real local HTTP server stands in for Vault; no engine)."""

from __future__ import annotations

import http.server
import threading

import pytest
from invoke import Exit, MockContext

from tasks import infra
from tasks.lib import config, readiness, vault
from tasks.lib.docker import service
from tasks.lib.vault import spec_from_config


def context(**vault):
    c = MockContext()
    c.config.load_collection(infra.ns.configuration())
    for key, value in vault.items():
        c.config.vault[key] = value
    return config.settings(c)


def test_spec_defaults_are_firezones_compose_service():
    spec = spec_from_config(context())
    assert (spec.image, spec.container, spec.address) == ("vault:1.13.3", "firezone-dev-vault", "127.0.0.1:8200")
    assert spec.url == "http://127.0.0.1:8200"
    kw = spec.service.create_kwargs()
    assert kw["ports"] == {"8200/tcp": ("127.0.0.1", 8200)}
    assert kw["cap_add"] == ["IPC_LOCK"]
    assert kw["labels"] == {"dev.firezone.inv": "vault"}
    # The token travels in the environment only: no command, the image's own CMD (server -dev).
    assert kw["environment"]["VAULT_DEV_ROOT_TOKEN_ID"] == "firezone"
    assert "command" not in kw
    assert spec.client_env() == {"VAULT_ADDR": "http://127.0.0.1:8200", "VAULT_TOKEN": "firezone"}
    assert spec.secrets() == []  # Firezone's published dev token; masking it would garble firezone-* names
    assert spec_from_config(context(token="s3cr3t-token")).secrets() == ["s3cr3t-token"]
    assert "s3cr3t" not in repr(spec_from_config(context(token="s3cr3t-token")))


@pytest.mark.parametrize(
    "key,value,wanted", [("port", 0, "whole number"), ("port", 70000, "a port number"), ("token", "a b", "without spaces")]
)
def test_bad_settings_are_one_line(key, value, wanted):
    with pytest.raises(Exit, match=wanted) as e:
        spec_from_config(context(**{key: value}))
    assert "\n" not in e.value.message and "a b" not in e.value.message


def attrs(image="vault:1.13.3", port="8200", ip="127.0.0.1", token="firezone", label="vault", state="running"):
    return {
        "Name": "/firezone-dev-vault",
        "Id": "b" * 64,
        "State": {"Status": state},
        "Config": {"Image": image, "Labels": {"dev.firezone.inv": label}, "Env": [f"VAULT_DEV_ROOT_TOKEN_ID={token}"]},
        "HostConfig": {"PortBindings": {"8200/tcp": [{"HostIp": ip, "HostPort": port}]}},
    }


def test_reading_a_container():
    svc = spec_from_config(context()).service
    st = service.status_of(svc, attrs())
    assert st.ours and st.running and st.published == "127.0.0.1:8200"
    assert not service.status_of(svc, attrs(label="postgres")).ours  # the Postgres container's label value
    refusal = service.refuse_foreign(svc, "stop").message
    assert "no label dev.firezone.inv=vault" in refusal and "set vault.container (INVOKE_VAULT_CONTAINER)" in refusal
    assert service.differences(svc, attrs()) == []
    assert "image vault:1.12" in service.differences(svc, attrs(image="vault:1.12"))[0]
    assert service.differences(svc, attrs(port="8201")) == ["host port 8201 (configured: 8200, setting vault.port)"]
    assert service.differences(svc, attrs(token="other")) == ["another root token (setting vault.token)"]


class _Health(http.server.BaseHTTPRequestHandler):
    codes: list[int] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        code = self.codes.pop(0) if len(self.codes) > 1 else self.codes[0]
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_ready_only_when_health_says_unsealed(server):
    srv, url = server
    _Health.codes = [503, 501, 200]
    assert vault.probe(url) == (False, "HTTP 503 (sealed)")
    assert vault.probe(url) == (False, "HTTP 501 (not initialised)")
    assert vault.probe(url) == (True, "HTTP 200")
    _Health.codes = [503, 503, 429]
    waited = readiness.wait(target(url), timeout=5, interval=0.01)
    assert waited < 5


def target(url, **over):
    """Vault's readiness target for a spec whose URL is ``url``, its container's calls replaced by ``over``."""
    host, port = url.rsplit("/", 1)[-1].split(":")
    spec = spec_from_config(context(container="v", host_ip=host, port=int(port)))
    values = {"alive": lambda: None, "logs": lambda: "", **over}
    return readiness.Target(**{**vault.target(spec).__dict__, **values})


def test_a_timeout_is_one_line_with_the_last_answer_and_the_logs(server):
    _, url = server
    _Health.codes = [503]
    with pytest.raises(Exit) as e:
        readiness.wait(target(url, logs=lambda: "core: sealed\nbye"), timeout=0.2, interval=0.01)
    first, *rest = e.value.message.splitlines()
    assert f"Vault at {url} did not answer within 0.2 s: /v1/sys/health answered HTTP 503 (sealed)" in first
    assert "docker logs v" in first and "vault.ready_timeout" in first
    assert rest == ["Last log lines of the container:", "  core: sealed", "  bye"]


def test_a_dead_container_ends_the_wait_at_once():
    url = "http://127.0.0.1:9"  # nothing listens on the discard port
    with pytest.raises(Exit, match="Vault at http://127.0.0.1:9 will not answer: container v stopped \\(exited, exit code 1\\)"):
        readiness.wait(target(url, alive=lambda: "container v stopped (exited, exit code 1)"), timeout=30, interval=0.01, alive_every=0)


def test_without_a_docker_engine_infra_down_and_destroy_skip_vault_and_status_says_why(monkeypatch, capsys):
    # The local Postgres backend runs with no engine at all: infra.down/destroy must still work.
    from tasks.lib.docker import engine

    def no_engine():
        raise Exit("Docker engine not reachable at unix:///var/run/docker.sock: No such file or directory")

    monkeypatch.setattr(engine, "client", no_engine)
    monkeypatch.setattr(engine, "answers", lambda: False)
    vault.stop(spec_from_config(context()), False)
    vault.stop(spec_from_config(context()), False, remove=True)
    assert capsys.readouterr().out == ""
    name, text = vault.status_row(context())
    assert name == "vault" and text.startswith("no Docker engine answers")
