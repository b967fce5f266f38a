"""Values the repository decides, each with the file that decided it.

The suite's declared defaults are the contract-era Firezone's. Where the repository can
say otherwise (its compose file, mix.exs, config, seeds, pin files) ``Repo`` reads it:
lazily, once per process, and only the files a question needs. A setting or an
environment variable always wins; tasks/lib/config.py asks here only for a value
nobody set.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from tasks.lib.repo import compose, mixproject, pins, portal

# The settings the repository may decide (section, key).
SETTINGS = (
    ("postgres", "image"),
    ("postgres", "command"),
    ("postgres", "data_dir"),
    ("elixir", "web_app"),
)


@dataclass(frozen=True)
class Derived:
    value: Any
    source: str  # "scripts/compose/portal.yml", for messages


class Repo:
    """One repository checkout: ``project_root`` (where tasks.py is) and its Elixir root."""

    def __init__(self, project_root: Path, elixir_root: Path):
        self.project_root = project_root
        self.elixir_root = elixir_root

    def show(self, path: Path | str) -> str:
        """A path relative to the project root when it is inside it."""
        p = Path(path)
        try:
            return str(p.resolve().relative_to(self.project_root.resolve()))
        except ValueError:
            return str(p)

    @property
    def compose(self) -> compose.PostgresService | None:
        return _compose_service(self.project_root)

    @cached_property
    def mix(self) -> mixproject.MixProject:
        return mixproject.read(self.elixir_root)

    @cached_property
    def pins(self) -> dict[str, pins.Pin]:
        return pins.read(self.project_root, self.elixir_root if self.elixir_root.is_dir() else None)

    @cached_property
    def cert(self) -> tuple[list[Path], Path | None]:
        return portal.cert_files(self.elixir_root)

    @cached_property
    def replication_hardwired(self) -> portal.Fact | None:
        return portal.replication_hardwired(self.elixir_root)

    @cached_property
    def static_seeds_read(self) -> portal.Fact | None:
        return portal.static_seeds_read(self.elixir_root, self.mix.apps_path)

    @cached_property
    def workos_referenced(self) -> portal.Fact:
        return portal.workos_referenced(self.elixir_root, self.mix.apps_path)

    def setting(self, section: str, key: str) -> Derived | None:
        """What the repository says ``section.key`` should be, or None (the declared default applies)."""
        if section == "postgres":
            svc = self.compose
            if svc is None:
                return None
            value = {"image": svc.image, "command": svc.command, "data_dir": svc.data_dir}.get(key)
            if value is None:
                return None
            return Derived(compose.interpolate(value, os.environ), self.show(svc.path))
        if (section, key) == ("elixir", "web_app") and (self.elixir_root / "mix.exs").is_file():
            mix = self.mix
            if mix.setup_file is not None:
                return Derived(mix.web_app, f"{self.show(mix.setup_file)}, where the setup alias is")
            return Derived(mix.web_app, f"{self.show(self.elixir_root / 'mix.exs')}: {mix.describe()}")
        return None

    def database_default(self, name: str) -> Derived | None:
        """The compose file's default for DATABASE_USER, _PASSWORD, _NAME or _PORT."""
        svc = self.compose
        if svc is None or name not in svc.database_defaults:
            return None
        return Derived(svc.database_defaults[name], self.show(svc.path))


_repos: dict[tuple[Path, Path], Repo] = {}


def repo(project_root: Path, elixir_root: Path) -> Repo:
    """The (cached) Repo for these roots."""
    key = (project_root, elixir_root)
    if key not in _repos:
        _repos[key] = Repo(project_root, elixir_root)
    return _repos[key]


def forget() -> None:
    """Drop the caches (tests; a task that changed the files)."""
    _repos.clear()
    _compose_services.clear()
    compose._loaded.clear()


_compose_services: dict[Path, compose.PostgresService | None] = {}


def _compose_service(project_root: Path) -> compose.PostgresService | None:
    """The compose file's Postgres service, read once per process for every Repo."""
    if project_root not in _compose_services:
        _compose_services[project_root] = compose.postgres_service(project_root)
    return _compose_services[project_root]


def compose_default(project_root: Path, name: str) -> Derived | None:
    """The compose file's default for DATABASE_* ``name``, without an Elixir root
    (tasks/lib/database.py has no settings to find one)."""
    return Repo(project_root, project_root).database_default(name)
