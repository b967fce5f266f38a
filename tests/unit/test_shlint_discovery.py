"""Finding the shell scripts: shebangs, patterns, git's list or the tree (no programs run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from invoke import Exit

from tasks.lib.shlint import discovery


@pytest.mark.parametrize(
    "line",
    [
        "#!/bin/sh",
        "#!/bin/bash",
        "#!/usr/bin/env bash",
        "#!/usr/bin/env sh",
        "#! /bin/sh -eu",
        "#!/bin/bash -e",
        "#!/usr/bin/bash",
        "#!/usr/local/bin/bash",
        "#!/usr/bin/env -S bash -eu",
        "#!/usr/bin/env bash\r",
    ],
)
def test_sh_and_bash_shebangs(line):
    assert discovery.is_shell_shebang(line)


@pytest.mark.parametrize(
    "line",
    ["#!/bin/zsh", "#!/usr/bin/env python3", "#!/bin/bashful", "#!/bin/dash", "echo hi", "", "# !/bin/sh"],
)
def test_other_first_lines(line):
    assert not discovery.is_shell_shebang(line)


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
    assert discovery.matches_any(rel, patterns) is expected


def test_patterns_setting_accepts_one_string():
    assert discovery.patterns(None) == [] and discovery.patterns([]) == []
    assert discovery.patterns("vendor") == ["vendor"]
    assert discovery.patterns(["a", "b/*"]) == ["a", "b/*"]


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


TREE = {
    "a.sh": "echo a\n",
    "bin/tool": "#!/usr/bin/env bash\necho\n",
    "bin/py": "#!/usr/bin/env python3\n",
    "notes.txt": "hello\n",
    "vendor/v.sh": "#!/bin/sh\n",
    "node_modules/m.sh": "#!/bin/sh\n",
    "deps/d.sh": "#!/bin/sh\n",
    "elixir/_build/b.sh": "#!/bin/sh\n",
    ".git/hooks/pre-commit.sh": "#!/bin/sh\n",
    "sp ace/x y.sh": "#!/bin/sh\n",
}


def test_head_and_first_line(tmp_path):
    _tree(tmp_path, TREE)
    assert discovery.first_line(tmp_path / "bin/tool") == "#!/usr/bin/env bash"
    assert discovery.head(tmp_path / "bin/tool") == "#!/usr/bin/env bash\necho\n"
    assert discovery.head(tmp_path / "missing") == "" and discovery.first_line(tmp_path / "missing") == ""


def test_discover_walks_the_tree_outside_git(tmp_path, monkeypatch):
    _tree(tmp_path, TREE)
    monkeypatch.setattr(discovery, "git_files", lambda root: None)
    assert discovery.discover(tmp_path, exclude=["vendor"]) == ["a.sh", "bin/tool", "sp ace/x y.sh"]


def test_discover_uses_tracked_files(tmp_path, monkeypatch):
    _tree(tmp_path, TREE)
    tracked = ["a.sh", "bin/py", "bin/tool", "notes.txt", "vendor/v.sh", "deleted.sh", "node_modules/m.sh"]
    monkeypatch.setattr(discovery, "git_files", lambda root: tracked)
    # Untracked scripts are not found; a tracked one under node_modules is.
    assert discovery.discover(tmp_path) == ["a.sh", "bin/tool", "node_modules/m.sh", "vendor/v.sh"]


def test_discover_limited_to_paths(tmp_path, monkeypatch):
    _tree(tmp_path, TREE)
    monkeypatch.setattr(discovery, "git_files", lambda root: ["a.sh", "bin/tool", "bin/py", "vendor/v.sh"])
    assert discovery.discover(tmp_path, paths=["bin"]) == ["bin/tool"]
    # A file named explicitly is checked even when untracked, unless excluded.
    assert discovery.discover(tmp_path, paths=["sp ace/x y.sh", "a.sh"]) == ["a.sh", "sp ace/x y.sh"]
    assert discovery.discover(tmp_path, paths=["vendor/v.sh"], exclude=["vendor"]) == []
    # Non-scripts given explicitly (as pre-commit does) are dropped.
    assert discovery.discover(tmp_path, paths=["notes.txt", "bin/py"]) == []
    assert discovery.discover(tmp_path, paths=[""]) == ["a.sh", "bin/tool", "vendor/v.sh"]


def test_discover_staged(tmp_path, monkeypatch):
    _tree(tmp_path, TREE)
    monkeypatch.setattr(discovery, "git_files", lambda root: ["a.sh", "bin/tool", "vendor/v.sh"])
    monkeypatch.setattr(discovery, "staged_files", lambda root: ["bin/tool", "notes.txt"])
    assert discovery.discover(tmp_path, staged=True) == ["bin/tool"]
    assert discovery.discover(tmp_path, staged=True, paths=["a.sh"]) == []


def test_without_git_the_tree_is_walked_and_staged_refuses(tmp_path, monkeypatch):
    monkeypatch.setattr(discovery.programs, "which", lambda program, root=None: None)
    assert discovery.git_files(tmp_path) is None
    with pytest.raises(Exit, match=r"^--staged needs a git work tree at .* \(git diff --cached failed\)$"):
        discovery.staged_files(tmp_path)


def test_to_relative(tmp_path):
    _tree(tmp_path, TREE)
    assert discovery.to_relative(tmp_path, "x y.sh", cwd=tmp_path / "sp ace") == "sp ace/x y.sh"
    assert discovery.to_relative(tmp_path, ".", cwd=tmp_path) == ""
    with pytest.raises(Exit, match="no such file"):
        discovery.to_relative(tmp_path, "missing.sh", cwd=tmp_path)
    with pytest.raises(Exit, match="outside the project root"):
        discovery.to_relative(tmp_path / "bin", "../a.sh", cwd=tmp_path / "bin")
