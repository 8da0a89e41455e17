"""The pipeline config is a frozen, typed object built from one declaration: attributes, not dict
keys; nothing can be changed after loading; a wrong type names its dotted path; --show-config
and the JSON written to run directories come from the same types."""

from __future__ import annotations

import dataclasses
import json
import pickle
import typing

import pytest

from lfmgym.cli import main
from lfmgym.stages.config import ConfigError, JurySettings, PipelineConfig, describe, load_config
from lfmgym.stages.schema import Section, thaw

SMOKE = "configs/smoke.yaml"


def test_loaded_config_is_typed_and_frozen_all_the_way_down():
    cfg = load_config(SMOKE, {"envs.math.kwargs.weights": [1, {"a": 2}],
                              "dpo.jury.judges": [{"name": "hf", "kwargs": {"model": "tiny"}}]},
                      check_registry=False)  # `weights` is no math env argument: nested values to freeze
    assert isinstance(cfg, PipelineConfig) and isinstance(cfg.sft.learning_rate, float)
    assert cfg.stages == ("sft", "dpo", "grpo") and cfg.dpo.jury.judges[0].name == "hf"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.sft.learning_rate = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.dpo.jury.ngram.n = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.dpo.jury.judges[0].weight = 2.0
    with pytest.raises(TypeError):
        cfg.envs["math"] = cfg.envs["math_calculator"]  # the env map is read-only
    with pytest.raises(TypeError):
        cfg.envs["math"].kwargs["difficulty"] = 3  # and so are the free-form kwargs
    with pytest.raises(AttributeError):
        cfg.envs["math"].kwargs["weights"].append(3)  # a list in kwargs is a tuple
    with pytest.raises(TypeError):
        cfg.envs["math"].kwargs["weights"][1]["a"] = 3
    # What leaves the config for an env or TRL is a plain, mutable copy.
    plain = thaw(cfg.envs["math"].kwargs)
    plain["weights"].append(3)
    assert plain == {"difficulty": 2, "weights": [1, {"a": 2}, 3]}
    assert cfg.envs["math"].kwargs == {"difficulty": 2, "weights": [1, {"a": 2}]}


def test_wrong_types_fail_naming_the_dotted_path():
    cases = [
        ({"sft.lora.r": "big"}, "sft.lora.r: expected int, got str 'big'"),
        ({"envs.math.weight": True}, "envs.math.weight: expected float, got a boolean True"),
        ({"dpo.jury.judges": [{"name": "hf", "weight": "heavy"}]}, "dpo.jury.judges[0].weight: expected a number"),
        ({"dpo.jury.ngram.unit": "letter"}, "dpo.jury.ngram.unit: 'letter' is not one of ['word', 'token']"),
        ({"grpo.vllm_server_base_url": 8000}, "grpo.vllm_server_base_url: expected str, got int 8000"),
        ({"stages": "sft"}, "stages: expected a list, got str 'sft'"),
        ({"stages": ["sft", 3]}, "stages[1]: expected str, got int 3"),
        ({"envs.math.kwargs": [1]}, "envs.math.kwargs: expected a mapping"),
        ({"eval": 5}, "eval: expected a mapping, got int"),
        ({"model.precision": None}, "model.precision: must not be null"),
    ]
    for overrides, message in cases:
        with pytest.raises(ConfigError) as info:
            load_config(SMOKE, overrides)
        assert str(info.value).startswith(message), (overrides, str(info.value))


def test_overrides_apply_before_freezing_and_the_plain_form_round_trips():
    cfg = load_config(SMOKE)
    changed = load_config(cfg, {"grpo.learning_rate": 5e-5, "envs.math.kwargs.difficulty": 1})
    assert changed.grpo.learning_rate == 5e-5 and changed.envs["math"].kwargs["difficulty"] == 1
    assert cfg.grpo.learning_rate != 5e-5  # the object it came from is untouched
    plain = cfg.to_dict()
    assert type(plain["stages"]) is list and type(plain["envs"]["math"]["kwargs"]) is dict
    assert load_config(json.loads(json.dumps(plain))) == cfg
    assert pickle.loads(pickle.dumps(cfg)) == cfg
    # Scripts written against the plain dict still read it (read-only).
    assert cfg["grpo"]["learning_rate"] == cfg.grpo.learning_rate and "beta" in cfg.grpo
    # A section given as a mapping is checked the same way (the jury's settings).
    assert JurySettings.from_dict({"aggregate": "median"}, "dpo.jury").aggregate == "median"
    with pytest.raises(ConfigError, match=r"^dpo\.jury\.aggregat: unknown field"):
        JurySettings.from_dict({"aggregat": "median"}, "dpo.jury")


def _declared_paths(cls: type, prefix: str = "") -> list[str]:
    """Every field path, walked from the dataclass declarations themselves."""
    hints = typing.get_type_hints(cls)
    paths = []
    for f in dataclasses.fields(cls):
        hint, path = hints[f.name], f"{prefix}{f.name}"
        args = typing.get_args(hint)
        if isinstance(hint, type) and issubclass(hint, Section):
            paths += _declared_paths(hint, f"{path}.")
        elif args and isinstance(args[-1], type) and issubclass(args[-1], Section):  # Mapping[str, S]
            paths += [f"{path}.<name>", *_declared_paths(args[-1], f"{path}.<name>.")]
        elif args and isinstance(args[0], type) and issubclass(args[0], Section):  # tuple[S, ...]
            paths += [f"{path}[i]", *_declared_paths(args[0], f"{path}[i].")]
        else:
            paths.append(path)
    return paths


def test_show_config_lists_every_declared_field_with_its_type(capsys):
    assert main(["pipeline", "--show-config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    shown = {line.split("│")[1].strip(): line for line in lines if line.count("│") >= 4 and line.split("│")[1].strip()}
    declared = _declared_paths(PipelineConfig)
    assert len(declared) > 90 and "dpo.jury.judges[i].kwargs" in declared
    missing = [p for p in declared if p not in shown]
    assert not missing, missing
    assert "int >= 1" in shown["sft.max_steps"] and "1e-06" in shown["dpo.jury.tie_tolerance"]
    assert "mapping" in shown["envs.<name>.kwargs"] and "str | null" in shown["model.tokenizer"]
    types = {path: kind for path, kind, _, _ in describe()}  # the table's rows, unwrapped
    assert types["grpo.ngram.unit"] == "str (word|token)" and types["grpo.top_p"] == "float in [0.0, 1.0]"
    assert types["stages"] == "list[str]" and types["envs.<name>"] == "name -> settings"
