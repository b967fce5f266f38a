"""The template's key, name and record: pure logic, no server."""

from __future__ import annotations

import json

from tasks.lib.database import template
from tasks.lib.database.template import Template


def tree(tmp_path):
    root = tmp_path / "elixir"
    (root / "apps" / "domain" / "priv" / "repo" / "migrations").mkdir(parents=True)
    (root / "priv" / "repo" / "manual_migrations").mkdir(parents=True)
    (root / "apps" / "domain" / "priv" / "repo" / "seeds.exs").write_text("seeds\n")
    (root / "apps" / "domain" / "priv" / "repo" / "migrations" / "1_a.exs").write_text("a\n")
    (root / "priv" / "repo" / "manual_migrations" / "2_b.exs").write_text("b\n")
    (root / "mix.lock").write_text("%{}\n")
    (root / "apps" / "domain" / "lib.ex").write_text("code\n")
    return root


def test_each_input_changes_its_own_part_of_the_key(tmp_path):
    root = tree(tmp_path)
    base = template.key(root, False, 15)
    assert base == template.key(root, False, 15)
    (root / "apps" / "domain" / "lib.ex").write_text("other code\n")  # not a migration or seed
    assert template.key(root, False, 15) == base
    for path in ("apps/domain/priv/repo/seeds.exs", "priv/repo/manual_migrations/2_b.exs", "apps/domain/priv/repo/migrations/1_a.exs"):
        (root / path).write_text("changed\n")
        now = template.key(root, False, 15)
        assert now["migrations and seeds"] != base["migrations and seeds"] and now["mix.lock"] == base["mix.lock"]
        base = now
    (root / "priv" / "repo" / "manual_migrations" / "2_b.exs").rename(root / "priv" / "repo" / "manual_migrations" / "3_b.exs")
    assert template.key(root, False, 15)["migrations and seeds"] != base["migrations and seeds"]
    (root / "mix.lock").write_text("%{x: 1}\n")
    assert template.key(root, False, 15)["mix.lock"] != base["mix.lock"]
    assert template.key(root, True, 15)["static seeds"] == "yes" and template.key(root, False, 18)["postgres major"] == "18"


def test_mismatch_names_what_changed(tmp_path):
    root = tree(tmp_path)
    want = template.key(root, False, 15)
    record = {"made_by": "inv", "template_of": "firezone_dev", "key": want, "at": "2026-12-07T12:00:00+00:00"}
    found = Template("firezone_dev__seeded", True, record, 8_100_000, 15)
    assert found.mismatch(want) is None
    assert found.mismatch({**want, "postgres major": "18"}) == "postgres major changed since firezone_dev__seeded was made"
    assert Template("t", False, None, 0, 15).mismatch(want) == "no template t yet"
    assert "inv did not make it" in (Template("t", True, None, 0, 15).mismatch(want) or "")
    text = found.describe(root, now=record_time(record) + 180)
    assert text == "firezone_dev__seeded: 8.1 MB, made 3 min ago, matches the repository"
    (root / "mix.lock").write_text("changed\n")
    assert "stale: mix.lock changed" in found.describe(root)


def record_time(record: dict) -> float:
    from datetime import datetime

    return datetime.fromisoformat(record["at"]).timestamp()


def test_only_our_record_for_this_database_counts():
    ours = {"made_by": "inv", "template_of": "firezone_dev", "key": {}}
    assert template._parse(json.dumps(ours), "firezone_dev") == ours
    assert template._parse(json.dumps(ours).encode(), "firezone_dev") == ours
    assert template._parse(json.dumps(ours), "other_dev") is None
    assert template._parse(json.dumps({**ours, "made_by": "someone"}), "firezone_dev") is None
    assert template._parse("a comment", "firezone_dev") is None
    assert template._parse(None, "firezone_dev") is None


def test_names_stay_within_postgres_limit():
    assert template.name_for("firezone_dev") == "firezone_dev__seeded"
    long = template.name_for("x" * 63)
    assert len(long) == 63 and long.endswith("__seeded")
    assert template.name_for("firezone_dev", "__cloning") == "firezone_dev__cloning"
