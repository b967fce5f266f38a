"""Shared test setup.

Unit tests need nothing installed. Integration tests (marked ``integration``) run the
real programs; when CI is set (or FZ_REQUIRE_INTEGRATION=1) a missing program is a
failure, otherwise the test is skipped saying what is missing.
"""

from __future__ import annotations

import os
import signal

import pytest


def pytest_configure(config):
    """A run started from a script's background job (or under nohup) inherits SIGINT (or SIGHUP) ignored, and every
    child would too: the signal tests need the defaults a terminal gives, in each xdist worker as well."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


@pytest.fixture(autouse=True)
def _isolate_user_config(monkeypatch, tmp_path_factory):
    # Like invoke's own suite: never read the developer's ~/.invoke.yaml or .env.
    from tasks.lib import envfile

    monkeypatch.setattr(envfile, "_loaded", True)
    monkeypatch.setattr(envfile, "_doubted", True)
    monkeypatch.setattr(envfile, "_origins", {})
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(autouse=True, scope="session")
def _release_the_watchdog():
    """A test that starts a child through the suite starts the run's watchdog too: it ends with the session."""
    yield
    from tasks.lib.supervise import lifeline

    lifeline.release()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """What `-n auto` (pyproject's addopts) means: two workers per core, as the integration
    tests mostly wait on Docker, mix and Postgres, and at most 8 (each may run a container
    and a mix compile); PYTEST_XDIST_AUTO_NUM_WORKERS overrides it."""
    return int(os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") or min(8, 2 * (os.cpu_count() or 1)))
