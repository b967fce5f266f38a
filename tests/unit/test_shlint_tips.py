"""The scripting tips: the shebang and the leading `set` options."""

from __future__ import annotations

import pytest

from tasks.lib.shlint import tips as shtips
from tasks.lib.shlint.results import Tip


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
    assert shtips.set_options(command) == expected


def test_leading_set_options_stop_at_the_first_command():
    lines = ["#!/bin/sh", "# about", "", "set -e", "cd /tmp", "set -u"]
    assert shtips.leading_set_options(lines) == ({"e"}, 5)
    assert shtips.leading_set_options(["#!/bin/sh", "set -eu"]) == ({"e", "u"}, 2)


def _tips(text, minimal=False):
    return [(t.line, t.message) for t in shtips.check_tips("s.sh", text, minimal)]


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
    tip = Tip("a.sh", 1, "m")
    assert tip.render(False) == "a.sh:1: tip warning: m"
    assert tip.render(True) == "a.sh:1: tip error: m"
