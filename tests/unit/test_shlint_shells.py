"""Which files are shell scripts: pre-commit's typing (identify), by name, then by the
shebang of an executable file."""

from __future__ import annotations

import pytest

from tasks.lib.shlint import shells


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
    assert shells.interpreter(line) == shell


@pytest.mark.parametrize(
    "line",
    ["#!/bin/csh", "#!/bin/tcsh", "#!/usr/bin/env python3", "#!/bin/bashful", "echo hi", "", "# !/bin/sh", "#!", "#!/bin/sh \x00"],
)
def test_other_first_lines(line):
    assert shells.interpreter(line) == ""


def test_a_versioned_interpreter_name_is_tried_without_its_suffixes():
    # As identify: "python3.5.2", then "python3.5", then "python3".
    assert shells.interpreter("#!/usr/bin/sh.static") == "sh"
    assert shells.interpreter("#!/usr/bin/env bash.5") == "bash"
    assert shells.interpreter("#!/opt/bash5.2") == ""  # bash5.2, then bash5: neither is a shell


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
    assert shells.by_name(name) is said


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
def test_is_shell_script(name, executable, first, expected):
    assert shells.is_shell_script(name, executable, lambda: first) is expected


def test_the_first_line_is_read_only_when_needed():
    def boom() -> str:
        raise AssertionError("read")

    assert shells.is_shell_script("a.sh", True, boom) is True
    assert shells.is_shell_script("a.py", True, boom) is False
    assert shells.is_shell_script("bin/tool", False, boom) is False


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
    assert shells.dialect(name, first) == dialect
