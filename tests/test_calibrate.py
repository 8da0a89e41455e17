"""lfmgym calibrate: per-tier pass rates and the suggested tier mix (generic over envs)."""

import json

import pytest

from lfmgym.backends.base import Generation
from lfmgym.calibrate import Calibration, calibrate, signal_probability, suggest_mix
from lfmgym.cli import main
from lfmgym.env import Env, Task
from lfmgym.rollout import OraclePolicy


class EchoEnv(Env):
    """A toy env with three tiers: repeat the word; the scorer checks exact equality."""

    name = "echo"
    difficulties = (0, 1, 2)
    difficulty_names = {0: "easy", 1: "medium", 2: "hard"}
    reward_weights = {"correct": 1.0}
    default_max_turns = 1

    def generate_task(self, rng, difficulty):
        word = f"w{int(rng.integers(10**6))}"
        return Task(id=f"echo-{difficulty}-{word}", prompt=f"Say {word}.", answer=word, difficulty=difficulty)

    def score(self, task, episode):
        return {"correct": float((episode.final_answer or "").strip() == task.answer)}

    def demonstrate(self, task):
        return self.opening(task) + [{"role": "assistant", "content": task.answer}]


class TierSkillPolicy:
    """Always right on tier 0, right on every other task of tier 1, never right on tier 2."""

    def __init__(self):
        self.seen = {0: 0, 1: 0, 2: 0}

    def act(self, observations, tasks):
        out = []
        for task in tasks:
            k = self.seen[task.difficulty]
            self.seen[task.difficulty] += 1
            right = task.difficulty == 0 or (task.difficulty == 1 and k % 2 == 0)
            out.append(Generation(task.answer if right else "no idea"))
        return out


def test_signal_probability():
    assert signal_probability(0.0, 8) == 0.0 and signal_probability(1.0, 8) == 0.0
    assert signal_probability(0.5, 2) == pytest.approx(0.5)
    assert signal_probability(0.5, 8) == pytest.approx(1 - 2 / 256)
    assert signal_probability(0.2, 8) < signal_probability(0.5, 8)
    assert signal_probability(0.5, 1) == 0.0


def test_suggest_mix_weights_in_band_tiers_by_signal():
    mix, note = suggest_mix({0: 1.0, 1: 0.5, 2: 0.25, 3: 0.0}, band=(0.2, 0.8), group_size=4)
    assert set(mix) == {1, 2} and sum(mix.values()) == pytest.approx(1.0)
    s1, s2 = signal_probability(0.5, 4), signal_probability(0.25, 4)
    assert mix[1] == pytest.approx(s1 / (s1 + s2))
    assert "2 tier(s) in band" in note


def test_suggest_mix_without_any_tier_in_band_picks_the_closest():
    mix, note = suggest_mix({0: 1.0, 1: 0.9, 2: 0.0}, band=(0.2, 0.8))
    assert mix == {1: 1.0} and "too easy" in note
    mix, note = suggest_mix({0: 0.05, 1: 0.0}, band=(0.2, 0.8))
    assert mix == {0: 1.0} and "too hard" in note


def test_suggest_mix_ties_pick_the_hardest_easy_tier_and_the_easiest_hard_one():
    # A model that solves every tier must be pointed at the top tier, not the bottom one.
    mix, note = suggest_mix({0: 1.0, 1: 1.0, 2: 1.0}, band=(0.2, 0.8))
    assert mix == {2: 1.0} and "tier 2" in note and "too easy" in note
    mix, note = suggest_mix({0: 0.0, 1: 0.0, 2: 0.0}, band=(0.2, 0.8))
    assert mix == {0: 1.0} and "too hard" in note


@pytest.mark.parametrize("band", [(0.8, 0.2), (-0.1, 0.5), (0.2, 1.5), (0.5,)])
def test_bad_band_is_rejected(band):
    with pytest.raises(ValueError, match="band"):
        suggest_mix({0: 0.5}, band=band)


def test_calibrate_measures_each_tier():
    cal = calibrate(EchoEnv, TierSkillPolicy(), n=10, band=(0.2, 0.8), group_size=8, model_name="skill")
    assert isinstance(cal, Calibration) and cal.env == "echo"
    rates = {t.difficulty: t.pass_rate for t in cal.tiers}
    assert rates == {0: 1.0, 1: 0.5, 2: 0.0}
    assert [t.n for t in cal.tiers] == [10, 10, 10]
    assert [t.name for t in cal.tiers] == ["easy", "medium", "hard"]
    assert cal.mix == {1: 1.0}
    d = cal.to_dict()
    assert d["difficulty_weights"] == {"1": 1.0} and d["tiers"][1]["in_band"] is True
    json.dumps(d)  # serialisable


def test_calibrate_with_a_metric_and_a_policy_factory():
    cal = calibrate(EchoEnv, OraclePolicy, n=4, metric="correct")
    assert all(t.pass_rate == 1.0 for t in cal.tiers)
    assert "too easy" in cal.note
    with pytest.raises(ValueError, match="component 'nope'"):
        calibrate(EchoEnv, OraclePolicy, n=2, metric="nope")


def test_calibrate_reward_threshold():
    # Every oracle answer earns reward 1, so no tier passes a threshold above it.
    cal = calibrate(EchoEnv, OraclePolicy, n=2, threshold=1.5)
    assert all(t.pass_rate == 0.0 for t in cal.tiers)
    cal = calibrate(EchoEnv, OraclePolicy, n=2, threshold=0.9)
    assert all(t.pass_rate == 1.0 for t in cal.tiers)


def test_calibrate_fixed_tasks_are_grouped_by_difficulty():
    tasks = [Task(id=f"t{i}", prompt="Say a.", answer="a", difficulty=i % 2) for i in range(7)]
    cal = calibrate(lambda: EchoEnv(tasks=tasks), OraclePolicy, n=3)
    assert [(t.difficulty, t.n) for t in cal.tiers] == [(0, 3), (1, 3)]


def test_calibrate_math_with_the_oracle():
    cal = calibrate("math", OraclePolicy, n=3)
    assert [t.difficulty for t in cal.tiers] == list(range(10))
    assert cal.tiers[2].name == "3-digit addition"
    assert all(t.pass_rate == 1.0 for t in cal.tiers)


def test_cli_writes_json(tmp_path, capsys):
    out = tmp_path / "cal" / "math.json"
    code = main(["calibrate", "math_calculator", "--model", "oracle", "--n", "2", "--quiet", "--out", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["env"] == "math_calculator" and data["model"] == "oracle"
    assert len(data["tiers"]) == 10 and all(t["pass_rate"] == 1.0 for t in data["tiers"])
    assert sum(data["difficulty_weights"].values()) == pytest.approx(1.0)
    printed = capsys.readouterr().out
    assert "3-digit addition" in printed and "suggested mix" in printed


def test_cli_random_policy_and_bad_band(tmp_path, capsys):
    assert main(["calibrate", "math", "--model", "random", "--n", "2", "--quiet"]) == 0
    assert "pass rate" in capsys.readouterr().out
    assert main(["calibrate", "math", "--model", "random", "--n", "2", "--quiet", "--band", "0.9", "0.1"]) == 2
