"""Up-to-date checks: content-hash fingerprints of a step's inputs, settings (``salt``) and outputs, one file per step."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tasks.lib import state

ABSENT = "absent"


@dataclass(frozen=True)
class Step:
    name: str
    inputs: Sequence[Path]
    outputs: Sequence[Path] = ()
    salt: str = ""  # anything else the result depends on (the command, a setting): a change reruns
    base: Path | None = None  # paths are shown relative to this folder in reasons
    summary: str | None = None  # what "up to date" means in words, e.g. "mix.lock unchanged"

    def show(self, path: Path) -> str:
        if self.base is not None:
            try:
                return str(Path(path).relative_to(self.base))
            except ValueError:
                pass
        return str(path)


def file_hash(path: Path) -> str:
    """sha256 of a file's content, or "absent" (a directory hashes its sorted listing)."""
    path = Path(path)
    try:
        if path.is_dir():
            names = "\n".join(sorted(os.listdir(path)))
            return "dir:" + hashlib.sha256(names.encode()).hexdigest()
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    except (FileNotFoundError, NotADirectoryError):
        return ABSENT


def output_present(path: Path) -> bool:
    path = Path(path)
    if path.is_dir():
        try:
            with os.scandir(path) as entries:
                return any(True for _ in entries)
        except OSError:
            return False
    return path.exists()


def fingerprint(step: Step) -> dict:
    return {"inputs": {str(p): file_hash(p) for p in step.inputs}, "salt": hashlib.sha256(step.salt.encode()).hexdigest()[:16]}


def _file(state_dir: Path, name: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return Path(state_dir) / "fingerprints" / f"{safe}.json"


def _valid(data: dict) -> bool:
    """What ``is_up_to_date`` reads: ``inputs`` (path -> hash) and ``salt``, all strings."""
    inputs = data.get("inputs")
    valid_inputs = isinstance(inputs, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in inputs.items())
    return isinstance(data.get("salt"), str) and valid_inputs


def load(state_dir: Path, name: str) -> dict | None:
    """The step's record, or None when there is none or it cannot be read (one warning)."""
    return state.read_json(_file(state_dir, name), "the step runs", _valid)


def is_up_to_date(state_dir: Path, step: Step) -> tuple[bool, str]:
    """``(fresh, reason)``: why the step can be skipped, or why it must run."""
    old = load(state_dir, step.name)
    if old is None:
        if os.path.lexists(_file(state_dir, step.name)):
            return False, "its record cannot be read"
        return False, "no successful run recorded"
    new = fingerprint(step)
    if old.get("salt") != new["salt"]:
        return False, "its settings changed"
    old_inputs = old["inputs"]
    changed = [p for p, h in new["inputs"].items() if old_inputs.get(p) != h]
    changed += [p for p in old_inputs if p not in new["inputs"]]
    if changed:
        names = ", ".join(step.show(Path(p)) for p in changed[:3])
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        return False, f"{names}{more} changed"
    missing = missing_outputs(step)
    if missing:
        return False, f"{step.show(missing[0])} is missing"
    if step.summary:
        return True, step.summary
    if step.inputs:
        return True, f"{step.show(step.inputs[0])} unchanged"
    return True, "nothing changed"


def missing_outputs(step: Step) -> list[Path]:
    return [p for p in step.outputs if not output_present(p)]


def record(state_dir: Path, step: Step) -> None:
    """Remember a successful run (only after it succeeded); state.StateError when the folder cannot be written."""
    data = {**fingerprint(step), "name": step.name, "at": time.time()}
    state.write_json(_file(state_dir, step.name), data)
