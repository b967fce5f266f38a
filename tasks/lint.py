"""lint.*: shell-script linting with shellcheck and shfmt.

Mechanisms: tasks/lib/shlint/ (finding scripts, running the tools, the tips, the report).
"""

from invoke import Collection

from tasks.taskdef import task


@task(
    load_env=False,
    iterable=["path"],
    help={
        "path": "Only check these files or folders (repeatable: -p scripts -p tests/run.sh)",
        "fix": "Rewrite the formatting with shfmt -w and report which files changed",
        "strict": "Treat scripting-tips warnings as errors (setting lint.strict)",
        "staged": "Only check scripts staged in git (what the pre-commit hook runs)",
    },
)
def sh(c, path=None, fix=False, strict=False, staged=False):
    """Lint the shell scripts: shellcheck, shfmt -d and the scripting tips."""
    from tasks.lib.shlint import run

    run.lint_sh(c, path, fix, strict, staged)


ns = Collection("lint")
ns.add_task(sh)
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
            # Scripting-tips warnings fail the run (as --strict does).
            "strict": False,
            # Processes running at once (shellcheck batches); 0 = one per CPU.
            "jobs": 0,
            # Pins compared with the tools' versions; "" turns the check off.
            "tool_versions": ".tool-versions",
        }
    }
)
