"""Shell-script linting for `inv lint.sh`, one job per module.

- ``shells``: which files are shell scripts, typed as pre-commit types them.
- ``discovery``: the scripts to check (git's list, or the tree walked).
- ``runners``: finding shellcheck and shfmt, running them in batches (``lint``).
- ``parsers``: what the tools print, per file.
- ``results``: the findings and the report.
- ``tips``: the scripting tips (shebang and ``set`` line), by the script's shebang.
- ``precommit``: the repository's pre-commit configs: where, and what they exclude.
- ``hook``: `inv lint.install-hook`, our hook inserted into such a config as text.
- ``run``: the task's flow: settings, the version pins, the report printed.

Only ``run`` and ``hook`` read the invoke config; the pin rule is ``tasks.lib.versions``.
"""
