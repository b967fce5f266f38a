"""Reading shellcheck's json1 and shfmt's diff and error output, per file."""

from __future__ import annotations

import json

import pytest

from tasks.lib.shlint import parsers
from tasks.lib.shlint.results import Finding

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
                "file": "./-odd.sh",
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
    first, second = parsers.parse_shellcheck_json(SHELLCHECK_JSON)
    assert first == Finding("with space.sh", 5, 14, "warning", "SC2154", "x is referenced but not assigned.")
    assert str(first) == "with space.sh:5:14: warning: x is referenced but not assigned. [SC2154]"
    assert second.path == "./-odd.sh" and second.code == "SC1073"
    assert parsers.parse_shellcheck_json("") == []


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
        parsers.parse_shellcheck_json(text)
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
    diffs = parsers.split_shfmt_diff(SHFMT_DIFF, ["a b.sh", "c.sh", "d.sh"])
    assert sorted(diffs) == ["a b.sh", "c.sh", "d.sh"]
    assert diffs["a b.sh"].startswith("--- a b.sh.orig\n+++ a b.sh\n@@ -1,3")
    assert diffs["a b.sh"].endswith(" fi\n")
    assert "--- x\n+++ y\n-  z\n+    z\n\\ No newline" in diffs["c.sh"]
    assert diffs["d.sh"].endswith("+#!/bin/sh\n")
    assert parsers.split_shfmt_diff("", ["a.sh"]) == {}


def test_split_by_file_prefers_the_longest_name():
    by_file, rest = parsers.split_by_file(
        'a b.sh:2:1: "if" must be followed by a statement list\nb.sh:1:1: x\nsomething else\n',
        ["b.sh", "a b.sh"],
    )
    assert by_file == {"a b.sh": ['a b.sh:2:1: "if" must be followed by a statement list'], "b.sh": ["b.sh:1:1: x"]}
    assert rest == ["something else"]
