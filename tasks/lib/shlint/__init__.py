"""Shell-script linting: `inv lint.sh` and `inv lint.install-hook`."""
