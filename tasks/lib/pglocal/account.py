"""Who runs the local Postgres server, and whether that account can reach its folders.

Postgres refuses to run as root. Run by anyone else, the server runs as that user. Run
as root (CI, containers), it runs as an unprivileged account: postgres.local_user
(default `postgres`, which Debian's packages create), made with useradd only when
postgres.create_user says so. Its cluster and socket folders are owned by it; the
folders above them must let it pass (search permission), which is checked here and
never changed for the user: opening a home folder to everyone is the user's call.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from invoke import Exit


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    is_us: bool  # the server runs as the user running inv

    def popen_kwargs(self) -> dict:
        """subprocess arguments that run a program as this account (none when it is us)."""
        if self.is_us:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": self.groups()}

    def groups(self) -> list[int]:
        try:
            return sorted(set(os.getgrouplist(self.name, self.gid)))
        except OSError:
            return [self.gid]

    def own(self, path: Path) -> None:
        """Give ``path`` to this account (a no-op when it is us)."""
        if not self.is_us:
            os.chown(path, self.uid, self.gid)


def current() -> Account:
    uid = os.geteuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return Account(name, uid, os.getegid(), True)


def _create(name: str) -> None:
    try:
        done = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Exit(
            f"cannot create user {name} for the local Postgres server (useradd: {e}). Fix: create it yourself, or set postgres.local_user"
        )
    if done.returncode != 0 and "already exists" not in done.stderr:
        said = (done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}").splitlines()[-1]
        raise Exit(
            f"cannot create user {name} for the local Postgres server (useradd: {said}). Fix: create it yourself, or set postgres.local_user"
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
            raise Exit(
                f"{why}: it runs as postgres.local_user={user}, and no user {user} exists here."
                f" Fix: set INVOKE_POSTGRES_CREATE_USER=true and run the command again (inv creates it with useradd --system),"
                f" or set postgres.local_user (INVOKE_POSTGRES_LOCAL_USER) to an existing unprivileged user"
            )
        _create(user)
        entry = pwd.getpwnam(user)
    if entry.pw_uid == 0:
        raise Exit(
            f"{why}: postgres.local_user={user} is root too. Fix: set postgres.local_user (INVOKE_POSTGRES_LOCAL_USER) to an unprivileged user, e.g. postgres"
        )
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, False)


def may_enter(account: Account, folder: Path) -> bool:
    """Whether ``account`` has search permission on ``folder`` (by its mode bits)."""
    try:
        st = folder.stat()
    except OSError:
        return True  # absent: made later, by us, with the right owner
    if account.uid == 0:
        return True
    if st.st_uid == account.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in account.groups():
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def blocking_folder(account: Account, path: Path) -> Path | None:
    """The first folder above (and including) ``path`` that ``account`` may not pass, if any."""
    if account.is_us:
        return None
    path = Path(os.path.abspath(path))
    for folder in reversed([path, *path.parents]):
        if not may_enter(account, folder):
            return folder
    return None


def describe_mode(folder: Path) -> str:
    st = folder.stat()
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return f"mode {stat.S_IMODE(st.st_mode):04o}, owner {owner}:{group}"


def require_reachable(account: Account, path: Path, what: str, setting: str) -> None:
    """Exit when ``account`` cannot reach ``path``: the folder in the way and two fixes."""
    folder = blocking_folder(account, path)
    if folder is None:
        return
    raise Exit(
        f"the local Postgres server runs as user {account.name}, which cannot reach {what} {path}:"
        f" {folder} ({describe_mode(folder)}) does not let it pass."
        f" Fix: chmod o+x {folder}, or set {setting} to a folder {account.name} can reach"
    )
