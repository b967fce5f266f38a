from pathlib import Path

import pytest
from invoke import Config, Exit, MockContext

from tasks.lib import programs
from tasks.lib.config import PROJECT_ROOT


def test_require_missing_program_is_one_line():
    with pytest.raises(Exit) as e:
        programs.require("fz-no-such-program", "elixir.mix", "Install Elixir.")
    assert e.value.message == "fz-no-such-program is not on PATH (setting elixir.mix). Fix: Install Elixir"
    assert (e.value.what, e.value.fix, e.value.setting) == (
        "fz-no-such-program is not on PATH (setting elixir.mix)",
        "Install Elixir",
        "elixir.mix",
    )


def test_describe_masks_env_and_shortens_cwd():
    line = programs.describe(
        ["mix", "phx.server"], PROJECT_ROOT / "elixir", {"STRIPE_SECRET_KEY": "sk_test_51HxAbCdEfGhIjKlMnOpabcd", "BILLING_ENABLED": "true"}
    )
    assert line == "(elixir) STRIPE_SECRET_KEY=sk_test_…abcd BILLING_ENABLED=true mix phx.server"


def test_run_runs_in_cwd_with_env_added_and_the_runs_token(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FZ_KEEP", "kept")
    out = tmp_path / "out"
    script = f'echo "$PWD $DATABASE_PORT $FZ_KEEP ${{FZ_INV_RUN:+token}}" > {out}'
    assert programs.run(MockContext(), ["sh", "-c", script], cwd=tmp_path, env={"DATABASE_PORT": "5432"}) == 0
    assert out.read_text().split() == [str(tmp_path), "5432", "kept", "token"]
    assert "DATABASE_PORT=5432 sh -c" in capsys.readouterr().out


def test_run_unset_removes_inherited_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("STATIC_SEEDS", "true")
    out = tmp_path / "out"
    programs.run(MockContext(), ["sh", "-c", f'echo "[${{STATIC_SEEDS:-}}]" > {out}'], cwd=tmp_path, unset=["STATIC_SEEDS"])
    assert out.read_text().strip() == "[]"


def test_run_failure_is_exit_with_code(tmp_path):
    with pytest.raises(Exit) as e:
        programs.run(MockContext(), ["sh", "-c", "exit 3"], cwd=tmp_path, what="mix setup")
    assert e.value.code == 3
    assert e.value.message.startswith("mix setup failed with exit code 3")


def test_run_missing_program_is_one_line(tmp_path):
    with pytest.raises(Exit) as e:
        programs.run(MockContext(), ["fz-no-such-program"], cwd=tmp_path)
    assert e.value.message.startswith("cannot run fz-no-such-program")


def test_run_dry_runs_nothing(capsys):
    c = MockContext(config=Config(overrides={"run": {"dry": True}}))
    assert programs.run(c, ["mix", "deps.get"], cwd=Path("/tmp")) is None
    assert "mix deps.get" in capsys.readouterr().out


def test_exec_in_replaces_the_process(tmp_path):
    import subprocess
    import sys

    code = (
        "from pathlib import Path\n"
        "from invoke import Context\n"
        "from tasks.lib import programs\n"
        f"programs.exec_in(Context(), ['sh', '-c', 'echo \"$PWD $FZ_X\"'], cwd=Path({str(tmp_path)!r}), env={{'FZ_X': 'y'}})\n"
        "print('not reached')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"$ ({tmp_path}) FZ_X=y sh -c 'echo \"$PWD $FZ_X\"'", f"{tmp_path} y"]
