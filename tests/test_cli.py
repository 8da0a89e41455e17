"""The CLI: every command module loads, core commands run."""

import importlib

import pytest

from lfmgym.cli import COMMAND_MODULES, main


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_every_command_module_exists(module):
    mod = importlib.import_module(module)
    assert callable(mod.add_commands)


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("plugins", "envs", "play", "check", "new-env", "demo", "pipeline", "eval", "loops", "model",
                "sandbox", "sweep", "calibrate", "corpus"):
        assert cmd in out, cmd


def test_envs_and_env_show(capsys):
    assert main(["envs"]) == 0
    assert "math_calculator" in capsys.readouterr().out
    assert main(["env", "show", "math_calculator", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "calculator" in out and "sample task" in out


def test_play_oracle_prints_transcript_and_reward(capsys):
    assert main(["play", "math_calculator", "--policy", "oracle", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "<|tool_call_start|>" in out and "reward 1" in out


def test_unknown_env_is_a_clean_error(capsys):
    assert main(["play", "nope"]) == 2
    assert "unknown env 'nope'" in capsys.readouterr().err


def test_new_env_refuses_bad_name(tmp_path, capsys):
    assert main(["new-env", "Bad-Name", "--dir", str(tmp_path / "x")]) == 2
    assert "lowercase" in capsys.readouterr().err
