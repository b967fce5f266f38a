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


def test_a_key_shows_its_kind_only_from_twelve_characters_after_the_prefix():
    assert mask("whsec_" + "a" * 8 + "WXYZ") == "whsec_…WXYZ"
    assert mask("whsec_" + "a" * 7 + "WXYZ") == "****"
    assert mask("sk_" + "a" * 7 + "WXYZ") == "****"
    assert mask("sk_" + "a" * 8 + "WXYZ") == "sk_…WXYZ"


def test_secret_names_in_any_case_and_every_kind():
    for name in ("db_password", "Github_Token", "MYSQL_PASSWD", "SSH_PRIVATE_KEY", "OPENAI_API_KEY", "pgpassword"):
        assert is_secret_key(name), name
    env = {"ssh_private_key": "0123456789abcdef", "OPENAI_API_KEY": "sk-abcdefghijklmnop"}
    assert mask_env(env) == {"ssh_private_key": "****", "OPENAI_API_KEY": "****"}


def test_a_secret_inside_another_is_never_printed_in_part():
    # The password is a piece of the longer token; replacing it first would leave the
    # token's other characters in the output.
    env = {"MY_PASSWORD": "tok3n-4567", "VAULT_TOKEN": "0000-tok3n-4567-9999"}
    assert secret_values(env) == ["0000-tok3n-4567-9999", "tok3n-4567"]
    out = mask_text("vault 0000-tok3n-4567-9999 db tok3n-4567", secret_values(env))
    assert out == "vault **** db ****"
    assert "0000" not in out and "9999" not in out


def test_values_of_four_characters_are_scrubbed_shorter_ones_are_not():
    assert secret_values({"A_TOKEN": "abcd", "B_TOKEN": "abc", "C_TOKEN": "", "D_USER": "longvalue"}) == ["abcd"]


def test_the_published_development_keys_are_not_scrubbed():
    assert secret_values({"STRIPE_SECRET_KEY": "sk_dev_1111", "STRIPE_WEBHOOK_SIGNING_SECRET": "whsec_dev_1111"}) == []
