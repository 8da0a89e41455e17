"""The CLI: every command module loads, core commands run."""

import importlib
import types

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


def test_plugins_table_shows_third_party_text_verbatim(monkeypatch, capsys):
    # A broken plugin's error is third-party text; '[/]' in it must not be read as rich markup.
    from lfmgym import plugins

    bad = types.SimpleNamespace(lfmgym_environments=lambda: (_ for _ in ()).throw(RuntimeError("bad [/] [bold]x")))
    reg = plugins.load_registry(extra_plugins=[("weird[name]", bad)], entry_points=False, quiet=True)
    monkeypatch.setattr(plugins, "_REGISTRY", reg)
    assert main(["plugins"]) == 1
    out = capsys.readouterr().out
    assert "weird[name]" in out and "[/]" in out and "[bold]x" in out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["play", "math", "--env-arg", "foo=1"], "unexpected keyword argument 'foo'"),
        (["play", "math", "--env-arg", "tasks=3"], "tasks: expected a list of lfmgym.Task"),
        (["env", "show", "math", "--env-arg", "tasks=[1]"], "tasks: expected lfmgym.Task items"),
        (["play", "math", "--policy", "/nonexistent/model-dir"], "no such file or directory"),
    ],
)
def test_bad_env_args_and_model_paths_are_one_line_errors(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["play", "math", "--episodes", "0"], ["check", "math", "--junk", "-5"]])
def test_counts_must_be_positive(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and "must be >= 1" in capsys.readouterr().err


def test_missing_bubblewrap_is_a_one_line_error(monkeypatch, capsys):
    from lfmgym.sandbox import isolation

    def no_bwrap():
        raise isolation.SandboxUnavailable("bubblewrap (bwrap) is not installed, so model-written code cannot be isolated.")

    monkeypatch.setattr(isolation, "bwrap_path", no_bwrap)
    assert main(["play", "long_context", "--policy", "oracle"]) == 2
    err = capsys.readouterr().err
    assert "bubblewrap (bwrap) is not installed" in err and "Traceback" not in err


def test_transcript_with_markup_is_printed_verbatim(capsys):
    # Task ids and model text are data: a '[/]' must not crash or vanish from the transcript.
    from lfmgym.env import Task

    from lfmgym import plugins

    task = Task(id="t[/]1", prompt="Say [bold]a[/bold].", answer="a")
    reg = plugins.get_registry()
    math_factory = reg.envs["math"].factory
    reg.envs["markup_env"] = plugins.Spec("markup_env", lambda **kw: math_factory(tasks=[task], **kw), "x")
    try:
        assert main(["play", "markup_env", "--policy", "random"]) == 0
    finally:
        del reg.envs["markup_env"]
    out = capsys.readouterr().out
    assert "t[/]1" in out and "Say [bold]a[/bold]." in out


def test_readme_commands_match_ci():
    """README gives a fresh machine two commands; .ci/run must run the same test command."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    readme = (repo / "README.md").read_text()
    ci = (repo / ".ci" / "run").read_text()
    assert "lfmgym demo" in readme
    test_cmd = "python -m pytest -q"
    assert f"    {test_cmd}\n" in readme and f"\n{test_cmd}\n" in ci
