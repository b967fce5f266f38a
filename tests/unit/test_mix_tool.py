"""Finding mix and the Elixir root; composing `mix do`; the cached version."""

import os

import pytest
from invoke import Config, Exit, MockContext

from tasks.lib.mix import tool as mixtool


@pytest.mark.parametrize(
    "version, expected",
    [
        ((1, 14, 0), ["do", "ecto.reset", "+", "ecto.seed"]),
        ((1, 18, 4), ["do", "ecto.reset", "+", "ecto.seed"]),
        ((1, 13, 4), ["do", "ecto.reset,", "ecto.seed"]),
        (None, ["do", "ecto.reset", "+", "ecto.seed"]),
    ],
)
def test_do_args_separator_follows_version(version, expected):
    assert mixtool.do_args(version, ["ecto.reset", "ecto.seed"]) == expected


def test_do_args_tasks_with_arguments():
    assert mixtool.do_args((1, 13, 0), ["ecto.create --quiet", "ecto.migrate", "run seeds.exs"]) == [
        "do",
        "ecto.create",
        "--quiet,",
        "ecto.migrate,",
        "run",
        "seeds.exs",
    ]
    assert mixtool.do_args((1, 15, 0), [["ecto.create", "--quiet"], "test"]) == ["do", "ecto.create", "--quiet", "+", "test"]


def test_do_args_single_task_needs_no_do():
    assert mixtool.do_args((1, 14, 0), ["ecto.seed"]) == ["ecto.seed"]


@pytest.mark.parametrize(
    "text, version",
    [
        ("Mix 1.18.4 (compiled with Erlang/OTP 27)", (1, 18, 4)),
        ("1.14.0", (1, 14, 0)),
        ("1.18.4-otp-27", (1, 18, 4)),
        ("1.15", (1, 15, 0)),
        ("nope", None),
    ],
)
def test_parse_version(text, version):
    assert mixtool.parse_version(text) == version


def ctx(tmp_path, **elixir):
    from tasks import elixir as elixir_tasks

    config = Config(overrides={"elixir": elixir, "dev": {"state_dir": str(tmp_path / ".inv")}})
    config.load_collection(elixir_tasks.ns.configuration())
    return MockContext(config=config)


def test_missing_mix_names_setting_and_install(tmp_path):
    with pytest.raises(Exit) as e:
        _ = mixtool.settings(ctx(tmp_path, mix="fz-no-mix-here")).mix
    msg = e.value.message
    assert "elixir.mix" in msg and ".tool-versions" in msg and "asdf" in msg and "apt-get install elixir" in msg
    assert "\n" not in msg


def test_missing_root_names_setting_and_fix(tmp_path):
    with pytest.raises(Exit) as e:
        _ = mixtool.settings(ctx(tmp_path, root=str(tmp_path / "nope"))).root
    assert "does not exist" in e.value.message and "elixir.root" in e.value.message
    assert "INVOKE_ELIXIR_ROOT" in e.value.message and "invoke.yaml" in e.value.message
    (tmp_path / "empty").mkdir()
    with pytest.raises(Exit) as e:
        _ = mixtool.settings(ctx(tmp_path, root=str(tmp_path / "empty"))).root
    assert "has no mix.exs" in e.value.message


def test_web_app_relative_to_root(tmp_path):
    (tmp_path / "ex" / "apps" / "web").mkdir(parents=True)
    (tmp_path / "ex" / "mix.exs").write_text("")
    c = ctx(tmp_path, root=str(tmp_path / "ex"), web_app="apps/web")
    with pytest.raises(Exit) as e:
        _ = mixtool.settings(c).web
    assert "elixir.web_app" in e.value.message
    (tmp_path / "ex" / "apps" / "web" / "mix.exs").write_text("")
    assert mixtool.settings(c).web == tmp_path / "ex" / "apps" / "web"


def fake_install(tmp_path, vsn="1.15.7"):
    """<prefix>/bin/mix beside <prefix>/lib/elixir/ebin/elixir.app, like a real install."""
    bin_ = tmp_path / "elixir-install" / "bin"
    bin_.mkdir(parents=True)
    mix = bin_ / "mix"
    mix.write_text("#!/bin/sh\necho 'Mix 9.9.9 (compiled with Erlang/OTP 27)'\n")
    mix.chmod(0o755)
    ebin = tmp_path / "elixir-install" / "lib" / "elixir" / "ebin"
    ebin.mkdir(parents=True)
    (ebin / "elixir.app").write_text('{application,elixir,[{description,"elixir"},{vsn,"%s"}]}.' % vsn)
    return mix


def test_version_from_install_then_cached(tmp_path):
    mix = fake_install(tmp_path)
    state = tmp_path / ".inv"
    assert mixtool.elixir_version(str(mix), state, tmp_path) == (1, 15, 7)
    assert (state / "elixir-version.json").is_file()
    # Warm: the cache answers, even with the install gone.
    (tmp_path / "elixir-install" / "lib" / "elixir" / "ebin" / "elixir.app").unlink()
    assert mixtool.elixir_version(str(mix), state, tmp_path) == (1, 15, 7)
    # A new mix (other mtime) asks again: now `mix --version` (a shim's way).
    st = mix.stat()
    os.utime(mix, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert mixtool.elixir_version(str(mix), state, tmp_path) == (9, 9, 9)


def test_version_dry_writes_no_cache(tmp_path):
    mix = fake_install(tmp_path)
    assert mixtool.elixir_version(str(mix), tmp_path / ".inv", tmp_path, dry=True) == (1, 15, 7)
    assert not (tmp_path / ".inv").exists()


def test_mix_do_uses_detected_version(tmp_path):
    mix = fake_install(tmp_path, "1.13.4")
    c = ctx(tmp_path, mix=str(mix))
    assert mixtool.settings(c).command("reset_tasks") == [str(mix), "do", "ecto.reset,", "ecto.seed"]
