"""What the repository decided, as ``(name, text)`` rows for `inv doctor` and `inv dev.status`, each with its source."""

from __future__ import annotations

import os

from invoke import Exit

from tasks.lib import config, database
from tasks.lib.repo import compose, derived

_SHOWN_DATABASE = ("DATABASE_NAME", "DATABASE_USER", "DATABASE_PORT")  # never the password


def rows(s: config.Settings) -> list[tuple[str, str]]:
    """Every derived value and fact, with its source (or the setting that overrode it)."""
    repo = s.repository()
    rows = []
    for section, key in derived.SETTINGS:
        name = f"{section}.{key}"
        try:
            value = s.raw(section, key)
        except Exit as e:
            rows.append((name, e.message or "unknown"))
            continue
        said = repo.setting(section, key)
        if s.is_set(section, key):
            other = f"; the repository says {said.value} in {said.source}" if said and said.value != value else ""
            rows.append((name, f"{value} (from {s.origin(section, key)}{other})"))
        elif said is not None:
            rows.append((name, f"{value} (from {said.source})"))
        else:
            broken = compose.problems(repo.project_root) if section == "postgres" else []
            shown = broken[0].replace(f"{repo.project_root}/", "", 1) if broken else ""
            why = f"{shown}, so the suite's default applies" if broken else "the suite's default: the repository does not say"
            rows.append((name, f"{value} ({why})"))
    for key in _SHOWN_DATABASE:
        value = os.environ.get(key) or database.default(key)
        rows.append((key, f"{value} (from {database.origin(key)})"))
    if (repo.elixir_root / "mix.exs").is_file():
        mix = repo.mix
        rows.append(("mix project", f"{mix.describe()} in {repo.show(repo.elixir_root / 'mix.exs')}"))
        if mix.setup is not None and mix.setup_file is not None:
            where = repo.show(mix.setup_file)
            needs = "needs the database, so it waits for Postgres" if mix.setup_needs_database else "needs no database"
            rows.append(("setup alias", f"{', '.join(mix.setup)} ({where}): {needs}"))
    files, named_in = repo.cert
    if files and named_in is not None:
        missing = [f for f in files if not f.exists()]
        state = "missing: dev.up and elixir.setup run `mix phx.gen.cert`" if missing else "present"
        rows.append(("https cert", f"{repo.show(files[0].parent)} {state} (named in {repo.show(named_in)})"))
    wired = repo.replication_hardwired
    if wired is not None:
        text = "hard-wired to localhost:5432 and postgres/postgres" if wired.value else "follows DATABASE_*"
        rows.append(("replication", f"{text} ({repo.show(wired.source)})"))
    static = repo.static_seeds_read
    if static is not None:
        text = "read (db.reset --static seeds the staging ids)" if static.value else "not read: the seeds always use the static ids"
        rows.append(("STATIC_SEEDS", f"{text} ({repo.show(static.source)})"))
    workos = repo.workos_referenced
    rows.append(("WorkOS", f"used ({repo.show(workos.source)})" if workos.value else f"not used (nothing in {workos.source} mentions it)"))
    by_file: dict[str, list[str]] = {}
    for name, pin in repo.pins.items():
        by_file.setdefault(repo.show(pin.source), []).append(f"{name} {pin.version}")
    if by_file:
        rows.append(("pins", "; ".join(f"{f}: {', '.join(p)}" for f, p in by_file.items())))
    return rows
