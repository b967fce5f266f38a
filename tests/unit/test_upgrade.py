"""The major bump and infra.upgrade's pure parts: an image's major, the restore's errors, the programs of the wanted major."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from tasks.lib.pglocal import binaries
from tasks.lib.stack import bump, upgrade


class Images:
    def __init__(self, env: list[str] | None):
        self.env = env

    def get(self, name):
        import docker.errors

        if self.env is None:
            raise docker.errors.ImageNotFound(name)
        return SimpleNamespace(attrs={"Config": {"Env": self.env}})


def test_an_images_major_is_its_pg_major_else_its_tag():
    cl = SimpleNamespace(images=Images(["PATH=/bin", "PG_MAJOR=18"]))
    assert bump.image_major(cl, "fz-dev-postgres18:local") == 18
    cl.images = Images(None)  # not pulled yet: its tag says it
    assert bump.image_major(cl, "postgres:17") == 17
    assert bump.image_major(cl, "registry:5000/postgres:15-alpine") == 15
    assert bump.image_major(cl, "fz-dev-postgres:local") is None


def test_a_restore_fails_only_on_what_a_fresh_server_did_not_make():
    stderr = (
        'psql:/tmp/x.sql:14: ERROR:  role "postgres" already exists\n'
        'psql:/tmp/x.sql:40: ERROR:  database "firezone_dev" already exists\n'
        "psql:/tmp/x.sql:41: NOTICE:  something\n"
    )
    assert upgrade.unexpected_errors(stderr, "postgres") == []
    bad = 'psql:/tmp/x.sql:90: ERROR:  role "app" already exists'
    assert upgrade.unexpected_errors(stderr + bad + "\n", "postgres") == [bad]
    assert upgrade.unexpected_errors('ERROR:  relation "accounts" does not exist', "postgres") != []


def test_the_programs_of_the_repositorys_major_win_over_the_first_found(monkeypatch):
    found = {"/usr/lib/postgresql/15/bin": 15, "/wheel/bin": 18}
    monkeypatch.setattr(binaries, "_candidates", lambda wanted: [(Path(p), "somewhere") for p in found])
    monkeypatch.setattr(
        binaries, "probe", lambda folder, source, cache: binaries.Binaries(folder, f"{found[str(folder)]}.1", found[str(folder)], source)
    )
    assert binaries.find(wanted_major=18).major == 18
    assert binaries.find(wanted_major=15).major == 15
    assert binaries.find(wanted_major=17).major == 15  # none of 17: the first found
    assert binaries.find().major == 15
