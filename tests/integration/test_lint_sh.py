"""`inv lint.sh` with the real shellcheck and shfmt, on the fixture scripts in a git project."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from invoke.vendor import yaml

from tests.integration.conftest import FIXTURES, REPO, git, make_project, require_linters

pytestmark = pytest.mark.integration

SCRIPTS = FIXTURES / "scripts"
LINT_SETTINGS = {"exclude": ["scripts/vendor"], "minimal_paths": ["scripts/docker/*"]}
# scripts/ as copied: 9 scripts found (vendor/ excluded; helper.py, zshthing, README are not sh/bash)
SUMMARY = "lint.sh: 9 files checked, 4 with findings (3 shellcheck, 1 not formatted), 4 tip warnings"


@pytest.fixture(autouse=True)
def _linters():
    require_linters()


def set_lint(project, **settings) -> None:
    path = project.root / "invoke.yaml"
    config = yaml.safe_load(path.read_text()) or {}
    config.setdefault("lint", {}).update(settings)
    path.write_text(yaml.safe_dump(config))


@pytest.fixture
def bare(tmp_path):
    """The suite alone in a fresh root: no Firezone files (no .tool-versions, no scripts/)."""
    return make_project(tmp_path, umbrella=False)


@pytest.fixture
def scripts(bare):
    """The suite with tests/fixtures/scripts as scripts/, in git (only scripts/ tracked).
    The deliberately bad fixtures are linted only because they are copied there; the
    settings they need are the test's own (the shipped invoke.yaml has none)."""
    project = bare
    shutil.copytree(SCRIPTS, project.root / "scripts")
    set_lint(project, **LINT_SETTINGS)
    git(project.root, "init", "-q")
    git(project.root, "add", "scripts")
    first_task(project)
    return project


def first_task(project) -> None:
    """Run one task, so that the first task's line about .git/info/exclude (it keeps the
    suite's state and caches out of git) is behind us and each test sees lint.sh alone."""
    project.inv("lint.sh", "-p", "scripts/clean.sh", check=True)


def test_check_reports_every_problem_per_file(scripts):
    out = scripts.inv("lint.sh")
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[-1] == SUMMARY
    assert "scripts/warning.sh:5:1: warning: unused_var appears unused. Verify use (or export if used externally). [SC2034]" in lines
    assert "scripts/with space.sh:5:14: warning: never_assigned is referenced but not assigned. [SC2154]" in lines
    # No suffix, found by its shebang:
    assert any(line.startswith("scripts/bin/devtool:5:1: warning: leftover appears unused") for line in lines)
    i = lines.index("scripts/misformatted.sh: not formatted (shfmt -i 4 -d):")
    assert lines[i + 1 : i + 3] == ["    --- scripts/misformatted.sh.orig", "    +++ scripts/misformatted.sh"]
    assert '    -if [ "$#" -gt 0 ];then' in lines and '    +if [ "$#" -gt 0 ]; then' in lines
    # Tips: warnings, not failures.
    assert (
        "scripts/tips/old-style.sh:1: tip warning: starts with '#!/bin/bash'; dev and test scripts start with '#!/usr/bin/env bash'"
        in lines
    )
    assert any(line.startswith("scripts/tips/old-style.sh:5: tip warning: no 'set -euo pipefail'") for line in lines)
    assert any(line.startswith("scripts/docker/bash-entrypoint.sh:1: tip warning:") and "'#!/bin/sh'" in line for line in lines)
    for quiet in ("clean.sh", "docker/entrypoint.sh", "tips/split-set.sh", "vendor/", "helper.py", "zshthing", "README"):
        assert f"scripts/{quiet}" not in out.stdout
    assert "inv lint.sh --fix" in out.stderr
    assert "Traceback" not in out.stderr


def test_clean_scripts_pass(scripts):
    out = scripts.inv("lint.sh", "-p", "scripts/clean.sh", "-p", "scripts/docker/entrypoint.sh", "-p", "scripts/tips/split-set.sh")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout == "lint.sh: 3 files checked, 0 with findings (0 shellcheck, 0 not formatted), 0 tip warnings\n"


def test_strict_makes_tips_errors(scripts):
    out = scripts.inv("lint.sh", "--strict", "-p", "scripts/tips", "-p", "scripts/docker")
    assert out.returncode == 1
    assert "scripts/tips/old-style.sh:1: tip error:" in out.stdout
    assert out.stdout.splitlines()[-1] == "lint.sh: 4 files checked, 2 with findings (0 shellcheck, 0 not formatted), 4 tip errors"
    relaxed = scripts.inv("lint.sh", "-p", "scripts/tips", "-p", "scripts/docker")
    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr
    set_lint(scripts, strict=True)
    assert scripts.inv("lint.sh", "-p", "scripts/tips").returncode == 1


def test_fix_formats_misformatted_and_leaves_clean_files_alone(scripts):
    clean = scripts.root / "scripts/clean.sh"
    before = clean.read_bytes()
    os.utime(clean, (1_000_000_000, 1_000_000_000))
    out = scripts.inv("lint.sh", "--fix")
    assert out.returncode == 1  # the shellcheck findings remain
    assert "scripts/misformatted.sh: reformatted (shfmt -i 4 -w)" in out.stdout.splitlines()
    assert out.stdout.splitlines()[-1] == "lint.sh: 9 files checked, 1 reformatted, 3 with findings (3 shellcheck), 4 tip warnings"
    assert clean.read_bytes() == before and clean.stat().st_mtime == 1_000_000_000
    fixed = (scripts.root / "scripts/misformatted.sh").read_text()
    assert 'if [ "$#" -gt 0 ]; then\n    echo "args: $*"\nfi\n' in fixed
    assert subprocess.run(["shfmt", "-i", "4", "-d", "scripts/misformatted.sh"], cwd=scripts.root).returncode == 0
    # Excluded files are never touched.
    assert (scripts.root / "scripts/vendor/third_party.sh").read_bytes() == (SCRIPTS / "vendor/third_party.sh").read_bytes()
    again = scripts.inv("lint.sh", "-p", "scripts/misformatted.sh")
    assert again.returncode == 0, again.stdout


def test_dry_fix_changes_nothing(scripts):
    out = scripts.inv("--dry", "lint.sh", "--fix", "-p", "scripts/misformatted.sh")
    assert out.returncode == 1
    assert "scripts/misformatted.sh: would be reformatted (shfmt -i 4 -d):" in out.stdout
    assert (scripts.root / "scripts/misformatted.sh").read_bytes() == (SCRIPTS / "misformatted.sh").read_bytes()


def test_only_tracked_scripts_unless_named(scripts):
    (scripts.root / "scripts/untracked.sh").write_text("#!/usr/bin/env bash\nx=1\n")
    out = scripts.inv("lint.sh")
    assert "untracked.sh" not in out.stdout and out.stdout.splitlines()[-1] == SUMMARY
    named = scripts.inv("lint.sh", "-p", "scripts/untracked.sh")
    assert "scripts/untracked.sh:2:1: warning: x appears unused" in named.stdout


def test_staged_checks_only_the_staged_scripts(scripts):
    git(scripts.root, "commit", "-qm", "scripts")
    (scripts.root / "scripts/clean.sh").write_text((SCRIPTS / "misformatted.sh").read_text())
    assert scripts.inv("lint.sh", "--staged").stdout.startswith("lint.sh: 0 files checked")
    git(scripts.root, "add", "scripts/clean.sh")
    out = scripts.inv("lint.sh", "--staged")
    assert out.returncode == 1
    assert "scripts/clean.sh: not formatted" in out.stdout
    assert out.stdout.splitlines()[-1] == "lint.sh: 1 file checked, 1 with findings (0 shellcheck, 1 not formatted), 0 tip warnings"


def test_outside_git_walks_the_tree(bare):
    project = bare
    shutil.copytree(SCRIPTS, project.root / "scripts")
    (project.root / "scripts/node_modules").mkdir()
    (project.root / "scripts/node_modules/dep.sh").write_text("x=1\n")
    set_lint(project, **LINT_SETTINGS)
    out = project.inv("lint.sh", "-p", "scripts")
    assert out.stdout.splitlines()[-1] == SUMMARY, out.stdout + out.stderr


def test_path_from_a_subfolder_and_bad_paths(scripts):
    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "lint.sh", "-p", "with space.sh"],
        cwd=scripts.root / "scripts",
        env=scripts.env,
        capture_output=True,
        text=True,
    )
    assert "scripts/with space.sh:5:14: warning:" in proc.stdout, proc.stdout + proc.stderr
    out = scripts.inv("lint.sh", "-p", "scripts/nope.sh")
    assert out.returncode == 1
    assert out.stderr.strip() == "scripts/nope.sh: no such file or folder (inv lint.sh --path takes files and folders)"


def test_missing_tool_is_one_line_with_how_to_install(scripts):
    out = scripts.inv("lint.sh", env={"INVOKE_LINT_SHELLCHECK": "/nonexistent"})
    assert out.returncode == 1
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("/nonexistent does not exist or is not executable (setting lint.shellcheck).")
    for hint in ("apt-get install shellcheck shfmt", "brew install shellcheck shfmt", "pip install '.[lint-tools]'"):
        assert hint in lines[0]
    out = scripts.inv("lint.sh", env={"INVOKE_LINT_SHFMT": "shfmt-not-installed"})
    assert out.stderr.startswith("shfmt-not-installed is not on PATH (setting lint.shfmt).")


def test_version_probe_reads_the_real_tools():
    """programs.version, the one probe, on what the tools print (0.9.0 and 3.6.0 on Debian 12)."""
    from tasks.lib.programs import version

    said = subprocess.run(["shellcheck", "--version"], capture_output=True, text=True).stdout
    (line,) = [x for x in said.splitlines() if x.startswith("version: ")]
    assert version(["shellcheck", "--version"]) == line.split()[1]
    said = subprocess.run(["shfmt", "--version"], capture_output=True, text=True).stdout
    assert version(["shfmt", "--version"]) == said.strip().removeprefix("v")


def test_version_mismatch_warns_in_one_line(scripts):
    from tasks.lib.programs import version

    def tool_version(path):
        return version([path, "--version"])

    shellcheck_version = tool_version(shutil.which("shellcheck"))
    (scripts.root / ".tool-versions").write_text(f"nodejs 20.14.0\nshfmt 0.0.1\nshellcheck {shellcheck_version}\n")
    out = scripts.inv("lint.sh", "-p", "scripts/clean.sh")
    assert out.returncode == 0, out.stdout + out.stderr
    warnings = [line for line in out.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, out.stderr
    assert warnings[0].startswith(f"warning: shfmt {tool_version(shutil.which('shfmt'))} (")
    assert "differs from .tool-versions (shfmt 0.0.1)" in warnings[0]
    set_lint(scripts, tool_versions="")
    assert "warning:" not in scripts.inv("lint.sh", "-p", "scripts/clean.sh").stderr


def test_parse_error_is_a_finding(scripts):
    (scripts.root / "scripts/broken.sh").write_text("#!/usr/bin/env bash\nset -euo pipefail\nif then fi (\n")
    out = scripts.inv("lint.sh", "-p", "scripts/broken.sh")
    assert out.returncode == 1
    assert "scripts/broken.sh:3:1: error:" in out.stdout
    assert "(shfmt could not parse it)" in out.stdout


def test_precommit_hook_runs_the_same_check(scripts):
    """The hook's entry, called the way pre-commit calls it (the files appended)."""
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    (hook,) = config["repos"][0]["hooks"]
    assert hook["language"] == "system" and hook["require_serial"] is True
    bindir = scripts.root / "bin"
    bindir.mkdir()
    inv = bindir / "inv"
    inv.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m invoke "$@"\n')
    inv.chmod(0o755)
    env = {**scripts.env, "PATH": f"{bindir}{os.pathsep}{scripts.env['PATH']}"}
    files = ["scripts/with space.sh", "scripts/clean.sh", "scripts/bin/helper.py", "scripts/vendor/third_party.sh", "invoke.yaml"]
    proc = subprocess.run([*shlex.split(hook["entry"]), *files], cwd=scripts.root, env=env, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    task = scripts.inv("lint.sh", "-p", "scripts/with space.sh", "-p", "scripts/clean.sh")
    assert proc.stdout == task.stdout
    assert proc.stdout.splitlines()[-1] == "lint.sh: 2 files checked, 1 with findings (1 shellcheck, 0 not formatted), 0 tip warnings"


def test_this_repositorys_own_scripts_pass():
    """Our scripts pass, held to their shebangs' tips (the test image's entrypoint and
    the umbrella fixture's scripts are #!/bin/sh with set -eu; nothing in invoke.yaml
    says so). The suite's own fixtures are linted only when named."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")}
    named = ["-p", "tests/images", "-p", "tests/fixtures/umbrella"]
    out = subprocess.run([sys.executable, "-m", "invoke", "lint.sh", "--strict", *named], cwd=REPO, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[-1].endswith(" 0 with findings (0 shellcheck, 0 not formatted), 0 tip errors")
    # Named, the deliberately bad fixtures are checked (and fail); unnamed, never.
    bad = subprocess.run(
        [sys.executable, "-m", "invoke", "lint.sh", "-p", "tests/fixtures/scripts"], cwd=REPO, capture_output=True, text=True, env=env
    )
    assert bad.returncode == 1 and "tests/fixtures/scripts/warning.sh:5:1: warning:" in bad.stdout
    whole = subprocess.run([sys.executable, "-m", "invoke", "lint.sh", "-p", "tests"], cwd=REPO, capture_output=True, text=True, env=env)
    assert whole.returncode == 0 and "tests/fixtures" not in whole.stdout, whole.stdout + whole.stderr


def _fake_tool(root: Path, name: str, body: str) -> Path:
    tool = root / name
    tool.write_text(f"#!/bin/sh\n{body}\n")
    tool.chmod(0o755)
    return tool


def test_tool_failure_and_bad_settings_are_one_line(scripts):
    broken = _fake_tool(scripts.root, "broken-shellcheck", "echo 'boom: cannot start' >&2\nexit 3")
    no_pins = {"INVOKE_LINT_TOOL_VERSIONS": ""}
    out = scripts.inv("lint.sh", "-p", "scripts/clean.sh", env={"INVOKE_LINT_SHELLCHECK": "./broken-shellcheck", **no_pins})
    assert out.returncode == 1
    assert out.stderr.strip().startswith(f"shellcheck ({broken}) failed with exit code 3 (boom: cannot start). Install: ")
    assert len(out.stderr.strip().splitlines()) == 1
    out = scripts.inv("lint.sh", env={"INVOKE_LINT_SEVERITY": "loud"})
    assert out.returncode == 1
    assert out.stderr.strip() == (
        "setting lint.severity = 'loud' (from INVOKE_LINT_SEVERITY) is not one of error, warning, info, style;"
        " fix it in invoke.yaml (lint: {severity: ...}) or INVOKE_LINT_SEVERITY"
    )


def test_shellcheck_without_json1_is_one_line(scripts):
    """A configured shellcheck whose -f json1 output does not parse (older than 0.7)."""
    old = _fake_tool(scripts.root, "old-shellcheck", "echo 'scripts/clean.sh:1:1: note: hi [SC1000]'\nexit 1")
    out = scripts.inv(
        "lint.sh", "-p", "scripts/clean.sh", env={"INVOKE_LINT_SHELLCHECK": "./old-shellcheck", "INVOKE_LINT_TOOL_VERSIONS": ""}
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"shellcheck ({old}) printed no -f json1 output lint.sh can read (")
    assert "lint.sh needs shellcheck 0.7 or newer" in lines[0]
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("where", ["env", "invoke.yaml"])
def test_a_bad_jobs_setting_is_one_line(scripts, where):
    if where == "env":
        out = scripts.inv("lint.sh", env={"INVOKE_LINT_JOBS": "two"})
        named = "INVOKE_LINT_JOBS"
    else:
        set_lint(scripts, jobs="two")
        out = scripts.inv("lint.sh")
        named = str(scripts.root / "invoke.yaml")
    assert out.returncode == 1, out.stdout + out.stderr
    text = out.stdout + out.stderr
    assert "lint.jobs" in text and named in text and "INVOKE_LINT_JOBS" in text
    assert "Traceback" not in text
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_this_repository_passes_its_own_lint():
    # `inv lint.sh` on this repository as it is: the suite's own scripts (.ci/, the test
    # image) are held to the rules it enforces on Firezone's; its tests/fixtures folder
    # (bad scripts on purpose) is skipped from code, with no setting in invoke.yaml.
    assert "lint" not in (yaml.safe_load((REPO / "invoke.yaml").read_text()) or {})
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")}
    proc = subprocess.run([sys.executable, "-m", "invoke", "lint.sh", "--strict"], cwd=REPO, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ", 0 with findings" in proc.stdout
    assert "tests/fixtures" not in proc.stdout
