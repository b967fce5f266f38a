"""The `mix test` command lines, their environment and what the test run needs to know.

Pure functions of the settings' values and the options, tested directly. Firezone's CI:
`mix test --exclude flaky:true --exclude acceptance:true` with MIX_ENV=test (the root
`test` alias creates and migrates firezone_test, or firezone_test_p<N> when
MIX_TEST_PARTITION=N), and `mix test --only acceptance:true` for the acceptance tests.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from invoke import Exit

_LOCATION = re.compile(r"^(?P<path>.+?)(?::(?P<lines>\d+(?::\d+)*))?$")


@dataclass(frozen=True)
class Options:
    """What the user asked for on the command line, checked."""

    paths: tuple[str, ...] = ()
    failed: bool = False
    partitions: int = 1
    acceptance: bool = False
    env: Mapping[str, str] = field(default_factory=dict)


def partitions_count(value) -> int:
    """``--partitions N``: a whole number from 1 (None: 1)."""
    if value in (None, ""):
        return 1
    try:
        n = int(str(value).strip())
    except ValueError:
        n = 0
    if n < 1 or str(n) != str(value).strip():
        raise Exit(f"--partitions {value!r}: expected a whole number from 1, e.g. --partitions 2")
    return n


def check_combination(failed: bool, partitions: int) -> None:
    if failed and partitions > 1:
        raise Exit(
            "--failed with --partitions: mix keeps one list of failures per build, which N partitions"
            " would overwrite each other; rerun the failures without --partitions"
        )


def test_path(value: str, elixir_root: Path, project_root: Path, cwd: Path) -> str:
    """``-p PATH[:LINE]`` as mix wants it (relative to the Elixir root), or one Exit line.

    A path is taken relative to the Elixir root first, then to where `inv` runs, then to
    the project root, so both ``apps/web/test/x_test.exs`` and ``elixir/apps/...`` work.
    """
    m = _LOCATION.match(value.strip())
    if not value.strip() or m is None:
        raise Exit(f"-p {value!r}: expected PATH or PATH:LINE, e.g. -p apps/web/test/web/live_test.exs:42")
    raw, lines = m.group("path"), m.group("lines")
    path = Path(raw).expanduser()
    candidates = [path] if path.is_absolute() else [elixir_root / path, cwd / path, project_root / path]
    for candidate in candidates:
        if candidate.exists():
            try:
                rel = candidate.resolve().relative_to(elixir_root.resolve())
            except ValueError:
                raise Exit(
                    f"-p {value}: {candidate} is outside the Elixir root {elixir_root}; mix test runs there."
                    f" Fix: give a test file or folder under {elixir_root} (e.g. -p apps/web/test)"
                )
            text = rel.as_posix() if str(rel) != "." else "."
            return text + (f":{lines}" if lines else "")
    raise Exit(
        f"-p {value}: no such file or folder (looked in the Elixir root {elixir_root}, then here);"
        " give a test file or folder, e.g. -p apps/web/test"
    )


def mix_args(test_task: Sequence[str], filters: Sequence[str], options: Options, partitions: int | None = None) -> list[str]:
    """The arguments after `mix`: the test task, the paths, the tag filters, --failed, --partitions."""
    args = [*test_task, *options.paths, *filters]
    if options.failed:
        args.append("--failed")
    n = options.partitions if partitions is None else partitions
    if n > 1:
        args += ["--partitions", str(n)]
    return args


def test_env(
    database_env: Mapping[str, str],
    extra: Mapping[str, str],
    vault_env: Mapping[str, str] | None = None,
    partition: int | None = None,
) -> dict[str, str]:
    """MIX_ENV=test, how to reach the database (never its name: the test config picks
    firezone_test[_p<N>], not the dev database), Vault's address and token for acceptance
    runs, the partition, then ``extra`` (--env)."""
    env = {"MIX_ENV": "test"}
    env.update({k: v for k, v in database_env.items() if k != "DATABASE_NAME"})
    env.update(vault_env or {})
    if partition is not None:
        env["MIX_TEST_PARTITION"] = str(partition)
        # Stopped partitions (Ctrl-C twice) leave no 1.6 MB erl_crash.dump in the app.
        if "ERL_CRASH_DUMP_SECONDS" not in os.environ:
            env["ERL_CRASH_DUMP_SECONDS"] = "0"
    env.update(extra)
    return env


def test_database(partition: int | None) -> str:
    """Firezone's config/test.exs: firezone_test, or firezone_test_p<N> in partition N."""
    return "firezone_test" + (f"_p{partition}" if partition else "")


def describe_alias(found: tuple[str, ...] | None, source: str) -> str:
    """What the `test` alias runs, for the plan line."""
    if found is None:
        return f"{source} has no `test` alias (as a list): `mix test` runs the plain task"
    return f"the `test` alias in {source} runs {', '.join(found)}"


def debug_tag_hint(paths: Sequence[str], default_folder: str) -> str:
    """The one-line edit that makes one acceptance test open a real browser window."""
    where = paths[0].split(":")[0] if paths else f"its file under {default_folder}"
    return f"browser: headless; the portal decides per test: to watch one in a window, add `@tag debug: true` above the test, in {where}"
