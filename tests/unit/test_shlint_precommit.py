"""The repository's pre-commit configs: finding them, reading them, and the files their
top level and each tool's hooks keep from that tool (what `inv lint.sh` then skips)."""

from __future__ import annotations

import pytest

from tasks.lib.shlint import precommit
from tasks.lib.shlint.precommit import ConfigError
from tests.unit.test_shlint_hook import FIREZONE_CONFIG


def test_find_keeps_the_order_of_the_setting(tmp_path):
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github/pre-commit-config.yaml").write_text("repos: []\n")
    (tmp_path / ".pre-commit-config.yaml").mkdir()  # a folder is not a config
    assert precommit.find(tmp_path, [".pre-commit-config.yaml", ".github/pre-commit-config.yaml"]) == [
        tmp_path / ".github/pre-commit-config.yaml"
    ]
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
    shell = {h["id"]: precommit.tools_of(h) for h in precommit.hooks(data) if precommit.tools_of(h)}
    assert shell == {"shellcheck": ("shellcheck",), "shell-fmt": ("shfmt",)}
    assert precommit.is_our_hook({"id": "lint-sh"})
    assert precommit.is_our_hook({"id": "shell", "entry": "bash -c '... exec inv lint.sh \"$@\"' --"})
    assert precommit.tools_of({"id": "lint-sh", "entry": "inv lint.sh"}) == ()
    assert precommit.tools_of({"id": "local-lint", "entry": "shfmt -i 4 -d"}) == ("shfmt",)
    assert precommit.tools_of({"id": "both", "entry": 'sh -c \'shellcheck "$@" && shfmt -d "$@"\''}) == ("shellcheck", "shfmt")
    # Malformed entries are left out rather than failing.
    assert precommit.hooks({"repos": [None, {"repo": "x"}, {"hooks": ["a", {"id": "b"}]}]}) == [{"id": "b"}]
    assert precommit.hooks({"repos": "nope"}) == []


def test_firezone_keeps_gradlew_from_shellcheck_only():
    # As pre-commit does: the shellcheck hook's exclude is that hook's; its shfmt hook has none.
    rules = precommit.filters(precommit.parse(FIREZONE_CONFIG, ".github/pre-commit-config.yaml"), ".github/pre-commit-config.yaml")
    skipped = precommit.skips(["scripts/a.sh", "kotlin/android/gradlew", "elixir/rel/overlays/bin/server"], rules)
    assert skipped == {
        "shellcheck": {"kotlin/android/gradlew": "exclude of hook shellcheck in .github/pre-commit-config.yaml"},
        "shfmt": {},
    }


def test_top_level_files_and_exclude():
    text = "files: ^(scripts|elixir)/\nexclude: ^scripts/vendor/\nrepos: []\n"
    rules = precommit.filters(precommit.parse(text, "c.yaml"), "c.yaml")
    skipped = precommit.skips(["scripts/a.sh", "scripts/vendor/v.sh", "rust/x.sh"], rules)
    expected = {"scripts/vendor/v.sh": "exclude of the top level of c.yaml", "rust/x.sh": "not in the files of the top level of c.yaml"}
    assert skipped == {"shellcheck": expected, "shfmt": expected}


def test_each_hooks_files_apply_to_its_own_tool():
    text = (
        "repos:\n- repo: x\n  hooks:\n  - id: shellcheck\n    files: ^scripts/\n"
        "- repo: y\n  hooks:\n  - id: shfmt\n    exclude: ^scripts/gen/\n"
    )
    rules = precommit.filters(precommit.parse(text, "c.yaml"), "c.yaml")
    skipped = precommit.skips(["scripts/a.sh", "scripts/gen/g.sh", "tools/t.sh"], rules)
    assert skipped == {
        "shellcheck": {"tools/t.sh": "not in the files of hook shellcheck in c.yaml"},
        "shfmt": {"scripts/gen/g.sh": "exclude of hook shfmt in c.yaml"},
    }


def test_paths_are_matched_from_the_top_of_the_work_tree():
    rules = precommit.filters({"exclude": "^sub/vendor/"}, "c.yaml")
    assert precommit.skips(["vendor/v.sh"], rules, prefix="sub/")["shfmt"] == {"vendor/v.sh": "exclude of the top level of c.yaml"}
    assert precommit.skips(["vendor/v.sh"], rules) == {"shellcheck": {}, "shfmt": {}}


def test_our_own_hooks_exclude_is_not_a_shell_linters():
    data = {"repos": [{"repo": "local", "hooks": [{"id": "lint-sh", "entry": "inv lint.sh", "exclude": "^tests/"}]}]}
    assert precommit.filters(data, "c") == []


def test_a_bad_regex_says_which():
    with pytest.raises(ConfigError, match=r"^c\.yaml: hook shellcheck exclude is not a valid regex"):
        precommit.filters({"repos": [{"repo": "x", "hooks": [{"id": "shellcheck", "exclude": "(^a"}]}]}, "c.yaml")
    with pytest.raises(ConfigError, match=r"^c\.yaml: files is not a valid regex"):
        precommit.filters({"files": "[", "repos": []}, "c.yaml")
