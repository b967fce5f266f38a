import pytest
from invoke import Exit

from tasks.lib.portal_env import parse_assignments, server_env


def test_server_env_has_database_workos_and_extra():
    env = server_env(["FZFF_X=true", "FEATURE_Y_ENABLED=a=b"], environ={"WORKOS_API_KEY": "sk_test_w", "DATABASE_PORT": "6543"})
    assert env["DATABASE_PORT"] == "6543"
    assert env["WORKOS_API_KEY"] == "sk_test_w"
    assert "WORKOS_CLIENT_ID" not in env
    assert env["FZFF_X"] == "true" and env["FEATURE_Y_ENABLED"] == "a=b"


@pytest.mark.parametrize("bad", ["NOEQUALS", "1BAD=x", "=x", "A B=c"])
def test_bad_assignment(bad):
    with pytest.raises(Exit) as e:
        parse_assignments([bad])
    assert "KEY=VALUE" in e.value.message


def test_secrets_are_refused_on_the_command_line():
    with pytest.raises(Exit) as e:
        server_env(["DATABASE_PASSWORD=hunter2"], environ={})
    assert "put DATABASE_PASSWORD in .env" in e.value.message and "hunter2" not in e.value.message


def test_mix_gets_pghost_and_pgport_for_a_config_that_names_no_port():
    from tasks.lib.portal_env import mix_env

    env = mix_env({"DATABASE_PORT": "56101", "DATABASE_HOST": "127.0.0.1"})
    assert (env["PGPORT"], env["PGHOST"], env["DATABASE_PORT"]) == ("56101", "127.0.0.1", "56101")
