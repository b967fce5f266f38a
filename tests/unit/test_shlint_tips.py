"""The scripting tips: the shebang and the leading `set` options, chosen by the script's
own shebang (sh: minimal, bash: dev and test) or lint.minimal_paths."""

from __future__ import annotations

import pytest

from tasks.lib.shlint import tips as shtips
from tasks.lib.shlint.tips import Tip


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


def _tips(text, minimal=False, rel="s.sh"):
    return [(t.line, t.message) for t in shtips.check_tips(rel, text, minimal)]


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


def test_tips_minimal_paths_override_the_shebang():
    assert _tips('#!/bin/sh\nset -eu\nexec "$@"\n', minimal=True) == []
    tips = _tips('#!/usr/bin/env bash\nset -e\nexec "$@"\n', minimal=True)
    assert "start with '#!/bin/sh'" in tips[0][1] and "lint.minimal_paths" in tips[0][1]
    assert tips[1][0] == 3 and "'set -eu'" in tips[1][1] and "missing -u" in tips[1][1]


def test_a_sh_script_is_held_to_set_eu_by_its_shebang():
    # Firezone's release scripts: #!/bin/sh, no suffix, run inside the release image.
    assert _tips("#!/bin/sh\nset -eu\n. ./bootstrap\n", rel="rel/overlays/bin/server") == []
    assert _tips("#!/bin/sh\nset -euo pipefail\necho\n") == []  # more than asked is fine
    tips = _tips("#!/bin/sh\nset -e\n. ./bootstrap\n", rel="rel/overlays/bin/server")
    assert tips == [
        (3, "no 'set -eu' before the first command (missing -u); sh scripts (minimal environments: Docker images, releases) use it")
    ]
    assert all("dev and test" not in message for _, message in tips)
    (tip,) = _tips("#!/usr/bin/env sh\nset -eu\n")
    assert tip == (1, "starts with '#!/usr/bin/env sh'; sh scripts (minimal environments: Docker images, releases) start with '#!/bin/sh'")
    assert [line for line, _ in _tips("#!/bin/dash\necho\n")] == [1, 2]


@pytest.mark.parametrize(
    "rel, text",
    [
        ("a.zsh", "echo\n"),
        ("x.sh", "#!/usr/bin/env zsh\necho\n"),
        ("x.ksh", "#!/bin/ksh\necho\n"),
        ("t.bats", "#!/usr/bin/env bats\n@test x { true; }\n"),
        (".envrc", "export X=1\n"),
        ("home/.bashrc", "alias ll='ls -l'\n"),
    ],
)
def test_no_tips_for_other_shells_or_sourced_files(rel, text):
    assert _tips(text, rel=rel) == []


def test_kind_of():
    assert shtips.kind_of("a.sh", "#!/bin/sh") is shtips.MINIMAL
    assert shtips.kind_of("a.sh", "#!/bin/bash") is shtips.DEV
    assert shtips.kind_of("a.sh", "") is shtips.DEV
    assert shtips.kind_of("a.bash", "") is shtips.DEV
    assert shtips.kind_of("a.sh", "#!/bin/bash", minimal_path=True) is shtips.MINIMAL_SETTING
    assert shtips.kind_of(".envrc", "#!/usr/bin/env bash") is shtips.DEV


def test_tip_severity_follows_strict():
    tip = Tip("a.sh", 1, "m")
    assert tip.render(False) == "a.sh:1: tip warning: m"
    assert tip.render(True) == "a.sh:1: tip error: m"
