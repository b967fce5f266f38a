"""The checks behind `inv doctor`: each a ``Row`` (ok, warn or FAIL, with a fix); the slow ones run in threads."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from invoke import Exit

from tasks.lib import config, console, envfile, programs, versions
from tasks.lib.config import PROJECT_ROOT
from tasks.lib.database import database
from tasks.lib.database import origin as database_origin
from tasks.lib.mix import steps, tool
from tasks.lib.mixtest import browser
from tasks.lib.problem import what_and_fix
from tasks.lib.repo import mixproject, summary
from tasks.lib.stack import backend, seed
from tasks.lib.stripe import cli as stripe_cli

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass
class Row:
    check: str
    status: str
    detail: str
    fix: str = ""


def tool_row(
    name: str, argv: list[str], wanted: dict[str, str], required: bool, install: str, sources: dict[str, str] | None = None
) -> Row:
    """``wanted``: the pins by asdf name; ``sources``: the file each pin came from (for the text)."""
    asdf_name = {v: k for k, v in versions.ALIASES.items()}.get(name, name)
    want = wanted.get(asdf_name)
    pin_file = (sources or {}).get(asdf_name, ".tool-versions")
    got = programs.version(argv)
    if got is None:
        return Row(name, FAIL if required else WARN, f"{argv[0]} not found", install)
    if versions.is_pin(want) and not versions.matches(want, got):
        return Row(name, WARN, f"{got} ({pin_file} wants {want})", f"install {asdf_name} {want} (asdf install / mise install)")
    return Row(name, OK, got + (f" ({pin_file} {want})" if want else ""))


def elixir_requirement_row(mix_exs: Path, show: Callable[[Path], str]) -> Row | None:
    """The installed Elixir against mix.exs's `elixir: "~> 1.15"` (FAIL when unmet); None without one."""
    m = re.search(r'\belixir:\s*"([^"]+)"', mixproject.code(mixproject.read_text(mix_exs)))
    got = programs.version(["elixir", "--short-version"]) if m else None
    if m is None or got is None:
        return None
    if versions.meets(m.group(1), got):
        return Row("elixir requirement", OK, f"{got} meets {m.group(1)} ({show(mix_exs)})")
    fix = f"install an Elixir that meets {m.group(1)} (asdf install / mise install, per the pins), or point elixir.mix at one"
    return Row("elixir requirement", FAIL, f"{got} does not meet {show(mix_exs)}'s elixir: {m.group(1)!r}", fix)


def hex_row(mix: str, lock: Path) -> Row:
    """Hex, which `mix deps.get` needs for the packages in mix.lock."""
    found = steps.hex_archive(mix)
    if found:
        return Row("hex", OK, found)
    needed = steps.lock_declares_deps(lock)
    return Row("hex", FAIL if needed else WARN, "not installed" + ("" if needed else " (no package in mix.lock yet)"), steps.HEX_FIX)


def postgres_rows(s: config.Settings) -> list[Row]:
    """The backend postgres.backend picks, then its own rows (the engine and container, or the local cluster)."""
    try:
        be = backend.choose(s)
    except Exit as e:
        what, fix = what_and_fix(e)
        return [Row("postgres backend", FAIL, what, fix)]
    rows = [Row("postgres backend", OK, f"{be.name} ({be.why})"), *(Row(*row) for row in be.doctor_rows()), *template_row(s)]
    cut_off = seed.unfinished(s.state_dir, database())  # a seed or reset that failed or was interrupted
    return [*rows, Row("dev database seed", WARN, cut_off, seed.START_OVER)] if cut_off else rows


def template_row(s: config.Settings) -> list[Row]:
    """The seeded template when Postgres answers: ok, or warn for a database of that name inv did not make."""
    from tasks.lib.database import sql, template

    try:
        found, root = template.describe(database()), tool.settings(s).root
    except (Exit, sql.Unreachable):
        return []
    foreign = found.exists and found.record is None
    return [Row("db template", WARN if foreign else OK, found.describe(root), f"rename or drop {found.name}" if foreign else "")]


def env_rows() -> list[Row]:
    rows = []
    env_path = PROJECT_ROOT / ".env"
    example = PROJECT_ROOT / ".env.example"
    try:
        envfile.ensure_loaded(PROJECT_ROOT)
    except envfile.EnvFileError as e:
        return [Row(".env", FAIL, str(e), "fix the line named above")]
    if not env_path.is_file():
        rows.append(Row(".env", WARN, "absent (defaults apply)", "cp .env.example .env"))
    elif example.is_file():
        listed = list(envfile.parse_file(example)[1])
        missing = [k for k in listed if k not in os.environ]
        if missing:
            rows.append(Row(".env", WARN, f"lacks {', '.join(missing)} (listed in .env.example)", "copy those lines from .env.example"))
        else:
            rows.append(Row(".env", OK, f"has every key .env.example lists ({len(listed)})"))
    rows += [Row(".env", WARN, what, fix) for name in envfile.FILES for what, fix in envfile.doubts(PROJECT_ROOT / name)]
    key = os.environ.get("STRIPE_SECRET_KEY", "").strip()
    if key.startswith(stripe_cli.LIVE_PREFIXES):
        live = f"STRIPE_SECRET_KEY is a LIVE key (from {envfile.origin('STRIPE_SECRET_KEY')})"
        rows.append(Row("stripe key", FAIL, live, "use a test-mode key (sk_test_/rk_test_) from the Stripe dashboard"))
    elif key.startswith(stripe_cli.TEST_PREFIXES):
        rows.append(Row("stripe key", OK, "set (test mode)"))
    elif key and key != stripe_cli.DEV_DEFAULT_KEY:
        rows.append(Row("stripe key", WARN, "set, but not sk_test_/rk_test_"))
    try:
        db = database()
    except Exit as e:
        return rows + [Row("database settings", FAIL, *what_and_fix(e))]
    if not db.is_local():
        remote = f"DATABASE_HOST={db.host} (from {database_origin('DATABASE_HOST')}) is not this machine: db.reset will refuse"
        rows.append(Row("database host", WARN, remote, "set DATABASE_HOST=localhost in .env"))
    return rows


def _git(*args: str) -> subprocess.CompletedProcess:
    return programs.capture(["git", "-C", str(PROJECT_ROOT), *args], timeout=10.0, ok=None)


def _in_checkout(root: Path) -> bool:
    """A `.git` in ``root`` or a parent below GIT_CEILING_DIRECTORIES, or GIT_DIR set."""
    if os.environ.get("GIT_DIR"):
        return True
    ceilings = {Path(p) for p in os.environ.get("GIT_CEILING_DIRECTORIES", "").split(os.pathsep) if p}
    for p in (root, *root.parents):
        if os.path.lexists(p / ".git"):
            return True
        if p.parent in ceilings:
            return False
    return False


def _exclude_line(prefix: str, rel: str) -> str:
    """The literal, anchored gitignore pattern for ``rel`` (relative to the root)."""
    return "/" + "".join("\\" + ch if ch in "*?[\\" else ch for ch in prefix + rel)


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path.resolve())


def _ours_in_tree() -> dict[str, str]:
    """Folders of ours git may offer (an in-tree venv, egg-info), each with a file in it to ask git about."""
    found = {p.name + "/": p.name + "/PKG-INFO" for p in PROJECT_ROOT.glob("*.egg-info") if p.is_dir()}
    venv = Path(sys.prefix).resolve()
    if sys.prefix != sys.base_prefix and venv.parent == PROJECT_ROOT.resolve():
        found[venv.name + "/"] = venv.name + "/pyvenv.cfg"
    return found


def git_rows() -> list[Row]:
    """Secrets files git would commit (tracked: FAIL, not ignored: warn), and our venv or egg-info when not ignored."""
    if not _in_checkout(PROJECT_ROOT) or shutil.which("git") is None:
        return []
    try:
        top = _git("rev-parse", "--show-prefix", "--git-path", "info/exclude")
        if top.returncode != 0:
            said = (top.stderr.strip().splitlines() or [f"exit code {top.returncode}"])[0]
            return [Row("secrets in git", WARN, f"cannot ask git (git rev-parse: {said})", "fix what git says, then run inv doctor again")]
        prefix, exclude = (top.stdout.splitlines() + ["", ""])[:2]
        present = [n for n in envfile.FILES if os.path.lexists(PROJECT_ROOT / n)]
        folders = _ours_in_tree()
        probes = present + list(folders.values())
        ignored = set(_git("check-ignore", "--no-index", "--", *probes).stdout.splitlines()) if probes else set()
        tracked = set(_git("ls-files", "--", *present).stdout.splitlines()) if present else set()
    except Exit as e:  # git hung or could not start
        return [Row(*backend.failed_row("secrets in git", e, WARN))]
    where = _show(PROJECT_ROOT / exclude)
    rows = []
    for name in present:
        line = f"echo '{_exclude_line(prefix, name)}' >> {where}"
        if name in tracked:
            also = f"; then {line}" if name not in ignored else ""
            what = f"{name} is tracked by git: the secrets in it are committed or will be"
            rows.append(Row(f"git: {name}", FAIL, what, f"git rm --cached {name} and commit (rotate any key in it that was pushed){also}"))
        elif name not in ignored:
            rows.append(Row(f"git: {name}", WARN, f"{name} is not ignored: `git add .` would commit its secrets", line))
    if not rows:
        have = ", ".join(present)
        rows.append(Row("secrets in git", OK, f"git ignores {have}" if have else f"no {' or '.join(envfile.FILES)} to protect"))
    for folder, probe in folders.items():
        if probe not in ignored:
            line = f"echo '{_exclude_line(prefix, folder)}' >> {where}"
            rows.append(Row(f"git: {folder}", WARN, f"{folder} is not ignored: `git add .` would commit it", line))
    return rows


def _found(check: str, find: Callable[[], str], status_if_missing: str, note: str = "") -> Row:
    """OK with what ``find()`` found; its one-line Exit (which carries its own fix) otherwise."""
    try:
        return Row(check, OK, find())
    except Exit as e:
        what, fix = what_and_fix(e)
        return Row(check, status_if_missing, what + note, fix)


def settings_rows(s: config.Settings) -> list[Row]:
    """Every bad setting, one row each; one OK row when there is none."""
    valid = Row("settings", OK, "every value set in invoke.yaml, INVOKE_* and -f files is valid")
    return [Row(p.setting, FAIL, p.what, p.fix) for p in s.problems()] or [valid]


def collect(s: config.Settings) -> list[Row]:
    repo = s.repository()
    wanted = {name: pin.version for name, pin in repo.pins.items()}
    sources = {name: repo.show(pin.source) for name, pin in repo.pins.items()}
    elixir_install = "install Elixir/Erlang (asdf install, or apt-get install elixir)"
    otp = 'io:format("~s", [erlang:system_info(otp_release)]), halt().'
    jobs = {
        "elixir": (["elixir", "--short-version"], True, elixir_install),
        "erl": (["erl", "-noshell", "-eval", otp], True, elixir_install),
        "node": (["node", "--version"], False, "install Node.js (assets): asdf install nodejs"),
        "pnpm": (["pnpm", "--version"], False, "npm install -g pnpm (assets.setup runs pnpm i)"),
    }
    for n in ("shellcheck", "shfmt"):
        jobs[n] = ([s.text("lint", n), "--version"], False, f"apt-get install {n}, brew install {n}, or pip install '.[lint-tools]'")
    # Docker rows must see DATABASE_* and DOCKER_HOST from .env; env_rows reports a broken one.
    try:
        envfile.ensure_loaded(PROJECT_ROOT)
    except envfile.EnvFileError:
        pass
    with ThreadPoolExecutor(max_workers=4) as pool:
        docker_future = pool.submit(postgres_rows, s)
        browser_future = pool.submit(browser.doctor_rows, s)  # acceptance tests only: chromedriver, Chrome
        requirement_future = pool.submit(elixir_requirement_row, repo.elixir_root / "mix.exs", repo.show)
        tool_futures = {name: pool.submit(tool_row, name, argv, wanted, req, hint, sources) for name, (argv, req, hint) in jobs.items()}
        rows = list(docker_future.result())
        rows.append(_found("elixir root", lambda: str(tool.settings(s).root), FAIL))
        rows.append(_found("mix", lambda: tool.settings(s).mix, FAIL))
        rows += [f.result() for f in tool_futures.values()]
        rows += [r for r in [requirement_future.result()] if r]
        try:
            rows.append(hex_row(tool.settings(s).mix, repo.elixir_root / "mix.lock"))
        except Exit:
            pass  # no mix: its row says so
        browser_rows = [Row(*found) for found in browser_future.result()]
    rows.append(_found("stripe cli", lambda: stripe_cli.find(s.text("billing", "stripe")), WARN, " (only billing.serve/listen need it)"))
    rows += browser_rows
    try:  # what the repository decided, each with its source
        rows += [Row(name, OK, text) for name, text in summary.rows(s)]
    except Exit as e:
        rows.append(Row("repository", FAIL, *what_and_fix(e)))
    rows += settings_rows(s)
    rows += env_rows()
    rows += git_rows()
    return rows


def render(rows: list[Row]) -> str:
    """One table: check, status, detail; a failed or warned check's fix on a row below it."""
    table: list[tuple[str, str, str]] = []
    for r in rows:
        table.append((r.check, r.status, r.detail))
        if r.fix and r.status != OK:
            table.append(("", "", f"fix: {r.fix}"))
    return console.table(table)


def report(c) -> None:
    """inv doctor: the table, then one verdict line; Exit 1 when a required check failed."""
    rows = collect(config.settings(c))
    print(render(rows))
    failed = [r.check for r in rows if r.status == FAIL]
    if failed:
        raise Exit(f"doctor: {len(failed)} required check(s) failed: {', '.join(failed)}")
    warned = sum(r.status == WARN for r in rows)
    print(f"doctor: all required checks pass ({warned} warning(s))")
