"""lint.*: shell-script linting with shellcheck and shfmt, and its pre-commit hook."""

from invoke import Collection

from tasks.taskdef import task


@task(
    load_env=False,
    iterable=["path"],
    help={
        "path": "Only check these files or folders (repeatable: -p scripts -p tests/run.sh; the pre-commit hook passes its files so)",
        "fix": "Rewrite the formatting with shfmt -w and report which files changed",
        "strict": "Treat scripting-tips warnings as errors (setting lint.strict)",
        "staged": "Only check scripts staged in git",
    },
)
def sh(c, path=None, fix=False, strict=False, staged=False):
    """Lint the shell scripts: shellcheck, shfmt -d and the scripting tips."""
    from tasks.lib.shlint import run

    run.lint_sh(c, path, fix, strict, staged)


@task(load_env=False, help={"create": "With no pre-commit config, create the first of lint.pre_commit_configs without asking"})
def install_hook(c, create=False):
    """Add `inv lint.sh` as a hook to the repository's pre-commit config."""
    from tasks.lib.shlint import run

    run.install_hook(c, create)


ns = Collection("lint", sh, install_hook)
ns.configure(
    {
        "lint": {
            "shellcheck": "shellcheck",
            "shfmt": "shfmt",
            "severity": "warning",
            "indent": 4,
            "exclude": [],
            # Held to the minimal-environment tip (#!/bin/sh + set -eu) whatever their shebang.
            "minimal_paths": [],
            # Relative to the work tree's top: lint.sh skips what their hooks exclude; lint.install-hook adds its hook.
            "pre_commit_configs": [".pre-commit-config.yaml", ".github/pre-commit-config.yaml"],
            # Scripting-tips warnings fail the run (as --strict does).
            "strict": False,
            # Processes running at once (shellcheck batches); 0 = one per CPU.
            "jobs": 0,
            # Pins compared with the tools' versions; "" turns the check off.
            "tool_versions": ".tool-versions",
        }
    }
)
