"""Who runs the local Postgres server (not root: then postgres.local_user), and whether it can reach its folders (checked, never changed)."""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tasks.lib.problem import Problem

SETTING = "postgres.local_user"


def shown(setting: str) -> str:
    return f"{setting} (INVOKE_{setting.replace('.', '_').upper()})"


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    is_us: bool  # the server runs as the user running inv

    def popen_kwargs(self) -> dict:
        """subprocess arguments that run a program as this account."""
        return {} if self.is_us else {"user": self.uid, "group": self.gid, "extra_groups": self.groups()}

    def groups(self) -> list[int]:
        try:
            return sorted(set(os.getgrouplist(self.name, self.gid)))
        except OSError:
            return [self.gid]

    def own(self, path: Path) -> None:
        if not self.is_us:
            os.chown(path, self.uid, self.gid)


def _name(uid: int, table=pwd.getpwuid) -> str:
    try:
        return table(uid)[0]
    except KeyError:
        return str(uid)


def current() -> Account:
    return Account(_name(os.geteuid()), os.geteuid(), os.getegid(), True)


def _create(name: str) -> None:
    argv = ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        said = (done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}").splitlines()[-1]
        failed = done.returncode != 0 and "already exists" not in done.stderr  # another inv made it meanwhile
    except (OSError, subprocess.TimeoutExpired) as e:
        failed, said = True, str(e)
    if failed:
        raise Problem(
            f"cannot create user {name} for the local Postgres server (useradd: {said})", "create it yourself, or set " + SETTING, SETTING
        )
    print(f"created system user {name} to run the local Postgres server (postgres.create_user)", flush=True)


def server_account(user: str, create: bool, euid: int | None = None) -> Account:
    """The account the server runs as: us, unless we are root (then ``user``, created when ``create``)."""
    if (os.geteuid() if euid is None else euid) != 0:
        return current()
    why = "you are running inv as root, and Postgres refuses to run as root"
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        if not create:
            fix = "set INVOKE_POSTGRES_CREATE_USER=true and run the command again (inv creates it with useradd --system),"
            fix += " or set postgres.local_user (INVOKE_POSTGRES_LOCAL_USER) to an existing unprivileged user"
            raise Problem(f"{why}: it runs as postgres.local_user={user}, and no user {user} exists here", fix, SETTING)
        _create(user)
        entry = pwd.getpwnam(user)
    if entry.pw_uid == 0:
        fix = "set postgres.local_user (INVOKE_POSTGRES_LOCAL_USER) to an unprivileged user, e.g. postgres"
        raise Problem(f"{why}: postgres.local_user={user} is root too", fix, SETTING)
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, False)


def blocking_folder(account: Account, path: Path) -> Path | None:
    """The first folder above (and including) ``path`` that ``account`` may not pass."""
    if account.is_us or account.uid == 0:
        return None
    path = Path(os.path.abspath(path))
    for folder in reversed([path, *path.parents]):
        try:
            st = folder.stat()
        except OSError:
            continue  # absent: made later, by us, with the right owner
        bit = stat.S_IXUSR if st.st_uid == account.uid else stat.S_IXGRP if st.st_gid in account.groups() else stat.S_IXOTH
        if not st.st_mode & bit:
            return folder
    return None


def require_reachable(account: Account, path: Path, what: str, setting: str) -> None:
    """A Problem when ``account`` cannot reach ``path``: the folder in the way and two fixes."""
    folder = blocking_folder(account, path)
    if folder is None:
        return
    st = folder.stat()
    mode = f"mode {stat.S_IMODE(st.st_mode):04o}, owner {_name(st.st_uid)}:{_name(st.st_gid, grp.getgrgid)}"
    fix = f"chmod o+x {folder}, or set {shown(setting)} to a folder {account.name} can reach"
    who = f"the local Postgres server runs as user {account.name}, which cannot reach {what} {path}"
    raise Problem(f"{who}: {folder} ({mode}) does not let it pass", fix, setting)
