"""External programs: ``run`` (echoed, masked, skipped under --dry), ``capture`` for probes, ``version``."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from invoke import Exit

from tasks.lib import config
from tasks.lib.config import PROJECT_ROOT
from tasks.lib.masking import mask_env
from tasks.lib.problem import Problem


def which(program: str, root: Path = PROJECT_ROOT) -> str | None:
    """The full path of ``program``: a name on PATH, or a path (relative to ``root``); None when absent."""
    program = str(program)
    if os.sep in program or (os.altsep and os.altsep in program):
        path = Path(os.path.expanduser(program))
        program = str(path if path.is_absolute() else root / path)
    return shutil.which(program)


def require(program: str, setting: str, install: str, root: Path = PROJECT_ROOT) -> str:
    """The full path of ``program`` (see ``which``), or a Problem naming ``setting`` with how to ``install`` it as the fix."""
    found = which(program, root)
    if found:
        return found
    program = str(program)
    where = "is not on PATH" if os.sep not in program else "does not exist or is not executable"
    raise Problem(f"{program} {where} (setting {setting})", install.rstrip("."), setting)


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


def run(
    c,
    argv: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    what: str | None = None,
    unset: Iterable[str] = (),
    interactive: bool = False,
) -> int | None:
    """Run ``argv`` in ``cwd`` on our terminal (stdin closed unless ``interactive``: mix never waits
    on a prompt such as "Shall I install Hex?"), ``env`` added and ``unset`` removed; echoed
    first with secrets masked, only echoed under `inv --dry` (None). A failure is an Exit with
    the exit code; a signal to us meanwhile is foreground.Interrupted, whatever the code."""
    from tasks.lib.supervise import foreground

    unset = list(unset)
    print(f"$ {describe(argv, cwd, env, unset)}", flush=True)
    if config.settings(c).dry:
        return None
    child_env = {k: v for k, v in os.environ.items() if k not in unset}
    child_env.update({k: v for k, v in (env or {}).items() if k not in unset})
    if not interactive:  # no BREAK menu: a signal ends the BEAM with a non-zero status
        child_env["ELIXIR_ERL_OPTIONS"] = f"{child_env.get('ELIXIR_ERL_OPTIONS', '')} +Bd".strip()
    what = what or Path(argv[0]).name
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        code = foreground.run(argv, cwd=cwd, env=child_env, what=what, stdin=None if interactive else subprocess.DEVNULL)
    except OSError as e:
        raise Exit(f"cannot run {argv[0]} in {display_path(cwd)}: {e.strerror or e}")
    if code != 0:
        raise Exit(failure(what, code, f"{shlex.join(argv)} in {display_path(cwd)}"), code=code)
    return code


def failure(what: str, code: int | None, detail: str = "") -> str:
    """The one failure line: ``mix deps.get failed with exit code 1 (detail)``."""
    return f"{what} failed with exit code {code}" + (f" ({detail})" if detail else "")


def capture(
    argv: list[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    what: str | None = None,
    ok: Iterable[int] | None = (0,),
    hint: str | tuple[str, str] = "",
    errors: str = "replace",
) -> subprocess.CompletedProcess:
    """Run ``argv`` with its output captured, stdin closed, within ``timeout`` s; an Exit naming ``what`` when it cannot
    start, times out, or (unless ``ok`` is None) exits with a code not in ``ok``."""
    what = what or Path(argv[0]).name
    hint, timeout_hint = hint if isinstance(hint, tuple) else (hint, hint)
    tail = f". {hint}" if hint else ""
    try:
        done = subprocess.run(
            [str(a) for a in argv],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors=errors,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        after = f". {timeout_hint}" if timeout_hint else ""
        raise Exit(f"{what} did not finish within {timeout:g} s ({shlex.join(map(str, argv))}){after}")
    except OSError as e:
        raise Exit(f"cannot run {argv[0]}: {e.strerror or e}{tail}")
    if ok is not None and done.returncode not in tuple(ok):
        said = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise Exit(failure(what, done.returncode, said[-300:]) + tail, code=1)
    return done


_VERSION = re.compile(r"\d+(?:\.\d+)+|\d+")


def version(argv: list[str], timeout: float = 20.0, pattern: str | None = None, cwd: Path | None = None) -> str | None:
    """The first version-looking string ``argv`` prints, or None; ``pattern``'s group 1 picks one of several."""
    program = which(argv[0])
    if not program:
        return None
    try:
        done = capture([program, *argv[1:]], timeout=timeout, ok=None, cwd=cwd)
    except Exit:
        return None
    text = done.stdout + "\n" + done.stderr
    if pattern is not None:
        m = re.search(pattern, text, re.M)
        return m.group(1) if m else None
    m = re.search(r"version:?\s*v?(\d+(?:\.\d+)+)", text, re.I) or _VERSION.search(text)
    return m.group(1) if m and m.lastindex else (m.group(0) if m else None)


def exec_in(c, argv: list[str], *, cwd: Path, env: Mapping[str, str] | None = None) -> None:
    """Replace this process by ``argv`` (echoed first; under --dry only echoed): a task's last, interactive step."""
    from tasks.lib.supervise import lifeline

    print(f"$ {describe(argv, cwd, env)}", flush=True)
    if config.settings(c).dry:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    lifeline.release()  # the watchdog stops what is left of this run before the program starts
    os.chdir(cwd)
    os.execvpe(argv[0], argv, lifeline.without_token({**os.environ, **(env or {})}))
