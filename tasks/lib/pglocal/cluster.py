"""The local cluster's lifecycle: make it (initdb), start it (pg_ctl), stop it, remove it, read it.

Where things are (``LocalSpec``): the cluster folder `.inv/postgres/<major>` holds
`data/` (PGDATA) and `server.log`; the unix socket lives in a short private folder
under /tmp (a socket path over 107 bytes is fatal to Postgres, and project paths get
long). The server listens on postgres.host_ip at DATABASE_PORT only, with the settings
of the container's command (`-c wal_level=logical -c max_connections=200`) written to
`data/inv.conf`, which postgresql.conf includes last.

What survives what:
- initdb runs into `data.tmp-<pid>` and is renamed to `data` when complete, so a killed
  initdb leaves only a temporary folder (removed by the next run) and two runs at once
  make one cluster: one flock per cluster folder serialises making and starting.
- a crash (kill -9, a closed laptop) leaves postmaster.pid naming a dead pid: Postgres
  recovers by itself on the next start. A pid reused by another program is named, with
  the fix (Postgres would refuse with a misleading "is another postmaster running?").
- a port held by someone else is found before starting, and again in the log (pg_ctl -W
  returns before the server binds).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from invoke import Exit

from tasks.lib import programs, state
from tasks.lib.pglocal.account import Account
from tasks.lib.pglocal.binaries import Binaries
from tasks.lib.supervise import proctable

SOCKET_PATH_MAX = 107  # sun_path is 108 bytes with its NUL
CONF_NAME = "inv.conf"
INCLUDE_LINE = f"include_if_exists = '{CONF_NAME}'"


@dataclass(frozen=True)
class LocalSpec:
    """Everything the local cluster is made from."""

    binaries: Binaries
    account: Account
    base: Path  # the folder holding one cluster folder per major version
    base_setting: str  # the setting that moves it, for messages
    host_ip: str
    port: int
    user: str
    password: str = field(repr=False)
    name: str = "firezone_dev"
    settings: tuple[tuple[str, str], ...] = ()
    ready_timeout: float = 60.0
    poll_interval: float = 0.05

    @property
    def home(self) -> Path:
        return self.base / str(self.binaries.major)

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def log(self) -> Path:
        return self.home / "server.log"

    @property
    def socket_dir(self) -> Path:
        return socket_dir_for(self.data)

    @property
    def socket(self) -> Path:
        return self.socket_dir / f".s.PGSQL.{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host_ip}:{self.port}"

    def conf(self) -> str:
        """data/inv.conf: where it listens, then the container command's settings."""
        lines = [
            "# Written by inv at every start of the local cluster; edits here are lost.",
            f"listen_addresses = '{self.host_ip}'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.socket_dir}'",
            "unix_socket_permissions = 0700",
        ]
        lines += [f"{key} = '{value}'" for key, value in self.settings]
        return "\n".join(lines) + "\n"


def socket_dir_for(data: Path) -> Path:
    """The unix socket's folder: short (/tmp, not a long TMPDIR), one per cluster."""
    digest = hashlib.sha256(str(data.resolve()).encode()).hexdigest()[:10]
    if Path("/tmp").is_dir():
        return Path("/tmp") / f"fz-pg-{digest}"
    import tempfile  # a machine without /tmp

    root = Path(tempfile.gettempdir())
    return root / f"fz-pg-{digest}"


def settings_from_command(command: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The ``-c key=value`` (and ``--key=value``) settings of a `postgres ...` command line."""
    found: list[tuple[str, str]] = []
    words = list(command[1:] if command and not command[0].startswith("-") else command)
    i = 0
    while i < len(words):
        word = words[i]
        item = None
        if word == "-c" and i + 1 < len(words):
            item, i = words[i + 1], i + 1
        elif word.startswith("-c") and len(word) > 2:
            item = word[2:]
        elif word.startswith("--") and "=" in word:
            item = word[2:]
        if item and "=" in item:
            key, value = item.split("=", 1)
            found.append((key.strip().replace("-", "_"), value.strip().replace("'", "''")))
        i += 1
    return tuple(found)


# ---------------------------------------------------------------------------
# reading the cluster


@dataclass(frozen=True)
class PidFile:
    """postmaster.pid's lines: pid, data folder, start time, port, socket folder, address, shmem, status."""

    pid: int
    port: int | None
    listen: str
    status: str


def read_pidfile(data: Path) -> PidFile | None:
    try:
        with _open_read(data / "postmaster.pid") as f:
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return None
    try:
        pid = int(lines[0].strip())
    except (IndexError, ValueError):
        return None
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
    listen = lines[5].strip() if len(lines) > 5 else ""
    status = lines[7].strip() if len(lines) > 7 else ""
    return PidFile(pid, port, listen, status)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed and not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not proctable.is_zombie(pid)


@dataclass(frozen=True)
class Server:
    """What postmaster.pid says about the server: running (ours), absent, a crash's leftover, or a stranger's pid."""

    state: str  # "running", "stopped", "crashed" (pid dead), "stale" (pid is another program)
    pid: int | None = None
    port: int | None = None
    listen: str = ""
    other: str = ""  # the program now holding a stale pid


def server(spec: LocalSpec) -> Server:
    return server_at(spec.data)


def server_at(data: Path) -> Server:
    """The server of the cluster in ``data``, from its postmaster.pid (no binaries needed)."""
    found = read_pidfile(data)
    if found is None:
        return Server("stopped")
    if not alive(found.pid):
        return Server("crashed", found.pid)
    line = proctable.command_line(found.pid)
    if "postgres" in line and (str(data) in line or line == "?"):
        return Server("running", found.pid, found.port, found.listen)
    return Server("stale", found.pid, other=line[:80])


def initialised(spec: LocalSpec) -> bool:
    return (spec.data / "PG_VERSION").is_file()


# A cluster folder inv made carries this file; inv never uses or removes one without it.
MARKER = "inv-cluster.json"


def is_ours(home: Path) -> bool:
    """inv's marker, or (made before there was one) the include line inv adds to postgresql.conf."""
    if (home / MARKER).is_file():
        return True
    try:
        with _open_read(home / "data" / "postgresql.conf") as f:
            return INCLUDE_LINE.encode() in f.read()
    except OSError:
        return False


def foreign(home: Path) -> bool:
    """True when ``home`` holds files and no marker: not a folder inv made."""
    try:
        return not is_ours(home) and any(home.iterdir())
    except OSError:
        return False


def made_clusters(base: Path) -> list[Path]:
    """The cluster folders inv made under ``base`` (one per major), newest major first."""
    return [home for home in _our_folders(base) if (home / "data" / "PG_VERSION").is_file()]


def touched_clusters(base: Path) -> list[Path]:
    """The cluster folders under ``base`` that inv made or is making (a marker, or the lock
    file an `inv` takes before it makes one), newest major first."""
    try:
        locks = {p.name[1:-5] for p in base.glob(".*.lock")}
    except OSError:
        locks = set()
    names = {home.name for home in _our_folders(base)} | {name for name in locks if _is_major(name)}
    return [base / name for name in sorted(names, key=lambda n: -int(n))]


def _our_folders(base: Path) -> list[Path]:
    try:
        homes = [p for p in base.iterdir() if _is_major(p.name) and is_ours(p)]
    except OSError:
        return []
    return sorted(homes, key=lambda p: -int(p.name))


def _is_major(name: str) -> bool:
    return name.isascii() and name.isdecimal()


def stop_server(data: Path, pid: int, sig: int = signal.SIGINT, timeout: float = 60.0) -> bool:
    """Stop the server ``pid`` of ``data`` as pg_ctl does (SIGINT: fast shutdown; SIGQUIT:
    immediate) and wait until it is gone; False when it is still there after ``timeout`` s."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


def data_major(spec: LocalSpec) -> str | None:
    try:
        with _open_read(spec.data / "PG_VERSION") as f:
            return f.read(16).decode(errors="replace").strip()
    except OSError:
        return None


def _open_read(path: Path):
    """``path`` for reading, never through a symlink: the account owns the folder, and what
    we read from it is printed (root must not show a file the account points it at)."""
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb")


def log_tail(spec: LocalSpec, n: int = 20, since: int = 0) -> str:
    """The server log's last ``n`` lines (from byte ``since``); '' when there is none."""
    try:
        with _open_read(spec.log) as f:
            f.seek(since)
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-n:])


def log_size(spec: LocalSpec) -> int:
    try:
        return spec.log.stat().st_size
    except OSError:
        return 0


# ---------------------------------------------------------------------------
# running the server's programs


def _env() -> dict[str, str]:
    """A small environment for initdb and pg_ctl: no secrets, no run token, a locale that exists everywhere."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
    if "TZ" in os.environ:
        env["TZ"] = os.environ["TZ"]
    return env


def _run(spec: LocalSpec, argv: list[str], what: str, timeout: float = 120, ok=(0,), dies_with_us: bool = False):
    """Run a server program as the cluster's account; ``dies_with_us``: it gets our
    parent-death signal (initdb; never pg_ctl start, whose server outlives us)."""
    preexec = None
    if dies_with_us:
        from tasks.lib.supervise import lifeline

        preexec = lifeline.preexec()
    try:
        done = subprocess.run(
            argv,
            cwd="/",
            env=_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            preexec_fn=preexec,
            **spec.account.popen_kwargs(),
        )
    except subprocess.TimeoutExpired:
        raise Exit(f"{what} did not finish within {timeout:g} s ({' '.join(argv[:3])} ...)")
    except OSError as e:
        raise Exit(f"cannot run {argv[0]} as {spec.account.name}: {e.strerror or e}")
    if ok is not None and done.returncode not in ok:
        said = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
        raise Exit(programs.failure(what, done.returncode, " / ".join(said[-3:])[-400:]))
    return done


def private_folder(spec: LocalSpec, folder: Path, what: str) -> None:
    """``folder``, made now (mode 0700, owned by the server's account) or already the
    account's own private folder: never one someone else made (a symlink or another
    owner in /tmp would let them read or redirect what we write there)."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        st = os.lstat(folder)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == spec.account.uid and not stat.S_IMODE(st.st_mode) & 0o077:
            return
        kind = "a symlink" if stat.S_ISLNK(st.st_mode) else f"mode {stat.S_IMODE(st.st_mode):04o}, owner uid {st.st_uid}"
        also = f", or set {spec.base_setting} to another folder (this folder's name follows it)" if folder == spec.socket_dir else ""
        raise Exit(
            f"{what} {folder} exists but is not a private folder of {spec.account.name} ({kind}): inv will not"
            f" use it. Fix: remove it if it is a leftover (rm -rf {folder}; its owner or root can){also}, then run the command again"
        )
    spec.account.own(folder)
    os.chmod(folder, 0o700)  # whatever the umask


def locked(home: Path, setting: str) -> AbstractContextManager[None]:
    """One `inv` at a time makes, starts, stops or removes the cluster in ``home`` (the lock
    file sits beside it, so removing the cluster keeps it). Another holder is waited for,
    after one line saying so; the kernel drops a killed holder's lock."""
    waiting = f"postgres: waiting for another inv making, starting, stopping or removing {programs.display_path(home)}"
    return state.held(home.parent / f".{home.name}.lock", waiting, setting)


def clear_leftovers(spec: LocalSpec) -> None:
    """What an initdb killed with its `inv` left: its folder, and the password file (the
    password in plain text) that the killed run could not remove."""
    for left in [*spec.home.glob("data.tmp-*"), *spec.home.glob(".pw-*")]:
        pid = left.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and alive(int(pid)):
            continue  # another inv's initdb, under way
        if left.is_dir() and not left.is_symlink():
            shutil.rmtree(left, ignore_errors=True)
        else:
            left.unlink(missing_ok=True)


def write_as_account(spec: LocalSpec, path: Path, text: str, append: bool = False) -> None:
    """Write ``text`` to ``path`` (mode 0600) as the server's account. In a folder the account
    owns, root writing itself could be pointed at any file by a link the account plants."""
    if spec.account.is_us:
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_APPEND if append else os.O_TRUNC)
        with os.fdopen(os.open(path, flags, 0o600), "w") as f:
            f.write(text)
        return
    script = f'umask 077 && cat {">>" if append else ">"} "$1"'
    try:
        done = subprocess.run(
            ["/bin/sh", "-c", script, "sh", str(path)],
            input=text,
            text=True,
            capture_output=True,
            cwd="/",
            env=_env(),
            timeout=30,
            **spec.account.popen_kwargs(),
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Exit(f"cannot write {path} as {spec.account.name}: {e}")
    if done.returncode != 0:
        raise Exit(f"cannot write {path} as {spec.account.name}: {done.stderr.strip() or done.returncode}")


def _make_home(spec: LocalSpec) -> None:
    """The cluster folder, with inv's marker: made now, or an empty one (a user's mkdir) taken over."""
    if spec.home.exists() and not is_ours(spec.home):
        try:
            spec.home.rmdir()  # empty: nothing of anyone's is lost
        except OSError:
            raise Exit(
                f"{spec.home} holds files inv did not make (no {MARKER}): inv will not use or remove it."
                f" Fix: set {spec.base_setting} to another folder"
            )
    if not spec.home.exists():
        private_folder(spec, spec.home, "the cluster folder")
        write_as_account(spec, spec.home / MARKER, json.dumps({"made_by": "inv", "major": spec.binaries.major}) + "\n")


def initdb(spec: LocalSpec) -> None:
    """Make the cluster: initdb into a temporary folder, renamed into place when complete."""
    _make_home(spec)
    clear_leftovers(spec)
    tmp = spec.home / f"data.tmp-{os.getpid()}"
    # The password reaches initdb through a file only the account can read, in its own
    # private folder (never /tmp, never argv), written by the account itself.
    pwfile = spec.home / f".pw-{os.getpid()}"
    try:
        write_as_account(spec, pwfile, spec.password + "\n")
        argv = [
            spec.binaries.program("initdb"),
            "-D",
            str(tmp),
            "-U",
            spec.user,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        ]
        if spec.binaries.major >= 17:
            argv += ["--locale-provider=builtin", "--builtin-locale=C.UTF-8"]
        print(f"making the local cluster in {programs.display_path(spec.data)} (initdb, PostgreSQL {spec.binaries.version})", flush=True)
        _run(spec, argv, "initdb", dies_with_us=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        try:
            pwfile.unlink()
        except OSError:
            pass
    write_as_account(
        spec,
        tmp / "postgresql.conf",
        f"\n# The suite's settings (listen address, port, socket, the container's -c settings):\n{INCLUDE_LINE}\n",
        append=True,
    )
    os.rename(tmp, spec.data)


def _write_conf(spec: LocalSpec) -> None:
    write_as_account(spec, spec.data / CONF_NAME, spec.conf())


def conf_differs(spec: LocalSpec) -> bool:
    try:
        return (spec.data / CONF_NAME).read_text() != spec.conf()
    except OSError:
        return True


def start(spec: LocalSpec) -> int:
    """pg_ctl start without waiting (-W); returns the log's size before, for reading this start's lines."""
    private_folder(spec, spec.socket_dir, "the socket folder")
    _write_conf(spec)
    before = log_size(spec)
    argv = [spec.binaries.program("pg_ctl"), "start", "-D", str(spec.data), "-l", str(spec.log), "-W", "-s"]
    _run(spec, argv, "pg_ctl start")
    return before


def remove(spec: LocalSpec) -> None:
    shutil.rmtree(spec.home, ignore_errors=False)
    shutil.rmtree(spec.socket_dir, ignore_errors=True)


def follow_log(spec: LocalSpec, tail: int, follow: bool, interval: float = 0.2) -> Iterator[str]:
    """The log's last ``tail`` lines, then (``follow``) what is added until Ctrl-C."""
    text = log_tail(spec, tail)
    yield text + ("\n" if text else "")
    if not follow:
        return
    offset = log_size(spec)
    while True:
        size = log_size(spec)
        if size < offset:
            offset = 0
        if size > offset:
            with _open_read(spec.log) as f:
                f.seek(offset)
                chunk = f.read(size - offset)
            offset = size
            yield chunk.decode(errors="replace")
        time.sleep(interval)


def shutdown_request(log_text: str) -> str | None:
    """The server log's line saying something asked it to stop (`pg_ctl stop`, `inv
    infra.down`: a signal, not a failure), as "received fast shutdown request", or None."""
    for line in reversed(log_text.splitlines()):
        if "shutdown request" in line and "received" in line:
            return line[line.index("received") :].strip()
    return None


def stopped_reason(spec: LocalSpec, since: int) -> Callable[[], str | None]:
    """For wait_ready's ``alive``: why the server is gone (its FATAL line), else None."""

    def check() -> str | None:
        now = server(spec)
        if now.state == "running":
            return None
        text = log_tail(spec, 50, since)
        asked = shutdown_request(text)
        if asked:
            return f"the local server was stopped (its log: {asked})"
        fatal = [ln for ln in text.splitlines() if "FATAL" in ln or "PANIC" in ln]
        if fatal:
            return "the local server stopped: " + fatal[-1].split("FATAL:", 1)[-1].strip()
        return None

    return check
