"""Shell-script linting for `inv lint.sh`, one job per module.

- ``discovery``: which files are shell scripts (git's list, or the tree walked).
- ``runners``: finding shellcheck and shfmt, running them in batches (``lint``).
- ``parsers``: what the tools print, per file.
- ``results``: the findings and the report.
- ``tips``: the scripting tips (shebang and ``set`` line).
- ``run``: the task's flow: settings, the version pins, the report printed.

Only ``run`` reads the invoke config; the pin rule is ``tasks.lib.versions``.
"""
