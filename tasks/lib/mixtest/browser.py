"""chromedriver and Chrome for the acceptance tests: found, and their major versions matched."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from invoke import Exit

from tasks.lib import config, programs
from tasks.lib.problem import Problem

CHROME_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = (
    "install a matching pair: `apt-get install chromium chromium-driver` (Debian/Ubuntu),"
    " or `brew install --cask google-chrome chromedriver` (macOS)"
)
_MARKERS = re.compile(rb"@(?:module|describe)?tag\s+(?::acceptance\b|acceptance:\s*true)|\bWallaby\.")  # one hit in a test file is enough
_SCAN_LIMIT = 5000


@dataclass(frozen=True)
class Browser:
    driver: str
    driver_version: str
    chrome: str
    chrome_version: str


def major(version: str | None) -> int | None:
    m = re.match(r"\s*(\d+)", version or "")
    return int(m.group(1)) if m else None


def find(key: str, setting: str) -> str:
    """``chromedriver`` or ``chrome`` (its setting; an empty elixir.chrome: the first of CHROME_CANDIDATES on PATH)."""
    fix = f"{INSTALL}, or set elixir.{key} (INVOKE_ELIXIR_{key.upper()}) to its path"
    if not setting:
        found = next((p for p in map(programs.which, CHROME_CANDIDATES) if p), None)
        if found is None:
            what = f"no Chrome or Chromium on PATH (looked for {', '.join(CHROME_CANDIDATES)}; setting elixir.chrome)"
            raise Problem(what, fix.replace("its path", "the browser's path"), "elixir.chrome")
        return found
    found = programs.which(setting)
    if found is None:
        where = "is not on PATH" if os.sep not in setting else "does not exist or is not executable"
        raise Problem(f"{setting} {where} (setting elixir.{key})", fix, f"elixir.{key}")
    return found


def compare(driver: str, driver_version: str, chrome: str, chrome_version: str) -> Problem | None:
    """The mismatch, or None when the majors match."""
    a, b = major(driver_version), major(chrome_version)
    if a is not None and a == b:
        return None
    return Problem(
        f"chromedriver {driver_version} ({driver}) does not match the browser {chrome_version} ({chrome}):"
        f" major {a} vs {b}, and chromedriver drives only its own major version",
        f"{INSTALL} (they are upgraded together), or point elixir.chromedriver / elixir.chrome at a matching pair",
        "elixir.chromedriver",
    )


def check(driver_setting: str, chrome_setting: str) -> Browser:
    """Both programs found and their majors equal; else one line."""
    found = [find("chromedriver", driver_setting), find("chrome", chrome_setting)]
    versions = []
    for program, what, key in zip(found, ("chromedriver", "the browser"), ("chromedriver", "chrome"), strict=True):
        version = programs.version([program, "--version"])
        if version is None:
            raise Problem(f"{what} {program} printed no version for --version", f"reinstall it; {INSTALL}", f"elixir.{key}")
        versions.append(version)
    problem = compare(found[0], versions[0], found[1], versions[1])
    if problem:
        raise problem
    return Browser(found[0], versions[0], found[1], versions[1])


def has_acceptance_tests(elixir_root: Path) -> bool:
    """If a test file under the Elixir root is tagged acceptance (`@tag acceptance: true`, `@moduletag :acceptance`) or uses Wallaby"""
    paths = (p for folder in [elixir_root / "test", *sorted(elixir_root.glob("apps/*/test"))] for p in folder.rglob("*.ex*"))
    for seen, path in enumerate((p for p in paths if p.suffix in (".ex", ".exs")), 1):
        if seen > _SCAN_LIMIT:
            return False
        try:
            if _MARKERS.search(path.read_bytes()):
                return True
        except OSError:
            continue
    return False


def doctor_rows(s: config.Settings) -> list[tuple[str, str, str, str]]:
    """(check, ok/warn, detail, fix) for chromedriver and the browser, when acceptance tests exist."""
    try:
        root = s.path("elixir", "root")
        settings = {"chromedriver": s.text("elixir", "chromedriver"), "chrome": s.optional("elixir", "chrome").strip()}
    except Exit:
        return []
    if not root.is_dir() or not has_acceptance_tests(root):
        return []
    rows, versions = [], {}
    for key, setting in settings.items():
        try:
            path = find(key, setting)
        except Problem as e:
            rows.append((key, "warn", e.what + " (only elixir.test --acceptance needs it)", INSTALL))
            continue
        versions[key] = (path, programs.version([path, "--version"]))
        version = versions[key][1]
        rows.append((key, "ok" if version else "warn", f"{version or 'no version printed'} ({path})", "" if version else INSTALL))
    (driver, dv), (chrome, cv) = versions.get("chromedriver", ("", None)), versions.get("chrome", ("", None))
    if dv and cv and compare(driver, dv, chrome, cv):
        rows.append(("chromedriver/chrome", "warn", f"major {major(dv)} vs {major(cv)}: acceptance tests would fail", INSTALL))
    return rows
