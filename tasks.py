"""Entry point for `inv`; the tasks live in the tasks/ package.

invoke loads this file as the module ``tasks``, which would hide the package: taking the
package's ``__path__`` makes ``tasks.infra``, ``tasks.lib...`` the same files under ``inv``
as under ``import tasks`` (pytest, type checkers).
"""

import os
import signal
import sys

# A script's background job (`inv dev.up &`, an IDE, make) starts with SIGINT ignored, but the BEAM
# takes it anyway and exits 0 from its BREAK menu: inv takes SIGINT itself, so an interrupt is never
# a success. (A SIGHUP ignored by nohup stays ignored: that is what nohup is for.)
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

__path__ = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "tasks")]

# invoke turns bytecode caching off; without it every `inv` compiles the suite again.
# tasks/.gitignore keeps the caches out of git.
sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))

from tasks.collection import ns  # noqa: E402

__all__ = ["ns"]
