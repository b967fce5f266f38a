"""Shell-script linting: `inv lint.sh` (shellcheck, shfmt -d, the scripting tips) and
`inv lint.install-hook`."""
