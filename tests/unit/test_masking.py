from tasks.lib.masking import is_secret_key, mask, mask_env, mask_text, secret_values


def test_mask_keeps_kind_and_last_four():
    assert mask("sk_test_51HxAbCdEfGhIjKlMnOpabcd") == "sk_test_…abcd"
    assert mask("rk_live_51HxAbCdEfGhIjKlMn9876") == "rk_live_…9876"
    assert mask("whsec_0123456789abcdefWXYZ") == "whsec_…WXYZ"


def test_short_or_unknown_values_are_fully_hidden():
    assert mask("hunter2") == "****"
    assert mask("sk_test_short") == "****"


def test_secret_key_names():
    for name in ("STRIPE_SECRET_KEY", "WORKOS_API_KEY", "DATABASE_PASSWORD", "MY_TOKEN", "X_SECRET"):
        assert is_secret_key(name)
    for name in ("DATABASE_USER", "WORKOS_CLIENT_ID", "STRIPE_DEFAULT_PRICE_ID"):
        assert not is_secret_key(name)


def test_mask_env_and_text():
    env = {"STRIPE_SECRET_KEY": "sk_test_51HxAbCdEfGhIjKlMnOpabcd", "DATABASE_USER": "postgres", "DATABASE_PASSWORD": "postgres"}
    assert mask_env(env) == {"STRIPE_SECRET_KEY": "sk_test_…abcd", "DATABASE_USER": "postgres", "DATABASE_PASSWORD": "****"}
    secrets = secret_values(env)
    # the public default password is not scrubbed from text ("postgres" is also the user)
    assert secrets == ["sk_test_51HxAbCdEfGhIjKlMnOpabcd"]
    assert mask_text("key=sk_test_51HxAbCdEfGhIjKlMnOpabcd user=postgres", secrets) == "key=sk_test_…abcd user=postgres"
