"""shellcheck and shfmt: finding them, batches, reading their output, and what their exit
codes become; lint over both (``programs.capture`` stubbed: no programs run)."""

from __future__ import annotations

import json
import subprocess

import pytest
from invoke import Exit

from tasks.lib import programs
from tasks.lib.shlint import tools
from tasks.lib.shlint.run import Settings, lint, summary
from tasks.lib.shlint.tools import Finding


def test_batches():
    files = [f"f{i}.sh" for i in range(5)]
    assert tools.batches([], 2) == []
    assert tools.batches(files, 2) == [["f0.sh", "f2.sh", "f4.sh"], ["f1.sh", "f3.sh"]]
    assert tools.batches(files[:1], 4) == [["f0.sh"]]
    many = [f"f{i}.sh" for i in range(450)]
    parts = tools.batches(many, 2, max_batch=200)
    assert len(parts) == 3 and sorted(sum(parts, [])) == sorted(many)


def test_find_tool_missing_says_how_to_install(tmp_path):
    with pytest.raises(Exit) as e:
        tools.find_tool("/nonexistent/shellcheck", "shellcheck", tmp_path)
    message = str(e.value.message)
    assert message.startswith("/nonexistent/shellcheck does not exist or is not executable (setting lint.shellcheck).")
    for hint in ("apt-get install shellcheck shfmt", "brew install shellcheck shfmt", "pip install '.[lint-tools]'"):
        assert hint in message
    assert "\n" not in message
    with pytest.raises(Exit, match="is not on PATH"):
        tools.find_tool("no-such-shfmt-here", "shfmt", tmp_path)


def test_find_tool_relative_to_root(tmp_path):
    tool = tmp_path / "bin" / "shfmt"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert tools.find_tool("bin/shfmt", "shfmt", tmp_path) == str(tool)


class FakeCapture:
    """Stands in for programs.capture: records the call, returns a set result."""

    def __init__(self, returncode=0, stdout="", stderr=""):
        self.result = (returncode, stdout, stderr)
        self.calls: list[dict] = []

    def __call__(self, argv, **kwargs):
        self.calls.append({"argv": argv, **kwargs})
        code, out, err = self.result
        return subprocess.CompletedProcess(argv, code, out, err)


def _json1(*comments) -> str:
    return json.dumps({"comments": list(comments)})


def test_run_shellcheck_ends_the_options_before_the_files(monkeypatch, tmp_path):
    comment = {"file": "-odd.sh", "line": 2, "column": 1, "level": "error", "code": 1073, "message": "m"}
    fake = FakeCapture(1, _json1(comment))
    monkeypatch.setattr(programs, "capture", fake)
    (finding,) = tools.run_shellcheck("/bin/shellcheck", ["-odd.sh", "a.sh"], "warning", tmp_path)
    assert finding == Finding("-odd.sh", 2, 1, "error", "SC1073", "m")
    call = fake.calls[0]
    assert call["argv"] == ["/bin/shellcheck", "--severity=warning", "-f", "json1", "--", "-odd.sh", "a.sh"]
    assert call["ok"] == (0, 1) and call["cwd"] == tmp_path and call["what"] == "shellcheck (/bin/shellcheck)"


def test_shellcheck_output_that_is_not_json1_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(programs, "capture", FakeCapture(1, "a.sh:1:1: warning: x [SC2034]\n"))
    with pytest.raises(Exit) as e:
        tools.run_shellcheck("/old/shellcheck", ["a.sh"], "warning", tmp_path)
    message = e.value.message
    assert message.startswith("shellcheck (/old/shellcheck) printed no -f json1 output lint.sh can read (")
    assert "lint.sh needs shellcheck 0.7 or newer" in message and "setting lint.shellcheck" in message
    assert "\n" not in message


def test_run_shfmt_diff_per_file(monkeypatch, tmp_path):
    diff = "--- -x.sh.orig\n+++ -x.sh\n@@ -1 +1 @@\n-a\n+b\n"
    fake = FakeCapture(1, diff, "b.sh:2:1: reached EOF without `fi`\n")
    monkeypatch.setattr(programs, "capture", fake)
    diffs, errors = tools.run_shfmt_diff("/bin/shfmt", ["-x.sh", "b.sh"], 4, tmp_path)
    assert diffs == {"-x.sh": diff} and errors == {"b.sh": ["b.sh:2:1: reached EOF without `fi`"]}
    assert fake.calls[0]["argv"] == ["/bin/shfmt", "-i", "4", "-d", "--", "-x.sh", "b.sh"]
    assert fake.calls[0]["ok"] == (0, 1)


def test_shfmt_exit_1_without_a_diff_is_a_failure(monkeypatch, tmp_path):
    monkeypatch.setattr(programs, "capture", FakeCapture(1, "", "open c.sh: permission denied\n"))
    with pytest.raises(Exit) as e:
        tools.run_shfmt_diff("/bin/shfmt", ["a.sh"], 4, tmp_path)
    assert e.value.message.startswith(
        "shfmt (/bin/shfmt) failed with exit code 1 (open c.sh: permission denied). Fix: apt-get install shellcheck shfmt"
    )


def test_lint_collects_findings_diffs_and_tips(monkeypatch, tmp_path):
    (tmp_path / "a.sh").write_text("#!/usr/bin/env bash\nset -euo pipefail\nx=1\n")
    (tmp_path / "b.sh").write_text("#!/bin/sh\nif true;then :; fi\n")
    comment = {"file": "a.sh", "line": 3, "column": 1, "level": "warning", "code": 2034, "message": "x appears unused."}
    diff = "--- b.sh.orig\n+++ b.sh\n@@ -2 +2 @@\n-if true;then :; fi\n+if true; then :; fi\n"

    def capture(argv, **kwargs):  # shellcheck: a batch per job, each told of its own files
        if "json1" in argv:
            return subprocess.CompletedProcess(argv, 1, _json1(comment) if "a.sh" in argv else _json1(), "")
        return subprocess.CompletedProcess(argv, 1, diff, "")

    monkeypatch.setattr(programs, "capture", capture)
    report = lint(tmp_path, ["a.sh", "b.sh"], Settings(shellcheck="sc", shfmt="shfmt", jobs=2))
    a, b = report.files
    assert [str(f) for f in a.findings] == ["a.sh:3:1: warning: x appears unused. [SC2034]"]
    assert a.diff == "" and a.tips == []
    # b.sh is held to its own shebang's tip: #!/bin/sh, so set -eu (not the bash one).
    assert b.diff == diff and [t.line for t in b.tips] == [2] and "'set -eu'" in b.tips[0].message and not b.findings
    assert summary(report, strict=False) == "lint.sh: 2 files checked, 2 with findings (1 shellcheck, 1 not formatted), 1 tip warnings"
    minimal = lint(tmp_path, ["b.sh"], Settings(shellcheck="sc", shfmt="shfmt", minimal_paths=("b.*",)))
    assert "lint.minimal_paths" in minimal.files[0].tips[0].message


SHELLCHECK_JSON = json.dumps(
    {
        "comments": [
            {
                "file": "with space.sh",
                "line": 5,
                "endLine": 5,
                "column": 14,
                "endColumn": 30,
                "level": "warning",
                "code": 2154,
                "message": "x is referenced but not assigned.",
                "fix": None,
            },
            {
                "file": "-odd.sh",
                "line": 2,
                "endLine": 2,
                "column": 1,
                "endColumn": 2,
                "level": "error",
                "code": 1073,
                "message": "Couldn't parse this if expression.",
                "fix": None,
            },
        ]
    }
)


def test_parse_shellcheck_json():
    first, second = tools.parse_shellcheck_json(SHELLCHECK_JSON)
    assert first == Finding("with space.sh", 5, 14, "warning", "SC2154", "x is referenced but not assigned.")
    assert str(first) == "with space.sh:5:14: warning: x is referenced but not assigned. [SC2154]"
    assert second.path == "-odd.sh" and second.code == "SC1073"
    assert tools.parse_shellcheck_json("") == []


@pytest.mark.parametrize(
    "text",
    [
        "a b.sh:3:1: warning: u appears unused. [SC2034]\n",  # -f gcc, not json1
        '{"comments": [{"file": "a.sh"}]}',
        '{"comments": 3}',
        "[1]",
    ],
)
def test_output_that_is_not_json1_is_a_value_error(text):
    with pytest.raises(ValueError) as e:
        tools.parse_shellcheck_json(text)
    assert "\n" not in str(e.value)


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
    diffs = tools.split_shfmt_diff(SHFMT_DIFF)
    assert sorted(diffs) == ["a b.sh", "c.sh", "d.sh"]
    assert diffs["a b.sh"].startswith("--- a b.sh.orig\n+++ a b.sh\n@@ -1,3")
    assert diffs["a b.sh"].endswith(" fi\n")
    assert "--- x\n+++ y\n-  z\n+    z\n\\ No newline" in diffs["c.sh"]
    assert diffs["d.sh"].endswith("+#!/bin/sh\n")
    assert tools.split_shfmt_diff("") == {}


def test_split_by_file_prefers_the_longest_name():
    by_file, rest = tools.split_by_file(
        'a b.sh:2:1: "if" must be followed by a statement list\nb.sh:1:1: x\nsomething else\n',
        ["b.sh", "a b.sh"],
    )
    assert by_file == {"a b.sh": ['a b.sh:2:1: "if" must be followed by a statement list'], "b.sh": ["b.sh:1:1: x"]}
    assert rest == ["something else"]


def test_each_tool_leaves_out_only_the_files_its_hooks_exclude(monkeypatch, tmp_path):
    # Firezone's shellcheck hook excludes gradlew, its shfmt hook does not: shfmt checks it.
    (tmp_path / "a.sh").write_text("#!/usr/bin/env bash\nset -euo pipefail\n")
    (tmp_path / "gradlew").write_text("#!/bin/sh\necho\n")
    seen: dict[str, list[str]] = {}

    def capture(argv, **kwargs):
        tool = "shellcheck" if "json1" in argv else "shfmt"
        seen[tool] = argv[argv.index("--") + 1 :]
        return subprocess.CompletedProcess(argv, 0, _json1() if tool == "shellcheck" else "", "")

    monkeypatch.setattr(programs, "capture", capture)
    skip = {"shellcheck": {"gradlew": "exclude of hook shellcheck in c.yaml"}, "shfmt": {}}
    report = lint(tmp_path, ["a.sh", "gradlew"], Settings(shellcheck="sc", shfmt="shfmt"), skip=skip)
    assert seen == {"shellcheck": ["a.sh"], "shfmt": ["a.sh", "gradlew"]}
    assert [f.path for f in report.files] == ["a.sh", "gradlew"] and report.files[1].tips == []  # tips go with shellcheck
