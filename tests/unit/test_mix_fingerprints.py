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


def test_a_folder_input_changes_when_a_file_is_added_or_removed_not_edited(tmp_path):
    migrations = tmp_path / "priv" / "repo" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "1_init.exs").write_text("v1")
    state = tmp_path / ".inv"
    step = Step("migrate", [migrations], base=tmp_path)
    fingerprints.record(state, step)
    (migrations / "1_init.exs").write_text("v2")  # only the listing counts
    assert fingerprints.is_up_to_date(state, step) == (True, "priv/repo/migrations unchanged")
    (migrations / "2_more.exs").write_text("x")
    assert fingerprints.is_up_to_date(state, step) == (False, "priv/repo/migrations changed")
    fingerprints.record(state, step)
    (migrations / "1_init.exs").unlink()
    assert fingerprints.is_up_to_date(state, step) == (False, "priv/repo/migrations changed")


def test_a_folder_input_replaced_by_a_file_is_a_change(tmp_path):
    target = tmp_path / "deps"
    target.mkdir()
    (target / "a").write_text("")
    state = tmp_path / ".inv"
    step = Step("s", [target], base=tmp_path)
    fingerprints.record(state, step)
    (target / "a").unlink()
    target.rmdir()
    target.write_text("a")  # a file whose content is the folder's old listing
    assert fingerprints.is_up_to_date(state, step) == (False, "deps changed")


def test_a_step_name_with_slashes_or_odd_characters_is_one_file_in_the_fingerprints_folder(tmp_path):
    state = tmp_path / ".inv"
    for name in ("apps/web setup", "web-assets.v2_x"):
        step = Step(name, [])
        fingerprints.record(state, step)
        assert fingerprints.is_up_to_date(state, step) == (True, "nothing changed")
    assert sorted(p.name for p in (state / "fingerprints").iterdir()) == ["apps_web_setup.json", "web-assets.v2_x.json"]


def test_many_changed_inputs_are_named_three_and_counted(tmp_path):
    files = [tmp_path / f"{n}.exs" for n in "abcde"]
    for f in files:
        f.write_text("1")
    state = tmp_path / ".inv"
    steps = {n: Step(str(n), files[:n], base=tmp_path) for n in (3, 4, 5)}
    for step in steps.values():
        fingerprints.record(state, step)
    for f in files:
        f.write_text("2")
    assert fingerprints.is_up_to_date(state, steps[3]) == (False, "a.exs, b.exs, c.exs changed")
    assert fingerprints.is_up_to_date(state, steps[4]) == (False, "a.exs, b.exs, c.exs and 1 more changed")
    assert fingerprints.is_up_to_date(state, steps[5]) == (False, "a.exs, b.exs, c.exs and 2 more changed")


def test_without_a_summary_the_first_input_is_named(tmp_path):
    root, state, step = make(tmp_path)
    plain = Step("deps", step.inputs, step.outputs, base=root)
    fingerprints.record(state, plain)
    assert fingerprints.is_up_to_date(state, plain) == (True, "mix.lock unchanged")
    unbased = Step("deps", step.inputs[1:], step.outputs)
    fingerprints.record(state, unbased)
    assert fingerprints.is_up_to_date(state, unbased) == (True, f"{root / 'mix.exs'} unchanged")


def test_missing_outputs_are_the_absent_and_the_empty_ones(tmp_path):
    root, _, _ = make(tmp_path)
    (root / "_build").mkdir()
    step = Step("s", [], [root / "deps", root / "_build", root / "priv/static", root / "mix.lock"])
    assert fingerprints.missing_outputs(step) == [root / "_build", root / "priv/static"]


def test_the_record_is_the_content_hashes_the_salt_the_name_and_the_time(tmp_path, monkeypatch):
    import hashlib
    import json

    lock, folder = tmp_path / "mix.lock", tmp_path / "deps"
    lock.write_bytes(b"%{}\n" * 100_000)  # over one read chunk
    folder.mkdir()
    (folder / "b").mkdir()
    (folder / "a").write_text("x")
    monkeypatch.setattr(fingerprints.time, "time", lambda: 1234.5)
    state = tmp_path / ".inv"
    fingerprints.record(state, Step("deps", [lock, folder, tmp_path / "gone"], salt="mix deps.get"))
    data = json.loads((state / "fingerprints" / "deps.json").read_text())
    assert data == {
        "inputs": {
            str(lock): hashlib.sha256(lock.read_bytes()).hexdigest(),
            str(folder): "dir:" + hashlib.sha256(b"a\nb").hexdigest(),
            str(tmp_path / "gone"): "absent",
        },
        "salt": hashlib.sha256(b"mix deps.get").hexdigest()[:16],
        "name": "deps",
        "at": 1234.5,
    }


def test_an_input_under_a_file_hashes_as_absent(tmp_path):
    (tmp_path / "f").write_text("x")
    assert fingerprints.file_hash(tmp_path / "f" / "child") == "absent"


def test_an_output_folder_that_cannot_be_listed_is_missing(tmp_path, monkeypatch):
    out = tmp_path / "_build"
    out.mkdir()
    (out / "x").write_text("1")
    assert fingerprints.output_present(out)

    def denied(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fingerprints.os, "scandir", denied)
    assert not fingerprints.output_present(out)
    assert fingerprints.missing_outputs(Step("build", [], [out])) == [out]
