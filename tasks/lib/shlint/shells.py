"""Which files are shell scripts, typed as pre-commit types files (its identify library),
so that `inv lint.sh` and a `types: [shell]` hook pick the same files.

The name decides first: a shell extension (.sh, .bash, .zsh, .ksh, .bats) or a shell
file name (.bashrc, .envrc ...) makes a script; an extension naming another type (.eex,
.py, .md, .txt ...) makes a file that is not one, whatever it holds (Firezone's
`elixir/rel/env.sh.eex` is an EEx template). Only a file whose name says nothing (no
extension, or one not known) is typed by its shebang, and only when it is executable:
a shebang means something only to a program that is run (Firezone's release scripts in
`elixir/rel/overlays/bin`).

Where this differs from identify, on purpose: the EEx, Jinja and other template
extensions are known here (identify does not know .eex, so it types an executable
`env.sh.eex` by its shebang); .ksh is a shell extension; csh, tcsh and cbsd shebangs
are not shell (neither shellcheck nor shfmt reads them).
"""

from __future__ import annotations

import os
import shlex
import string
from collections.abc import Callable

# Extension (lower case, no dot) -> the shell it names ("" = sh-family, dialect unsaid).
SHELL_EXTENSIONS = {"sh": "", "bash": "bash", "zsh": "zsh", "ksh": "ksh", "bats": "bats"}
# Whole file names identify types as shell.
SHELL_NAMES = {
    ".bash_aliases": "bash",
    ".bash_profile": "bash",
    ".bashrc": "bash",
    ".envrc": "bash",
    "direnvrc": "bash",
    ".profile": "",
    ".zlogin": "zsh",
    ".zlogout": "zsh",
    ".zprofile": "zsh",
    ".zshenv": "zsh",
    ".zshrc": "zsh",
}
# Shebang programs that make a shell script (what shellcheck and shfmt read).
SHELL_INTERPRETERS = frozenset({"sh", "bash", "dash", "ash", "ksh", "zsh", "bats"})
# sh-family shells a script written for a minimal environment runs under.
MINIMAL_SHELLS = frozenset({"sh", "dash", "ash"})

# Extensions that name another type: such a file is never a shell script. Templates
# first (a template of a script is not a script), then sources, data and documents.
OTHER_EXTENSIONS = frozenset(
    """
    eex heex leex sface erb ejs j2 jinja jinja2 tpl tmpl template mustache hbs in
    example sample dist
    ex exs erl hrl py pyi pyw rb pl pm php js mjs cjs ts mts cts tsx jsx rs go swift
    kt kts java scala groovy gradle c h cc cpp cxx hpp m mm cs fs lua r dart zig nim
    elm hs ml clj cljs awk sed ps1 psm1 bat cmd fish nix tf tfvars hcl sql proto
    graphql gql vue svelte
    md markdown rst txt adoc org json jsonc json5 yaml yml toml xml html htm xhtml css
    scss sass less svg csv tsv ini cfg conf env properties plist lock patch diff log
    service socket timer desktop mk make cmake dockerfile containerfile
    png jpg jpeg gif ico webp pdf zip gz tgz bz2 xz zst tar jar wasm so dylib dll exe
    """.split()
)

_PRINTABLE = frozenset(string.printable)


def extension(name: str) -> str:
    """The last extension of a file name, lower case, without the dot ('' for none)."""
    return os.path.splitext(os.path.basename(name))[1][1:].lower()


def shebang_words(first_line: str) -> list[str]:
    """The shebang's command, env skipped: ``#!/usr/bin/env -S bash -eu`` gives
    ``['bash', '-eu']``; [] for no shebang or one that is not printable ASCII."""
    line = first_line.rstrip("\r\n")
    if not line.startswith("#!") or not set(line) <= _PRINTABLE:
        return []
    try:
        words = shlex.split(line[2:])
    except ValueError:
        words = line[2:].split()
    if words and os.path.basename(words[0]) == "env":
        words = words[1:]
        # env's options (-S, -i, -u NAME) and NAME=value assignments come first.
        while words and (words[0].startswith("-") or "=" in words[0]):
            option = words.pop(0)
            if option in ("-u", "--unset", "-C", "--chdir") and words:
                words.pop(0)
    return words


def interpreter(first_line: str) -> str:
    """The shell a shebang names (``sh``, ``bash`` ...), '' when it names none; like
    identify, ``bash5.2`` is tried as ``bash5`` ... and a path is read as its name."""
    words = shebang_words(first_line)
    name = os.path.basename(words[0]) if words else ""
    while name:
        if name in SHELL_INTERPRETERS:
            return name
        name = name.rpartition(".")[0]
    return ""


def by_name(name: str) -> bool | None:
    """What the file name alone says: True (a shell script), False (another type), or
    None (nothing: the shebang of an executable file decides)."""
    base = os.path.basename(name)
    if base in SHELL_NAMES:
        return True
    ext = extension(base)
    if ext in SHELL_EXTENSIONS:
        return True
    if ext in OTHER_EXTENSIONS:
        return False
    return None


def is_shell_script(name: str, executable: bool, first_line: Callable[[], str]) -> bool:
    """Whether a regular file is a shell script; ``first_line`` is read only when the
    name says nothing and the file is executable."""
    said = by_name(name)
    if said is not None:
        return said
    return executable and bool(interpreter(first_line()))


def dialect(name: str, first_line: str) -> str:
    """The shell a script is written for: its shebang's, else its name's ('' when
    neither says, e.g. a .sh file without a shebang)."""
    found = interpreter(first_line)
    if found:
        return found
    base = os.path.basename(name)
    return SHELL_NAMES.get(base, SHELL_EXTENSIONS.get(extension(base), ""))
