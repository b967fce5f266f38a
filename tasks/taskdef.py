"""The `task` decorator (an invoke task loading `.env` first), the executor checking INVOKE_*, one line for bad YAML."""

from __future__ import annotations

import sys
from typing import Any

import invoke
from invoke import Config, Exit
from invoke.executor import Executor


class SuiteTask(invoke.Task):
    """Loads `.env` before the body, turns a signal into one line and the shell's code, then keeps the state folder
    out of git; ``shortflags`` picks one-letter flags where invoke's first free letter would mislead."""

    def __init__(self, body: Any, *args: Any, load_env: bool = True, shortflags: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(body, *args, **kwargs)
        self.load_env = load_env
        self.shortflags = dict(shortflags or {})

    def arg_opts(self, name: str, default: str, taken_names: Any) -> dict[str, Any]:
        opts = super().arg_opts(name, default, taken_names)
        short = self.shortflags.get(name)
        if short and short not in taken_names:
            opts["names"] = [opts["names"][0], short]
        return opts

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.load_env:
            from tasks.lib import envfile
            from tasks.lib.config import PROJECT_ROOT

            try:
                envfile.ensure_loaded(PROJECT_ROOT)
            except envfile.EnvFileError as e:
                raise Exit(str(e))
            for what, fix in envfile.doubts_once(PROJECT_ROOT):  # pre-tasks come through here too
                print(f"warning: {what}. Fix: {fix}", file=sys.stderr, flush=True)
        from tasks.lib.supervise import foreground

        foreground.raise_on_signals()
        try:
            return super().__call__(*args, **kwargs)
        except KeyboardInterrupt:
            raise Exit(INTERRUPTED, code=130)
        except foreground.Interrupted as e:
            raise Exit(f"inv: {e}; nothing was recorded as done", code=e.code)
        except BrokenPipeError:
            # `inv dev.status | head`: the reader has gone. Say nothing more and exit as a
            # shell pipeline's writer does (128 + SIGPIPE); any other broken pipe is a bug.
            if not _stdout_gone():
                raise
            raise Exit(code=141)
        finally:
            if args:
                _keep_state_out_of_git(args[0])


def _keep_state_out_of_git(c: Any) -> None:
    from tasks.lib import config, state

    try:
        s = config.settings(c)
        if not s.dry:
            state.keep_out_of_git(s.state_dir)
    except Exception:  # housekeeping never changes how a task ends
        pass


def _stdout_gone() -> bool:
    """True when our stdout is a pipe whose reader has closed; it then goes to /dev/null."""
    import os
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        gone = any(events & select.POLLERR for _, events in poller.poll(0))
        if gone:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)
        return gone
    except (OSError, ValueError, AttributeError):
        return False


def _quiet_broken_pipe(kind, value, tb) -> None:
    """`inv --list | head`: invoke's own output (before any task) meets a closed pipe too."""
    if issubclass(kind, BrokenPipeError) and _stdout_gone():
        import os

        os._exit(141)
    _default_excepthook(kind, value, tb)


_default_excepthook = sys.excepthook
sys.excepthook = _quiet_broken_pipe


def task(*args: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("klass", SuiteTask)
    return invoke.task(*args, **kwargs)


class SuiteExecutor(Executor):
    """invoke's executor (invoke.yaml's ``tasks.executor_class``), checking INVOKE_* variables before
    invoke casts them: a bad one would be a traceback, ``false`` would read as true."""

    def execute(self, *tasks: Any) -> Any:
        import os

        from invoke.config import AmbiguousMergeError

        from tasks.lib.config import empty_variables, environment_errors, settings

        merged = self.config.clone()
        try:
            merged.load_collection(self.collection.configuration())
        except AmbiguousMergeError:  # a list where a section or a number belongs, say
            raise Exit("; ".join(map(str, settings(merged).problems()))) from None
        sections = {k: dict(v) for k, v in merged.items() if isinstance(v, dict) or hasattr(v, "items")}
        for name in empty_variables(sections, os.environ):
            del os.environ[name]  # empty means the default, as everywhere
        problems = environment_errors(sections, os.environ)
        if problems:
            raise Exit("; ".join(map(str, problems)))
        try:
            return super().execute(*tasks)
        except KeyboardInterrupt:  # a second Ctrl-C between a task's end and here
            _ignore_signals()
            raise Exit(INTERRUPTED, code=130) from None
        except Exit as e:
            if e.code in (129, 130, 143):
                _ignore_signals()
            raise


INTERRUPTED = "inv: interrupted by Ctrl-C; nothing was recorded as done"


def _ignore_signals() -> None:
    """An interrupted run is ending: a further Ctrl-C or SIGTERM must not cut its last line short or kill it by
    the signal (what it started dies with it anyway: lifeline)."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def _load_yaml(self: Any, path: Any) -> Any:
    """invoke's YAML loader, a syntax error made one line: the file, line, column and what YAML says."""
    from invoke.util import yaml

    try:
        return _invoke_load_yaml(self, path)
    except yaml.YAMLError as e:
        from tasks.lib.problem import Problem

        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        parts = [str(p) for p in (getattr(e, "context", None), getattr(e, "problem", None)) if p] or [str(e)]
        raise Problem(f"{path}{at}: {': '.join(parts)} (YAML syntax)", "fix the file there") from None


_invoke_load_yaml = Config._load_yaml
Config._load_yaml = Config._load_yml = _load_yaml  # type: ignore[method-assign]
