"""elixir.test: Postgres (with --acceptance the browser check and Vault), then `mix test`, or N partitions at once."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from invoke import Exit

from tasks.lib import config, portal_env, programs, vault
from tasks.lib.config import PROJECT_ROOT
from tasks.lib.console import dry
from tasks.lib.database import database, sql, template
from tasks.lib.masking import secret_values
from tasks.lib.mix import steps, tool
from tasks.lib.mixtest import browser as browsers
from tasks.lib.problem import Problem
from tasks.lib.repo import mixproject, portal
from tasks.lib.stack import postgres
from tasks.lib.supervise import foreground
from tasks.lib.supervise.manager import Program, Supervisor, SupervisorError

MIGRATED = "__migrated"
_LOCATION = re.compile(r"^(?P<path>.+?)(?::(?P<lines>\d+(?::\d+)*))?$")


@dataclass(frozen=True)
class Options:
    paths: tuple[str, ...] = ()
    failed: bool = False
    partitions: int = 1
    env: Mapping[str, str] = field(default_factory=dict)


def partitions_count(value) -> int:
    """``--partitions N``: a whole number from 1 (None: 1)."""
    text = "" if value is None else str(value).strip()
    if not text:
        return 1
    if not text.isdigit() or int(text) < 1 or str(int(text)) != text:
        raise Problem(f"--partitions {value!r}: expected a whole number from 1, e.g. --partitions 2")
    return int(text)


def check_combination(failed: bool, partitions: int) -> None:
    if failed and partitions > 1:
        what = "--failed with --partitions: mix keeps one list of failures per build, which N partitions would overwrite each other"
        raise Problem(what, "rerun the failures without --partitions")


def test_path(value: str, elixir_root: Path, project_root: Path, cwd: Path) -> str:
    """``-p PATH[:LINE]`` relative to the Elixir root (where mix runs), looked up there, then here, then in the project root."""
    m = _LOCATION.match(value.strip())
    if not value.strip() or m is None:
        raise Problem(f"-p {value!r}: expected PATH or PATH:LINE, e.g. -p apps/web/test/web/live_test.exs:42")
    path, lines = Path(m.group("path")).expanduser(), m.group("lines")
    candidates = [path] if path.is_absolute() else [elixir_root / path, cwd / path, project_root / path]
    for candidate in (p for p in candidates if p.exists()):
        try:
            rel = candidate.resolve().relative_to(elixir_root.resolve())
        except ValueError:
            what = f"-p {value}: {candidate} is outside the Elixir root {elixir_root}; mix test runs there"
            raise Problem(what, f"give a test file or folder under {elixir_root} (e.g. -p apps/web/test)")
        return rel.as_posix() + (f":{lines}" if lines else "")
    what = f"-p {value}: no such file or folder (looked in the Elixir root {elixir_root}, then here)"
    raise Problem(what, "give a test file or folder, e.g. -p apps/web/test")


def mix_args(test_task: Sequence[str], filters: Sequence[str], options: Options) -> list[str]:
    partitions = ["--partitions", str(options.partitions)] if options.partitions > 1 else []
    return [*test_task, *options.paths, *filters, *["--failed"] * options.failed, *partitions]


def test_env(database_env: Mapping[str, str], extra: Mapping[str, str], vault_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """MIX_ENV=test, the database connection (not its name: the test config picks it), Vault's for acceptance, then --env."""
    return {"MIX_ENV": "test", **{k: v for k, v in database_env.items() if k != "DATABASE_NAME"}, **(vault_env or {}), **extra}


def partition_env(partition: int) -> dict[str, str]:
    # Stopped partitions leave no 1.6 MB erl_crash.dump in the app.
    crash = {} if "ERL_CRASH_DUMP_SECONDS" in os.environ else {"ERL_CRASH_DUMP_SECONDS": "0"}
    return {"MIX_TEST_PARTITION": str(partition), **crash}


def test_database(partition: int | None) -> str:
    """Firezone's config/test.exs: firezone_test, or firezone_test_p<N> in partition N."""
    return "firezone_test" + (f"_p{partition}" if partition else "")


def describe_alias(found: tuple[str, ...] | None, source: str) -> str:
    if found is None:
        return f"{source} has no `test` alias (as a list): `mix test` runs the plain task"
    return f"the `test` alias in {source} runs {', '.join(found)}"


def debug_tag_hint(paths: Sequence[str], default_folder: str) -> str:
    """The one-line edit that makes one acceptance test open a real browser window."""
    where = paths[0].split(":")[0] if paths else f"its file under {default_folder}"
    return f"browser: headless; the portal decides per test: to watch one in a window, add `@tag debug: true` above the test, in {where}"


def connection_warnings(found: Mapping[str, tuple[str, Path]], db, show) -> list[str]:
    """A line per credential or port the test config hard-codes that DATABASE_* contradicts (a password is never shown)."""
    local = ("localhost", "127.0.0.1", "::1")
    wants = {"hostname": ("DATABASE_HOST", db.host), "username": ("DATABASE_USER", db.user)}
    wants |= {"password": ("DATABASE_PASSWORD", db.password), "port": ("DATABASE_PORT", str(db.port))}
    lines = []
    for key, (value, f) in found.items():
        var, have = wants[key]
        if value == have or (key == "hostname" and {value, have} <= set(local)):
            continue
        said = "a different password" if key == "password" else f"{key} {value}"
        fix = f"set {var} to match (for this database) or change {show(f)}"
        lines.append(f"warning: {show(f)} gives the tests' database {said}, so {var} from .env does not reach the tests; fix: {fix}")
    return lines


# The dev database's name would point the tests at firezone_dev instead of firezone_test[_p<N>].
UNSET = ("DATABASE_NAME",)


def _say(e: tool.Elixir, text: str) -> None:
    if e.dry:
        dry(text)
    else:
        print(text, flush=True)


def screenshots_line(web: Path) -> str:
    """Where Wallaby saved a failed browser test's screenshot (the web app's screenshots/)."""
    folder = web / "screenshots"
    shown = programs.display_path(folder)
    files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    if not files:
        return f"screenshots of failed browser tests go to {shown} (none there now)"
    newest = max(files, key=lambda p: p.stat().st_mtime)
    return f"screenshots of failed browser tests: {shown} ({len(files)} file(s), newest {newest.name})"


def test(
    c, paths: Iterable[str] | None = None, failed: bool = False, partitions=None, acceptance: bool = False, env: Iterable[str] | None = None
) -> None:
    n = partitions_count(partitions)
    e = tool.settings(c)
    if acceptance and not browsers.has_acceptance_tests(e.root):
        what = f"--acceptance: {e.repo.show(e.root)} has no acceptance tests (no test tagged acceptance, no Wallaby)"
        raise Problem(what, "run `inv elixir.test` without --acceptance")
    check_combination(failed, n)
    extra = portal_env.parse_assignments(list(env or []))
    root, mix = e.root, e.mix
    located = tuple(test_path(p, root, PROJECT_ROOT, Path.cwd()) for p in paths or ())
    options = Options(located, failed, n, extra)
    test_task = e.tasks["test_task"]
    argv = [mix, *mix_args(test_task, e.tasks["acceptance_args" if acceptance else "test_args"], options)]
    found = mixproject.alias(mixproject.read_text(root / "mix.exs"), test_task[0])
    databases = ", ".join(test_database(i) for i in range(1, n + 1)) if n > 1 else test_database(None)
    _say(e, f"tests: {describe_alias(found, e.repo.show(root / 'mix.exs'))}; test database(s): {databases}")

    steps.run(e, "deps")  # as dev.up: skipped when up to date
    found_browser = None
    if acceptance and e.dry:
        dry("would check that chromedriver (elixir.chromedriver) and the browser (elixir.chrome) share a major version")
    elif acceptance:
        b = found_browser = browsers.check(e.programs["chromedriver"], e.programs["chrome"])
        pair = f"chromedriver {b.driver_version} and {Path(b.chrome).name} {b.chrome_version}"
        print(f"browser: {pair} (major {browsers.major(b.driver_version)})", flush=True)
    postgres.bring_up(c)
    vault_env: dict[str, str] = {}
    secrets: list[str] = []
    if acceptance:
        spec = vault.bring_up(config.settings(c))
        vault_env = spec.client_env()
        secrets = spec.secrets()
        if found_browser is not None and programs.which("chromedriver") != found_browser.driver:
            # Wallaby (and the fixture) find chromedriver on PATH: put the chosen one first.
            vault_env["PATH"] = str(Path(found_browser.driver).parent) + os.pathsep + os.environ.get("PATH", "")
        _say(e, debug_tag_hint(located, programs.display_path(e.web / "test")))

    for line in connection_warnings(portal.test_connection(root), database(), e.repo.show):
        print(line, file=sys.stderr, flush=True)
    base_env = test_env(portal_env.mix_env(), extra, vault_env)
    _test_databases(e, [test_database(i) for i in range(1, n + 1)] if n > 1 else [test_database(None)], base_env)
    try:
        if n == 1:
            e.run(argv, cwd=root, env=base_env, what="mix test", unset=UNSET)
        else:
            _partitions(e, argv, options, base_env, secrets)
    except Exit:
        if acceptance and not e.dry:
            print(screenshots_line(e.web), flush=True)
        raise


def _test_databases(e: tool.Elixir, names: list[str], env: dict[str, str]) -> None:
    """The missing test databases cloned from firezone_test__migrated, which the migrate task makes once when a migration
    changed: N partitions cost one migration run, not N (the `test` alias then finds them created and migrated)."""
    base = replace(database(), name=test_database(None))
    if e.dry:
        return dry(f"would clone the missing test databases from {template.name_for(base.name, MIGRATED)} when it matches")
    try:
        missing = [n for n in names if not sql.database_exists(replace(base, name=n), sql.MAINTENANCE_DB)]
        if not missing:
            return
        found = template.describe(base, MIGRATED)
    except sql.Unreachable:
        return  # mix says what is wrong
    parts = template.key(e.root, False, found.major, migrations_only=True)
    why = found.mismatch(parts)
    try:
        if why is not None:
            print(f"tests: {why}; migrating {base.name} once, then cloning it", flush=True)
            e.run([e.mix, *e.tasks["migrate_task"]], cwd=e.root, env=env, what=f"mix {' '.join(e.tasks['migrate_task'])}", unset=UNSET)
            template.make(base, parts, lambda text: print(f"tests: {text}", flush=True), suffix=MIGRATED)
        for name in (n for n in missing if why is None or n != base.name):
            template.restore(replace(base, name=name), None, print, source=found.name)
            print(f"tests: {name} cloned from {found.name}", flush=True)
    except (Problem, sql.Unreachable) as err:
        print(f"tests: warning: test databases not cloned: {err}; mix creates and migrates them", flush=True)


def _partitions(e: tool.Elixir, argv: list[str], options: Options, base_env: dict[str, str], secrets: list[str]) -> None:
    n = options.partitions
    e.run([e.mix, "compile"], cwd=e.root, env=base_env, what="mix compile (MIX_ENV=test, once for all partitions)", unset=UNSET)
    inherited = {k: v for k, v in os.environ.items() if k not in UNSET}
    batch = []
    for i in range(1, n + 1):
        own = {k: v for k, v in base_env.items() if k not in options.env} | partition_env(i) | dict(options.env)
        line = f"p{i}: $ {programs.describe(argv, e.root, own)}"
        if e.dry:
            dry(line)
            continue
        print(line, flush=True)
        batch.append(Program(f"p{i}", argv, cwd=e.root, env={**inherited, **own}))
    if e.dry:
        return
    supervisor = Supervisor(batch, secrets=[*secrets, *secret_values({**inherited, **base_env})], wait_all=True)
    try:
        code = supervisor.run()
    except SupervisorError as err:
        raise Problem(str(err))
    codes = supervisor.exit_codes
    if len(codes) < n:  # a signal ended the run
        raise foreground.Interrupted(code - 128 if code > 128 else 2, "mix test partitions")
    failed = [f"p{i} (exit code {codes[f'p{i}']})" for i in range(1, n + 1) if codes[f"p{i}"]]
    if failed:
        raise Problem(f"mix test failed in partition(s) {', '.join(failed)} of {n}; the lines prefixed with their names say why", code=code)
    print(f"mix test: all {n} partitions passed", flush=True)
