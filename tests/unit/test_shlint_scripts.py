"""Which files are shell scripts (pre-commit's typing: the name, then the shebang of an
executable file), and which of them lint.sh checks: patterns, git's list or the tree,
the suite's own fixtures (no programs run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from invoke import Exit

from tasks.lib.shlint import scripts


@pytest.mark.parametrize(
    "line, shell",
    [
        ("#!/bin/sh", "sh"),
        ("#!/bin/bash", "bash"),
        ("#!/usr/bin/env bash", "bash"),
        ("#!/usr/bin/env sh", "sh"),
        ("#! /bin/sh -eu", "sh"),
        ("#!/usr/local/bin/bash -e", "bash"),
        ("#!/usr/bin/env -S bash -eu", "bash"),
        ("#!/usr/bin/env -i PATH=/bin sh", "sh"),
        ("#!/usr/bin/env bash\r", "bash"),
        ("#!/bin/dash", "dash"),
        ("#!/bin/ash", "ash"),
        ("#!/bin/ksh", "ksh"),
        ("#!/usr/bin/env zsh", "zsh"),
        ("#!/usr/bin/env bats", "bats"),
    ],
)
def test_shell_shebangs(line, shell):
    assert scripts.interpreter(line) == shell


@pytest.mark.parametrize(
    "line",
    ["#!/bin/csh", "#!/bin/tcsh", "#!/usr/bin/env python3", "#!/bin/bashful", "echo hi", "", "# !/bin/sh", "#!", "#!/bin/sh \x00"],
)
def test_other_first_lines(line):
    assert scripts.interpreter(line) == ""


def test_a_versioned_interpreter_name_is_tried_without_its_suffixes():
    # As identify: "python3.5.2", then "python3.5", then "python3".
    assert scripts.interpreter("#!/usr/bin/sh.static") == "sh"
    assert scripts.interpreter("#!/usr/bin/env bash.5") == "bash"
    assert scripts.interpreter("#!/opt/bash5.2") == ""  # bash5.2, then bash5: neither is a shell


@pytest.mark.parametrize(
    "name, said",
    [
        ("a.sh", True),
        ("dir/A.SH", True),
        ("lib.bash", True),
        ("x.zsh", True),
        ("x.ksh", True),
        ("test.bats", True),
        (".envrc", True),
        ("home/.bashrc", True),
        # An extension naming another type wins over `.sh` in the name.
        ("elixir/rel/env.sh.eex", False),
        ("template.sh.j2", False),
        ("run.sh.in", False),
        ("notes.sh.txt", False),
        ("README.md", False),
        ("tool.py", False),
        ("mix.exs", False),
        # The name says nothing: the shebang of an executable file decides.
        ("elixir/rel/overlays/bin/server", None),
        ("gradlew", None),
        ("script.unknownext", None),
        (".hidden", None),
    ],
)
def test_by_name(name, said):
    assert scripts.by_name(name) is said


@pytest.mark.parametrize(
    "name, executable, first, expected",
    [
        ("bin/server", True, "#!/bin/sh", True),
        ("bin/server", False, "#!/bin/sh", False),  # a shebang means something only when run
        ("bin/tool", True, "#!/usr/bin/env python3", False),
        ("bin/tool", True, "no shebang", False),
        ("a.sh", False, "", True),
        ("env.sh.eex", True, "#!/bin/sh", False),
        ("x.unknownext", True, "#!/bin/bash", True),
    ],
)
def test_is_script_by_name_then_shebang(tmp_path, name, executable, first, expected):
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(first + "\n")
    path.chmod(0o755 if executable else 0o644)
    assert scripts.is_script(tmp_path, name) is expected


def test_the_first_line_is_read_only_when_needed(tmp_path, monkeypatch):
    def boom(*a) -> str:
        raise AssertionError("read")

    monkeypatch.setattr(scripts, "head", boom)
    for name, mode in (("a.sh", 0o755), ("a.py", 0o755), ("tool", 0o644)):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(mode)
    assert [scripts.is_script(tmp_path, name) for name in ("a.sh", "a.py", "tool")] == [True, False, False]


@pytest.mark.parametrize(
    "name, first, dialect",
    [
        ("a.sh", "#!/bin/sh", "sh"),
        ("a.sh", "", ""),
        ("a.bash", "", "bash"),
        ("a.sh", "#!/usr/bin/env bash", "bash"),
        ("a.zsh", "", "zsh"),
        ("bin/x", "#!/bin/dash", "dash"),
    ],
)
def test_dialect(name, first, dialect):
    assert scripts.dialect(name, first) == dialect


@pytest.mark.parametrize(
    "rel, patterns, expected",
    [
        ("vendor/a.sh", ["vendor"], True),
        ("vendor/sub/a.sh", ["vendor/"], True),
        ("vendor/sub/a.sh", ["vendor/*"], True),
        ("vendor/sub/a.sh", ["./vendor/**"], True),
        ("scripts/vendor.sh", ["vendor"], False),
        ("scripts/docker/entry.sh", ["scripts/docker/*.sh"], True),
        ("a/b/c.sh", ["*/b"], True),
        ("with space.sh", ["with space.sh"], True),
        ("x.sh", [], False),
        ("x.sh", [""], False),
    ],
)
def test_matches_any(rel, patterns, expected):
    assert scripts.matches_any(rel, patterns) is expected


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if rel in EXECUTABLE:
            path.chmod(0o755)


TREE = {
    "a.sh": "echo a\n",
    "bin/tool": "#!/usr/bin/env bash\necho\n",
    "bin/py": "#!/usr/bin/env python3\n",
    "bin/not-executable": "#!/bin/sh\n",
    "notes.txt": "hello\n",
    "rel/env.sh.eex": "#!/bin/sh\nexport X=<%= @x %>\n",
    "vendor/v.sh": "#!/bin/sh\n",
    "node_modules/m.sh": "#!/bin/sh\n",
    "deps/d.sh": "#!/bin/sh\n",
    "elixir/_build/b.sh": "#!/bin/sh\n",
    ".git/hooks/pre-commit.sh": "#!/bin/sh\n",
    ".venv/bin/activate.sh": "#!/bin/sh\n",
    "sp ace/x y.sh": "#!/bin/sh\n",
}
# Executable files: the ones typed by their shebang (and an executable template).
EXECUTABLE = {"bin/tool", "bin/py", "rel/env.sh.eex"}


def test_head(tmp_path):
    _tree(tmp_path, TREE)
    assert scripts.head(tmp_path / "bin/tool") == "#!/usr/bin/env bash\necho\n"
    assert scripts.head(tmp_path / "missing") == ""


def test_discover_walks_the_tree_outside_git(tmp_path, monkeypatch):
    _tree(tmp_path, TREE)
    monkeypatch.setattr(scripts, "git_files", lambda root: None)
    # Not: bin/py (python), bin/not-executable (a shebang counts only when executable),
    # rel/env.sh.eex (a template, executable or not), .venv, deps, _build, node_modules.
    assert scripts.discover(tmp_path, exclude=["vendor"]) == ["a.sh", "bin/tool", "sp ace/x y.sh"]


def test_is_script_types_as_pre_commit_does(tmp_path):
    _tree(tmp_path, TREE)
    (tmp_path / "link.sh").symlink_to(tmp_path / "a.sh")
    (tmp_path / "folder.sh").mkdir()
    found = {rel: scripts.is_script(tmp_path, rel) for rel in [*TREE, "link.sh", "folder.sh", "missing.sh"]}
    assert {rel for rel, yes in found.items() if yes} == {
        "a.sh",
        "bin/tool",
        "vendor/v.sh",
        "node_modules/m.sh",
        "deps/d.sh",
        "elixir/_build/b.sh",
        ".git/hooks/pre-commit.sh",
        ".venv/bin/activate.sh",
        "sp ace/x y.sh",
    }


def test_discover_uses_tracked_files(tmp_path, monkeypatch):
    _tree(tmp_path, TREE)
    tracked = ["a.sh", "bin/py", "bin/tool", "notes.txt", "vendor/v.sh", "deleted.sh", "node_modules/m.sh", "rel/env.sh.eex"]
    monkeypatch.setattr(scripts, "git_files", lambda root: tracked)
    # Untracked scripts are not found; a tracked one under node_modules is.
    assert scripts.discover(tmp_path) == ["a.sh", "bin/tool", "node_modules/m.sh", "vendor/v.sh"]


def test_discover_limited_to_paths(tmp_path, monkeypatch):
    _tree(tmp_path, TREE)
    monkeypatch.setattr(scripts, "git_files", lambda root: ["a.sh", "bin/tool", "bin/py", "vendor/v.sh"])
    assert scripts.discover(tmp_path, paths=["bin"]) == ["bin/tool"]
    # A file named explicitly is checked even when untracked, unless excluded.
    assert scripts.discover(tmp_path, paths=["sp ace/x y.sh", "a.sh"]) == ["a.sh", "sp ace/x y.sh"]
    assert scripts.discover(tmp_path, paths=["vendor/v.sh"], exclude=["vendor"]) == []
    # Non-scripts given explicitly (as pre-commit does) are dropped.
    assert scripts.discover(tmp_path, paths=["notes.txt", "bin/py"]) == []
    assert scripts.discover(tmp_path, paths=[""]) == ["a.sh", "bin/tool", "vendor/v.sh"]


def test_discover_staged(tmp_path, monkeypatch):
    _tree(tmp_path, TREE)
    monkeypatch.setattr(scripts, "git_files", lambda root: ["a.sh", "bin/tool", "vendor/v.sh"])
    monkeypatch.setattr(scripts, "staged_files", lambda root: ["bin/tool", "notes.txt"])
    assert scripts.discover(tmp_path, staged=True) == ["bin/tool"]
    assert scripts.discover(tmp_path, staged=True, paths=["a.sh"]) == []


def test_without_git_the_tree_is_walked_and_staged_refuses(tmp_path, monkeypatch):
    monkeypatch.setattr(scripts.programs, "which", lambda program, root=None: None)
    assert scripts.git_files(tmp_path) is None
    with pytest.raises(Exit, match=r"^--staged needs a git work tree at .* \(git diff --cached failed\)$"):
        scripts.staged_files(tmp_path)


def test_to_relative(tmp_path):
    _tree(tmp_path, TREE)
    assert scripts.to_relative(tmp_path, "x y.sh", cwd=tmp_path / "sp ace") == "sp ace/x y.sh"
    assert scripts.to_relative(tmp_path, ".", cwd=tmp_path) == ""
    (tmp_path / ".github").mkdir()
    assert scripts.to_relative(tmp_path, ".github", cwd=tmp_path) == ".github"
    with pytest.raises(Exit, match="no such file"):
        scripts.to_relative(tmp_path, "missing.sh", cwd=tmp_path)
    with pytest.raises(Exit, match="outside the project root"):
        scripts.to_relative(tmp_path / "bin", "../a.sh", cwd=tmp_path / "bin")


def test_the_suite_fixtures_are_skipped_unless_named_inside(tmp_path, monkeypatch):
    _tree(
        tmp_path,
        {
            "tests/fixtures/scripts/bad.sh": "x=1\n",
            "tests/fixtures/umbrella/db.sh": "#!/bin/sh\n",
            "tests/images/entry.sh": "#!/bin/sh\n",
            "scripts/a.sh": "#!/bin/sh\n",
        },
    )
    monkeypatch.setattr(scripts, "git_files", lambda root: None)
    skip = scripts.suite_folder(tmp_path, tmp_path / "tests" / "fixtures")
    assert skip == "tests/fixtures"

    def found(paths=None):
        return scripts.discover(tmp_path, paths=paths, skip=skip)

    assert found() == ["scripts/a.sh", "tests/images/entry.sh"]
    assert found(["tests"]) == ["tests/images/entry.sh"]
    assert found(["tests/fixtures/umbrella"]) == ["tests/fixtures/umbrella/db.sh"]
    assert found(["tests/fixtures/scripts/bad.sh", "scripts"]) == ["scripts/a.sh", "tests/fixtures/scripts/bad.sh"]
    assert found(["tests/fixtures"]) == ["tests/fixtures/scripts/bad.sh", "tests/fixtures/umbrella/db.sh"]


def test_suite_folder_only_under_the_root(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "fixtures").mkdir()
    assert scripts.suite_folder(tmp_path / "root", tmp_path / "fixtures") == ""
    assert scripts.suite_folder(tmp_path, tmp_path / "absent") == ""
    # The suite's own: tests/fixtures beside tasks/ (this repository's root).
    assert scripts.suite_folder(scripts.PROJECT_ROOT) == "tests/fixtures"
