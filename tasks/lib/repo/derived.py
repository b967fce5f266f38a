"""Values the repository decides, each with the file that decided it; read once per process, a setting always wins."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from tasks.lib.repo import compose, mixproject, pins, portal

# The settings the repository may decide (section, key).
SETTINGS: tuple[tuple[str, str], ...] = (("postgres", "image"), ("postgres", "command"), ("postgres", "data_dir"), ("elixir", "web_app"))
SETTINGS += (("postgres", "container"), ("postgres", "volume"))  # this checkout's own, from its path


@dataclass(frozen=True)
class Derived:
    value: Any
    source: str  # "scripts/compose/portal.yml", for messages


class Repo:
    """One checkout: ``project_root`` (where tasks.py is) and its Elixir root."""

    def __init__(self, project_root: Path, elixir_root: Path):
        self.project_root = project_root
        self.elixir_root = elixir_root

    def show(self, path: Path | str) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.project_root.resolve()))
        except ValueError:
            return str(path)

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

    @cached_property
    def uses_vault(self) -> bool:
        """Vault serves only the acceptance tests (deleted from Firezone in 2026)."""
        from tasks.lib.mixtest.browser import has_acceptance_tests

        return has_acceptance_tests(self.elixir_root)

    @property
    def container_name(self) -> str:
        """This checkout's own Postgres container: its folder's name and a hash of its path, as docker compose
        names a project's (two worktrees never share one by accident)."""
        folder = re.sub(r"[^a-z0-9_.-]+", "-", self.project_root.name.lower()).strip("-._")[:24] or "checkout"
        return f"firezone-dev-postgres-{folder}-{hashlib.sha1(str(self.project_root).encode()).hexdigest()[:6]}"

    def setting(self, section: str, key: str) -> Derived | None:
        """What the repository says ``section.key`` should be, or None (the declared default applies)."""
        if section == "postgres" and key in ("container", "volume"):
            return Derived(self.container_name + ("-data" if key == "volume" else ""), f"this checkout's path, {self.project_root}")
        svc = self.compose if section == "postgres" else None
        if svc is not None:
            value = {"image": svc.image, "command": svc.command, "data_dir": svc.data_dir}.get(key)
            return Derived(compose.interpolate(value, os.environ), self.show(svc.path)) if value is not None else None
        if (section, key) == ("elixir", "web_app") and (self.elixir_root / "mix.exs").is_file():
            mix = self.mix
            if mix.setup_file is not None:
                return Derived(mix.web_app, f"{self.show(mix.setup_file)}, where the setup alias is")
            return Derived(mix.web_app, f"{self.show(self.elixir_root / 'mix.exs')}: {mix.describe()}")
        return None


@cache
def repo(project_root: Path, elixir_root: Path) -> Repo:
    return Repo(project_root, elixir_root)


@cache
def _compose_service(project_root: Path) -> compose.PostgresService | None:
    return compose.postgres_service(project_root)


def forget() -> None:
    """Drop the caches (tests; a task that changed the files)."""
    repo.cache_clear()
    _compose_service.cache_clear()
    compose._loaded.clear()


def compose_default(project_root: Path, name: str) -> Derived | None:
    """The compose file's default for DATABASE_USER, _PASSWORD, _NAME or _PORT (database.py has no settings)."""
    svc = _compose_service(project_root)
    if svc is None or name not in svc.database_defaults:
        return None
    return Derived(svc.database_defaults[name], Repo(project_root, project_root).show(svc.path))
