"""Keeping secrets out of everything the suite prints."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# Variables whose values are secrets, besides any name matching _SECRET_NAME.
SECRET_KEYS = frozenset(
    "STRIPE_SECRET_KEY STRIPE_API_KEY STRIPE_WEBHOOK_SIGNING_SECRET WORKOS_API_KEY DATABASE_PASSWORD POSTGRES_PASSWORD PGPASSWORD".split()
)
_SECRET_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|API_KEY|PRIVATE_KEY)", re.I)

# Prefixes kept visible, so a masked value still says what kind of key it is.
_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_", "whsec_", "sk_")

# Published development defaults (elixir/config/dev.exs): not secrets ("postgres" is also the user, image and program).
PUBLIC_DEFAULTS = frozenset({"postgres", "sk_dev_1111", "whsec_dev_1111"})


def is_secret_key(name: str) -> bool:
    return name in SECRET_KEYS or bool(_SECRET_NAME.search(name))


def mask(value: str) -> str:
    """``sk_test_51Hx...abcd`` -> ``sk_test_…abcd``; anything short -> ``****``."""
    for prefix in _PREFIXES:
        if value.startswith(prefix) and len(value) - len(prefix) >= 12:
            return f"{prefix}…{value[-4:]}"
    return "****"


def mask_env(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``env`` with the values of secret variables masked."""
    return {k: (mask(v) if is_secret_key(k) and v else v) for k, v in env.items()}


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The secret values in ``env`` worth scrubbing from free text."""
    found = {v for k, v in env.items() if is_secret_key(k) and v and len(v) >= 4 and v not in PUBLIC_DEFAULTS}
    # Longest first, so a secret containing another is replaced whole.
    return sorted(found, key=len, reverse=True)


def mask_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` by its mask."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, mask(secret))
    return text
