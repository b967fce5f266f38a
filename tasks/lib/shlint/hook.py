"""`inv lint.install-hook`: our hook added to the repository's own pre-commit config.

The hook is inserted as text at the end of the config's `repos:` list, so every other
byte (comments, quoting, order, line endings) stays as it was; the result is parsed
again and must hold the same repos plus ours. A config that already has the hook is
left alone. pre-commit appends the file names to a hook's entry; lint.sh takes files
as `-p FILE`, so the entry is a small sh loop turning each name into `-p NAME`.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from invoke import Exit

from tasks.lib import config, console
from tasks.lib.config import PROJECT_ROOT
from tasks.lib.shlint import discovery, precommit
from tasks.lib.shlint.precommit import OUR_HOOK_ID, ConfigError

_REPOS = re.compile(r"^repos[ \t]*:(?P<rest>.*)$")
# A line at column 0 that starts another top-level key (not a comment, not a `- ` item).
_TOP_KEY = re.compile(r"^[^\s#-]")
# What a folder name may hold to be written into the entry unquoted.
_SAFE_PATH = re.compile(r"^[A-Za-z0-9._/+-]*$")


class ByHand(ConfigError):
    """The config is valid, but the hook cannot be inserted safely: add it by hand."""


def entry(prefix: str = "") -> str:
    """The hook's entry. pre-commit runs it from the top of the work tree with the file
    names appended; ``prefix`` is the suite's folder there ("" or "sub/"). The suite's
    venv is used when it is there, `inv` on PATH otherwise."""
    venv = f"{prefix}.venv/bin/inv"
    search = f" -r {prefix.rstrip('/')}" if prefix else ""
    script = (
        'n=$#; for f; do set -- "$@" -p "$f"; done; shift "$n"; '
        f"inv=inv; if [ -x {venv} ]; then inv={venv}; fi; "
        f'exec "$inv"{search} lint.sh "$@"'
    )
    return f"sh -c '{script}' --"


def hook_lines(indent: str, prefix: str = "", skip: str = "") -> list[str]:
    """The hook's YAML lines, its list item at ``indent``; ``skip`` is a folder (relative
    to the top of the work tree) pre-commit must not pass to it."""
    lines = [
        "# Shell scripts: `inv lint.sh` (shellcheck, shfmt -d, the scripting tips; settings",
        "# in invoke.yaml) on the scripts being committed. Added by `inv lint.install-hook`.",
        "- repo: local",
        "  hooks:",
        f"    - id: {OUR_HOOK_ID}",
        '      name: "shell scripts: inv lint.sh"',
        f"      entry: {entry(prefix)}",
        "      language: system",
        "      types: [shell]",
        "      require_serial: true",
    ]
    if prefix:
        lines.append(f"      files: ^{re.escape(prefix)}")
    if skip:
        lines.append(f"      exclude: ^{re.escape(skip.rstrip('/') + '/')}")
    return [indent + line for line in lines]


def _offset_after(text: str, line: int) -> int:
    """The offset just past line number ``line`` (0-based) and its line ending."""
    parts = text.split("\n")
    return min(len(text), sum(len(p) + 1 for p in parts[: line + 1]))


def insert(text: str, lines_for: Callable[[str], list[str]], where: str) -> tuple[str, int, int]:
    """``text`` with the hook (``lines_for(indent)``) added at the end of its `repos:`
    list: (new text, first and last line numbers of what was added, 1-based).
    ConfigError when the list cannot be found or the result does not read back."""
    old = precommit.parse(text, where)
    newline = "\r\n" if "\r\n" in text else "\n"
    plain = [line.rstrip("\r") for line in text.split("\n")]
    starts = [i for i, line in enumerate(plain) if _REPOS.match(line)]
    if not starts:
        if old:
            raise ByHand(f"{where} has no top-level `repos:` list to add the hook to")
        # Empty, or only comments: start the list.
        head = text if not text or text.endswith("\n") else text + newline
        block = ["repos:", *lines_for("  ")]
        new = head + newline.join(block) + newline
        first = head.count("\n") + 2
        return _checked(old, new, where), first, first + len(block) - 2
    start = starts[0]
    match = _REPOS.match(plain[start])
    rest = match.group("rest").strip() if match else ""
    if rest and not rest.startswith("#"):
        raise ByHand(f"{where}, line {start + 1}: `repos:` is written inline ({rest})")
    end = len(plain)
    for j in range(start + 1, len(plain)):
        line = plain[j]
        if line.startswith(("---", "...")) or _TOP_KEY.match(line):
            end = j
            break
    last, indent = start, None
    for j in range(start + 1, end):
        line = plain[j]
        if not line.strip() or not (line[0] in " \t" or line.startswith("-")):
            continue  # blank, or a comment at column 0 (it may introduce what follows)
        last = j
        stripped = line.lstrip()
        if indent is None and (stripped.startswith("- ") or stripped == "-"):
            indent = line[: len(line) - len(stripped)]
    block = lines_for("  " if indent is None else indent)
    if last != start:
        block = ["", *block]  # a blank line between repos, as pre-commit configs have
    at = _offset_after(text, last)
    lead = "" if at == 0 or text[at - 1] == "\n" else newline
    new = text[:at] + lead + "".join(line.rstrip() + newline for line in block) + text[at:]
    first = last + 2 + (1 if block[0] == "" else 0)
    return _checked(old, new, where), first, last + 1 + len(block)


def _checked(old: dict, new: str, where: str) -> str:
    """``new`` when it reads back as ``old`` plus our hook at the end of `repos:`."""
    data = precommit.parse(new, where)
    repos = data.get("repos")
    same = (
        isinstance(repos, list)
        and repos[:-1] == (old.get("repos") or [])
        and {k: v for k, v in data.items() if k != "repos"} == {k: v for k, v in old.items() if k != "repos"}
        and any(precommit.is_our_hook(h) for h in precommit.hooks({"repos": repos[-1:]}))
    )
    if not same:
        raise ByHand(f"{where}: inserting the hook as text would change what the config says")
    return new


def hook_line(text: str) -> int:
    """The line of our hook in a config that has it (its id, or the entry running lint.sh)."""
    lines = text.split("\n")
    for pattern in (rf"\bid:\s*[\"']?{OUR_HOOK_ID}\b", r"\binv\b.*\blint\.sh\b"):
        for number, line in enumerate(lines, start=1):
            if re.search(pattern, line):
                return number
    return 1


def _write(path: Path, text: str) -> None:
    """Replace ``path``'s content atomically, keeping its mode (a symlink's target)."""
    target = path.resolve()
    mode = target.stat().st_mode & 0o7777 if target.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _show(block: str) -> None:
    for line in block.rstrip("\n").split("\n"):
        console.dry("    + " + line.rstrip("\r"))


def install(c, create: bool, root: Path | None = None) -> None:
    """Add the lint-sh hook to each pre-commit config of the repository holding ``root``
    (the suite's folder; setting lint.pre_commit_configs); with none, create the first
    (asking, or ``create``)."""
    names = config.strings(c, "lint", "pre_commit_configs")
    if not names:
        raise Exit(
            "setting lint.pre_commit_configs is empty: no pre-commit config to add the hook to."
            " Fix: name yours in invoke.yaml (lint: {pre_commit_configs: [.github/pre-commit-config.yaml]})"
        )
    root = root or PROJECT_ROOT
    top = discovery.git_toplevel(root) or root
    prefix = ""
    if top.resolve() != root.resolve():
        prefix = root.resolve().relative_to(top.resolve()).as_posix() + "/"
    skip = "".join(prefix + s for s in discovery.suite_folders(root)[:1])
    if not _SAFE_PATH.match(prefix):
        raise Exit(f"the suite's folder {prefix!r} has characters the hook's entry cannot carry; add the hook by hand")
    dry = console.is_dry(c)

    def lines_for(indent: str) -> list[str]:
        return hook_lines(indent, prefix, skip)

    found = precommit.find(top, names)
    if not found:
        _create(top / names[0], names, top, lines_for, create, dry)
        return
    added = []
    for path in found:
        where = path.relative_to(top).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
            data = precommit.parse(text, where)
            if any(precommit.is_our_hook(h) for h in precommit.hooks(data)):
                print(f"{where}: the {OUR_HOOK_ID} hook is already there (line {hook_line(text)}); nothing changed")
                continue
            new, first, last = insert(text, lines_for, where)
        except (OSError, UnicodeDecodeError) as e:
            raise Exit(f"{where} cannot be read ({e.__class__.__name__}: {e})")
        except ByHand as e:
            raise Exit(f"{e}. Fix: add these lines to its `repos:` list by hand:\n" + "\n".join(lines_for("  ")))
        except ConfigError as e:
            raise Exit(f"{e}. Fix it first (pre-commit cannot read it either), then run inv lint.install-hook again")
        if dry:
            console.dry(f"would add the {OUR_HOOK_ID} hook to {where}, lines {first}-{last}:")
            _show("\n".join(new.split("\n")[first - 1 : last]))
            continue
        _write(path, new)
        added.append(where)
        print(f"{where}: added the {OUR_HOOK_ID} hook (lines {first}-{last}): `inv lint.sh` on the shell scripts being committed")
    if added:
        print(_how_to_run(added[0]))


def _how_to_run(where: str) -> str:
    if where == precommit.DEFAULT_CONFIGS[0]:
        return "pre-commit runs it at each commit after `pre-commit install` (pip install pre-commit)"
    return f"pre-commit runs it with the config's other hooks: pre-commit run --config {where} (or pre-commit install --config {where})"


def _create(path: Path, names: list[str], top: Path, lines_for, create: bool, dry: bool) -> None:
    where = path.relative_to(top).as_posix()
    looked = ", ".join(names)
    text = "repos:\n" + "".join(line + "\n" for line in lines_for("  "))
    if dry:
        console.dry(f"no pre-commit config in {top} (looked for {looked}); --create would write {where}:")
        _show(text)
        return
    if not create:
        fix = (
            f"Fix: `inv lint.install-hook --create` writes {where} (pre-commit's default place),"
            " or name your config in invoke.yaml (lint: {pre_commit_configs: [...]})"
        )
        if not sys.stdin.isatty():
            raise Exit(f"no pre-commit config in {top} (looked for {looked}; setting lint.pre_commit_configs). {fix}")
        console.confirm(
            f"No pre-commit config in {top} (looked for {looked}). Create {where} with the {OUR_HOOK_ID} hook?",
            yes=False,
            rerun="inv lint.install-hook --create",
            declined=f"Nothing written. {fix}",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, text)
    print(f"{where}: created with the {OUR_HOOK_ID} hook: `inv lint.sh` on the shell scripts being committed")
    print(_how_to_run(where))
