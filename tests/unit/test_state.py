"""State files with real folders: unreadable is a warning, unwritable one line with the fix."""

from __future__ import annotations

import errno
import json
import os

import pytest
from invoke import Exit

from tasks.lib import state
from tasks.lib.state import StateError
from tests.unit.test_mix_tool import fake_install

FIX = "remove it or set dev.state_dir (INVOKE_DEV_STATE_DIR)"


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    monkeypatch.setattr(state, "_warned", set())


def no_tmp(folder) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


# ------------------------------------------------------------------ read_json


def test_read_absent_is_none_and_silent(tmp_path, capsys):
    assert state.read_json(tmp_path / "nope.json", "the step runs") is None
    assert capsys.readouterr().err == ""


def test_read_round_trip(tmp_path):
    state.write_json(tmp_path / "a" / "b.json", {"x": [1, 2]})
    assert state.read_json(tmp_path / "a" / "b.json", "the step runs") == {"x": [1, 2]}


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
        (b"[1, 2]", "not a JSON object with the expected fields"),
        (b"5", "not a JSON object with the expected fields"),
    ],
)
def test_read_unreadable_warns_once_naming_the_path(tmp_path, capsys, content, why):
    path = tmp_path / "f.json"
    path.write_bytes(content)
    assert state.read_json(path, "the step runs") is None
    assert state.read_json(path, "the step runs") is None
    err = capsys.readouterr().err
    assert err == f"warning: ignoring {path} ({why}): the step runs\n"


def test_read_validates_with_the_callers_check(tmp_path, capsys):
    path = tmp_path / "f.json"
    path.write_text('{"salt": 5}')
    assert state.read_json(path, "x", lambda d: isinstance(d.get("salt"), str)) is None
    assert "not a JSON object with the expected fields" in capsys.readouterr().err
    path.write_text('{"salt": "s"}')
    assert state.read_json(path, "x", lambda d: isinstance(d.get("salt"), str)) == {"salt": "s"}


def test_read_a_folder(tmp_path, capsys):
    (tmp_path / "f.json").mkdir()
    assert state.read_json(tmp_path / "f.json", "the step runs") is None
    assert "(a folder, not a file)" in capsys.readouterr().err


def test_read_below_a_file_names_the_file_in_the_way(tmp_path, capsys):
    (tmp_path / ".inv").write_text("")
    assert state.read_json(tmp_path / ".inv" / "fingerprints" / "deps.json", "the step runs") is None
    assert f"({tmp_path / '.inv'} is a file, not a folder)" in capsys.readouterr().err


def test_read_without_permission(tmp_path, capsys, monkeypatch):
    path = tmp_path / "f.json"
    path.write_text("{}")

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(type(path), "read_text", denied)
    assert state.read_json(path, "the step runs") is None
    assert "(permission denied)" in capsys.readouterr().err


def test_warning_names_the_path_relative_to_the_project(capsys):
    state.warn(state.PROJECT_ROOT / ".inv" / "fingerprints" / "deps.json", "why", "the step runs")
    assert capsys.readouterr().err == "warning: ignoring .inv/fingerprints/deps.json (why): the step runs\n"


# ------------------------------------------------------------------ write_json


def test_write_is_atomic_json_and_leaves_no_tmp(tmp_path):
    path = tmp_path / ".inv" / "fingerprints" / "deps.json"
    state.write_json(path, {"b": 1, "a": 2})
    assert json.loads(path.read_text()) == {"a": 2, "b": 1}
    assert no_tmp(tmp_path)


def test_write_when_the_state_folder_is_a_file(tmp_path):
    (tmp_path / ".inv").write_text("keep me")
    with pytest.raises(StateError) as e:
        state.write_json(tmp_path / ".inv" / "fingerprints" / "deps.json", {})
    assert e.value.message == f"cannot write the state folder {tmp_path / '.inv'} (a file is in the way): {FIX}"
    assert e.value.code == 1 and isinstance(e.value, Exit)
    assert (tmp_path / ".inv").read_text() == "keep me"


def test_write_when_fingerprints_is_a_file(tmp_path):
    (tmp_path / ".inv").mkdir()
    (tmp_path / ".inv" / "fingerprints").write_text("")
    with pytest.raises(StateError) as e:
        state.write_json(tmp_path / ".inv" / "fingerprints" / "deps.json", {})
    assert e.value.message == (f"cannot write the state folder {tmp_path / '.inv' / 'fingerprints'} (a file is in the way): {FIX}")


def test_write_over_a_folder_removes_its_tmp(tmp_path):
    path = tmp_path / "deps.json"
    (path / "inner").mkdir(parents=True)
    with pytest.raises(StateError) as e:
        state.write_json(path, {})
    assert e.value.message == f"cannot write the state file {path} (a folder is in the way): {FIX}"
    assert no_tmp(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deps.json"]


def test_write_denied_names_the_folder_and_chmod(tmp_path, monkeypatch):
    # Root ignores permissions: simulate the refusal instead of chmod.
    monkeypatch.setattr(state.os, "access", lambda p, mode: False)

    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", str(dst))

    monkeypatch.setattr(state.os, "replace", refuse)
    folder = tmp_path / ".inv"
    folder.mkdir()
    with pytest.raises(StateError) as e:
        state.write_json(folder / "elixir-version.json", {})
    assert e.value.message == (
        f"cannot write the state folder {folder} (permission denied): chmod u+w {folder} or set dev.state_dir (INVOKE_DEV_STATE_DIR)"
    )
    assert no_tmp(tmp_path)


def test_write_other_errors_name_the_folder(tmp_path, monkeypatch):
    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(state.os, "replace", full)
    with pytest.raises(StateError, match=r"\(No space left on device\): free space on its disk \(`df -h .*`.*or set dev.state_dir"):
        state.write_json(tmp_path / "x.json", {})
    assert no_tmp(tmp_path)
    monkeypatch.setattr(state.os, "replace", lambda src, dst: (_ for _ in ()).throw(OSError(errno.EIO, "Input/output error")))
    with pytest.raises(StateError, match=r"\(Input/output error\): set dev.state_dir"):
        state.write_json(tmp_path / "x.json", {})


def test_write_into_a_read_only_folder(tmp_path, monkeypatch):
    folder = tmp_path / ".inv"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root writes into read-only folders: make it say what others get

        def denied(self, *args, **kwargs):
            raise PermissionError(errno.EACCES, "Permission denied", str(self))

        monkeypatch.setattr(state.Path, "mkdir", denied)
    try:
        with pytest.raises(StateError, match=f"chmod u\\+w {folder} "):
            state.write_json(folder / "fingerprints" / "deps.json", {})
    finally:
        folder.chmod(0o755)


# ------------------------------------------------------------------ remove


def test_remove_a_file_and_an_absent_one(tmp_path):
    path = tmp_path / "x.json"
    state.write_json(path, {})
    state.remove(path)
    assert not path.exists()
    state.remove(path)
    (tmp_path / "file").write_text("")
    state.remove(tmp_path / "file" / "x.json")  # below a file: cannot exist, nothing to do


def test_remove_a_folder_is_one_line(tmp_path):
    (tmp_path / "x.json").mkdir()
    with pytest.raises(StateError, match="a folder is in the way"):
        state.remove(tmp_path / "x.json")


def test_remove_denied(tmp_path, monkeypatch):
    path = tmp_path / "x.json"
    path.write_text("{}")
    monkeypatch.setattr(state.os, "access", lambda p, mode: False)

    def refuse(self, missing_ok=False):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(type(path), "unlink", refuse)
    with pytest.raises(StateError, match=f"chmod u\\+w {tmp_path} "):
        state.remove(path)


# ------------------------------------------------------------------ check_writable / require_writable


def test_check_creates_both_folders(tmp_path):
    state.check_writable(tmp_path / ".inv")
    assert (tmp_path / ".inv" / "fingerprints").is_dir()


def test_check_without_create_makes_nothing(tmp_path):
    state.check_writable(tmp_path / ".inv", create=False)
    assert not (tmp_path / ".inv").exists()


@pytest.mark.parametrize("create", [True, False])
def test_check_a_file_in_the_way(tmp_path, create):
    (tmp_path / ".inv").write_text("")
    with pytest.raises(StateError) as e:
        state.check_writable(tmp_path / ".inv", create=create)
    assert e.value.message == f"cannot write the state folder {tmp_path / '.inv'} (a file is in the way): {FIX}"


@pytest.mark.parametrize("create", [True, False])
def test_check_fingerprints_a_file(tmp_path, create):
    (tmp_path / ".inv").mkdir()
    (tmp_path / ".inv" / "fingerprints").write_text("")
    with pytest.raises(StateError, match="fingerprints \\(a file is in the way\\)"):
        state.check_writable(tmp_path / ".inv", create=create)


def test_check_a_folder_where_a_state_file_belongs(tmp_path):
    (tmp_path / ".inv" / "fingerprints" / "deps.json").mkdir(parents=True)
    with pytest.raises(StateError) as e:
        state.check_writable(tmp_path / ".inv")
    assert e.value.message == (
        f"cannot write the state file {tmp_path / '.inv' / 'fingerprints' / 'deps.json'} (a folder is in the way): {FIX}"
    )


def test_check_read_only(tmp_path, monkeypatch):
    (tmp_path / ".inv").mkdir()
    monkeypatch.setattr(state.os, "access", lambda p, mode: False)
    with pytest.raises(StateError) as e:
        state.check_writable(tmp_path / ".inv")
    assert e.value.message == (
        f"cannot write the state folder {tmp_path / '.inv'} (permission denied):"
        f" chmod u+w {tmp_path / '.inv'} or set dev.state_dir (INVOKE_DEV_STATE_DIR)"
    )


def test_check_read_only_parent_of_a_missing_folder(tmp_path, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(state.os, "access", lambda p, mode: str(p) != str(tmp_path) and real_access(p, mode))
    with pytest.raises(StateError, match=f"chmod u\\+w {tmp_path} "):
        state.check_writable(tmp_path / ".inv", create=False)


def test_check_is_cheap_when_fine(tmp_path, monkeypatch):
    state.check_writable(tmp_path / ".inv")

    def no_mkdir(*a, **k):
        raise AssertionError("no write expected")

    monkeypatch.setattr(type(tmp_path), "mkdir", no_mkdir)
    state.check_writable(tmp_path / ".inv")


def test_check_writable_makes_the_folder_and_its_fingerprints(tmp_path):
    state.check_writable(tmp_path / "st")
    assert (tmp_path / "st" / "fingerprints").is_dir()


def test_check_writable_without_create_makes_nothing(tmp_path):
    state.check_writable(tmp_path / "st", create=False)
    assert not (tmp_path / "st").exists()


def test_check_writable_file_in_the_way(tmp_path):
    (tmp_path / "st").write_text("")
    with pytest.raises(StateError, match="a file is in the way"):
        state.check_writable(tmp_path / "st")


# ------------------------------------------------------------------ the Elixir version cache (mix/tool.py)


@pytest.mark.parametrize("version", ['"x"', '[1, "a"]', "[]", "[1]", "[true, 2, 3]", "null", "[1, -2, 3]"])
def test_a_bad_version_cache_is_detected_again_and_rewritten(tmp_path, capsys, version):
    from tasks.lib.mix import tool

    mix = fake_install(tmp_path)
    assert tool.elixir_version(str(mix), tmp_path / ".inv", tmp_path) == (1, 15, 7)
    cache = tmp_path / ".inv" / "elixir-version.json"
    key = json.loads(cache.read_text())["key"]
    cache.write_text('{"key": %s, "version": %s}' % (json.dumps(key), version))
    assert tool.elixir_version(str(mix), tmp_path / ".inv", tmp_path) == (1, 15, 7)
    assert "(not a JSON object with the expected fields): the Elixir version is detected again" in capsys.readouterr().err
    assert json.loads(cache.read_text()) == {"key": key, "version": [1, 15, 7]}


def test_a_version_cache_that_cannot_be_written_only_costs_time(tmp_path, capsys):
    from tasks.lib.mix import tool

    mix = fake_install(tmp_path)
    (tmp_path / ".inv").write_text("")
    assert tool.elixir_version(str(mix), tmp_path / ".inv", tmp_path) == (1, 15, 7)
    assert tool.elixir_version(str(mix), tmp_path / ".inv", tmp_path) == (1, 15, 7)
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "is a file, not a folder" in err
    assert no_tmp(tmp_path)


# ------------------------------------------------------------------ held (lock files)


def test_held_makes_the_lock_and_its_folder_and_waits_for_another_holder(tmp_path, capsys):
    import threading

    lock = tmp_path / ".inv" / "x.lock"
    order = []
    with state.held(lock, "waiting for the other"):
        assert lock.is_file()

        def second():
            with state.held(lock, "waiting for the other"):
                order.append("second")

        t = threading.Thread(target=second)
        t.start()
        t.join(0.3)
        assert t.is_alive() and order == []  # a separate open blocks on the same file
        order.append("first done")
    t.join(5)
    assert order == ["first done", "second"]
    assert capsys.readouterr().out == "waiting for the other\n"


def test_held_uses_a_lock_file_another_user_made_read_only(tmp_path):
    """Root's lock file (0444 here) in a shared folder: a later run as another user still
    locks, since the lock opens read-only. As root, the test takes nobody's effective ids
    for the open, so the kernel checks the permissions for real."""
    import shutil
    import tempfile
    from pathlib import Path

    root = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp()) if root else tmp_path  # pytest's own folders are root's only
    try:
        folder.chmod(0o777)
        lock = folder / "cert.lock"
        lock.touch()
        lock.chmod(0o444)
        if root:
            os.setegid(65534)
            os.seteuid(65534)
        try:
            with state.held(lock, "w"):
                held = True
        finally:
            if root:
                os.seteuid(0)
                os.setegid(0)
        assert held
    finally:
        if root:
            shutil.rmtree(folder)


@pytest.mark.parametrize("shape", ["symlink", "folder"])
def test_held_names_a_lock_file_in_the_way_and_the_fix(tmp_path, shape):
    lock = tmp_path / "cert.lock"
    if shape == "symlink":
        lock.symlink_to(tmp_path / "elsewhere")
        fix = f"(it is a symlink): remove it (rm '{lock}'); the next run makes it again"
    else:
        lock.mkdir()
        fix = f"(a folder is in the way): remove it (rm -r '{lock}')"
    with pytest.raises(StateError) as e:
        with state.held(lock, "w"):
            pass
    assert e.value.message == f"cannot use the lock file {lock} {fix}"
    assert not (tmp_path / "elsewhere").exists()


def refusing(*errnos: int):
    """os.open failing with each of ``errnos`` in turn (root reads anything: simulated)."""
    left = list(errnos)

    def refuse(path, flags, mode=0o777):
        raise OSError(left.pop(0), os.strerror(errnos[0]), str(path))

    return refuse


def test_held_an_unreadable_lock_file_says_remove_it(tmp_path, monkeypatch):
    lock = tmp_path / "cert.lock"
    lock.touch()
    monkeypatch.setattr(state.os, "open", refusing(errno.EACCES, errno.EACCES))
    with pytest.raises(StateError) as e:
        with state.held(lock, "w"):
            pass
    assert e.value.message == (
        f"cannot read the lock file {lock} (permission denied): once no inv is running, remove it (rm '{lock}');"
        " the next run makes it again"
    )


def test_held_in_a_folder_of_someone_else_names_the_setting_that_moves_it(tmp_path, monkeypatch):
    lock = tmp_path / ".15.lock"
    monkeypatch.setattr(state.os, "open", refusing(errno.EACCES, errno.EACCES))
    with pytest.raises(StateError) as e:
        with state.held(lock, "w", "postgres.local_dir (INVOKE_POSTGRES_LOCAL_DIR)"):
            pass
    assert e.value.message == (
        f"cannot make the lock file {lock} (no write permission in {tmp_path}): set postgres.local_dir"
        f" (INVOKE_POSTGRES_LOCAL_DIR) to a folder you can write (or chmod u+w '{tmp_path}' if it is yours)"
    )


def test_held_on_a_read_only_disk(tmp_path, monkeypatch):
    lock = tmp_path / "cert.lock"
    monkeypatch.setattr(state.os, "open", refusing(errno.EROFS, errno.EROFS))
    with pytest.raises(StateError) as e:
        with state.held(lock, "w"):
            pass
    assert (
        e.value.message
        == f"cannot make the lock file {lock} (read-only file system): set dev.state_dir (INVOKE_DEV_STATE_DIR) to a writable folder"
    )


def test_held_where_flock_does_not_work(tmp_path, monkeypatch):
    import fcntl

    def no_locks(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)  # NFS without a lock daemon
    lock = tmp_path / "cert.lock"
    with pytest.raises(StateError) as e:
        with state.held(lock, "w"):
            pass
    assert (
        e.value.message == f"cannot lock {lock} (No locks available): set dev.state_dir (INVOKE_DEV_STATE_DIR) to a folder on a local disk"
    )


def test_held_below_a_file_names_the_file_in_the_way(tmp_path):
    (tmp_path / ".inv").write_text("")
    with pytest.raises(StateError) as e:
        with state.held(tmp_path / ".inv" / "cert.lock", "w"):
            pass
    assert e.value.message == (
        f"cannot make the lock file {tmp_path / '.inv' / 'cert.lock'} ({tmp_path / '.inv'} is a file, not a folder):"
        " remove it or set dev.state_dir (INVOKE_DEV_STATE_DIR)"
    )


# ------------------------------------------------------------------ git


def test_a_folder_the_suite_makes_ignores_itself(tmp_path):
    state.write_json(tmp_path / ".inv" / "fingerprints" / "deps.json", {})
    assert (tmp_path / ".inv" / ".gitignore").read_text() == state.IGNORE_ALL
    assert not (tmp_path / ".inv" / "fingerprints" / ".gitignore").exists()  # the topmost new folder only
    state.check_writable(tmp_path / "old")  # made by check_writable too
    assert (tmp_path / "old" / ".gitignore").is_file()


def test_a_state_folder_made_by_a_plain_mkdir_gets_its_gitignore_but_never_the_root(tmp_path, monkeypatch):
    (tmp_path / ".inv").mkdir()
    state.keep_out_of_git(tmp_path / ".inv")
    assert (tmp_path / ".inv" / ".gitignore").read_text() == state.IGNORE_ALL
    monkeypatch.setattr(state, "PROJECT_ROOT", tmp_path / "firezone")
    (tmp_path / "firezone" / "sub").mkdir(parents=True)
    (tmp_path / "firezone" / "sub" / ".git").mkdir()
    (tmp_path / "firezone" / "scripts").mkdir()
    (tmp_path / "firezone" / "scripts" / "build.sh").write_text("")
    for folder in (tmp_path, tmp_path / "firezone", tmp_path / "firezone" / "sub", tmp_path / "firezone" / "scripts"):
        state.keep_out_of_git(folder)  # state_dir pointed at ".", "..", a checkout, or a folder of the repository
        assert not (folder / ".gitignore").exists()


def test_a_state_error_has_its_fields(tmp_path):
    (tmp_path / ".inv").write_text("")
    with pytest.raises(StateError) as e:
        state.check_writable(tmp_path / ".inv")
    assert (e.value.what, e.value.fix) == (f"cannot write the state folder {tmp_path / '.inv'} (a file is in the way)", FIX)
