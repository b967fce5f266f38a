"""Shell-script discovery, tool-output parsing, batching and the scripting tips (no programs run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from invoke import Exit

from tasks.lib.shlint import run as lint
from tasks.lib.shlint import scripts as ss


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
    assert ss.is_shell_shebang(line)


@pytest.mark.parametrize(
    "line",
    ["#!/bin/zsh", "#!/usr/bin/env python3", "#!/bin/bashful", "#!/bin/dash", "echo hi", "", "# !/bin/sh"],
)
def test_other_first_lines(line):
    assert not ss.is_shell_shebang(line)


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
    assert ss.matches_any(rel, patterns) is expected


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


def test_discover_walks_the_tree_outside_git(tmp_path, monkeypatch):
    _tree(tmp_path, TREE)
    monkeypatch.setattr(ss, "git_files", lambda root: None)
    assert ss.discover(tmp_path, exclude=["vendor"]) == ["a.sh", "bin/tool", "sp ace/x y.sh"]


def test_discover_uses_tracked_files(tmp_path, monkeypatch):
    _tree(tmp_path, TREE)
    tracked = ["a.sh", "bin/py", "bin/tool", "notes.txt", "vendor/v.sh", "deleted.sh", "node_modules/m.sh"]
    monkeypatch.setattr(ss, "git_files", lambda root: tracked)
    # Untracked scripts are not found; a tracked one under node_modules is.
    assert ss.discover(tmp_path) == ["a.sh", "bin/tool", "node_modules/m.sh", "vendor/v.sh"]


def test_discover_limited_to_paths(tmp_path, monkeypatch):
    _tree(tmp_path, TREE)
    monkeypatch.setattr(ss, "git_files", lambda root: ["a.sh", "bin/tool", "bin/py", "vendor/v.sh"])
    assert ss.discover(tmp_path, paths=["bin"]) == ["bin/tool"]
    # A file named explicitly is checked even when untracked, unless excluded.
    assert ss.discover(tmp_path, paths=["sp ace/x y.sh", "a.sh"]) == ["a.sh", "sp ace/x y.sh"]
    assert ss.discover(tmp_path, paths=["vendor/v.sh"], exclude=["vendor"]) == []
    # Non-scripts given explicitly (as pre-commit does) are dropped.
    assert ss.discover(tmp_path, paths=["notes.txt", "bin/py"]) == []
    assert ss.discover(tmp_path, paths=[""]) == ["a.sh", "bin/tool", "vendor/v.sh"]


def test_discover_staged(tmp_path, monkeypatch):
    _tree(tmp_path, TREE)
    monkeypatch.setattr(ss, "git_files", lambda root: ["a.sh", "bin/tool", "vendor/v.sh"])
    monkeypatch.setattr(ss, "staged_files", lambda root: ["bin/tool", "notes.txt"])
    assert ss.discover(tmp_path, staged=True) == ["bin/tool"]
    assert ss.discover(tmp_path, staged=True, paths=["a.sh"]) == []


def test_to_relative(tmp_path):
    _tree(tmp_path, TREE)
    assert ss.to_relative(tmp_path, "x y.sh", cwd=tmp_path / "sp ace") == "sp ace/x y.sh"
    assert ss.to_relative(tmp_path, ".", cwd=tmp_path) == ""
    with pytest.raises(Exit, match="no such file"):
        ss.to_relative(tmp_path, "missing.sh", cwd=tmp_path)
    with pytest.raises(Exit, match="outside the project root"):
        ss.to_relative(tmp_path / "bin", "../a.sh", cwd=tmp_path / "bin")


SHELLCHECK_JSON = json.dumps(
    {
        "comments": [
            {"file": "with space.sh", "line": 5, "endLine": 5, "column": 14, "endColumn": 30,
             "level": "warning", "code": 2154, "message": "x is referenced but not assigned.", "fix": None},
            {"file": "./-odd.sh", "line": 2, "endLine": 2, "column": 1, "endColumn": 2,
             "level": "error", "code": 1073, "message": "Couldn't parse this if expression.", "fix": None},
        ]
    }
)


def test_parse_shellcheck_json():
    first, second = ss.parse_shellcheck_json(SHELLCHECK_JSON)
    assert first == ss.Finding("with space.sh", 5, 14, "warning", "SC2154", "x is referenced but not assigned.")
    assert str(first) == "with space.sh:5:14: warning: x is referenced but not assigned. [SC2154]"
    assert ss._unprefixed(second).path == "-odd.sh"
    assert ss.parse_shellcheck_json("") == []


def test_parse_shellcheck_gcc():
    text = "a b.sh:3:1: warning: u appears unused. Verify use (or export if used externally). [SC2034]\nnoise\n"
    (f,) = ss.parse_shellcheck_gcc(text)
    assert (f.path, f.line, f.column, f.level, f.code) == ("a b.sh", 3, 1, "warning", "SC2034")
    assert f.message.startswith("u appears unused")


# shfmt 3.6 prints no "diff" line; 3.7+ does. The second file removes a line "-- x"
# and adds "++ y": they must not be taken for a new header.
SHFMT_DIFF = """\
diff a b.sh.orig a b.sh
--- a b.sh.orig
+++ a b.sh
@@ -1,3 +1,3 @@
 #!/bin/sh
-if true;then
+if true; then
 fi
--- c.sh.orig
+++ c.sh
@@ -2,2 +2,2 @@
--- x
+++ y
-  z
+    z
\\ No newline at end of file
--- d.sh.orig
+++ d.sh
@@ -0,0 +1 @@
+#!/bin/sh
"""


def test_split_shfmt_diff():
    diffs = ss.split_shfmt_diff(SHFMT_DIFF, ["a b.sh", "c.sh", "d.sh"])
    assert sorted(diffs) == ["a b.sh", "c.sh", "d.sh"]
    assert diffs["a b.sh"].startswith("--- a b.sh.orig\n+++ a b.sh\n@@ -1,3")
    assert diffs["a b.sh"].endswith(" fi\n")
    assert "--- x\n+++ y\n-  z\n+    z\n\\ No newline" in diffs["c.sh"]
    assert diffs["d.sh"].endswith("+#!/bin/sh\n")
    assert ss.split_shfmt_diff("", ["a.sh"]) == {}


def test_split_by_file_prefers_the_longest_name():
    by_file, rest = ss.split_by_file(
        'a b.sh:2:1: "if" must be followed by a statement list\nb.sh:1:1: x\nsomething else\n',
        ["b.sh", "a b.sh"],
    )
    assert by_file == {"a b.sh": ['a b.sh:2:1: "if" must be followed by a statement list'], "b.sh": ["b.sh:1:1: x"]}
    assert rest == ["something else"]


def test_batches():
    files = [f"f{i}.sh" for i in range(5)]
    assert ss.batches([], 2) == []
    assert ss.batches(files, 2) == [["f0.sh", "f2.sh", "f4.sh"], ["f1.sh", "f3.sh"]]
    assert ss.batches(files[:1], 4) == [["f0.sh"]]
    many = [f"f{i}.sh" for i in range(450)]
    parts = ss.batches(many, 2, max_batch=200)
    assert len(parts) == 3 and sorted(sum(parts, [])) == sorted(many)


@pytest.mark.parametrize(
    "command, expected",
    [
        ("set -euo pipefail", {"e", "u", "pipefail"}),
        ("set -euxo pipefail", {"e", "u", "x", "pipefail"}),
        ("set -Eeuo pipefail  # strict", {"E", "e", "u", "pipefail"}),
        ("set -e -u -o pipefail", {"e", "u", "pipefail"}),
        ("set -o errexit -o nounset -o pipefail", {"e", "u", "pipefail"}),
        ("set -eu; set -o pipefail", {"e", "u", "pipefail"}),
        ("set +x", set()),
        ("set -- a b", set()),
        ("echo set -e", None),
        ("settle", None),
    ],
)
def test_set_options(command, expected):
    assert ss.set_options(command) == expected


def _tips(text, minimal=False):
    return [(t.line, t.message) for t in ss.check_tips("s.sh", text, minimal)]


def test_tips_accept_the_dev_form():
    assert _tips("#!/usr/bin/env bash\n# about\n\nset -euxo pipefail\necho\n") == []
    assert _tips("#!/usr/bin/env bash\nset -eu\nset -o pipefail\necho\n") == []


def test_tips_dev_script_against_them():
    tips = _tips("#!/bin/bash\n# about\nset -e\n\ncd /tmp\nset -u\n")
    assert tips[0] == (1, "starts with '#!/bin/bash'; dev and test scripts start with '#!/usr/bin/env bash'")
    line, message = tips[1]
    assert line == 5 and "missing -u, pipefail" in message and "'set -euo pipefail'" in message


def test_tips_no_shebang():
    assert _tips("echo hi\n")[0] == (1, "has no shebang; dev and test scripts start with '#!/usr/bin/env bash'")
    assert len(_tips("")) == 2


def test_tips_minimal_scripts():
    assert _tips("#!/bin/sh\nset -eu\nexec \"$@\"\n", minimal=True) == []
    tips = _tips("#!/usr/bin/env bash\nset -e\nexec \"$@\"\n", minimal=True)
    assert "start with '#!/bin/sh'" in tips[0][1] and "lint.minimal_paths" in tips[0][1]
    assert tips[1][0] == 3 and "'set -eu'" in tips[1][1] and "missing -u" in tips[1][1]


def test_tip_severity_follows_strict():
    tip = ss.Tip("a.sh", 1, "m")
    assert tip.render(False) == "a.sh:1: tip warning: m"
    assert tip.render(True) == "a.sh:1: tip error: m"


@pytest.mark.parametrize(
    "output, version",
    [
        ("ShellCheck - shell script analysis tool\nversion: 0.9.0\nlicense: GPL\n", "0.9.0"),
        ("3.6.0\n", "3.6.0"),
        ("v3.13.0\n", "3.13.0"),
        ("(devel)\n", None),
    ],
)
def test_parse_version(output, version):
    assert ss.parse_version(output) == version


def test_version_warning():
    assert ss.version_warning("shfmt", "/usr/bin/shfmt", "3.9.0", "3.9.0", ".tool-versions") is None
    assert ss.version_warning("shfmt", "/usr/bin/shfmt", "3.6.0", None, ".tool-versions") is None
    assert ss.version_warning("shfmt", "/usr/bin/shfmt", "3.6.0", "system", ".tool-versions") is None
    line = ss.version_warning("shfmt", "/usr/bin/shfmt", "3.6.0", "3.9.0", ".tool-versions")
    assert line == (
        "warning: shfmt 3.6.0 (/usr/bin/shfmt) differs from .tool-versions (shfmt 3.9.0):"
        " results may differ from CI; install shfmt 3.9.0 or point setting lint.shfmt at it"
    )
    assert "\n" not in line
    assert "unknown version" in ss.version_warning("shellcheck", "/x", None, "0.9.0", ".tool-versions")
    assert ss.version_warning("shellcheck", "/x", "0.9", "0.9.0", ".tool-versions") is not None


def test_find_tool_missing_says_how_to_install(tmp_path):
    with pytest.raises(Exit) as e:
        ss.find_tool("/nonexistent/shellcheck", "shellcheck", tmp_path)
    message = str(e.value.message)
    assert message.startswith("/nonexistent/shellcheck does not exist or is not executable (setting lint.shellcheck).")
    for hint in ("apt-get install shellcheck shfmt", "brew install shellcheck shfmt", "pip install -e '.[lint-tools]'"):
        assert hint in message
    assert "\n" not in message
    with pytest.raises(Exit, match="is not on PATH"):
        ss.find_tool("no-such-shfmt-here", "shfmt", tmp_path)


def test_find_tool_relative_to_root(tmp_path):
    tool = tmp_path / "bin" / "shfmt"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert ss.find_tool("bin/shfmt", "shfmt", tmp_path) == str(tool)


def _report(fix=False):
    files = [
        ss.FileResult("clean.sh"),
        ss.FileResult("w.sh", findings=[ss.Finding("w.sh", 3, 1, "warning", "SC2034", "u appears unused.")]),
        ss.FileResult("m.sh", diff="--- m.sh.orig\n+++ m.sh\n@@ -1 +1 @@\n-a\n+b\n"),
        ss.FileResult("t.sh", tips=[ss.Tip("t.sh", 1, "starts with '#!/bin/bash'")]),
    ]
    return ss.Report(files, fix=fix, indent=4)


def test_render_and_summary():
    report = _report()
    lines = lint.render(report, strict=False)
    assert lines == [
        "w.sh:3:1: warning: u appears unused. [SC2034]",
        "m.sh: not formatted (shfmt -i 4 -d):",
        "    --- m.sh.orig",
        "    +++ m.sh",
        "    @@ -1 +1 @@",
        "    -a",
        "    +b",
        "t.sh:1: tip warning: starts with '#!/bin/bash'",
    ]
    assert report.failed() and lint.summary(report, strict=False) == (
        "lint.sh: 4 files checked, 2 with findings (1 shellcheck, 1 not formatted), 1 tip warnings"
    )
    assert lint.summary(report, strict=True) == (
        "lint.sh: 4 files checked, 3 with findings (1 shellcheck, 1 not formatted), 1 tip errors"
    )


def test_tips_alone_fail_only_when_strict():
    report = ss.Report([ss.FileResult("t.sh", tips=[ss.Tip("t.sh", 1, "x")])])
    assert not report.failed(strict=False)
    assert report.failed(strict=True)


def test_summary_after_fix():
    report = _report(fix=True)
    report.files[2].diff = ""
    report.files[2].reformatted = True
    assert lint.render(report, strict=False)[1] == "m.sh: reformatted (shfmt -i 4 -w)"
    assert lint.summary(report, strict=False) == (
        "lint.sh: 4 files checked, 1 reformatted, 1 with findings (1 shellcheck), 1 tip warnings"
    )


def test_patterns_setting_accepts_one_string():
    assert ss.patterns(None) == [] and ss.patterns([]) == []
    assert ss.patterns("vendor") == ["vendor"]
    assert ss.patterns(["a", "b/*"]) == ["a", "b/*"]
