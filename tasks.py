"""Entry point for `inv`: the tasks themselves live in the tasks/ folder.

invoke loads this file as the module ``tasks``, which would hide the ``tasks/``
folder. Giving this module a ``__path__`` makes it the package for that folder, so
``inv`` and ``import tasks`` (pytest, scripts) load one and the same set of modules.
"""

import os

__path__ = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "tasks")]

from tasks.collection import ns  # noqa: E402

__all__ = ["ns"]
