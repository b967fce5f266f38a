"""The state folder's JSON and lock files: unreadable state is a warning and unknown, unwritable state a StateError."""

from __future__ import annotations

import errno
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tasks.lib.config import PROJECT_ROOT
from tasks.lib.problem import Problem

SETTING = "dev.state_dir (INVOKE_DEV_STATE_DIR)"

_warned: set[Path] = set()
_lock = threading.Lock()
IGNORE_ALL = "# made by inv (the Firezone dev tasks): nothing here belongs in git\n*\n"


class StateError(Problem):
    """The state folder or a state file cannot be written: "what: fix"."""

    joined = "{}: {}"


def make_folder(folder: Path) -> None:
    """``mkdir -p folder``; the topmost folder it makes gets a `.gitignore` of ``*``. Raises OSError."""
    top = next((p for p in reversed((folder, *folder.parents)) if not p.exists()), None)
    folder.mkdir(parents=True, exist_ok=True)
    if top is not None:
        ignore_all(top)


# What the suite keeps in its state folder (and the temporary files of atomic writes).
OURS = {".gitignore", "fingerprints", "seeding", "postgres", "cert.lock", "elixir-version.json", "backend.json"}
OURS |= {"postgres-container.json", "upgrade.json", "upgrade.lock"}


def keep_out_of_git(folder: Path) -> None:
    """After a task: a state folder made with a plain mkdir gets its `.gitignore` too, but only when it holds nothing
    of anyone else's (dev.state_dir pointed at a folder of the repository would hide its new files)."""
    with suppress(OSError):
        if folder.is_dir() and folder != PROJECT_ROOT and all(p.name in OURS or p.name.endswith(".tmp") for p in folder.iterdir()):
            ignore_all(folder)


def ignore_all(folder: Path) -> None:
    """Keep ``folder`` out of git with its own `.gitignore` (once; a stat after)."""
    marker = Path(folder) / ".gitignore"
    with suppress(OSError):  # a read-only folder: writing our files there fails with its own message
        if not marker.exists():
            marker.write_text(IGNORE_ALL, encoding="utf-8")


def _show(path: Path) -> str:
    return str(Path(path).relative_to(PROJECT_ROOT)) if Path(path).is_relative_to(PROJECT_ROOT) else str(path)


def warn(path: Path, why: str, then: str) -> None:
    """``warning: ignoring PATH (why): then`` on stderr, once per path and process."""
    with _lock:
        if Path(path) in _warned:
            return
        _warned.add(Path(path))
    print(f"warning: ignoring {_show(path)} ({why}): {then}", file=sys.stderr, flush=True)


def _blocker(folder: Path) -> Path | None:
    """The file standing where ``folder`` or one of its parents should be a folder."""
    for p in (folder, *folder.parents):
        if p.is_dir():
            return None
        if p.exists() or p.is_symlink():
            return p
    return None


def _nearest_folder(folder: Path) -> Path:
    return next((p for p in (folder, *folder.parents) if p.is_dir()), folder)


def _denied(folder: Path) -> StateError:
    return StateError(f"cannot write the state folder {folder} (permission denied)", f"chmod u+w {folder} or set {SETTING}")


def _folder_problem(folder: Path) -> StateError | None:
    """Why ``folder`` (a state folder, maybe not made yet) cannot be written, or None."""
    if blocker := _blocker(folder):
        return StateError(f"cannot write the state folder {blocker} (a file is in the way)", f"remove it or set {SETTING}")
    existing = _nearest_folder(folder)
    if not os.access(existing, os.W_OK | os.X_OK):
        return _denied(existing)
    return None


def _cannot_write(folder: Path, error: OSError) -> StateError:
    """Why making or writing in ``folder`` failed with ``error``."""
    if problem := _folder_problem(folder):
        return problem
    if error.errno in (errno.EACCES, errno.EPERM):
        return _denied(_nearest_folder(folder))
    fix = f"set {SETTING} to a writable folder"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = f"free space on its disk (`df -h {_nearest_folder(folder)}` shows it), or set {SETTING} to a folder on another disk"
    return StateError(f"cannot write the state folder {folder} ({error.strerror or error.__class__.__name__})", fix)


def _file_error(path: Path) -> StateError:
    return StateError(f"cannot write the state file {path} (a folder is in the way)", f"remove it or set {SETTING}")


def read_json(path: Path, then: str, valid: Callable[[dict], bool] | None = None) -> dict | None:
    """The JSON object in ``path`` (passing ``valid``), else None: silent when absent, one warning (``then``: "the step runs") when unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        why = f"{_show(_blocker(path.parent) or path.parent)} is a file, not a folder"
    except OSError as e:
        known = {IsADirectoryError: "a folder, not a file", PermissionError: "permission denied"}
        why = known.get(type(e)) or e.strerror or type(e).__name__
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        why = "not valid JSON"
    else:
        if isinstance(data, dict) and (valid is None or valid(data)):
            return data
        why = "not a JSON object with the expected fields"
    warn(path, why, then)
    return None


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically (a temporary file, then a rename), making its folder; StateError, no temporary file, when it cannot."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        make_folder(path.parent)
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except BaseException as e:  # a Ctrl-C here must not leave the temporary file either
        with suppress(OSError):
            tmp.unlink()
        if not isinstance(e, OSError):
            raise
        if path.is_dir() and not path.is_symlink():
            raise _file_error(path) from None
        raise _cannot_write(path.parent, e) from None


def remove(path: Path) -> None:
    """Delete a state file; absent is fine; StateError when it stays."""
    try:
        path.unlink()
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as e:
        if path.is_dir() and not path.is_symlink():
            raise _file_error(path) from None
        raise _cannot_write(path.parent, e) from None


@contextmanager
def held(path: Path, waiting: str, setting: str = SETTING) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` for the block (the kernel drops it however we end), printing ``waiting`` once while another
    `inv` holds it; anything that stops the lock is a StateError (``setting`` moves its folder)."""
    import fcntl

    fd = _open_lock(Path(path), setting)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(waiting, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as e:  # NFS without lock support (ENOLCK), or a read-only open there (EBADF)
        os.close(fd)
        raise StateError(f"cannot lock {path} ({e.strerror or type(e).__name__})", f"set {setting} to a folder on a local disk") from None
    try:
        yield
    finally:
        os.close(fd)  # closing drops the lock


def _open_lock(path: Path, setting: str) -> int:
    flags = os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        make_folder(path.parent)
        try:
            return os.open(path, os.O_RDWR | flags, 0o644)
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
        return os.open(path, os.O_RDONLY | flags, 0o644)  # a lock needs no write access
    except OSError as e:
        raise _lock_error(path, e, setting) from None


def _lock_error(path: Path, error: OSError, setting: str) -> StateError:
    """Why the lock file ``path`` cannot be opened or made, and the fix."""
    again = f"remove it (rm '{path}'); the next run makes it again"
    if path.is_symlink():
        return StateError(f"cannot use the lock file {path} (it is a symlink)", again)
    if path.is_dir():
        return StateError(f"cannot use the lock file {path} (a folder is in the way)", f"remove it (rm -r '{path}')")
    if path.exists() and error.errno in (errno.EACCES, errno.EPERM):
        return StateError(f"cannot read the lock file {path} (permission denied)", f"once no inv is running, {again}")
    if blocker := _blocker(path.parent):
        return StateError(f"cannot make the lock file {path} ({blocker} is a file, not a folder)", f"remove it or set {setting}")
    if error.errno == errno.EROFS:
        return StateError(f"cannot make the lock file {path} (read-only file system)", f"set {setting} to a writable folder")
    folder = _nearest_folder(path.parent)
    if error.errno in (errno.EACCES, errno.EPERM) or not os.access(folder, os.W_OK | os.X_OK):
        fix = f"set {setting} to a folder you can write (or chmod u+w '{folder}' if it is yours)"
        return StateError(f"cannot make the lock file {path} (no write permission in {folder})", fix)
    why = error.strerror or error.__class__.__name__
    return StateError(f"cannot make the lock file {path} ({why})", f"set {setting} to a writable folder")


def check_writable(folder: Path, create: bool = True) -> None:
    """StateError unless ``folder`` and its fingerprints folder can be written; ``create`` makes them (else a missing one needs a writable parent)."""
    for d in (folder, folder / "fingerprints"):
        if d.is_dir():
            if not os.access(d, os.W_OK | os.X_OK):
                raise _denied(d)
            _no_folder_as_file(d)
            continue
        if not create:
            if problem := _folder_problem(d):
                raise problem
            continue
        try:
            make_folder(d)
        except OSError as e:
            raise _cannot_write(d, e) from None


def _no_folder_as_file(folder: Path) -> None:
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(".json") and entry.is_dir(follow_symlinks=False):
                    raise _file_error(Path(entry.path))
    except OSError:
        pass  # an unreadable folder: reading its files warns
