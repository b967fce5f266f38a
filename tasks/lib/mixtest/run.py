"""elixir.test: Postgres up, then `mix test` (or N partitions at once); with --acceptance, first the
browser check and the Vault container.

Partitions run under the supervisor with prefixed output, after one `mix compile` so N mix
processes do not race on _build.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from invoke import Exit

from tasks.lib import portal_env, programs
from tasks.lib.config import PROJECT_ROOT
from tasks.lib.console import dry
from tasks.lib.masking import secret_values
from tasks.lib.mix import tool
from tasks.lib.mixtest import browser as browsers
from tasks.lib.mixtest import command
from tasks.lib.problem import Problem
from tasks.lib.repo import mixproject

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
    e = tool.settings(c)
    root, mix = e.root, e.mix
    located = tuple(command.test_path(p, root, PROJECT_ROOT, Path.cwd()) for p in paths or ())
    options = command.Options(located, failed, n, acceptance, extra)
    test_task = e.tasks["test_task"]
    argv = [mix, *command.mix_args(test_task, e.tasks["acceptance_args" if acceptance else "test_args"], options)]
    found = mixproject.alias(mixproject.read_text(root / "mix.exs"), test_task[0])
    databases = ", ".join(command.test_database(i) for i in range(1, n + 1)) if n > 1 else command.test_database(None)
    _say(e, f"tests: {command.describe_alias(found, e.repo.show(root / 'mix.exs'))}; test database(s): {databases}")

    from tasks.lib.stack import postgres

    found_browser = None
    if acceptance and e.dry:
        dry("would check that chromedriver (elixir.chromedriver) and the browser (elixir.chrome) share a major version")
    elif acceptance:
        found_browser = browsers.check(e.programs["chromedriver"], e.programs["chrome"])
        print(
            f"browser: chromedriver {found_browser.driver_version} and {Path(found_browser.chrome).name}"
            f" {found_browser.chrome_version} (major {browsers.major(found_browser.driver_version)})",
            flush=True,
        )
    postgres.bring_up(c)
    vault_env: dict[str, str] = {}
    secrets: list[str] = []
    if acceptance:
        from tasks.lib.vault import container as vault

        spec = vault.bring_up(c)
        vault_env = spec.client_env()
        secrets = spec.secrets()
        if found_browser is not None and programs.which("chromedriver") != found_browser.driver:
            # Wallaby (and the fixture) find chromedriver on PATH: put the chosen one first.
            vault_env["PATH"] = str(Path(found_browser.driver).parent) + os.pathsep + os.environ.get("PATH", "")
        _say(e, command.debug_tag_hint(located, programs.display_path(e.web / "test")))

    base_env = command.test_env(portal_env.mix_env(), extra, vault_env)
    if n == 1:
        try:
            e.run(argv, cwd=root, env=base_env, what="mix test", unset=UNSET)
        except Exit:
            if acceptance and not e.dry:
                print(screenshots_line(e.web), flush=True)
            raise
    else:
        _partitions(e, argv, options, base_env, secrets)


def _partitions(e: tool.Elixir, argv: list[str], options: command.Options, base_env: dict[str, str], secrets: list[str]) -> None:
    from tasks.lib.supervise import foreground
    from tasks.lib.supervise.manager import Program, Supervisor, SupervisorError

    n = options.partitions
    e.run([e.mix, "compile"], cwd=e.root, env=base_env, what="mix compile (MIX_ENV=test, once for all partitions)", unset=UNSET)
    inherited = {k: v for k, v in os.environ.items() if k not in UNSET}
    batch = []
    for i in range(1, n + 1):
        own = {k: v for k, v in base_env.items() if k not in options.env} | command.partition_env(i) | dict(options.env)
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
        raise Exit(str(err))
    codes = supervisor.exit_codes
    if len(codes) < n:  # a signal ended the run
        raise foreground.Interrupted(code - 128 if code > 128 else 2, "mix test partitions")
    failed = [f"p{i} (exit code {codes[f'p{i}']})" for i in range(1, n + 1) if codes[f"p{i}"]]
    if failed:
        if options.acceptance:
            print(screenshots_line(e.web), flush=True)
        raise Problem(
            f"mix test failed in partition(s) {', '.join(failed)} of {n}",
            "the lines prefixed with their names say why",
            code=code,
        )
    print(f"mix test: all {n} partitions passed", flush=True)
