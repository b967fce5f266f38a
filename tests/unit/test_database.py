"""tasks/lib/database.py: DATABASE_* settings and the local-host guard."""

import pytest
from invoke import Exit

from tasks.lib.database import database, is_local_host, require_local


def test_database_defaults_match_dev_exs():
    db = database({})
    assert (db.host, db.port, db.name, db.user, db.password) == ("localhost", 5432, "firezone_dev", "postgres", "postgres")
    assert db.env()["DATABASE_PORT"] == "5432"


def test_database_from_env():
    db = database({"DATABASE_PORT": "15432", "DATABASE_NAME": "x", "DATABASE_PASSWORD": "pw"})
    assert db.port == 15432 and db.name == "x" and db.password == "pw"
    assert "pw" not in repr(db.conninfo()["host"])


@pytest.mark.parametrize("bad", ["abc", "0", "70000"])
def test_bad_port_is_one_line(bad):
    with pytest.raises(Exit) as e:
        database({"DATABASE_PORT": bad})
    assert "DATABASE_PORT" in e.value.message and ".env" in e.value.message


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "/var/run/postgresql", "db.localhost"])
def test_local_hosts(host):
    assert is_local_host(host)


@pytest.mark.parametrize("host", ["db.example.com", "10.0.0.5", "192.168.1.2", "staging-db", "8.8.8.8"])
def test_non_local_hosts(host):
    assert not is_local_host(host)


def test_require_local_refuses_a_remote_host_naming_where_it_came_from():
    require_local(database({}), "refusing", "why")
    with pytest.raises(Exit) as e:
        require_local(database({"DATABASE_HOST": "db.example.com"}), "refusing to reset", "it drops data")
    msg = e.value.message
    assert msg.startswith("refusing to reset: DATABASE_HOST=db.example.com (from ")
    assert "is not a local address, and it drops data. Fix:" in msg
    assert "DATABASE_HOST=localhost" in msg and "\n" not in msg
