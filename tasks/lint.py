"""lint.*: shell-script linting with shellcheck and shfmt."""

from invoke import Collection

from tasks.taskdef import task

ns = Collection("lint")
ns.configure(
    {
        "lint": {
            "shellcheck": "shellcheck",
            "shfmt": "shfmt",
            "severity": "warning",
            "indent": 4,
            "exclude": [],
            # Scripts for Docker images and minimal systems: #!/bin/sh + set -eu.
            "minimal_paths": [],
        }
    }
)
