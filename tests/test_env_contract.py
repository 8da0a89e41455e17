"""The multi-turn env contract, on a small example env."""

import gymnasium
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

from lfmgym import Task
from lfmgym.rollout import OraclePolicy, RandomPolicy, run_episodes
from lfmgym.spaces import Messages, Text
from lfmgym.testing import check_env
from tests.example_env import CapitalsEnv

CALL = "<|tool_call_start|>[capital(country='Peru')]<|tool_call_end|>"


def test_reset_gives_system_with_tools_then_user():
    env = CapitalsEnv()
    obs, info = env.reset(seed=3)
    assert [m["role"] for m in obs] == ["system", "user"]
    assert "List of tools:" in obs[0]["content"] and '"name": "capital"' in obs[0]["content"]
    assert info["task_id"].startswith("capital-")


def test_tool_call_then_final_answer():
    env = CapitalsEnv()
    task = Task(id="t", prompt="Capital of Peru?", answer="Lima", meta={"country": "peru"})
    env.reset(options={"task": task})
    obs, r, term, trunc, info = env.step(CALL)
    assert (r, term, trunc) == (0.0, False, False)
    assert obs[-1] == {"role": "tool", "content": "Lima"} and info["parse_ok"]
    assert info["tool_calls"] == [{"name": "capital", "arguments": {"country": "Peru"}}]
    obs, r, term, trunc, info = env.step("Lima")
    assert term and not trunc and r == pytest.approx(1.0)
    assert info["reward_components"]["correct"] == 1.0 and info["final_answer"] == "Lima"


@pytest.mark.parametrize(
    "action, needle, kind",
    [
        ("<|tool_call_start|>[capital(country='Atlantis')]<|tool_call_end|>", "raised KeyError", "tool_raised"),
        ("<|tool_call_start|>[divide(a=1, b=0)]<|tool_call_end|>", "ZeroDivisionError", "tool_raised"),
        ("<|tool_call_start|>[teleport(to='Mars')]<|tool_call_end|>", "unknown tool 'teleport'", "unknown_tool"),
        ("<|tool_call_start|>[capital(country=5)]<|tool_call_end|>", "argument 'country': expected string", "invalid_arguments"),
        ("<|tool_call_start|>[capital(city='x')]<|tool_call_end|>", "unknown argument", "invalid_arguments"),
    ],
)
def test_tool_failures_become_messages(action, needle, kind):
    env = CapitalsEnv()
    env.reset(seed=0)
    obs, r, term, trunc, info = env.step(action)
    assert not term and obs[-1]["role"] == "tool" and needle in obs[-1]["content"]
    assert info["tool_errors"] and info["tool_errors"][-1].startswith(kind)


def test_malformed_call_is_feedback_and_counts_a_turn():
    env = CapitalsEnv(max_turns=2)
    env.reset(seed=0)
    obs, r, term, trunc, info = env.step("<|tool_call_start|>[capital(country='Peru']<|tool_call_end|>")
    assert not info["parse_ok"] and "could not be parsed" in obs[-1]["content"] and not term
    obs, r, term, trunc, info = env.step("<|tool_call_start|>[capital(")
    assert trunc and not term and info["reward_components"]["parse_ok"] == 0.0


def test_json_format():
    env = CapitalsEnv(tool_format="json")
    env.reset(seed=0)
    obs, *_ = env.step('<tool_call>{"name": "capital", "arguments": {"country": "Japan"}}</tool_call>')
    assert obs[-1]["content"] == "Tokyo"


def test_step_before_reset_and_after_end():
    env = CapitalsEnv()
    with pytest.raises(RuntimeError):
        env.step("hi")
    env.reset(seed=0)
    env.step("Paris")
    with pytest.raises(RuntimeError, match="reset"):
        env.step("again")


def test_constructor_errors_name_the_field():
    with pytest.raises(ValueError, match="tool_format"):
        CapitalsEnv(tool_format="xml")
    with pytest.raises(ValueError, match="difficulty"):
        CapitalsEnv(difficulty=7)
    with pytest.raises(ValueError, match="reward_weights"):
        CapitalsEnv(reward_weights={"nope": 1.0})
    with pytest.raises(ValueError, match="tasks: expected a list"):
        CapitalsEnv(tasks=3)
    with pytest.raises(ValueError, match="tasks: expected lfmgym.Task items"):
        CapitalsEnv(tasks=[{"prompt": "a dict, not a Task"}])


def test_a_missing_contract_method_is_named():
    """An env author who forgets a method learns which one, not a bare NotImplementedError."""
    from lfmgym import Env

    class Bare(Env):
        name = "bare"
        difficulties = (0,)

    task = Task(id="t", prompt="Say hi.", answer="hi")
    env = Bare(tasks=[task])
    with pytest.raises(NotImplementedError, match=r"Bare must implement demonstrate\(task\)"):
        env.demonstrate(task)
    with pytest.raises(NotImplementedError, match=r"Bare must implement score\(task, episode\)"):
        env.score(task, None)
    with pytest.raises(NotImplementedError, match="Bare has no procedural tasks; pass tasks="):
        Bare().generate_task(None, 0)


def test_make_env_unknown_argument_is_a_value_error_naming_it():
    from lfmgym.plugins import make_env

    with pytest.raises(ValueError, match="env 'math'.*'nope'"):
        make_env("math", nope=1)


def test_spaces_validate():
    assert Messages().contains([{"role": "user", "content": "hi"}])
    assert not Messages().contains([{"role": "robot", "content": "hi"}])
    assert "message 0" in Messages.validate([{"role": "user", "content": 3}])
    assert Text().contains("漢字 🙂") and not Text(max_length=3).contains("abcd")


def test_gymnasium_env_checker_passes():
    gym_check_env(CapitalsEnv(), skip_render_check=True)


def test_conformance_kit_passes_on_example():
    report = check_env(CapitalsEnv, n_junk=300)
    assert report.ok and len(report.passed) >= 5


def test_conformance_kit_catches_a_bad_demo():
    class Broken(CapitalsEnv):
        def demonstrate(self, task):
            return self.opening(task) + [{"role": "assistant", "content": "Berlin"}]

    report = check_env(Broken, n_junk=50, raise_on_failure=False)
    assert not report.ok and any("demonstrations" in f for f in report.failures)


class _RaisesOnCalls(CapitalsEnv):
    def handle_action(self, action, episode):
        if "<|tool_call_start|>" in action:
            raise KeyError("env bug")
        return super().handle_action(action, episode)


class _ScorerRaisesWithoutAnswer(CapitalsEnv):
    def score(self, task, episode):
        if not episode.final_answer:
            raise ZeroDivisionError("scorer bug")
        return super().score(task, episode)


def test_conformance_kit_catches_demonstrations_above_the_declared_range():
    class Doubled(CapitalsEnv):
        def total_reward(self, components, weights=None):
            return 2 * super().total_reward(components, weights)

    report = check_env(Doubled, n_junk=20, raise_on_failure=False)
    assert any("demonstrations" in f and "reward 2.000 (max 1.0)" in f for f in report.failures), report.failures


@pytest.mark.parametrize("env_cls, needle", [(_RaisesOnCalls, "env error: KeyError"),
                                             (_ScorerRaisesWithoutAnswer, "score error: ZeroDivisionError")])
def test_conformance_kit_catches_env_bugs_that_step_turns_into_feedback(env_cls, needle):
    # step() keeps a trainer alive by turning an env's own exception into feedback; the kit must
    # still see it, or a plugin that crashes on every tool call would pass the fuzz check.
    report = check_env(env_cls, n_junk=200, raise_on_failure=False)
    assert not report.ok
    assert any(f.startswith("200 junk and hostile actions") and needle in f for f in report.failures), report.failures


def test_batched_and_sequential_rollouts_agree():
    env = CapitalsEnv()
    tasks = env.make_tasks(10, seed=1)
    a = run_episodes(CapitalsEnv, OraclePolicy(env), tasks, batch_size=4)
    b = run_episodes(CapitalsEnv, OraclePolicy(env), tasks, batch_size=1)
    assert [r.reward for r in a] == [r.reward for r in b] == [pytest.approx(1.0)] * 10
    assert all(len(r.turns) == 2 and r.terminated for r in a)


def test_random_policy_never_raises():
    recs = run_episodes(CapitalsEnv, RandomPolicy(seed=5), 40, seed=2, batch_size=16)
    assert len(recs) == 40 and all(r.terminated or r.truncated for r in recs)


def test_gymnasium_make_for_registered_envs():
    import lfmgym  # noqa: F401

    ids = [i for i in gymnasium.registry if i.startswith("lfmgym/")]
    assert ids, "no lfmgym/<name> ids registered"
    env = gymnasium.make(ids[0])
    obs, info = env.reset(seed=0)
    assert Messages().contains(obs)


def test_difficulty_weights_work_for_any_tiered_env():
    # The mix `lfmgym calibrate --out` writes (JSON string keys) applies to every env with tiers.
    from lfmgym.plugins import make_env

    env = make_env("tool_calling", difficulty_weights={"2": 1.0, "3": 0.0})
    assert {t.difficulty for t in env.make_tasks(20, seed=1)} == {2}
    with pytest.raises(ValueError, match="difficulty_weights: tier 9"):
        make_env("tool_calling", difficulty_weights={9: 1.0})
    with pytest.raises(ValueError, match="must not all be zero"):
        CapitalsEnv(difficulty_weights={0: 0.0})


def test_rollout_closes_open_episodes_when_the_policy_raises():
    closed = []

    class Tracked(CapitalsEnv):
        def close(self):
            closed.append(self)
            super().close()

    class Failing:
        def act(self, observations, tasks):
            raise RuntimeError("backend down")

    with pytest.raises(RuntimeError, match="backend down"):
        run_episodes(Tracked, Failing(), 3, seed=0)
    assert len(closed) == 3  # every open episode's env, not left to the garbage collector


def test_bad_reset_options_and_max_turns_name_the_field():
    env = CapitalsEnv()
    with pytest.raises(ValueError, match=r"options\['difficulty'\]: 99"):
        env.reset(options={"difficulty": 99})
    with pytest.raises(ValueError, match="max_turns: expected a positive integer"):
        CapitalsEnv(max_turns=[1])
    fixed = CapitalsEnv(tasks=env.make_tasks(2, seed=0))
    with pytest.raises(ValueError, match=r"options\['index'\]"):
        fixed.reset(options={"index": 5})


@pytest.mark.parametrize("fmt, body", [
    ("pythonic", "[f(x=1e309)]"), ("pythonic", "[f(x={(1,2): 3})]"), ("pythonic", "[f(x={[1]: 2})]"),
    ("pythonic", "[f(x=" + "-" * 1000 + "1)]"), ("pythonic", "[" + "f(), " * 300 + "]"),
    ("json", '{"name": "f", "arguments": {"x": NaN}}'), ("json", '{"name": "f", "arguments": {"x": 1e400}}'),
    ("json", '{"name": "f", "arguments": {"x": ' + "[" * 5000 + "]" * 5000 + "}}"),
])
def test_hostile_arguments_are_feedback_at_the_last_turn(fmt, body):
    """The issue's reproductions: these raised out of step() through the repetition penalty."""
    from lfmgym.toolcalls import JSON_END, JSON_START, PY_END, PY_START

    start, end = (PY_START, PY_END) if fmt == "pythonic" else (JSON_START, JSON_END)
    env = CapitalsEnv(tool_format=fmt, max_turns=1)
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(start + body + end)
    assert truncated and not terminated and reward <= 0
    assert not info["parse_ok"] and "could not be parsed" in info["new_messages"][0]["content"]
    assert "score_error" not in info["reward_components"]
