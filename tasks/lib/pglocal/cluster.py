"""The local cluster: make it (initdb into `data.tmp-<pid>`, renamed when complete, under one flock per cluster folder), start, stop, remove."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from pathlib import Path

from tasks.lib import programs, state
from tasks.lib.database import Database
from tasks.lib.pglocal.account import Account, shown
from tasks.lib.pglocal.binaries import Binaries
from tasks.lib.problem import Problem
from tasks.lib.supervise import proctable

CONF_NAME = "inv.conf"
INCLUDE_LINE = f"include_if_exists = '{CONF_NAME}'"
MARKER = "inv-cluster.json"  # in every cluster folder inv made; inv never uses or removes one without it
LOCAL_DIR = "postgres.local_dir"


@dataclass(frozen=True)
class LocalSpec:
    """``base`` holds one cluster folder per major."""

    binaries: Binaries
    account: Account
    base: Path
    db: Database
    host_ip: str = "127.0.0.1"
    settings: tuple[tuple[str, str], ...] = ()  # the container command's -c settings
    ready_timeout: float = 60.0
    poll_interval: float = 0.05
    wanted_major: int | None = None  # the major the repository's compose file runs

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
    def port(self) -> int:
        return self.db.port

    @property
    def address(self) -> str:
        return f"{self.host_ip}:{self.port}"

    def conf(self) -> str:
        """data/inv.conf, which postgresql.conf includes last: where it listens, then the settings."""
        head = f"# Written by inv at every start of the local cluster; edits here are lost.\nlisten_addresses = '{self.host_ip}'\nport = {self.port}\n"
        socket = f"unix_socket_directories = '{self.socket_dir}'\nunix_socket_permissions = 0700\n"
        return head + socket + "".join(f"{key} = '{value}'\n" for key, value in self.settings)


def socket_dir_for(data: Path) -> Path:
    """Short (/tmp, not a long TMPDIR: a socket path over 107 bytes is fatal to Postgres), one per cluster."""
    return Path("/tmp") / f"fz-pg-{hashlib.sha256(str(data.resolve()).encode()).hexdigest()[:10]}"


def settings_from_command(command: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The ``-c key=value`` (and ``--key=value``) settings of a `postgres ...` command line."""
    found = []
    for i, word in enumerate(command):  # the program's name, like a -c value, starts with no dash
        if word == "-c":
            item = command[i + 1] if i + 1 < len(command) else ""
        elif word.startswith(("-c", "--")):
            item = word[2:]
        else:
            continue
        if "=" in item:
            key, value = item.split("=", 1)
            found.append((key.strip().replace("-", "_"), value.strip().replace("'", "''")))
    return tuple(found)


def read(path: Path, since: int = 0) -> bytes | None:
    """``path``'s bytes from ``since``, never through a symlink (root must not print a file the account points it at)."""
    try:
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
            f.seek(since)
            return f.read()
    except OSError:
        return None


@dataclass(frozen=True)
class Server:
    state: str  # "running" (ours), "stopped", "crashed" (pid dead), "stale" (pid is another program)
    pid: int | None = None
    port: int | None = None
    listen: str = ""
    other: str = ""  # the program now holding a stale pid


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not proctable.is_zombie(pid)


def server_at(data: Path) -> Server:
    """The server of the cluster in ``data``, from postmaster.pid (pid, data, start, port, socket, address)."""
    lines = (read(data / "postmaster.pid") or b"").decode(errors="replace").splitlines() + [""] * 6
    try:
        pid = int(lines[0])
    except ValueError:
        return Server("stopped")
    if not alive(pid):
        return Server("crashed", pid)
    line = proctable.command_line(pid)
    if "postgres" in line and (str(data) in line or line == "?"):
        return Server("running", pid, int(lines[3]) if lines[3].strip().isdigit() else None, lines[5].strip())
    return Server("stale", pid, other=line[:80])


def server(spec: LocalSpec) -> Server:
    return server_at(spec.data)


def initialised(spec: LocalSpec) -> bool:
    return (spec.data / "PG_VERSION").is_file()


def data_major(spec: LocalSpec) -> str | None:
    found = read(spec.data / "PG_VERSION")
    return None if found is None else found[:16].decode(errors="replace").strip()


def is_ours(home: Path) -> bool:
    """inv's marker, or (made before there was one) the include line inv adds to postgresql.conf."""
    return (home / MARKER).is_file() or INCLUDE_LINE.encode() in (read(home / "data" / "postgresql.conf") or b"")


def check_ours(home: Path) -> None:
    """A Problem when ``home`` holds files and no marker: not a folder inv made (an empty one, a user's mkdir, is fine)."""
    with suppress(OSError):  # an unreadable folder: what uses it says so
        if not is_ours(home) and any(home.iterdir()):
            fix = f"set {shown(LOCAL_DIR)} to another folder"
            raise Problem(f"{home} holds files inv did not make (no {MARKER}): inv will not use or remove it", fix, LOCAL_DIR)


def made_clusters(base: Path) -> list[Path]:
    """The cluster folders inv made under ``base`` (one per major), newest major first."""
    return [home for home in touched_clusters(base, locks=False) if (home / "data" / "PG_VERSION").is_file()]


def touched_clusters(base: Path, locks: bool = True) -> list[Path]:
    """The cluster folders under ``base`` that inv made or (``locks``: their lock file exists) is making, newest major first."""
    try:
        names = [p.name for p in base.iterdir()]
    except OSError:
        return []
    found = {n for n in names if is_ours(base / n)} | {n[1:-5] for n in names if locks and n.startswith(".") and n.endswith(".lock")}
    return [base / n for n in sorted((n for n in found if n.isascii() and n.isdecimal()), key=lambda n: -int(n))]


def log_tail(spec: LocalSpec, n: int = 20, since: int = 0) -> str:
    """The server log's last ``n`` lines (from byte ``since``)."""
    return "\n".join((read(spec.log, since) or b"").decode(errors="replace").splitlines()[-n:])


def log_size(spec: LocalSpec) -> int:
    with suppress(OSError):
        return spec.log.stat().st_size
    return 0


def follow_log(spec: LocalSpec, tail: int, follow: bool, interval: float = 0.2) -> Iterator[str]:
    """The log's last ``tail`` lines, then (``follow``) what is added until Ctrl-C."""
    text = log_tail(spec, tail)
    yield text + ("\n" if text else "")
    offset = log_size(spec)
    while follow:
        size = log_size(spec)
        offset = 0 if size < offset else offset
        if size > offset:
            yield (read(spec.log, offset) or b"")[: size - offset].decode(errors="replace")
            offset = size
        time.sleep(interval)


def shutdown_request(log_text: str) -> str | None:
    """The log's "received fast shutdown request" line (a signal, not a failure), or None."""
    found = re.findall(r"received .*shutdown request.*", log_text)
    return found[-1].strip() if found else None


def stopped_reason(spec: LocalSpec, since: int) -> Callable[[], str | None]:
    """For the readiness loop's ``alive``: why the server is gone (its FATAL line), else None."""

    def check() -> str | None:
        if server(spec).state == "running":
            return None
        text = log_tail(spec, 50, since)
        if asked := shutdown_request(text):
            return f"the local server was stopped (its log: {asked})"
        fatal = [ln for ln in text.splitlines() if "FATAL" in ln or "PANIC" in ln]
        return "the local server stopped: " + fatal[-1].split("FATAL:", 1)[-1].strip() if fatal else None

    return check


def stop_server(pid: int, sig: int = signal.SIGINT, timeout: float = 60.0) -> bool:
    """Stop server ``pid`` as pg_ctl does (SIGINT: fast, SIGQUIT: immediate) and wait; False when it is still there after ``timeout`` s."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() <= deadline:
        time.sleep(0.02)
    return not alive(pid)


def run(spec: LocalSpec, argv: list[str], what: str, text: str | None = None, dies_with_us: bool = False, password: bool = False):
    """Run a server program as the account, locale C, no secrets (``password``: PGPASSWORD, for a client); ``dies_with_us``: initdb,
    never pg_ctl start (its server outlives us)."""
    from tasks.lib.supervise import lifeline

    env = {"LC_ALL": "C", "LANG": "C", **{k: v for k, v in os.environ.items() if k in ("PATH", "TZ")}}
    env.update({"PGPASSWORD": spec.db.password} if password else {})
    extra = {**spec.account.popen_kwargs(), "preexec_fn": lifeline.preexec() if dies_with_us else None}
    try:
        done = subprocess.run(
            argv, cwd="/", env=env, input=text or "", capture_output=True, text=True, errors="replace", timeout=120, **extra
        )
    except subprocess.TimeoutExpired:
        raise Problem(f"{what} did not finish within 120 s ({' '.join(argv[:3])} ...)")
    except OSError as e:
        raise Problem(f"cannot run {argv[0]} as {spec.account.name}: {e.strerror or e}")
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
        raise Problem(programs.failure(what, done.returncode, " / ".join(said[-3:])[-400:]))
    return done


def write_as_account(spec: LocalSpec, path: Path, text: str, append: bool = False) -> None:
    """Mode 0600, as the account: root writing in its folder could be pointed anywhere by a planted link."""
    script = f'umask 077 && cat {">>" if append else ">"} "$1"'
    run(spec, ["/bin/sh", "-c", script, "sh", str(path)], f"cannot write {path} as {spec.account.name}: sh", text)


def private_folder(spec: LocalSpec, folder: Path, what: str) -> None:
    """``folder``, made now (0700, the account's) or already the account's private folder: never a symlink or another owner's."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        st = os.lstat(folder)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == spec.account.uid and not stat.S_IMODE(st.st_mode) & 0o077:
            return
        kind = "a symlink" if stat.S_ISLNK(st.st_mode) else f"mode {stat.S_IMODE(st.st_mode):04o}, owner uid {st.st_uid}"
        also = f", or set {shown(LOCAL_DIR)} to another folder (this folder's name follows it)" if folder == spec.socket_dir else ""
        fix = f"remove it if it is a leftover (rm -rf {folder}; its owner or root can){also}, then run the command again"
        bad = f"{what} {folder} exists but is not a private folder of {spec.account.name} ({kind})"
        raise Problem(f"{bad}: inv will not use it", fix, LOCAL_DIR)
    spec.account.own(folder)
    os.chmod(folder, 0o700)  # whatever the umask


def locked(home: Path) -> AbstractContextManager[None]:
    """One `inv` at a time makes, starts, stops or removes the cluster in ``home``."""
    waiting = f"postgres: waiting for another inv making, starting, stopping or removing {programs.display_path(home)}"
    return state.held(home.parent / f".{home.name}.lock", waiting, shown(LOCAL_DIR))


def clear_leftovers(spec: LocalSpec) -> None:
    """What an initdb killed with its `inv` left: its folder and the password file."""
    for left in [*spec.home.glob("data.tmp-*"), *spec.home.glob(".pw-*")]:
        pid = left.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and alive(int(pid)):
            continue  # another inv's initdb, under way
        if left.is_dir() and not left.is_symlink():
            shutil.rmtree(left, ignore_errors=True)
        else:
            left.unlink(missing_ok=True)


def _remove_settled(folder: Path, within: float = 5.0) -> None:
    """Remove ``folder`` and keep removing it while initdb's bootstrap server, which outlives a killed initdb for a moment,
    still writes there: gone once it stays gone for 0.2 s (or ``within`` seconds pass)."""
    deadline, gone_since = time.monotonic() + within, None
    while time.monotonic() < deadline:
        shutil.rmtree(folder, ignore_errors=True)
        if folder.exists():
            gone_since = None
        elif gone_since is None:
            gone_since = time.monotonic()
        elif time.monotonic() - gone_since >= 0.2:
            return
        time.sleep(0.05)


def initdb(spec: LocalSpec) -> None:
    check_ours(spec.home)
    if spec.home.exists() and not is_ours(spec.home):
        spec.home.rmdir()  # empty: nothing of anyone's is lost
    if not spec.home.exists():
        private_folder(spec, spec.home, "the cluster folder")
        write_as_account(spec, spec.home / MARKER, json.dumps({"made_by": "inv", "major": spec.binaries.major}) + "\n")
    tmp = spec.home / f"data.tmp-{os.getpid()}"
    # The password reaches initdb through a file in the account's private folder (never argv).
    pwfile = spec.home / f".pw-{os.getpid()}"
    argv = [spec.binaries.program("initdb"), "-D", str(tmp), "-U", spec.db.user, f"--pwfile={pwfile}", "--auth=scram-sha-256"]
    builtin = ["--locale-provider=builtin", "--builtin-locale=C.UTF-8"] if spec.binaries.major >= 17 else []
    argv += ["--encoding=UTF8", "--locale=C", *builtin]
    try:
        write_as_account(spec, pwfile, spec.db.password + "\n")
        print(f"making the local cluster in {programs.display_path(spec.data)} (initdb, PostgreSQL {spec.binaries.version})", flush=True)
        run(spec, argv, "initdb", dies_with_us=True)
    except BaseException:
        _remove_settled(tmp)
        raise
    finally:
        pwfile.unlink(missing_ok=True)
    conf = f"\n# The suite's settings (listen address, port, socket, the container's -c settings):\n{INCLUDE_LINE}\n"
    write_as_account(spec, tmp / "postgresql.conf", conf, append=True)
    os.rename(tmp, spec.data)


def start(spec: LocalSpec) -> int:
    """pg_ctl start without waiting (-W); the log's size before, for reading this start's lines."""
    private_folder(spec, spec.socket_dir, "the socket folder")
    write_as_account(spec, spec.data / CONF_NAME, spec.conf())
    before = log_size(spec)
    run(spec, [spec.binaries.program("pg_ctl"), "start", "-D", str(spec.data), "-l", str(spec.log), "-W", "-s"], "pg_ctl start")
    return before
