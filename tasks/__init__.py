"""The suite's package. `inv` enters through ../tasks.py, which makes itself this package.

Two kinds of module live here:

- task modules, one per namespace (infra, elixir, db, dev, billing, workos, lint,
  doctor): task definitions only (arguments, help, the section's defaults with
  ``ns.configure``) and a call into the library. They import the library inside task
  bodies, so `inv --list` loads none of it.
- the library, ``tasks/lib/``: the mechanisms, one job per module, grouped by kind
  (see tasks/lib/__init__.py). It never imports a task module.

``collection.py`` builds the root namespace; ``taskdef.py`` is the task decorator.
"""
