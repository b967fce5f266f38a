"""elixir.test: Postgres up, then `mix test` (or N partitions at once); with --acceptance,
first the browser check and the Vault container.

The options are checked before anything starts (bad input: one line). A single run
shares our terminal (programs.run: mix's exit code is ours); partitions run under the
supervisor (supervise/manager.py) with prefixed output, after one `mix compile` so N
mix processes do not race on _build, and all of them with their whole process trees
are stopped on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from pathlib import Path

from invoke import Exit

from tasks.lib import config, portal_env, programs
from tasks.lib.config import PROJECT_ROOT
from tasks.lib.console import dry, is_dry
from tasks.lib.masking import secret_values
from tasks.lib.mix import tool
from tasks.lib.mixtest import browser as browsers
from tasks.lib.mixtest import command
from tasks.lib.repo import mixproject

# Inherited variables the test processes must not see: the dev database's name would
# point the tests at firezone_dev instead of the test config's firezone_test[_p<N>].
UNSET = ("DATABASE_NAME",)


def _words(c, key: str) -> list[str]:
    """A setting of mix arguments that may be empty (no filters)."""
    text = config.optional(c, "elixir", key)
    try:
        return shlex.split(text)
    except ValueError as e:
        raise config.bad(c, "elixir", key, text, f"mix arguments ({e})")


def _say(c, text: str) -> None:
    if is_dry(c):
        dry(text)
    else:
        print(text, flush=True)


def screenshots_dir(c) -> Path:
    """Where Wallaby saves a failed browser test's screenshot: the web app's screenshots/."""
    return tool.web_app_dir(c) / "screenshots"


def screenshots_line(c) -> str:
    folder = screenshots_dir(c)
    shown = programs.display_path(folder)
    files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    if not files:
        return f"screenshots of failed browser tests go to {shown} (none there now)"
    newest = max(files, key=lambda p: p.stat().st_mtime)
    return f"screenshots of failed browser tests: {shown} ({len(files)} file(s), newest {newest.name})"


def test(
    c,
    paths: Iterable[str] | None = None,
    failed: bool = False,
    partitions=None,
    acceptance: bool = False,
    env: Iterable[str] | None = None,
) -> None:
    n = command.partitions_count(partitions)
    command.check_combination(failed, n)
    extra = portal_env.parse_assignments(list(env or []))
    root = tool.elixir_root(c)
    mix = tool.mix_path(c)
    located = tuple(command.test_path(p, root, PROJECT_ROOT, Path.cwd()) for p in paths or ())
    options = command.Options(located, failed, n, acceptance, extra)
    test_task = config.words(c, "elixir", "test_task")
    filters = _words(c, "acceptance_args" if acceptance else "test_args")
    source = config.repository(c).show(root / "mix.exs")
    found = mixproject.alias(mixproject.read_text(root / "mix.exs"), test_task[0])
    databases = ", ".join(command.test_database(i) for i in range(1, n + 1)) if n > 1 else command.test_database(None)
    _say(c, f"tests: {command.describe_alias(found, source)}; test database(s): {databases}")

    from tasks.lib.stack import postgres

    found_browser = None
    if acceptance:
        if is_dry(c):
            dry("would check that chromedriver (elixir.chromedriver) and the browser (elixir.chrome) share a major version")
        else:
            found_browser = browsers.check(c)
            print(
                f"browser: chromedriver {found_browser.driver_version} and {Path(found_browser.chrome).name}"
                f" {found_browser.chrome_version} (major {browsers.major(found_browser.driver_version)})",
                flush=True,
            )
    postgres.bring_up(c)
    vault_env: dict[str, str] = {}
    secrets: list[str] = []
    if acceptance:
        from tasks.lib import vault

        spec = vault.bring_up(c)
        vault_env = spec.client_env()
        secrets = spec.secrets()
        if found_browser is not None and programs.which("chromedriver") != found_browser.driver:
            # Wallaby (and the fixture) find chromedriver on PATH: put the chosen one first.
            vault_env["PATH"] = str(Path(found_browser.driver).parent) + os.pathsep + os.environ.get("PATH", "")
        web_tests = programs.display_path(tool.web_app_dir(c) / "test")
        _say(c, command.debug_tag_hint(located, web_tests))

    database_env = portal_env.mix_env()
    if n == 1:
        argv = [mix, *command.mix_args(test_task, filters, options)]
        try:
            programs.run(c, argv, cwd=root, env=command.test_env(database_env, extra, vault_env), what="mix test", unset=UNSET)
        except Exit:
            if acceptance and not is_dry(c):
                print(screenshots_line(c), flush=True)
            raise
        return
    _partitions(c, mix, root, test_task, filters, options, database_env, vault_env, secrets)


def _partitions(c, mix, root: Path, test_task, filters, options: command.Options, database_env, vault_env, secrets) -> None:
    n = options.partitions
    compile_env = command.test_env(database_env, options.env, vault_env)
    programs.run(c, [mix, "compile"], cwd=root, env=compile_env, what="mix compile (MIX_ENV=test, once for all partitions)", unset=UNSET)
    from tasks.lib.supervise import foreground
    from tasks.lib.supervise.manager import Program, Supervisor, SupervisorError

    inherited = {k: v for k, v in os.environ.items() if k not in UNSET}
    argv = [mix, *command.mix_args(test_task, filters, options)]
    batch = []
    for i in range(1, n + 1):
        own = command.test_env(database_env, options.env, vault_env, partition=i)
        line = f"p{i}: $ {programs.describe(argv, root, own)}"
        if is_dry(c):
            dry(line)
            continue
        print(line, flush=True)
        batch.append(Program(f"p{i}", argv, cwd=root, env={**inherited, **own}))
    if is_dry(c):
        return
    supervisor = Supervisor(batch, secrets=[*secrets, *secret_values({**inherited, **compile_env})], wait_all=True)
    try:
        code = supervisor.run()
    except SupervisorError as e:
        raise Exit(str(e))
    codes = supervisor.exit_codes
    if len(codes) < n:  # a signal ended the run
        raise foreground.Interrupted(code - 128 if code > 128 else 2, "mix test partitions")
    failed = [f"p{i} (exit code {codes[f'p{i}']})" for i in range(1, n + 1) if codes[f"p{i}"]]
    if failed:
        if options.acceptance:
            print(screenshots_line(c), flush=True)
        raise Exit(f"mix test failed in partition(s) {', '.join(failed)} of {n}; the lines prefixed with their names say why", code=code)
    print(f"mix test: all {n} partitions passed", flush=True)
