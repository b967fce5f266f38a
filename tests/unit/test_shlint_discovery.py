"""Finding the shell scripts: typing, patterns, git's list or the tree, the suite's own
fixtures (no programs run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from invoke import Exit

from tasks.lib.shlint import discovery


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


def test_head_and_first_line(tmp_path):
    _tree(tmp_path, TREE)
    assert discovery.first_line(tmp_path / "bin/tool") == "#!/usr/bin/env bash"
    assert discovery.head(tmp_path / "bin/tool") == "#!/usr/bin/env bash\necho\n"
    assert discovery.head(tmp_path / "missing") == "" and discovery.first_line(tmp_path / "missing") == ""


def test_discover_walks_the_tree_outside_git(tmp_path, monkeypatch):
    _tree(tmp_path, TREE)
    monkeypatch.setattr(discovery, "git_files", lambda root: None)
    # Not: bin/py (python), bin/not-executable (a shebang counts only when executable),
    # rel/env.sh.eex (a template, executable or not), .venv, deps, _build, node_modules.
    assert discovery.discover(tmp_path, exclude=["vendor"]) == ["a.sh", "bin/tool", "sp ace/x y.sh"]


def test_is_script_types_as_pre_commit_does(tmp_path):
    _tree(tmp_path, TREE)
    (tmp_path / "link.sh").symlink_to(tmp_path / "a.sh")
    (tmp_path / "folder.sh").mkdir()
    found = {rel: discovery.is_script(tmp_path, rel) for rel in [*TREE, "link.sh", "folder.sh", "missing.sh"]}
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
    monkeypatch.setattr(discovery, "git_files", lambda root: None)
    skip = discovery.suite_folders(tmp_path, tmp_path / "tests" / "fixtures")
    assert skip == ["tests/fixtures"]

    def found(paths=None):
        return discovery.discover(tmp_path, paths=paths, skip=skip)

    assert found() == ["scripts/a.sh", "tests/images/entry.sh"]
    assert found(["tests"]) == ["tests/images/entry.sh"]
    assert found(["tests/fixtures/umbrella"]) == ["tests/fixtures/umbrella/db.sh"]
    assert found(["tests/fixtures/scripts/bad.sh", "scripts"]) == ["scripts/a.sh", "tests/fixtures/scripts/bad.sh"]
    assert found(["tests/fixtures"]) == ["tests/fixtures/scripts/bad.sh", "tests/fixtures/umbrella/db.sh"]


def test_suite_folders_only_under_the_root(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "fixtures").mkdir()
    assert discovery.suite_folders(tmp_path / "root", tmp_path / "fixtures") == []
    assert discovery.suite_folders(tmp_path, tmp_path / "absent") == []
    # The suite's own: tests/fixtures beside tasks/ (this repository's root).
    assert discovery.suite_folders(discovery.PROJECT_ROOT) == ["tests/fixtures"]
