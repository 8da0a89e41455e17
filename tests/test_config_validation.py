"""Config values a run would only trip over later are refused at load time, naming the field."""

from __future__ import annotations

import pytest

from lfmgym.stages.config import ConfigError, load_config


@pytest.mark.parametrize("overrides, message", [
    ({"seed": -1}, "seed: must be >= 0"),
    ({"seed": 2**70}, "seed: 1180591620717411303424 is out of the 64-bit integer range"),
    ({"eval.seed": 2**32}, "eval.seed: must be <= 4294967295"),
    ({"model.overrides.hidden_size": -5}, "model.overrides.hidden_size: expected an integer >= 1, got -5"),
    ({"model.overrides.num_hidden_layers": 2.5}, "model.overrides.num_hidden_layers: expected an integer"),
    ({"model.overrides.hidden_sise": 64}, "model.overrides.hidden_sise: not an Lfm2Config field"),
    ({"model.overrides.hidden_size": 65}, "model.overrides: hidden_size=65 is not divisible"),
    ({"sft.max_steps": 2**64}, "sft.max_steps: 18446744073709551616 is out of the 64-bit integer range"),
])
def test_bad_values_are_refused_naming_the_field(overrides, message):
    with pytest.raises(ConfigError) as info:
        load_config("configs/smoke.yaml", overrides)
    assert str(info.value).startswith(message), str(info.value)


def test_sound_overrides_still_load():
    cfg = load_config("configs/smoke.yaml", {"seed": 2**32 - 1, "model.overrides.num_hidden_layers": 3})
    assert cfg.seed == 2**32 - 1 and cfg.model.overrides["num_hidden_layers"] == 3
