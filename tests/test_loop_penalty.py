"""GRPO's episode-loop penalty: a component of the engine's one weighted sum, weighted grpo.loop_weight."""

from __future__ import annotations

import pytest

from lfmgym import Task
from lfmgym.backends.base import Generation
from lfmgym.engine import RolloutEngine
from lfmgym.stages.grpo import EpisodeReward, grpo_extra_rewards
from tests.example_env import CapitalsEnv

CALL = "<|tool_call_start|>[capital(country='Peru')]<|tool_call_end|>"


class Scripted:
    """A text policy: task ``i`` plays ``scripts[i]`` turn by turn (short turns: no loop inside one)."""

    def __init__(self, scripts):
        self.scripts = scripts

    def act(self, observations, tasks):
        out = []
        for messages, task in zip(observations, tasks):
            turn = sum(m["role"] == "assistant" for m in messages)
            out.append(Generation(self.scripts[task.meta["script"]][turn], finished=True))
        return out


def _play(loop_weight):
    looping = Task(id="loops", prompt="What is the capital of Peru?", answer="Lima",
                   meta={"country": "peru", "script": 0})
    solved = Task(id="solves", prompt="What is the capital of Peru?", answer="Lima",
                  meta={"country": "peru", "script": 1})
    policy = Scripted([[CALL] * 4, [CALL, "Lima"]])
    engine = RolloutEngine(policy, extra_rewards=grpo_extra_rewards(ngram_weight=0.0, loop_weight=loop_weight))
    return engine.play(lambda: CapitalsEnv(max_turns=4), [looping, solved], [0, 1])


@pytest.mark.parametrize("weight", [0.5, 2.0])
def test_a_looping_episode_scores_lower_by_exactly_the_weight(weight):
    off, on = _play(0.0), _play(weight)
    loop_off, solved_off = off
    loop_on, solved_on = on
    # The same call with the same result, four times: a loop across turns, not inside a turn.
    assert loop_on.episode_loop and not loop_on.doom_loop and loop_on.loop_kind != "none"
    assert loop_on.components["episode_loop"] == -1.0
    assert loop_on.reward == pytest.approx(loop_off.reward - weight)
    assert not solved_on.episode_loop and solved_on.components["episode_loop"] == 0.0
    assert solved_on.reward == solved_off.reward == pytest.approx(1.0)


def test_weight_zero_logs_the_component_without_adding_it():
    looping, solved = _play(0.0)
    assert looping.components["episode_loop"] == -1.0
    assert looping.reward == pytest.approx(CapitalsEnv().total_reward(looping.components))  # the env's weights only
    logged = {}
    rewards = EpisodeReward()(None, None, env_reward=[looping.reward, solved.reward],
                              env_name=["capitals", "capitals"],
                              components=[looping.components, solved.components],
                              doom_loop=[looping.doom_loop, solved.doom_loop], success=[0.0, 1.0],
                              loop_tokens_saved=[0, 0], log_metric=logged.__setitem__)
    assert rewards == [looping.reward, solved.reward]
    assert logged["env/episode_loop"] == pytest.approx(-0.5)
    assert logged["episodes/loop_tokens_saved"] == 0.0


def test_the_pipeline_config_carries_the_weight():
    from lfmgym.stages.config import ConfigError, load_config

    cfg = load_config({"envs": {"math": {}}, "grpo": {"loop_weight": 0.25, "stop_loops": True}})
    assert cfg.grpo.loop_weight == 0.25 and cfg.grpo.stop_loops is True
    assert load_config({"envs": {"math": {}}}).grpo.loop_weight == 0.0
    with pytest.raises(ConfigError, match="grpo.loop_weight"):
        load_config({"envs": {"math": {}}, "grpo": {"loop_weight": -1.0}})


def test_stop_loops_with_vllm_is_a_config_error(tmp_path):
    from lfmgym.stages.config import ConfigError, load_config
    from lfmgym.stages.grpo import grpo_args

    cfg = load_config({"envs": {"math": {}}, "grpo": {"stop_loops": True, "use_vllm": True}})
    with pytest.raises(ConfigError, match="grpo.stop_loops: not available with grpo.use_vllm"):
        grpo_args(cfg, tmp_path)
