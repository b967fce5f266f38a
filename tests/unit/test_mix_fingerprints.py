"""Up-to-date checks with real files in temporary folders."""

from tasks.lib.mix import fingerprints
from tasks.lib.mix.fingerprints import Step


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


def test_forget_one_and_all(tmp_path):
    root, state, step = make(tmp_path)
    other = Step("setup", [root / "mix.exs"], [])
    fingerprints.record(state, step)
    fingerprints.record(state, other)
    fingerprints.forget(state, "deps")
    assert not fingerprints.is_up_to_date(state, step)[0]
    assert fingerprints.is_up_to_date(state, other)[0]
    fingerprints.forget(state)
    assert not fingerprints.is_up_to_date(state, other)[0]
    fingerprints.forget(tmp_path / "nowhere")  # nothing recorded: no error


def test_corrupt_record_is_stale(tmp_path):
    _, state, step = make(tmp_path)
    fingerprints.record(state, step)
    (state / "fingerprints" / "deps.json").write_text("{not json")
    assert fingerprints.is_up_to_date(state, step) == (False, "no successful run recorded")
