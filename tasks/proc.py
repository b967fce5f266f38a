"""Running external programs: find them first, echo them masked, fail in one line."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Iterable, Mapping

from invoke import Exit

from tasks.masking import mask_env
from tasks.settings import PROJECT_ROOT
from tasks.taskdef import is_dry


def which(program: str, root: Path = PROJECT_ROOT) -> str | None:
    """The full path of ``program``: a name looked up on PATH, or a path (``~`` expanded,
    relative to ``root``, the project root, like every path setting); None when absent."""
    program = str(program)
    if os.sep in program or (os.altsep and os.altsep in program):
        path = Path(os.path.expanduser(program))
        program = str(path if path.is_absolute() else root / path)
    return shutil.which(program)


def require(program: str, setting: str, install: str, root: Path = PROJECT_ROOT) -> str:
    """The full path of ``program`` (see ``which``), or Exit with how to get it.

    ``setting`` names the config key that chooses the program; ``install`` says how
    to install it.
    """
    found = which(program, root)
    if found:
        return found
    program = str(program)
    where = "is not on PATH" if os.sep not in program else "does not exist or is not executable"
    raise Exit(f"{program} {where} (setting {setting}). {install}")


def display_path(path: Path) -> str:
    """A path relative to the project root when inside it, for short echo lines."""
    try:
        rel = Path(path).resolve().relative_to(PROJECT_ROOT)
        return str(rel) if str(rel) != "." else "."
    except ValueError:
        return str(path)


def describe(
    argv: list[str],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    unset: Iterable[str] = (),
) -> str:
    """One line for the user: ``(cwd) [env -u K] KEY=value ... command``, secrets masked."""
    parts = []
    if cwd is not None:
        parts.append(f"({display_path(cwd)})")
    unset = [k for k in unset if k in os.environ]
    if unset:
        parts.append("env " + " ".join(f"-u {k}" for k in unset))
    raw = env or {}
    for key, shown in mask_env(raw).items():
        # A masked value is display-only; quoting it would suggest it is the value.
        parts.append(f"{key}={shown if shown != raw[key] else shlex.quote(shown)}")
    parts.append(shlex.join(argv))
    return " ".join(parts)


def command_in(cwd: Path, argv: list[str]) -> str:
    """The shell command line that runs ``argv`` in ``cwd``."""
    return f"cd {shlex.quote(str(cwd))} && {shlex.join(argv)}"


def run(
    c,
    argv: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    what: str | None = None,
    pty: bool = False,
    unset: Iterable[str] = (),
):
    """Run ``argv`` in ``cwd`` with ``env`` added to the environment.

    Secrets travel in ``env``, never in ``argv``; the echo line masks them. Under
    ``inv --dry`` prints the line and runs nothing. A failure raises Exit with the
    exit code. Variables named in ``unset`` are removed from the
    inherited environment (e.g. a STATIC_SEEDS from the shell or `.env`).
    """
    unset = list(unset)
    print(f"$ {describe(argv, cwd, env, unset)}", flush=True)
    if is_dry(c):
        return None
    extra: dict = {}
    child_env = dict(env or {})
    if unset:
        child_env = {k: v for k, v in os.environ.items() if k not in unset}
        child_env.update({k: v for k, v in (env or {}).items() if k not in unset})
        extra["replace_env"] = True
    result = c.run(
        command_in(cwd, argv), env=child_env, pty=pty, warn=True, echo=False, **extra
    )
    if not result.ok:
        raise Exit(
            f"{what or argv[0]} failed with exit code {result.exited}"
            f" ({shlex.join(argv)} in {display_path(cwd)})",
            code=result.exited or 1,
        )
    return result


def use_pty() -> bool:
    """Interactive programs get a pty only when there is a terminal to give them."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def exec_in(c, argv: list[str], *, cwd: Path, env: Mapping[str, str] | None = None) -> None:
    """Replace this process by ``argv`` (run in ``cwd`` with ``env`` added); echoes it first.

    For the last step of a task that ends in an interactive program: the program gets
    the terminal itself (no relaying, no pty in between) and Python's exit costs nothing.
    Under ``inv --dry`` prints the line and returns.
    """
    print(f"$ {describe(argv, cwd, env)}", flush=True)
    if is_dry(c):
        return
    sys.stderr.flush()
    os.chdir(cwd)
    os.execvpe(argv[0], argv, {**os.environ, **(env or {})})
