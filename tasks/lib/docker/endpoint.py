"""Which Docker engine the suite talks to, found as the docker CLI finds it: DOCKER_HOST, the context DOCKER_CONTEXT
names, config.json's currentContext, the platform's socket. Stdlib only (docker-py 7.2 ignores DOCKER_CONTEXT and
falls back silently on an unknown context)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tasks.lib import envfile
from tasks.lib.problem import Problem

UNIX_DEFAULT = "unix:///var/run/docker.sock"
NPIPE_DEFAULT = "npipe:////./pipe/docker_engine"
DEFAULT_CONTEXT = "default"
SHELL = "the shell environment"


def platform_default(windows: bool | None = None) -> str:
    return NPIPE_DEFAULT if (os.name == "nt" if windows is None else windows) else UNIX_DEFAULT


class EndpointError(Problem):
    """The engine cannot be resolved (unknown context, unreadable file)."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    source: str  # for messages: "context colima, from DOCKER_CONTEXT"
    context: str | None = None
    tls_dir: Path | None = None  # ca.pem, cert.pem, key.pem (the context's, or DOCKER_CERT_PATH)
    tls_verify: bool = False

    def describe(self) -> str:
        return f"{self.host} ({self.source})"

    @property
    def socket(self) -> str | None:
        return self.host[len("unix://") :] if self.host.startswith("unix://") else None

    @property
    def is_local(self) -> bool:
        """A socket or pipe: the engine runs on this machine, so its published ports are ours."""
        return self.host.startswith(("unix://", "npipe://"))


def context_id(name: str) -> str:
    """The folder name the CLI stores a context under."""
    return hashlib.sha256(name.encode()).hexdigest()


def shown(path: Path, home: Path) -> str:
    try:
        return "~/" + path.relative_to(home).as_posix()
    except ValueError:
        return str(path)


def _read_json(path: Path, home: Path, fix: str) -> object | None:
    """The file's JSON, or None when there is no such file; EndpointError when unreadable or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as e:
        raise EndpointError(f"{shown(path, home)} is not valid JSON ({e.msg} at line {e.lineno})", fix) from None
    except (OSError, UnicodeDecodeError) as e:
        raise EndpointError(f"cannot read {shown(path, home)}: {getattr(e, 'strerror', None) or 'not UTF-8'}", fix) from None


def resolve(
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    origin: Callable[[str], str] | None = None,
    windows: bool | None = None,
) -> Endpoint:
    """The engine the docker CLI would use here, and where that came from; EndpointError when a
    context is named but unusable. ``origin(key)`` tells where an environment value came from."""
    if environ is None:
        environ, origin = os.environ, origin or envfile.origin
    origin = origin or (lambda key: SHELL)
    home = home if home is not None else Path(os.path.expanduser("~"))
    config_dir = Path(environ.get("DOCKER_CONFIG") or home / ".docker")
    # TLS for DOCKER_HOST and the default context, as the CLI reads it.
    verify = bool(environ.get("DOCKER_TLS_VERIFY"))
    cert_path = environ.get("DOCKER_CERT_PATH")
    env_tls = (Path(cert_path), verify) if cert_path else (config_dir, True) if verify else (None, False)

    if environ.get("DOCKER_HOST"):
        return Endpoint(environ["DOCKER_HOST"], f"DOCKER_HOST from {origin('DOCKER_HOST')}", None, *env_tls)
    name = environ.get("DOCKER_CONTEXT")
    if name:
        came = origin("DOCKER_CONTEXT")
        where = "DOCKER_CONTEXT" if came == SHELL else f"DOCKER_CONTEXT in {came}"
        unset = "unset DOCKER_CONTEXT" if came == SHELL else f"remove DOCKER_CONTEXT from {came}"
        fix = f"`docker context ls` lists the contexts: set DOCKER_CONTEXT to one of them, or {unset} to use the current one"
    else:
        config_file = config_dir / "config.json"
        config_fix = "repair the file (docker reads it too), or remove it"
        data = _read_json(config_file, home, config_fix)
        current = data.get("currentContext") if isinstance(data, dict) else None
        if data is not None and (not isinstance(data, dict) or not isinstance(current, (str, type(None)))):
            raise EndpointError(f"{shown(config_file, home)} is not a docker config (a JSON object)", config_fix)
        if not current or current == DEFAULT_CONTEXT:  # what `docker context use default` leaves
            return Endpoint(platform_default(windows), "the default", None, *env_tls)
        name, where = str(current), f"{shown(config_file, home)} currentContext"
        fix = "`docker context ls` lists the contexts; `docker context use NAME` picks one (`docker context use default` for the local engine)"

    source = f"context {name}, from {where}"
    if name == DEFAULT_CONTEXT:
        return Endpoint(platform_default(windows), source, DEFAULT_CONTEXT, *env_tls)
    meta_file = config_dir / "contexts" / "meta" / context_id(name) / "meta.json"
    meta = _read_json(meta_file, home, fix)
    if meta is None:
        raise EndpointError(
            f"Docker context {name} (from {where}) does not exist: it is not in {shown(config_dir / 'contexts', home)}", fix
        )
    docker = (meta.get("Endpoints") or {}).get("docker") if isinstance(meta, dict) and isinstance(meta.get("Endpoints"), dict) else None
    host = docker.get("Host") if isinstance(docker, dict) else None
    if not isinstance(docker, dict) or not isinstance(host, str) or not host:
        recreate = f"recreate it (`docker context rm {name}`, `docker context create {name} --docker host=...`), or {fix}"
        what = f"Docker context {name} (from {where}) has no Docker endpoint (Endpoints.docker.Host in {shown(meta_file, home)})"
        raise EndpointError(what, recreate)
    tls = config_dir / "contexts" / "tls" / context_id(name) / "docker"
    return Endpoint(host, source, name, tls if tls.is_dir() else None, not docker.get("SkipTLSVerify"))
