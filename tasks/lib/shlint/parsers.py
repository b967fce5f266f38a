"""Reading what the tools print: shellcheck's ``-f json1`` findings, shfmt's ``-d``
diff split per file, and error lines (``file:line:col: message``) grouped by file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from tasks.lib.shlint.results import Finding


def parse_shellcheck_json(text: str) -> list[Finding]:
    """shellcheck ``-f json1`` output -> findings; ValueError when it is not json1."""
    if not text.strip():
        return []
    try:
        data = json.loads(text)
        comments = data.get("comments", []) if isinstance(data, dict) else data
        return [
            Finding(
                path=c["file"],
                line=int(c["line"]),
                column=int(c["column"]),
                level=c["level"],
                code=f"SC{c['code']}",
                message=c["message"],
            )
            for c in comments
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"{type(e).__name__}: {e}") from e


_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def split_shfmt_diff(text: str, names: Iterable[str]) -> dict[str, str]:
    """shfmt ``-d`` output for many files -> ``{file: its unified diff}``.

    Hunks are consumed by their line counts, so a removed line that itself starts
    with ``-- `` cannot be mistaken for the next file's header.
    """
    names = set(names)
    lines = text.splitlines(keepends=True)
    diffs: dict[str, str] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if not (line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")):
            i += 1  # "diff a b" lines (shfmt >= 3.7) and anything unexpected
            continue
        name = lines[i + 1][4:].rstrip("\r\n")
        if name not in names:
            orig = line[4:].rstrip("\r\n")
            name = orig[: -len(".orig")] if orig.endswith(".orig") else name
        chunk = [line, lines[i + 1]]
        i += 2
        while i < len(lines):
            m = _HUNK.match(lines[i])
            if not m:
                break
            old = int(m.group(1)) if m.group(1) is not None else 1
            new = int(m.group(2)) if m.group(2) is not None else 1
            chunk.append(lines[i])
            i += 1
            while i < len(lines) and (old > 0 or new > 0 or lines[i].startswith("\\")):
                body = lines[i]
                chunk.append(body)
                i += 1
                if body.startswith("-"):
                    old -= 1
                elif body.startswith("+"):
                    new -= 1
                elif not body.startswith("\\"):
                    old -= 1
                    new -= 1
        diffs[name] = "".join(chunk)
    return diffs


def split_by_file(stderr: str, names: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Tool error lines ``file:line:col: message`` grouped by file; the rest apart."""
    by_file: dict[str, list[str]] = {}
    rest: list[str] = []
    ordered = sorted(set(names), key=len, reverse=True)  # longest first: "a b.sh" before "b.sh"
    for line in stderr.splitlines():
        if not line.strip():
            continue
        for name in ordered:
            if line.startswith(name + ":"):
                by_file.setdefault(name, []).append(line)
                break
        else:
            rest.append(line)
    return by_file, rest
