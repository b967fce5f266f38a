"""The seed lock's key and holder name, and the started-seed record's wording."""

from __future__ import annotations

from tasks.lib.database import Database, locks, seeding


def db(name="firezone_dev"):
    return Database(host="localhost", port=5432, name=name, user="postgres", password="postgres")


def test_the_key_is_a_stable_signed_64_bit_number_per_database_name():
    assert locks.key(db()) == locks.key(db())
    assert locks.key(db()) != locks.key(db("firezone_test"))
    assert -(2**63) <= locks.key(db()) < 2**63


def test_the_holder_name_fits_application_name(monkeypatch):
    monkeypatch.setattr("sys.argv", ["inv", "dev.up", "--no-iex"])
    name = locks.holder_name("seeding")
    assert name.startswith("inv dev.up seeding, pid ")
    assert len(name) <= 63


def test_a_start_record_reads_as_the_seed_of_a_time_and_pid():
    record = seeding.start_record("reset", now=0)
    assert set(record) == {"doing", "started", "pid", "host", "cluster"}
    said = seeding.describe_start(record)
    assert said.startswith("reset of 19") and f"(pid {record['pid']})" in said
    assert seeding.describe_start({"doing": "rm -rf", "started": 3}) == "seed of an unknown time"


def test_a_failed_seed_is_told_as_failed_not_interrupted(tmp_path):
    import pytest
    from invoke import Exit

    from tasks.lib.stack import seed

    state = tmp_path / ".inv"
    assert seed.unfinished(state, db()) is None
    with seed.recorded(state, db(), "seed"):
        assert seed.unfinished(state, db()).endswith("was interrupted before it finished")
    assert seed.unfinished(state, db()) is None
    with pytest.raises(Exit), seed.recorded(state, db(), "seed"):
        raise Exit("mix ecto.seed failed", code=1)
    assert seed.unfinished(state, db()).endswith("failed (exit code 1)")
