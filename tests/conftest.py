"""Shared test setup.

Unit tests need nothing installed. Integration tests (marked ``integration``) run the
real programs; when CI is set (or FZ_REQUIRE_INTEGRATION=1) a missing program is a
failure, otherwise the test is skipped saying what is missing.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolate_user_config(monkeypatch, tmp_path_factory):
    # Like invoke's own suite: never read the developer's ~/.invoke.yaml or .env.
    from tasks.lib import envfile

    monkeypatch.setattr(envfile, "_loaded", True)
    monkeypatch.setattr(envfile, "_origins", {})
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
