"""The `task` decorator every module uses: an invoke task that loads `.env` first."""

from __future__ import annotations

from typing import Any

import invoke
from invoke import Exit



class SuiteTask(invoke.Task):
    """Loads `.env`/`.env.local` (once) before the task body runs.

    ``load_env=False`` leaves it to the task (doctor reports a broken `.env` as a row).
    """

    def __init__(self, body: Any, *args: Any, load_env: bool = True, **kwargs: Any) -> None:
        super().__init__(body, *args, **kwargs)
        self.load_env = load_env

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.load_env:
            from tasks import envfile
            from tasks.settings import PROJECT_ROOT

            try:
                envfile.ensure_loaded(PROJECT_ROOT)
            except envfile.EnvFileError as e:
                raise Exit(str(e))
        return super().__call__(*args, **kwargs)


def task(*args: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("klass", SuiteTask)
    return invoke.task(*args, **kwargs)


def is_dry(c) -> bool:
    """True under `inv --dry`: print the plan, touch nothing (Docker and SQL included)."""
    return bool(c.config.run.get("dry", False))


def lazy(name: str):
    """The module ``name``, loaded on its first attribute access (importlib's LazyLoader).

    Namespace modules bind their plumbing this way, so `inv --list` and tasks that
    do not need a module never pay for importing it (or the SDKs it imports).
    """
    import importlib.util
    import sys

    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module
