"""Entry point for `inv`: the tasks themselves live in the tasks/ package.

invoke finds this file first and loads it as the module ``tasks``, which would hide
the ``tasks/`` package. Giving this module the package's ``__path__`` makes
``tasks.infra``, ``tasks.lib...`` the same files under ``inv`` as under ``import
tasks`` (pytest, scripts, type checkers), which loads ``tasks/__init__.py`` instead.
"""

import os
import sys

__path__ = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "tasks")]

# invoke turns bytecode caching off (its --write-pyc flag turns it on); without it
# every `inv` compiles the suite's modules again, the library's included, which task
# bodies import after this file has run. __pycache__ is kept out of git (the first task
# adds it to .git/info/exclude where it is not ignored: tasks/lib/gitexclude.py), so cache them
# for the rest of the run unless the user asked Python not to (PYTHONDONTWRITEBYTECODE).
sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))

from tasks.collection import ns  # noqa: E402

__all__ = ["ns"]
