"""chromedriver and Chrome for the acceptance tests: found, and their major versions matched.

chromedriver drives only the Chrome (or Chromium) of its own major version; a mismatch
is the classic failure ("session not created: This version of ChromeDriver only
supports Chrome version N"), so it is caught before any test starts, with both
versions and the fix. The doctor rows appear only when the repository has acceptance
tests (``has_acceptance_tests``, a cheap scan of the test folders).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from invoke import Exit

from tasks.lib import config, programs

CHROME_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = (
    "install a matching pair: `apt-get install chromium chromium-driver` (Debian/Ubuntu),"
    " or `brew install --cask google-chrome chromedriver` (macOS)"
)
# Test files are looked at for these; one hit is enough.
_MARKERS = re.compile(rb"acceptance:\s*true|Wallaby")
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


def find_driver(c) -> str:
    return programs.require(
        config.text(c, "elixir", "chromedriver"),
        "elixir.chromedriver",
        f"Fix: {INSTALL}, or set elixir.chromedriver (INVOKE_ELIXIR_CHROMEDRIVER) to its path",
    )


def find_chrome(c) -> str:
    """The browser: setting elixir.chrome, else the first of CHROME_CANDIDATES on PATH."""
    chosen = config.optional(c, "elixir", "chrome").strip()
    if chosen:
        return programs.require(chosen, "elixir.chrome", f"Fix: {INSTALL}, or set elixir.chrome (INVOKE_ELIXIR_CHROME) to its path")
    for name in CHROME_CANDIDATES:
        found = programs.which(name)
        if found:
            return found
    raise Exit(
        f"no Chrome or Chromium on PATH (looked for {', '.join(CHROME_CANDIDATES)}; setting elixir.chrome)."
        f" Fix: {INSTALL}, or set elixir.chrome (INVOKE_ELIXIR_CHROME) to the browser's path"
    )


def _version(program: str, what: str) -> str:
    found = programs.version([program, "--version"])
    if found is None:
        raise Exit(f"{what} {program} printed no version for --version. Fix: reinstall it; {INSTALL}")
    return found


def compare(driver: str, driver_version: str, chrome: str, chrome_version: str) -> str | None:
    """The one-line mismatch message, or None when the majors match."""
    a, b = major(driver_version), major(chrome_version)
    if a is not None and a == b:
        return None
    return (
        f"chromedriver {driver_version} ({driver}) does not match the browser {chrome_version} ({chrome}):"
        f" major {a} vs {b}, and chromedriver drives only its own major version."
        f" Fix: {INSTALL} (they are upgraded together), or point elixir.chromedriver / elixir.chrome at a matching pair"
    )


def check(c) -> Browser:
    """Both programs found and their majors equal; else one Exit line."""
    driver = find_driver(c)
    chrome = find_chrome(c)
    driver_version = _version(driver, "chromedriver")
    chrome_version = _version(chrome, "the browser")
    problem = compare(driver, driver_version, chrome, chrome_version)
    if problem:
        raise Exit(problem)
    return Browser(driver, driver_version, chrome, chrome_version)


def has_acceptance_tests(elixir_root: Path) -> bool:
    """True when a test file under the Elixir root is tagged `acceptance: true` or uses Wallaby."""
    folders = [elixir_root / "test", *sorted(elixir_root.glob("apps/*/test"))]
    seen = 0
    for folder in folders:
        for path in folder.rglob("*.ex*"):
            if path.suffix not in (".ex", ".exs"):
                continue
            seen += 1
            if seen > _SCAN_LIMIT:
                return False
            try:
                if _MARKERS.search(path.read_bytes()):
                    return True
            except OSError:
                continue
    return False


def doctor_rows(c) -> list[tuple[str, str, str, str]]:
    """(check, ok/warn, detail, fix) for chromedriver and the browser, when acceptance tests exist."""
    try:
        root = config.path(c, "elixir", "root")
    except Exit:
        return []
    if not root.is_dir() or not has_acceptance_tests(root):
        return []
    note = " (only elixir.test --acceptance needs it)"
    rows = []
    found = {}
    for check_name, find, _label in (("chromedriver", find_driver, "chromedriver"), ("chrome", find_chrome, "the browser")):
        try:
            path = find(c)
        except Exit as e:
            rows.append((check_name, "warn", (e.message or "").split(" Fix: ")[0].rstrip(". ") + note, INSTALL))
            continue
        version = programs.version([path, "--version"])
        found[check_name] = (path, version)
        rows.append((check_name, "ok" if version else "warn", f"{version or 'no version printed'} ({path})", "" if version else INSTALL))
    if len(found) == 2:
        (driver, dv), (chrome, cv) = found["chromedriver"], found["chrome"]
        if dv and cv:
            problem = compare(driver, dv, chrome, cv)
            if problem:
                rows.append(("chromedriver/chrome", "warn", f"major {major(dv)} vs {major(cv)}: acceptance tests would fail", INSTALL))
    return rows
