"""`inv lint.install-hook`: the hook inserted into a pre-commit config as text (every
other byte kept), found when already there, and the task's flow (no git, no programs)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from invoke import Exit

from tasks.lib.shlint import hook, precommit, scripts
from tasks.lib.shlint.hook import ByHand

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "firezone_scripts"
FIREZONE_CONFIG = (FIXTURE / ".github" / "pre-commit-config.yaml").read_text()


def lines_for(indent: str) -> list[str]:
    return hook.hook_lines(indent)


def insert(text: str) -> tuple[str, int, int]:
    return hook.insert(text, lines_for, "c.yaml")


def without(new: str, first: int, last: int) -> str:
    """``new`` with the inserted lines (and the blank line before them) taken out."""
    lines = new.split("\n")
    start = first - 1
    if start > 0 and lines[start - 1].strip() == "":
        start -= 1
    return "\n".join(lines[:start] + lines[last:])


def ours(new: str, first: int, last: int) -> list[str]:
    return [line.rstrip("\r") for line in new.split("\n")[first - 1 : last]]


def test_the_entry_turns_each_file_into_a_path_option():
    words = shlex.split(hook.entry())
    assert words[:2] == ["sh", "-c"] and words[3:] == ["--"]
    script = words[2]
    assert "'" not in script
    assert 'for f; do set -- "$@" -p "$f"; done; shift "$n"' in script
    assert script.endswith('exec "$inv" lint.sh "$@"') and "[ -x .venv/bin/inv ]" in script
    sub = shlex.split(hook.entry("sub/dir/"))[2]
    assert "[ -x sub/dir/.venv/bin/inv ]" in sub and sub.endswith('exec "$inv" -r sub/dir lint.sh "$@"')


def test_hook_lines():
    lines = hook.hook_lines("  ")
    assert lines[2] == "  - repo: local" and "  - repo: local" in lines
    assert "        types: [shell]" in lines and "        require_serial: true" in lines
    assert not any("exclude:" in line or "files:" in line for line in lines)
    more = hook.hook_lines("", prefix="sub/", skip="sub/tests/fixtures")
    assert more[-2:] == ["      files: ^sub/", "      exclude: ^sub/tests/fixtures/"]


def test_insert_into_firezones_config_keeps_every_byte():
    new, first, last = insert(FIREZONE_CONFIG)
    assert new.startswith(FIREZONE_CONFIG)  # its last repo ends the file: ours goes after it
    assert without(new, first, last) == FIREZONE_CONFIG
    assert ours(new, first, last) == hook.hook_lines("  ")
    assert new.split("\n")[first - 2] == ""  # a blank line between repos, as the file has
    data = precommit.parse(new, "c")
    assert data["repos"][:-1] == precommit.parse(FIREZONE_CONFIG, "c")["repos"]
    (added,) = data["repos"][-1]["hooks"]
    assert added["id"] == "lint-sh" and added["entry"] == hook.entry() and added["types"] == ["shell"]


def test_insert_before_the_next_top_level_key_and_its_comment():
    text = (
        "# top comment\n"
        "repos:\n"
        "- repo: https://example.com/hooks\n"
        "  rev: v1\n"
        "  hooks:\n"
        "  - id: a\n"
        "    # an indented comment belongs to the list\n"
        "\n"
        "# about ci: stays with ci\n"
        "ci:\n"
        "  autofix_prs: false\n"
    )
    new, first, last = insert(text)
    lines = new.split("\n")
    assert lines[first - 1 : last] == hook.hook_lines("")  # the list's own (no) indent
    assert lines[first - 3] == "    # an indented comment belongs to the list"
    assert lines[last : last + 3] == ["", "# about ci: stays with ci", "ci:"]
    assert without(new, first, last) == text
    assert precommit.parse(new, "c")["ci"] == {"autofix_prs": False}


def test_insert_follows_the_items_indent():
    text = "repos:   # the hooks\n    - repo: local\n      hooks:\n        - id: x\n          name: x\n          entry: x\n          language: system\n"
    new, first, last = insert(text)
    assert ours(new, first, last) == hook.hook_lines("    ")
    assert without(new, first, last) == text


def test_insert_keeps_crlf_and_a_missing_last_newline():
    text = "repos:\r\n  - repo: local\r\n    hooks:\r\n      - id: x\r\n        name: x\r\n        entry: x\r\n        language: system"
    new, first, last = insert(text)
    assert new.startswith(text + "\r\n\r\n  # Shell scripts")
    assert "\n" not in new.replace("\r\n", "") and new.endswith("require_serial: true\r\n")
    assert ours(new, first, last) == hook.hook_lines("  ")


@pytest.mark.parametrize("text", ["", "# pre-commit config, to be filled\n", "# no newline"])
def test_an_empty_config_gets_a_repos_list(text):
    new, first, last = insert(text)
    assert new.startswith(text)
    lines = new.split("\n")
    assert lines[first - 2] == "repos:" and lines[first - 1 : last] == hook.hook_lines("  ")
    assert precommit.parse(new, "c")["repos"][0]["hooks"][0]["id"] == "lint-sh"


def test_an_empty_repos_key_gets_the_first_item():
    new, first, last = insert("repos:\nci:\n  skip: []\n")
    assert new == "repos:\n" + "".join(line + "\n" for line in hook.hook_lines("  ")) + "ci:\n  skip: []\n"
    assert (first, last) == (2, 1 + len(hook.hook_lines("  ")))


@pytest.mark.parametrize(
    "text, said",
    [
        ("repos: []\n", "`repos:` is written inline ([])"),
        ("default_stages: [commit]\n", "has no top-level `repos:` list"),
    ],
)
def test_shapes_it_will_not_guess_at(text, said):
    with pytest.raises(ByHand, match=said.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")):
        insert(text)


def test_a_quoted_repos_key_is_left_to_the_user():
    # The text has no `repos:` line the inserter recognises, though YAML has the key.
    with pytest.raises(ByHand):
        insert('"repos":\n  - repo: local\n    hooks: []\n')


def test_hook_line():
    new, first, _ = insert(FIREZONE_CONFIG)
    assert hook.hook_line(new) == first + 4  # the `- id: lint-sh` line
    assert hook.hook_line("repos:\n- repo: local\n  hooks:\n  - id: shell\n    entry: inv lint.sh\n") == 5


# ------------------------------------------------------------- the task's flow


CONFIGS = (".pre-commit-config.yaml", ".github/pre-commit-config.yaml")


def install(root, create=False, dry=False, names=CONFIGS) -> None:
    hook.install(names, create, dry, root=root)


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setattr(scripts, "git_toplevel", lambda root: None)
    return tmp_path


def test_install_adds_once(root, capsys):
    config = root / ".github" / "pre-commit-config.yaml"
    config.parent.mkdir()
    config.write_text(FIREZONE_CONFIG)
    config.chmod(0o640)
    install(root)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(".github/pre-commit-config.yaml: added the lint-sh hook (lines ")
    assert out[1].startswith("pre-commit runs it with the config's other hooks: pre-commit run --config .github/pre-commit-config.yaml")
    after = config.read_text()
    assert after.startswith(FIREZONE_CONFIG) and config.stat().st_mode & 0o777 == 0o640
    install(root)
    out = capsys.readouterr().out
    assert out == f".github/pre-commit-config.yaml: the lint-sh hook is already there (line {hook.hook_line(after)}); nothing changed\n"
    assert config.read_text() == after
    assert [p.name for p in config.parent.iterdir()] == ["pre-commit-config.yaml"]  # no temporary file left


def test_install_under_dry_writes_nothing(root, capsys):
    (root / ".pre-commit-config.yaml").write_text(FIREZONE_CONFIG)
    install(root, dry=True)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[dry] would add the lint-sh hook to .pre-commit-config.yaml, lines ")
    assert out[1:] == ["[dry]     + " + line for line in hook.hook_lines("  ")]
    assert (root / ".pre-commit-config.yaml").read_text() == FIREZONE_CONFIG


def test_install_without_a_config_refuses_with_where_it_looked(root, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(Exit) as e:
        install(root)
    assert str(e.value.message) == (
        f"no pre-commit config in {root} (looked for .pre-commit-config.yaml, .github/pre-commit-config.yaml;"
        " setting lint.pre_commit_configs). Fix: `inv lint.install-hook --create` writes .pre-commit-config.yaml"
        " (pre-commit's default place), or name your config in invoke.yaml (lint: {pre_commit_configs: [...]})"
    )
    assert list(root.iterdir()) == []


def test_install_create(root, capsys):
    install(root, create=True)
    text = (root / ".pre-commit-config.yaml").read_text()
    assert text == "repos:\n" + "".join(line + "\n" for line in hook.hook_lines("  "))
    assert capsys.readouterr().out.startswith(".pre-commit-config.yaml: created with the lint-sh hook")


def test_install_asks_on_a_terminal(root, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    with pytest.raises(Exit, match="^Nothing written. Fix: `inv lint.install-hook --create`"):
        install(root)
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    install(root)
    assert (root / ".pre-commit-config.yaml").is_file()


def test_install_refuses_a_broken_config_or_an_empty_setting(root):
    (root / ".pre-commit-config.yaml").write_text("repos:\n  - repo: [\n")
    with pytest.raises(Exit, match=r"^\.pre-commit-config\.yaml is not valid YAML .*\. Fix: correct it \(pre-commit cannot read it"):
        install(root)
    (root / ".pre-commit-config.yaml").write_text("repos: []\n")
    with pytest.raises(Exit) as e:
        install(root)
    message = str(e.value.message)
    assert message.startswith(".pre-commit-config.yaml, line 1: `repos:` is written inline ([]). Fix: add these lines")
    assert message.splitlines()[1:] == hook.hook_lines("  ")
    with pytest.raises(Exit, match="^setting lint.pre_commit_configs is empty"):
        install(root, names=[])


def test_install_in_a_subfolder_of_the_work_tree(tmp_path, monkeypatch, capsys):
    suite = tmp_path / "tools" / "dev"
    (suite / "tests" / "fixtures").mkdir(parents=True)
    monkeypatch.setattr(scripts, "git_toplevel", lambda root: tmp_path)
    monkeypatch.setattr(scripts, "SUITE_FIXTURES", suite / "tests" / "fixtures")
    (tmp_path / ".pre-commit-config.yaml").write_text("repos:\n")
    install(suite)
    data = precommit.parse((tmp_path / ".pre-commit-config.yaml").read_text(), "c")
    (added,) = data["repos"][0]["hooks"]
    assert added["files"] == "^tools/dev/" and added["exclude"] == "^tools/dev/tests/fixtures/"
    assert added["entry"] == hook.entry("tools/dev/")
