"""The report: what fails, the per-file lines and the summary; settings read by run."""

from __future__ import annotations

import pytest
from invoke import Config, Context, Exit

from tasks.lib import config as lib_config
from tasks.lib.shlint import run
from tasks.lib.shlint.run import FileResult, Report
from tasks.lib.shlint.tips import Tip
from tasks.lib.shlint.tools import Finding


def _report(fix=False):
    files = [
        FileResult("clean.sh"),
        FileResult("w.sh", findings=[Finding("w.sh", 3, 1, "warning", "SC2034", "u appears unused.")]),
        FileResult("m.sh", diff="--- m.sh.orig\n+++ m.sh\n@@ -1 +1 @@\n-a\n+b\n"),
        FileResult("t.sh", tips=[Tip("t.sh", 1, "starts with '#!/bin/bash'")]),
    ]
    return Report(files, fix=fix, indent=4)


def test_render_and_summary():
    report = _report()
    lines = run.render(report, strict=False)
    assert lines == [
        "w.sh:3:1: warning: u appears unused. [SC2034]",
        "m.sh: not formatted (shfmt -i 4 -d):",
        "    --- m.sh.orig",
        "    +++ m.sh",
        "    @@ -1 +1 @@",
        "    -a",
        "    +b",
        "t.sh:1: tip warning: starts with '#!/bin/bash'",
    ]
    assert report.failed() and run.summary(report, strict=False) == (
        "lint.sh: 4 files checked, 2 with findings (1 shellcheck, 1 not formatted), 1 tip warnings"
    )
    assert run.summary(report, strict=True) == ("lint.sh: 4 files checked, 3 with findings (1 shellcheck, 1 not formatted), 1 tip errors")


def test_tips_alone_fail_only_when_strict():
    report = Report([FileResult("t.sh", tips=[Tip("t.sh", 1, "x")])])
    assert not report.failed(strict=False)
    assert report.failed(strict=True)


def test_summary_after_fix():
    report = _report(fix=True)
    report.files[2].diff = ""
    report.files[2].reformatted = True
    assert run.render(report, strict=False)[1] == "m.sh: reformatted (shfmt -i 4 -w)"
    assert run.summary(report, strict=False) == ("lint.sh: 4 files checked, 1 reformatted, 1 with findings (1 shellcheck), 1 tip warnings")


def _context(tmp_path, settings: dict) -> Context:
    """A context with the lint defaults and ``settings`` in tmp_path/invoke.yaml."""
    from invoke.vendor import yaml

    from tasks.lint import ns

    (tmp_path / "invoke.yaml").write_text(yaml.safe_dump({"lint": settings}))
    config = Config(project_location=str(tmp_path))
    config.load_collection(ns.configuration())
    config.load_project()
    return Context(config)


@pytest.mark.parametrize("key, value", [("jobs", "two"), ("indent", -1), ("strict", "maybe"), ("severity", "loud")])
def test_a_bad_setting_is_one_line_before_anything_runs(tmp_path, key, value):
    c = _context(tmp_path, {key: value})
    # Every setting is read before the task does anything.
    with pytest.raises(Exit) as e:
        run.Settings.read(lib_config.settings(c))
    message = e.value.message
    assert message.startswith(f"setting lint.{key} = {value!r} (from {tmp_path / 'invoke.yaml'}) is not ")
    assert message.endswith(f"fix it in invoke.yaml (lint: {{{key}: ...}}) or INVOKE_LINT_{key.upper()}")
    assert "\n" not in message


def test_the_settings_read_once():
    from tasks.lint import ns

    config = Config(overrides={"run": {"dry": True}, "lint": {"exclude": "vendor", "jobs": "2"}})
    config.load_collection(ns.configuration())
    s = run.Settings.read(lib_config.settings(Context(config)))
    assert s == run.Settings(exclude=("vendor",), jobs=2, dry=True)


def test_skipped_files_are_listed_then_counted():
    top = {f"v/{i:02}.sh": "exclude of the top level of c.yaml" for i in range(12)}
    lines = run.render_skipped({"shellcheck": top, "shfmt": top})
    assert lines[0] == "v/00.sh: skipped (exclude of the top level of c.yaml)"
    assert len(lines) == run.SHOW_SKIPPED + 1
    assert lines[-1] == "... and 2 more skipped by the repository's pre-commit config"
    assert run.render_skipped({"shellcheck": {}, "shfmt": {}}) == []
    one_tool = {"shellcheck": {"k/gradlew": "exclude of hook shellcheck in c.yaml"}, "shfmt": {}}
    assert run.render_skipped(one_tool) == ["k/gradlew: shellcheck skipped (exclude of hook shellcheck in c.yaml)"]


def test_skipped_by_pre_commit_reads_the_configs(tmp_path, monkeypatch, capsys):
    from tasks.lib.shlint import scripts

    monkeypatch.setattr(scripts, "git_toplevel", lambda root: None)
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github/pre-commit-config.yaml").write_text(
        "repos:\n  - repo: x\n    rev: v1\n    hooks:\n      - id: shellcheck\n        exclude: ^.*/gradlew$\n"
    )
    names = [".pre-commit-config.yaml", ".github/pre-commit-config.yaml"]
    skipped = run.skipped_by_pre_commit(tmp_path, ["a.sh", "k/gradlew"], names)
    assert skipped == {"shellcheck": {"k/gradlew": "exclude of hook shellcheck in .github/pre-commit-config.yaml"}, "shfmt": {}}
    assert run.skipped_by_pre_commit(tmp_path, ["k/gradlew"], []) == {"shellcheck": {}, "shfmt": {}}
    (tmp_path / ".pre-commit-config.yaml").write_text("repos: [\n")
    # The readable config still applies.
    assert run.skipped_by_pre_commit(tmp_path, ["a.sh", "k/gradlew"], names) == skipped
    err = capsys.readouterr().err
    assert err.startswith("warning: .pre-commit-config.yaml is not valid YAML (") and err.endswith(
        "; lint.sh does not apply its excludes\n"
    )
