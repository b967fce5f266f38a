"""`inv lint.install-hook`: our hook inserted as text at the end of `repos:`, every other byte kept, checked by reading back."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tasks.lib import console
from tasks.lib.config import PROJECT_ROOT
from tasks.lib.problem import Problem
from tasks.lib.shlint import precommit, scripts
from tasks.lib.shlint.precommit import OUR_HOOK_ID, ConfigError

_REPOS = re.compile(r"^repos[ \t]*:(?P<rest>.*)$")
# A line at column 0 that starts another top-level key (not a comment, not a `- ` item).
_TOP_KEY = re.compile(r"^[^\s#-]")


class ByHand(ConfigError):
    """The config is valid, but the hook cannot be inserted safely: add it by hand."""


def entry(prefix: str = "") -> str:
    """pre-commit runs it from the work tree's top with file names appended (made `-p NAME`); ``prefix``: our folder there."""
    venv = f"{prefix}.venv/bin/inv"
    search = f" -r {prefix.rstrip('/')}" if prefix else ""
    script = (
        'n=$#; for f; do set -- "$@" -p "$f"; done; shift "$n"; '
        f"inv=inv; if [ -x {venv} ]; then inv={venv}; fi; "
        f'exec "$inv"{search} lint.sh "$@"'
    )
    return f"sh -c '{script}' --"


def hook_lines(indent: str, prefix: str = "", skip: str = "") -> list[str]:
    """The hook's YAML lines at ``indent``; ``skip``: a folder pre-commit must not pass to it."""
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


def insert(text: str, lines_for: Callable[[str], list[str]], where: str) -> tuple[str, int, int]:
    """``text`` with the hook added at the end of `repos:`, and the 1-based lines added; ConfigError when that cannot be done safely."""
    old = precommit.parse(text, where)
    newline = "\r\n" if "\r\n" in text else "\n"
    plain = [line.rstrip("\r") for line in text.split("\n")]
    starts = [(i, m["rest"].strip()) for i, line in enumerate(plain) if (m := _REPOS.match(line))]
    if not starts:
        if old:
            raise ByHand(f"{where} has no top-level `repos:` list to add the hook to")
        # Empty, or only comments: start the list.
        head = text if not text or text.endswith("\n") else text + newline
        block = ["repos:", *lines_for("  ")]
        new = head + newline.join(block) + newline
        first = head.count("\n") + 2
        return _checked(old, new, where), first, first + len(block) - 2
    start, rest = starts[0]
    if rest and not rest.startswith("#"):
        raise ByHand(f"{where}, line {start + 1}: `repos:` is written inline ({rest})")
    last, indent = start, None
    for j in range(start + 1, len(plain)):
        line = plain[j]
        if line.startswith(("---", "...")) or _TOP_KEY.match(line):
            break  # the next document or top-level key
        if not line.strip() or not (line[0] in " \t" or line.startswith("-")):
            continue  # blank, or a comment at column 0 (it may introduce what follows)
        last = j
        stripped = line.lstrip()
        if indent is None and (stripped.startswith("- ") or stripped == "-"):
            indent = line[: len(line) - len(stripped)]
    block = lines_for("  " if indent is None else indent)
    if last != start:
        block = ["", *block]  # a blank line between repos, as pre-commit configs have
    at = min(len(text), sum(len(p) + 1 for p in text.split("\n")[: last + 1]))  # past line `last`
    lead = "" if at == 0 or text[at - 1] == "\n" else newline
    new = text[:at] + lead + "".join(line.rstrip() + newline for line in block) + text[at:]
    first = last + 2 + (1 if block[0] == "" else 0)
    return _checked(old, new, where), first, last + 1 + len(block)


def _checked(old: dict, new: str, where: str) -> str:
    """``new`` when it reads back as ``old`` plus our hook at the end of `repos:`."""
    data, old = precommit.parse(new, where), dict(old)
    repos, before = data.pop("repos", None), old.pop("repos", None) or []
    ours = precommit.hooks({"repos": repos[-1:]}) if isinstance(repos, list) else []
    if not (ours and repos[:-1] == before and data == old and precommit.is_our_hook(ours[0])):
        raise ByHand(f"{where}: inserting the hook as text would change what the config says")
    return new


def hook_line(text: str) -> int:
    """The line of our hook in a config that has it: its id, else the entry running lint.sh."""
    patterns = (rf"\bid:\s*[\"']?{OUR_HOOK_ID}\b", r"\binv\b.*\blint\.sh\b")
    return next((n for p in patterns for n, line in enumerate(text.split("\n"), 1) if re.search(p, line)), 1)


def _show(block: str) -> None:
    for line in block.rstrip("\n").split("\n"):
        console.dry("    + " + line.rstrip("\r"))


def install(names: Sequence[str], create: bool, dry: bool, root: Path | None = None) -> None:
    """Add the lint-sh hook to each of the configs ``names``; with none, create the first (asking, or ``create``)."""
    if not names:
        fix = "name yours in invoke.yaml (lint: {pre_commit_configs: [.github/pre-commit-config.yaml]})"
        raise Problem("setting lint.pre_commit_configs is empty: no pre-commit config to add the hook to", fix, "lint.pre_commit_configs")
    root = root or PROJECT_ROOT
    top, prefix = scripts.work_tree(root)
    fixtures = scripts.suite_folder(root)

    def lines_for(indent: str) -> list[str]:
        return hook_lines(indent, prefix, prefix + fixtures if fixtures else "")

    looked = ", ".join(names)
    added = []
    for path in precommit.find(top, names) or [top / names[0]]:
        where = path.relative_to(top).as_posix()
        if not (path.exists() or create or dry):
            _ask(top, looked, where)
        try:
            text, data = precommit.load(path, where)
            if any(precommit.is_our_hook(h) for h in precommit.hooks(data)):
                print(f"{where}: the {OUR_HOOK_ID} hook is already there (line {hook_line(text)}); nothing changed")
                continue
            new, first, last = insert(text, lines_for, where)
        except ByHand as e:
            raise Problem(e.what, fix="add these lines to its `repos:` list by hand:\n" + "\n".join(lines_for("  ")))
        except ConfigError as e:
            raise Problem(e.what, fix="correct it (pre-commit cannot read it either), then run inv lint.install-hook again")
        if dry and not path.exists():
            console.dry(f"no pre-commit config in {top} (looked for {looked}); --create would write {where}:")
            _show(new)
        elif dry:
            console.dry(f"would add the {OUR_HOOK_ID} hook to {where}, lines {first}-{last}:")
            _show("\n".join(new.split("\n")[first - 1 : last]))
        else:
            said = f"added the {OUR_HOOK_ID} hook (lines {first}-{last})" if path.exists() else f"created with the {OUR_HOOK_ID} hook"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="") as f:  # in place: its mode and links kept
                f.write(new)
            added.append(where)
            print(f"{where}: {said}: `inv lint.sh` on the shell scripts being committed")
    if added[:1] == [".pre-commit-config.yaml"]:
        print("pre-commit runs it at each commit after `pre-commit install` (pip install pre-commit)")
    elif added:
        config = f"--config {added[0]}"
        print(f"pre-commit runs it with the config's other hooks: pre-commit run {config} (or pre-commit install {config})")


def _ask(top: Path, looked: str, where: str) -> None:
    """With no config and no --create: yes on a terminal, else a Problem saying how."""
    fix = f"`inv lint.install-hook --create` writes {where} (pre-commit's default place), or name your config in invoke.yaml (lint: {{pre_commit_configs: [...]}})"
    if not sys.stdin.isatty():
        raise Problem(
            f"no pre-commit config in {top} (looked for {looked}; setting lint.pre_commit_configs)", fix, "lint.pre_commit_configs"
        )
    console.confirm(
        f"No pre-commit config in {top} (looked for {looked}). Create {where} with the {OUR_HOOK_ID} hook?",
        yes=False,
        rerun="inv lint.install-hook --create",
        declined=f"Nothing written. Fix: {fix}",
    )
