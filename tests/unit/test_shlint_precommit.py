"""The repository's pre-commit configs: finding them, reading them, and the files their
top level and shell hooks leave out (what `inv lint.sh` then skips)."""

from __future__ import annotations

import pytest

from tasks.lib.shlint import precommit
from tasks.lib.shlint.precommit import ConfigError
from tests.unit.test_shlint_hook import FIREZONE_CONFIG


def test_find_keeps_the_order_of_the_setting(tmp_path):
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github/pre-commit-config.yaml").write_text("repos: []\n")
    (tmp_path / ".pre-commit-config.yaml").mkdir()  # a folder is not a config
    assert precommit.find(tmp_path, precommit.DEFAULT_CONFIGS) == [tmp_path / ".github/pre-commit-config.yaml"]
    (tmp_path / "other.yaml").write_text("repos: []\n")
    assert precommit.find(tmp_path, ["other.yaml", ".github/pre-commit-config.yaml"]) == [
        tmp_path / "other.yaml",
        tmp_path / ".github/pre-commit-config.yaml",
    ]


def test_parse_says_where_and_what():
    assert precommit.parse("", "c.yaml") == {}
    assert precommit.parse("# only a comment\n", "c.yaml") == {}
    with pytest.raises(ConfigError, match=r"^c\.yaml is not valid YAML \(.* at line 4\)$"):
        precommit.parse("repos:\n  - repo: local\n    hooks: [\n", "c.yaml")
    with pytest.raises(ConfigError, match=r"^c\.yaml is not a pre-commit config"):
        precommit.parse("- a\n- b\n", "c.yaml")


def test_load_reports_an_unreadable_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_bytes(b"repos: \xff\n")
    with pytest.raises(ConfigError, match=r"^c\.yaml cannot be read \(UnicodeDecodeError"):
        precommit.load(path, "c.yaml")


def test_hooks_and_which_are_ours_or_shell_linters():
    data = precommit.parse(FIREZONE_CONFIG, "c")
    ids = [h["id"] for h in precommit.hooks(data)]
    assert ids[0] == "codespell" and "shellcheck" in ids and "shell-fmt" in ids
    shell = [h["id"] for h in precommit.hooks(data) if precommit.is_shell_hook(h)]
    assert shell == ["shellcheck", "shell-fmt"]
    assert precommit.is_our_hook({"id": "lint-sh"})
    assert precommit.is_our_hook({"id": "shell", "entry": "bash -c '... exec inv lint.sh \"$@\"' --"})
    assert not precommit.is_shell_hook({"id": "lint-sh", "entry": "inv lint.sh"})
    assert precommit.is_shell_hook({"id": "local-lint", "entry": "shfmt -i 4 -d"})
    # Malformed entries are left out rather than failing.
    assert precommit.hooks({"repos": [None, {"repo": "x"}, {"hooks": ["a", {"id": "b"}]}]}) == [{"id": "b"}]
    assert precommit.hooks({"repos": "nope"}) == []


def test_firezone_skips_gradlew_from_shellcheck():
    rules = precommit.filters(precommit.parse(FIREZONE_CONFIG, ".github/pre-commit-config.yaml"), ".github/pre-commit-config.yaml")
    kept, skipped = precommit.split(["scripts/a.sh", "kotlin/android/gradlew", "elixir/rel/overlays/bin/server"], rules)
    assert kept == ["scripts/a.sh", "elixir/rel/overlays/bin/server"]
    assert skipped == {"kotlin/android/gradlew": "exclude of hook shellcheck in .github/pre-commit-config.yaml"}


def test_top_level_files_and_exclude():
    text = "files: ^(scripts|elixir)/\nexclude: ^scripts/vendor/\nrepos: []\n"
    rules = precommit.filters(precommit.parse(text, "c.yaml"), "c.yaml")
    kept, skipped = precommit.split(["scripts/a.sh", "scripts/vendor/v.sh", "rust/x.sh"], rules)
    assert kept == ["scripts/a.sh"]
    assert skipped == {
        "scripts/vendor/v.sh": "exclude of the top level of c.yaml",
        "rust/x.sh": "not in the files of the top level of c.yaml",
    }


def test_paths_are_matched_from_the_top_of_the_work_tree():
    rules = precommit.filters({"exclude": "^sub/vendor/"}, "c.yaml")
    assert precommit.split(["vendor/v.sh"], rules, prefix="sub/") == ([], {"vendor/v.sh": "exclude of the top level of c.yaml"})
    assert precommit.split(["vendor/v.sh"], rules) == (["vendor/v.sh"], {})


def test_our_own_hooks_exclude_is_not_a_shell_linters():
    data = {"repos": [{"repo": "local", "hooks": [{"id": "lint-sh", "entry": "inv lint.sh", "exclude": "^tests/"}]}]}
    assert precommit.filters(data, "c") == []


def test_a_bad_regex_says_which():
    with pytest.raises(ConfigError, match=r"^c\.yaml: hook shellcheck exclude is not a valid regex"):
        precommit.filters({"repos": [{"repo": "x", "hooks": [{"id": "shellcheck", "exclude": "(^a"}]}]}, "c.yaml")
    with pytest.raises(ConfigError, match=r"^c\.yaml: files is not a valid regex"):
        precommit.filters({"files": "[", "repos": []}, "c.yaml")
