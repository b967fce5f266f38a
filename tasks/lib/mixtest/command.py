"""The `mix test` command lines and their environment, as Firezone's CI runs them (pure).

The root `test` alias creates and migrates firezone_test, or firezone_test_p<N> when
MIX_TEST_PARTITION=N.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tasks.lib.problem import Problem

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
    text = "" if value is None else str(value).strip()
    if not text:
        return 1
    if not text.isdigit() or int(text) < 1 or str(int(text)) != text:
        raise Problem(f"--partitions {value!r}: expected a whole number from 1, e.g. --partitions 2")
    return int(text)


def check_combination(failed: bool, partitions: int) -> None:
    if failed and partitions > 1:
        raise Problem(
            "--failed with --partitions: mix keeps one list of failures per build, which N partitions would overwrite each other",
            "rerun the failures without --partitions",
        )


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
            raise Problem(
                f"-p {value}: {candidate} is outside the Elixir root {elixir_root}; mix test runs there",
                f"give a test file or folder under {elixir_root} (e.g. -p apps/web/test)",
            )
        return rel.as_posix() + (f":{lines}" if lines else "")
    raise Problem(
        f"-p {value}: no such file or folder (looked in the Elixir root {elixir_root}, then here)",
        "give a test file or folder, e.g. -p apps/web/test",
    )


def mix_args(test_task: Sequence[str], filters: Sequence[str], options: Options) -> list[str]:
    """The arguments after `mix`: the test task, the paths, the tag filters, --failed, --partitions."""
    args = [*test_task, *options.paths, *filters]
    if options.failed:
        args.append("--failed")
    if options.partitions > 1:
        args += ["--partitions", str(options.partitions)]
    return args


def test_env(database_env: Mapping[str, str], extra: Mapping[str, str], vault_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """MIX_ENV=test, how to reach the database (never its name: the test config picks
    firezone_test[_p<N>]), Vault's address and token for acceptance runs, then ``extra`` (--env)."""
    env = {"MIX_ENV": "test"}
    env.update({k: v for k, v in database_env.items() if k != "DATABASE_NAME"})
    env.update(vault_env or {})
    env.update(extra)
    return env


def partition_env(partition: int) -> dict[str, str]:
    env = {"MIX_TEST_PARTITION": str(partition)}
    if "ERL_CRASH_DUMP_SECONDS" not in os.environ:
        env["ERL_CRASH_DUMP_SECONDS"] = "0"  # stopped partitions leave no 1.6 MB erl_crash.dump in the app
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
