"""`lfmgym demo --model NAME --seed N`: the embedded config of each demo, without running one."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfmgym.stages.demo import DEMO_MODELS, demo_config_path, load_demo_config

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("model", sorted(DEMO_MODELS))
def test_each_demo_ships_its_config_and_the_editable_copy_matches(model):
    assert (REPO / "configs" / DEMO_MODELS[model]).read_text() == demo_config_path(model).read_text()
    cfg = load_demo_config(model=model)
    assert cfg["model"]["name"] == model and cfg["seed"] == 0
    assert set(cfg["envs"]) >= {"math", "math_calculator", "tool_calling"}


def test_seed_changes_only_the_seed_and_the_real_model_uses_json_tools():
    base, other = load_demo_config(model="smollm2-135m"), load_demo_config(model="smollm2-135m", seed=2)
    assert other.seed == 2 and {**other.to_dict(), "seed": 0} == base.to_dict()
    assert all(e["kwargs"]["tool_format"] == "json" for e in base["envs"].values())


def test_cli_rejects_an_unknown_demo_model_and_a_bad_seed(capsys):
    from lfmgym.cli import main

    assert main(["demo", "--model", "gpt-9"]) == 2
    assert "choose one of" in capsys.readouterr().err
    assert main(["demo", "--seed", "-1", "--out", "unused"]) == 2
    assert "seed" in capsys.readouterr().err
