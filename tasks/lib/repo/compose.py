"""The repository's compose files: what the Postgres service is made from. Nothing here talks to Docker."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from invoke.util import yaml  # invoke's own YAML loader: no extra dependency

ROOT_FILES = ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")
FALLBACK_GLOB = "scripts/compose/*.y*ml"

# ${NAME:-default} / ${NAME-default} / ${NAME} / $NAME
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::?-(?P<default>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


class ComposeError(Exception):
    """A compose file that cannot be read or parsed; str() names the file."""


@dataclass(frozen=True)
class PostgresService:
    """What the compose file says about Postgres; None where it says nothing."""

    path: Path
    image: str | None = None
    command: str | None = None
    data_dir: str | None = None
    # DATABASE_* defaults, e.g. {"DATABASE_USER": "postgres"} from POSTGRES_USER: ${DATABASE_USER:-postgres}, or from its ports.
    database_defaults: dict[str, str] = field(default_factory=dict)


class _Loader(yaml.SafeLoader):
    """safe_load that keeps going at Compose's own tags (`!reset`, `!override`)."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)

_loaded: dict[tuple[Path, int, int], Any] = {}


def _load(path: Path) -> Any:
    """The parsed file, cached for the process (the root file is read for its includes and its services)."""
    try:
        st = path.stat()
        key = (path.resolve(), st.st_mtime_ns, st.st_size)
        text = path.read_text(encoding="utf-8") if key not in _loaded else ""
    except (OSError, UnicodeDecodeError) as e:
        raise ComposeError(f"{path}: cannot be read ({e.__class__.__name__})")
    if key not in _loaded:
        try:
            _loaded[key] = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            raise ComposeError(f"{path}{f' line {mark.line + 1}' if mark is not None else ''}: not valid YAML")
    return _loaded[key]


def _includes(path: Path, data: Any) -> list[Path]:
    items = data.get("include") if isinstance(data, dict) else None
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            item = item.get("path")
            item = item[0] if isinstance(item, list) and item else item
        if isinstance(item, str) and item:
            out.append((path.parent / item).resolve())
    return out


def candidates(root: Path) -> list[Path]:
    """The compose files to read, in order: the root file, what it includes, scripts/compose/."""
    out: list[Path] = []
    for name in ROOT_FILES:
        p = root / name
        if p.is_file():
            out.append(p)
            try:
                out += [q for q in _includes(p, _load(p)) if q.is_file()]
            except ComposeError:
                pass  # reported when the file itself is read
            break
    out += sorted(root.glob(FALLBACK_GLOB))
    seen: set[Path] = set()
    return [p for p in out if not (p.resolve() in seen or seen.add(p.resolve()))]  # type: ignore[func-returns-value]


def problems(root: Path) -> list[str]:
    """Why the compose files found could not be read (for doctor's "the suite's default" rows)."""
    found = []
    for f in candidates(root):
        try:
            _load(f)
        except ComposeError as e:
            found.append(str(e))
    return found


def _service(data: Any) -> dict | None:
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        return None
    if isinstance(services.get("postgres"), dict):
        return services["postgres"]
    for svc in services.values():
        image = svc.get("image") if isinstance(svc, dict) else None
        if isinstance(image, str) and re.match(r"^(docker\.io/)?(library/)?postgres(:|$)", image):
            return svc
    return None


def defaults_in(text: str) -> dict[str, str]:
    """``{"DATABASE_USER": "postgres"}`` for each ``${NAME:-default}`` in ``text``."""
    return {m["name"]: m["default"] for m in _VARIABLE.finditer(text) if m["name"] and m["default"] is not None}


def interpolate(text: str, environ) -> str:
    """Compose's interpolation: the variable's value, else its default, else empty."""
    return _VARIABLE.sub(lambda m: environ.get(m["name"] or m["bare"]) or m["default"] or "", text)


_ENV_TO_DATABASE = {"POSTGRES_USER": "DATABASE_USER", "POSTGRES_PASSWORD": "DATABASE_PASSWORD", "POSTGRES_DB": "DATABASE_NAME"}


def _environment(svc: dict) -> dict[str, str]:
    env = svc.get("environment")
    if isinstance(env, list):
        return {k: v for k, _, v in (str(item).partition("=") for item in env)}
    if isinstance(env, dict):
        return {str(k): "" if v is None else str(v) for k, v in env.items()}
    return {}


def _data_dir(svc: dict) -> str | None:
    """The container path of the service's named volume (its data folder)."""
    volumes = svc.get("volumes")
    for item in volumes if isinstance(volumes, list) else []:
        if isinstance(item, str):
            parts = item.split(":")
            if len(parts) >= 2 and not parts[0].startswith((".", "/", "~", "$")):
                return parts[1]
        elif isinstance(item, dict) and item.get("type", "volume") == "volume" and isinstance(item.get("target"), str):
            return item["target"]
    return None


def _database_defaults(svc: dict) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in _environment(svc).items():
        target = _ENV_TO_DATABASE.get(key)
        if target is None:
            continue
        defaults = defaults_in(value)
        if target in defaults:
            found[target] = defaults[target]
        elif value and "$" not in value:
            found[target] = value
    ports = svc.get("ports")
    for item in ports if isinstance(ports, list) else []:
        text = str(item.get("published", "")) if isinstance(item, dict) else str(item)
        target = str(item.get("target", "")) if isinstance(item, dict) else text.rsplit(":", 1)[-1]
        if target.split("/")[0] != "5432":
            continue
        defaults = defaults_in(text)
        if "DATABASE_PORT" in defaults:
            found["DATABASE_PORT"] = defaults["DATABASE_PORT"]
        else:
            published = text.rsplit(":", 1)[0].rsplit(":", 1)[-1] if ":" in text else text
            if published.isdigit():
                found["DATABASE_PORT"] = published
    return found


def postgres_service(root: Path, path: Path | None = None) -> PostgresService | None:
    """The Postgres service of the compose files, or None; ``path`` (from a setting): that file's, or ComposeError if unreadable."""
    files = [path] if path is not None else candidates(root)
    for f in files:
        try:
            data = _load(f)
        except ComposeError:
            if path is not None:
                raise
            continue
        try:
            found = _read_service(f, data)
        except (TypeError, AttributeError, ValueError):
            found = None  # a shape we do not know: this file says nothing
        if found is not None:
            return found
    return None


def _read_service(f: Path, data: Any) -> PostgresService | None:
    svc = _service(data)
    if svc is None:
        return None
    image, command = svc.get("image"), svc.get("command")
    if isinstance(command, list):
        command = shlex.join(str(w) for w in command)
    image = image if isinstance(image, str) and image else None
    command = command if isinstance(command, str) and command.strip() else None
    return PostgresService(f, image, command, _data_dir(svc), _database_defaults(svc))
