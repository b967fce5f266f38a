"""infra.down and infra.destroy: Postgres first, then the Vault container of the acceptance tests."""

from __future__ import annotations

from tasks.lib import vault
from tasks.lib.stack import postgres


def stop(c) -> None:
    """Stop Postgres (data kept), then Vault (silent when there is none)."""
    postgres.stop(c)
    vault.stop(c)


def destroy(c, yes: bool) -> None:
    """Remove Postgres and its data (after asking), then Vault. Declining removes nothing."""
    postgres.destroy(c, yes)
    vault.remove(c)
