"""Which compose file is read for Postgres, and what it says: includes, ports, volumes, environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.lib.repo import compose


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def service_file(tmp_path: Path, postgres: str) -> compose.PostgresService:
    """The Postgres service of a compose.yml whose `postgres` service is ``postgres`` (YAML flow)."""
    write(tmp_path / "compose.yml", f"services:\n  postgres: {postgres}\n")
    svc = compose.postgres_service(tmp_path)
    assert svc is not None
    return svc


# --------------------------------------------------------------------------- which file


@pytest.mark.parametrize(
    "include",
    [
        "[deploy/db.yml]",
        "[{path: deploy/db.yml}]",
        "[{path: [deploy/db.yml, deploy/override.yml]}]",
        "[7, {path: 3}, {project_directory: x}, '', deploy/db.yml]",
    ],
)
def test_the_root_files_include_is_followed_before_the_fallback_folder(tmp_path, include):
    # The included file is outside scripts/compose/, which holds another Postgres: only
    # following `include:` finds postgres:18.
    write(tmp_path / "docker-compose.yml", f"include: {include}\nservices:\n  web: {{image: nginx}}\n")
    write(tmp_path / "deploy/db.yml", "services:\n  postgres: {image: 'postgres:18'}\n")
    write(tmp_path / "deploy/override.yml", "services:\n  web: {image: nginx}\n")
    write(tmp_path / "scripts/compose/old.yml", "services:\n  postgres: {image: 'postgres:15'}\n")
    svc = compose.postgres_service(tmp_path)
    assert svc is not None
    assert (svc.image, svc.path) == ("postgres:18", (tmp_path / "deploy/db.yml").resolve())


def test_a_root_file_that_is_not_a_mapping_leaves_the_fallback_folder(tmp_path):
    write(tmp_path / "compose.yml", "- a list\n- not a compose file\n")
    write(tmp_path / "scripts/compose/portal.yml", "services:\n  postgres: {image: 'postgres:17'}\n")
    svc = compose.postgres_service(tmp_path)
    assert svc is not None and svc.image == "postgres:17"


def test_a_file_both_included_and_in_the_fallback_folder_is_reported_once(tmp_path):
    write(tmp_path / "docker-compose.yml", "include: [scripts/compose/portal.yml]\n")
    write(tmp_path / "scripts/compose/portal.yml", "services: [broken\n")
    assert compose.problems(tmp_path) == [f"{(tmp_path / 'scripts/compose/portal.yml').resolve()} line 2: not valid YAML"]


def test_a_broken_first_file_does_not_hide_the_next(tmp_path):
    write(tmp_path / "docker-compose.yml", "services: [broken\n")
    write(tmp_path / "scripts/compose/portal.yml", "services:\n  postgres: {image: 'postgres:18'}\n")
    svc = compose.postgres_service(tmp_path)
    assert svc is not None and svc.image == "postgres:18"


def test_a_file_named_by_a_setting_is_read_instead_of_the_repositorys(tmp_path):
    write(tmp_path / "compose.yml", "services:\n  postgres: {image: 'postgres:18'}\n")
    mine = write(tmp_path / "elsewhere/mine.yml", "services:\n  postgres: {image: 'postgres:16'}\n")
    svc = compose.postgres_service(tmp_path, mine)
    assert svc is not None and (svc.image, svc.path) == ("postgres:16", mine)


def test_a_file_named_by_a_setting_that_cannot_be_read_is_one_line_naming_it(tmp_path):
    missing = tmp_path / "missing.yml"
    with pytest.raises(compose.ComposeError) as e:
        compose.postgres_service(tmp_path, missing)
    assert str(e.value) == f"{missing}: cannot be read (FileNotFoundError)"
    latin1 = tmp_path / "latin1.yml"
    latin1.write_bytes(b"services:\n  postgres: {image: 'postgres:18'} # caf\xe9\n")
    with pytest.raises(compose.ComposeError) as e:
        compose.postgres_service(tmp_path, latin1)
    assert str(e.value) == f"{latin1}: cannot be read (UnicodeDecodeError)"


def test_yaml_that_cannot_even_be_scanned_is_named_without_a_line(tmp_path):
    bad = tmp_path / "bell.yml"
    bad.write_bytes(b"services:\n  postgres: {image: 'postgres\x07'}\n")  # a control character
    with pytest.raises(compose.ComposeError) as e:
        compose.postgres_service(tmp_path, bad)
    assert str(e.value) == f"{bad}: not valid YAML"


# --------------------------------------------------------------------------- which service


def test_the_first_service_whose_image_is_postgres_when_none_is_named_postgres(tmp_path):
    write(
        tmp_path / "compose.yml",
        "services:\n  a: 5\n  b: {image: 7}\n  c: {image: nginx}\n  d: {image: 'postgres:16', command: postgres}\n",
    )
    svc = compose.postgres_service(tmp_path)
    assert svc is not None and (svc.image, svc.command) == ("postgres:16", "postgres")


@pytest.mark.parametrize("image", ["", "image: ''", "image: 5"])
def test_a_missing_or_odd_image_and_command_say_nothing(tmp_path, image):
    svc = service_file(tmp_path, "{" + image + "}")
    assert (svc.image, svc.command, svc.data_dir, svc.database_defaults) == (None, None, None, {})


# --------------------------------------------------------------------------- ports


@pytest.mark.parametrize(
    "ports, port",
    [
        ("['5432']", "5432"),
        ("['5433:5432']", "5433"),
        ("['127.0.0.1:6000:5432']", "6000"),
        ("['127.0.0.1:6000:5432/tcp']", "6000"),
        ("['[::1]:6001:5432']", "6001"),
        ("['127.0.0.1:${DATABASE_PORT:-6002}:5432']", "6002"),
        ("[{target: 5432, published: 6003}]", "6003"),
        ("[{target: 5432, published: '${DATABASE_PORT:-6004}', host_ip: 127.0.0.1}]", "6004"),
        ("['8080:80', {target: 80, published: 8081}, {target: 5432, published: '6005'}]", "6005"),
    ],
)
def test_the_published_port_of_5432_is_the_default_database_port(tmp_path, ports, port):
    svc = service_file(tmp_path, "{image: 'postgres:18', ports: " + ports + "}")
    assert svc.database_defaults == {"DATABASE_PORT": port}


@pytest.mark.parametrize("ports", ["['8080:80']", "[{target: 80, published: 8080}]", "[{target: 5432}]", "[{published: 6000}]"])
def test_no_published_5432_is_no_default_port(tmp_path, ports):
    svc = service_file(tmp_path, "{image: 'postgres:18', ports: " + ports + "}")
    assert svc.database_defaults == {}


# --------------------------------------------------------------------------- environment


def test_environment_defaults_literals_and_what_is_not_a_default(tmp_path):
    svc = service_file(
        tmp_path,
        "{image: 'postgres:18', environment: {TZ: UTC, POSTGRES_USER: null, POSTGRES_PASSWORD: '${PG_SECRET}',"
        " POSTGRES_DB: '${DATABASE_NAME}'}}",
    )
    assert svc.database_defaults == {}
    svc = service_file(tmp_path, "{image: 'postgres:18', environment: {TZ: UTC, POSTGRES_USER: fz, POSTGRES_PASSWORD: ''}}")
    assert svc.database_defaults == {"DATABASE_USER": "fz"}


def test_environment_as_a_list_keeps_an_equals_sign_in_the_value(tmp_path):
    svc = service_file(tmp_path, "{image: 'postgres:18', environment: [TZ=UTC, POSTGRES_PASSWORD=a=b, POSTGRES_DB=fz]}")
    assert svc.database_defaults == {"DATABASE_PASSWORD": "a=b", "DATABASE_NAME": "fz"}


# --------------------------------------------------------------------------- data folder


@pytest.mark.parametrize(
    "volumes, data_dir",
    [
        ("['/srv/pg:/bind', '~/pg:/home', './pg:/here', '$PWD/pg:/env', 'pgdata:/var/lib/postgresql/data']", "/var/lib/postgresql/data"),
        ("[5, {type: bind, source: ./pg, target: /bind}, {source: pgdata, target: /data}]", "/data"),
        ("[{type: tmpfs, target: /tmp}, {type: volume, source: pgdata, target: /data}]", "/data"),
        ("['/srv/pg:/bind', {type: bind, source: /srv, target: /srv}]", None),
    ],
)
def test_the_data_folder_is_the_target_of_the_named_volume(tmp_path, volumes, data_dir):
    svc = service_file(tmp_path, "{image: 'postgres:18', volumes: " + volumes + "}")
    assert svc.data_dir == data_dir


# --------------------------------------------------------------------------- variables


def test_interpolate_bare_and_braced_variables():
    assert compose.interpolate("postgres:$PG", {"PG": "17"}) == "postgres:17"
    assert compose.interpolate("postgres:${PG}", {}) == "postgres:"
    assert compose.interpolate("postgres:${PG-16}", {"PG": ""}) == "postgres:16"


def test_defaults_in_names_only_variables_with_a_default():
    assert compose.defaults_in("${A:-1} ${B} $C ${D-}") == {"A": "1", "D": ""}
