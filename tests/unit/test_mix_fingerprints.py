"""Up-to-date checks with real files in temporary folders."""

import pytest

from tasks.lib import state as state_files
from tasks.lib.mix import fingerprints
from tasks.lib.mix.fingerprints import Step
from tasks.lib.state import StateError


@pytest.fixture(autouse=True)
def _fresh_warnings(monkeypatch):
    monkeypatch.setattr(state_files, "_warned", set())


def make(tmp_path, lock_text="%{}"):
    root = tmp_path / "elixir"
    root.mkdir()
    (root / "mix.lock").write_text(lock_text)
    (root / "mix.exs").write_text("defmodule X do end")
    deps = root / "deps"
    deps.mkdir()
    (deps / "ecto").mkdir()
    state = tmp_path / ".inv"
    step = Step("deps", [root / "mix.lock", root / "mix.exs"], [deps], base=root, summary="mix.lock unchanged")
    return root, state, step


def test_never_ran_is_stale(tmp_path):
    _, state, step = make(tmp_path)
    assert fingerprints.is_up_to_date(state, step) == (False, "no successful run recorded")


def test_recorded_is_fresh_with_summary(tmp_path):
    _, state, step = make(tmp_path)
    fingerprints.record(state, step)
    assert fingerprints.is_up_to_date(state, step) == (True, "mix.lock unchanged")
    assert (state / "fingerprints" / "deps.json").is_file()


def test_changed_input_content_is_stale(tmp_path):
    root, state, step = make(tmp_path)
    fingerprints.record(state, step)
    (root / "mix.lock").write_text('%{"jason": {:hex, :jason, "1.4.1"}}')
    assert fingerprints.is_up_to_date(state, step) == (False, "mix.lock changed")


def test_touch_without_content_change_stays_fresh(tmp_path):
    root, state, step = make(tmp_path)
    fingerprints.record(state, step)
    (root / "mix.lock").write_text("%{}")  # same content, new mtime
    assert fingerprints.is_up_to_date(state, step)[0]


def test_missing_input_hashes_as_absent_and_appearing_is_a_change(tmp_path):
    root, state, _ = make(tmp_path)
    step = Step("s", [root / "package-lock.json"], [])
    assert fingerprints.fingerprint(step)["inputs"][str(root / "package-lock.json")] == "absent"
    fingerprints.record(state, step)
    assert fingerprints.is_up_to_date(state, step)[0]
    (root / "package-lock.json").write_text("{}")
    assert fingerprints.is_up_to_date(state, step) == (False, f"{root / 'package-lock.json'} changed")


def test_deleted_or_emptied_output_is_stale(tmp_path):
    root, state, step = make(tmp_path)
    fingerprints.record(state, step)
    (root / "deps" / "ecto").rmdir()
    assert fingerprints.is_up_to_date(state, step) == (False, "deps is missing")
    (root / "deps").rmdir()
    assert fingerprints.is_up_to_date(state, step) == (False, "deps is missing")


def test_added_input_file_is_a_change(tmp_path):
    root, state, step = make(tmp_path)
    fingerprints.record(state, step)
    (root / "apps").mkdir()
    (root / "apps" / "web.exs").write_text("x")
    bigger = Step("deps", [*step.inputs, root / "apps" / "web.exs"], step.outputs, base=root)
    assert fingerprints.is_up_to_date(state, bigger) == (False, "apps/web.exs changed")


def test_settings_change_is_stale(tmp_path):
    _, state, step = make(tmp_path)
    fingerprints.record(state, step)
    other = Step(step.name, step.inputs, step.outputs, salt="deps.get --only dev")
    assert fingerprints.is_up_to_date(state, other) == (False, "its settings changed")


def test_corrupt_record_is_stale_with_one_warning(tmp_path, capsys):
    _, state, step = make(tmp_path)
    fingerprints.record(state, step)
    (state / "fingerprints" / "deps.json").write_text("{not json")
    assert fingerprints.is_up_to_date(state, step) == (False, "its record cannot be read")
    assert fingerprints.is_up_to_date(state, step)[0] is False
    err = capsys.readouterr().err
    assert err.count("warning:") == 1
    assert f"ignoring {state / 'fingerprints' / 'deps.json'} (not valid JSON): the step runs" in err


@pytest.mark.parametrize(
    "text",
    [
        '{"inputs": [1, 2], "salt": "x"}',
        '{"salt": 5, "inputs": {}}',
        '{"inputs": {"mix.lock": 1}, "salt": "x"}',
        '{"inputs": {}}',
        "[1, 2]",
        '"a string"',
        "null",
    ],
)
def test_record_of_the_wrong_shape_is_stale_with_a_warning(tmp_path, capsys, text):
    _, state, step = make(tmp_path)
    fingerprints.record(state, step)
    (state / "fingerprints" / "deps.json").write_text(text)
    assert fingerprints.is_up_to_date(state, step) == (False, "its record cannot be read")
    err = capsys.readouterr().err
    assert "(not a JSON object with the expected fields): the step runs" in err
    fingerprints.record(state, step)  # a new record replaces the bad one
    assert fingerprints.is_up_to_date(state, step)[0]


def test_record_that_is_a_folder_is_stale_then_cannot_be_written(tmp_path, capsys):
    _, state, step = make(tmp_path)
    (state / "fingerprints" / "deps.json").mkdir(parents=True)
    assert fingerprints.is_up_to_date(state, step) == (False, "its record cannot be read")
    assert "(a folder, not a file): the step runs" in capsys.readouterr().err
    with pytest.raises(StateError) as e:
        fingerprints.record(state, step)
    assert e.value.message == (
        f"cannot write the state file {state / 'fingerprints' / 'deps.json'} (a folder is in the way):"
        " remove it or set dev.state_dir (INVOKE_DEV_STATE_DIR)"
    )
    assert [p.name for p in (state / "fingerprints").iterdir()] == ["deps.json"]  # no .tmp left


def test_state_folder_that_is_a_file(tmp_path, capsys):
    _, state, step = make(tmp_path)
    state.write_text("oops")
    assert fingerprints.is_up_to_date(state, step) == (False, "no successful run recorded")
    assert f"({state} is a file, not a folder): the step runs" in capsys.readouterr().err
    with pytest.raises(StateError, match=r"\(a file is in the way\): remove it"):
        fingerprints.record(state, step)
    assert state.read_text() == "oops"
