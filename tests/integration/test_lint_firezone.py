"""`inv lint.sh` and `inv lint.install-hook` on a tree shaped like Firezone's today
(tests/fixtures/firezone_scripts): an EEx template named env.sh.eex, #!/bin/sh release
scripts without a suffix, bash dev scripts, a generated gradlew its shellcheck hook
excludes (its shfmt hook does not), and .github/pre-commit-config.yaml. Real shellcheck, shfmt and git; real
pre-commit when it is installed."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from invoke.util import yaml

from tests.integration.conftest import FIXTURES, GIT_ENV, git, make_project, missing, require_linters

pytestmark = pytest.mark.integration

TREE = FIXTURES / "firezone_scripts"
CONFIG = ".github/pre-commit-config.yaml"
# Executable in Firezone (git mode 100755): set here too, whatever the checkout did.
EXECUTABLE = (
    "elixir/rel/overlays/bin/bootstrap",
    "elixir/rel/overlays/bin/server",
    "elixir/rel/overlays/bin/migrate",
    "kotlin/android/gradlew",
    "website/scripts/redirects.py",
)
SCRIPTS = [
    "elixir/rel/overlays/bin/bootstrap",
    "elixir/rel/overlays/bin/migrate",
    "elixir/rel/overlays/bin/server",
    "kotlin/android/gradlew",
    "scripts/build/package.sh",
    "scripts/tests/direct-curl.sh",
    "scripts/tests/lib.sh",
]
SKIPPED = "kotlin/android/gradlew: shellcheck skipped (exclude of hook shellcheck in .github/pre-commit-config.yaml)"
CLEAN = "lint.sh: 7 files checked, 0 with findings (0 shellcheck, 0 not formatted), 0 tip warnings"
MINIMAL_TIP = "sh scripts (minimal environments: Docker images, releases)"


@pytest.fixture(autouse=True)
def _linters():
    require_linters()


@pytest.fixture
def firezone(tmp_path):
    """The suite dropped into a Firezone-shaped checkout; only Firezone's files tracked."""
    project = make_project(tmp_path, umbrella=False)
    shutil.copytree(TREE, project.root, dirs_exist_ok=True)
    for rel in EXECUTABLE:
        (project.root / rel).chmod(0o755)
    git(project.root, "init", "-q")
    git(project.root, "add", ".github", "elixir", "scripts", "kotlin", "website")
    # The first task of a checkout says one line about .git/info/exclude; get it behind us.
    project.inv("lint.sh", "-p", "scripts/tests/lib.sh", check=True)
    return project


def firezone_bytes(root: Path) -> dict[str, bytes]:
    return {rel: (root / rel).read_bytes() for rel in git(root, "ls-files", "-z").split("\0") if rel}


def inv_shim(root: Path) -> dict[str, str]:
    """PATH with an `inv` that runs this Python's invoke, as an activated venv would."""
    bindir = root.parent / "bin"
    bindir.mkdir(exist_ok=True)
    shim = bindir / "inv"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m invoke "$@"\n')
    shim.chmod(0o755)
    return {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}


# ------------------------------------------------------------- lint.sh


def test_lint_passes_where_firezones_hooks_pass(firezone):
    out = firezone.inv("lint.sh")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines() == [SKIPPED, CLEAN]
    assert firezone.inv("lint.sh", "--strict").returncode == 0
    # Which files: typed as pre-commit types them.
    from tasks.lib.shlint import scripts

    assert scripts.discover(firezone.root) == SCRIPTS


def test_each_hooks_exclude_keeps_files_from_its_own_tool_only(firezone):
    # As pre-commit runs them: gradlew is kept from shellcheck (it would fail: SC2068),
    # not from shfmt, whose hook has no exclude; so a misformatted gradlew is reported.
    gradlew = firezone.root / "kotlin/android/gradlew"
    gradlew.write_text(gradlew.read_text().replace("    echo $arg", "  echo $arg"))
    out = firezone.inv("lint.sh")
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert "kotlin/android/gradlew: not formatted (shfmt -i 4 -d):" in lines and SKIPPED in lines
    assert not any(line.startswith("kotlin/android/gradlew:4:") for line in lines)  # no shellcheck finding, no tip
    assert lines[-1] == "lint.sh: 7 files checked, 1 with findings (0 shellcheck, 1 not formatted), 0 tip warnings"


def test_the_template_would_fail_both_tools_but_is_not_a_script(firezone):
    # What the issue saw: shellcheck flags env.sh.eex and shfmt would rewrite it.
    template = firezone.root / "elixir/rel/env.sh.eex"
    checked = subprocess.run(["shellcheck", "--severity=warning", "-f", "gcc", str(template)], capture_output=True, text=True)
    assert checked.returncode == 1 and checked.stdout.count(": warning: ") >= 5, checked.stdout
    assert subprocess.run(["shfmt", "-i", "4", "-d", str(template)], capture_output=True).returncode == 1
    # Named, or executable, it is still a template.
    template.chmod(0o755)
    out = firezone.inv("lint.sh", "-p", "elixir/rel/env.sh.eex", "-p", "elixir/rel/vm.args.eex", "-p", "website")
    assert out.returncode == 0 and out.stdout.startswith("lint.sh: 0 files checked"), out.stdout + out.stderr


def test_fix_leaves_the_template_and_every_clean_file_byte_identical(firezone):
    before = firezone_bytes(firezone.root)
    assert "elixir/rel/env.sh.eex" in before
    out = firezone.inv("lint.sh", "--fix")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "reformatted (shfmt" not in out.stdout and "env.sh.eex" not in out.stdout
    assert firezone_bytes(firezone.root) == before


def test_a_sh_script_without_set_eu_gets_the_minimal_tip(firezone):
    server = firezone.root / "elixir/rel/overlays/bin/server"
    server.write_text(server.read_text().replace("set -eu\n", "set -e\n"))  # as Firezone's are today
    lib = firezone.root / "scripts/tests/lib.sh"
    lib.write_text(lib.read_text().replace("set -euo pipefail\n", "set -eu\n"))
    out = firezone.inv("lint.sh")
    assert out.returncode == 0, out.stdout + out.stderr  # tips warn unless --strict
    lines = out.stdout.splitlines()
    assert (
        f"elixir/rel/overlays/bin/server:4: tip warning: no 'set -eu' before the first command (missing -u); {MINIMAL_TIP} use it" in lines
    )
    assert not any(line.startswith("elixir/rel/overlays/bin/server") and "dev and test" in line for line in lines)
    assert (
        "scripts/tests/lib.sh:5: tip warning: no 'set -euo pipefail' before the first command (missing pipefail); dev and test scripts use it"
        in lines
    )
    assert lines[-1] == "lint.sh: 7 files checked, 0 with findings (0 shellcheck, 0 not formatted), 2 tip warnings"
    strict = firezone.inv("lint.sh", "--strict")
    assert strict.returncode == 1 and "server:4: tip error:" in strict.stdout
    # lint.minimal_paths still overrides the shebang: a bash script listed there.
    settings = firezone.root / "invoke.yaml"
    data = yaml.safe_load(settings.read_text()) or {}
    data["lint"] = {"minimal_paths": ["scripts/build/*"]}
    settings.write_text(yaml.safe_dump(data))
    out = firezone.inv("lint.sh", "-p", "scripts/build")
    assert (
        "scripts/build/package.sh:1: tip warning: starts with '#!/usr/bin/env bash'; scripts for Docker images and minimal systems (setting lint.minimal_paths) start with '#!/bin/sh'"
        in out.stdout
    )


def test_the_configs_top_level_exclude_is_honoured(firezone):
    vendored = firezone.root / "third_party/vendored.sh"
    vendored.parent.mkdir()
    vendored.write_text("#!/bin/bash\nx=1\nif true;then echo $x;fi\n")
    git(firezone.root, "add", "third_party")
    failing = firezone.inv("lint.sh")
    assert failing.returncode == 1 and "third_party/vendored.sh: not formatted" in failing.stdout
    config = firezone.root / CONFIG
    config.write_text("exclude: ^third_party/\n" + config.read_text())
    out = firezone.inv("lint.sh")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "third_party/vendored.sh: skipped (exclude of the top level of .github/pre-commit-config.yaml)" in out.stdout
    assert out.stdout.splitlines()[-1] == CLEAN


def test_a_broken_config_is_one_warning_and_skips_nothing(firezone):
    (firezone.root / CONFIG).write_text("repos:\n  - repo: [\n")
    out = firezone.inv("lint.sh")
    assert out.returncode == 1  # gradlew is checked now, and fails
    assert out.stderr.splitlines()[0] == (
        "warning: .github/pre-commit-config.yaml is not valid YAML (expected the node content, but found"
        " '<stream end>' at line 3); lint.sh does not apply its excludes"
    )
    assert "kotlin/android/gradlew" in out.stdout


# ------------------------------------------------------------- install-hook


def test_install_hook_adds_it_once_and_keeps_every_other_byte(firezone):
    config = firezone.root / CONFIG
    before = config.read_text()
    dry = firezone.inv("--dry", "lint.install-hook")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert dry.stdout.startswith("[dry] would add the lint-sh hook to .github/pre-commit-config.yaml, lines ")
    assert "[dry]     +       - id: lint-sh" in dry.stdout.splitlines()
    assert config.read_text() == before

    out = firezone.inv("lint.install-hook")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(".github/pre-commit-config.yaml: added the lint-sh hook (lines ")
    assert lines[1] == (
        "pre-commit runs it with the config's other hooks: pre-commit run --config .github/pre-commit-config.yaml"
        " (or pre-commit install --config .github/pre-commit-config.yaml)"
    )
    after = config.read_text()
    assert after.startswith(before)  # comments, quoting, order: untouched
    data = yaml.safe_load(after)
    assert data["repos"][:-1] == yaml.safe_load(before)["repos"]
    (added,) = data["repos"][-1]["hooks"]
    assert added["id"] == "lint-sh" and added["types"] == ["shell"] and added["language"] == "system"
    assert added["require_serial"] is True and "exclude" not in added and "files" not in added

    again = firezone.inv("lint.install-hook")
    assert again.returncode == 0
    assert again.stdout.startswith(".github/pre-commit-config.yaml: the lint-sh hook is already there (line ")
    assert again.stdout.rstrip().endswith("; nothing changed") and len(again.stdout.splitlines()) == 1
    assert config.read_text() == after
    # The repository's own shellcheck hook still decides about gradlew; ours is not a shellcheck hook.
    assert firezone.inv("lint.sh").stdout.splitlines() == [SKIPPED, CLEAN]


def test_the_hooks_entry_runs_lint_sh_on_the_files_it_is_given(firezone):
    firezone.inv("lint.install-hook", check=True)
    hooks = yaml.safe_load((firezone.root / CONFIG).read_text())["repos"][-1]["hooks"]
    entry = shlex.split(hooks[0]["entry"])
    bad = firezone.root / "scripts/tests/with space.sh"
    bad.write_text("#!/usr/bin/env bash\nset -euo pipefail\nunused=1\n")
    files = ["scripts/tests/with space.sh", "scripts/tests/lib.sh", "elixir/rel/overlays/bin/server", "elixir/rel/env.sh.eex"]
    env = {**firezone.env, **inv_shim(firezone.root)}
    # As pre-commit runs it: from the top of the work tree, the file names appended.
    proc = subprocess.run([*entry, *files], cwd=firezone.root, env=env, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    task = firezone.inv("lint.sh", *[arg for f in files for arg in ("-p", f)])
    assert proc.stdout == task.stdout
    assert "scripts/tests/with space.sh:3:1: warning: unused appears unused" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "lint.sh: 3 files checked, 1 with findings (1 shellcheck, 0 not formatted), 0 tip warnings"
    ok = subprocess.run([*entry, "scripts/tests/lib.sh"], cwd=firezone.root, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_install_hook_without_a_config(firezone):
    (firezone.root / CONFIG).unlink()
    out = firezone.inv("lint.install-hook")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip() == (
        f"no pre-commit config in {firezone.root} (looked for .pre-commit-config.yaml, .github/pre-commit-config.yaml;"
        " setting lint.pre_commit_configs). Fix: `inv lint.install-hook --create` writes .pre-commit-config.yaml"
        " (pre-commit's default place), or name your config in invoke.yaml (lint: {pre_commit_configs: [...]})"
    )
    assert not (firezone.root / ".pre-commit-config.yaml").exists()
    created = firezone.inv("lint.install-hook", "--create")
    assert created.returncode == 0, created.stdout + created.stderr
    assert (
        created.stdout.splitlines()[0]
        == ".pre-commit-config.yaml: created with the lint-sh hook: `inv lint.sh` on the shell scripts being committed"
    )
    (repo,) = yaml.safe_load((firezone.root / ".pre-commit-config.yaml").read_text())["repos"]
    assert repo["repo"] == "local" and repo["hooks"][0]["id"] == "lint-sh"


# ------------------------------------------------------------- against pre-commit itself


def _beside_python(name: str) -> str | None:
    """A console script of this venv, else one on PATH."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def test_real_pre_commit_runs_the_hook(firezone, tmp_path):
    pre_commit = _beside_python("pre-commit")
    if not pre_commit:
        missing("pre-commit (pip install '.[test]')")
    # Only local hooks, so that pre-commit clones nothing (offline): the config
    # install-hook creates when the repository has none.
    (firezone.root / CONFIG).unlink()
    firezone.inv("lint.install-hook", "--create", check=True)
    bad = firezone.root / "scripts/tests/bad.sh"
    bad.write_text("#!/usr/bin/env bash\nset -euo pipefail\nunused=1\n")
    git(firezone.root, "add", "-A", ".pre-commit-config.yaml", "scripts", "elixir")
    env = {**firezone.env, **inv_shim(firezone.root), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), **GIT_ENV}

    def run(*files: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [pre_commit, "run", "--color", "never", "--files", *files],
            cwd=firezone.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    clean = run("scripts/tests/lib.sh", "elixir/rel/overlays/bin/server", "elixir/rel/env.sh.eex", "elixir/rel/vm.args.eex")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "shell scripts: inv lint.sh" in clean.stdout and "Passed" in clean.stdout
    failed = run("scripts/tests/bad.sh", "scripts/tests/lib.sh", "elixir/rel/env.sh.eex")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "scripts/tests/bad.sh:3:1: warning: unused appears unused" in failed.stdout
    # pre-commit's typing kept the template from the hook: two files reached lint.sh.
    assert "lint.sh: 2 files checked, 1 with findings (1 shellcheck, 0 not formatted), 0 tip warnings" in failed.stdout


def test_identify_types_the_tree_as_lint_sh_does(firezone):
    identify = _beside_python("identify-cli")
    if not identify:
        missing("identify-cli (pip install '.[test]': pre-commit brings it)")
    from tasks.lib.shlint import scripts

    for rel in firezone_bytes(firezone.root):
        said = subprocess.run([identify, rel], cwd=firezone.root, capture_output=True, text=True, check=True).stdout
        assert ("shell" in json.loads(said)) is scripts.is_script(firezone.root, rel), rel
