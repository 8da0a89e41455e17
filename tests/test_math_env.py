"""The math environments: conformance, generators, oracle/wrong-answer policies, GSM8K/MATH loading."""

import json
import re
from fractions import Fraction

import gymnasium
import numpy as np
import pytest

import lfmgym
from lfmgym.backends.base import Generation
from lfmgym.envs.math import MathCalculatorEnv, MathEnv, load_tasks
from lfmgym.envs.math.calculator import evaluate
from lfmgym.envs.math.generators import GENERATORS, TIER_NAMES, generate
from lfmgym.plugins import get_registry
from lfmgym.rollout import OraclePolicy, run_episodes
from lfmgym.testing import check_env

# The GSM8K test split bundled with lfmgym (`lfmgym data`), by name.
GSM8K_TEST = "gsm8k"


# --------------------------------------------------------------------------- registration & conformance


@pytest.mark.parametrize("name", ["math", "math_calculator"])
def test_check_env_passes(name):
    report = check_env(name)
    assert report.ok, str(report)


def test_plugin_registers_envs_and_calculator_tool():
    reg = get_registry()
    assert reg.envs["math"].factory is MathEnv
    assert reg.envs["math_calculator"].factory is MathCalculatorEnv
    tool = reg.tools["calculator"].factory()
    assert tool(expression="12+345") == "357"


@pytest.mark.parametrize("name", ["math", "math_calculator"])
def test_gymnasium_make(name):
    env = gymnasium.make(f"lfmgym/{name}", difficulty=2)
    messages, info = env.reset(seed=3)
    assert info["difficulty"] == 2
    assert messages[-1]["role"] == "user" and re.fullmatch(r"What is \d{3}\+\d{3}\?", messages[-1]["content"])
    env.close()
    assert isinstance(lfmgym.make(name), MathEnv)


# --------------------------------------------------------------------------- generators


def test_tiers_and_three_digit_addition():
    assert MathEnv.difficulties == tuple(range(len(GENERATORS)))
    assert TIER_NAMES[2] == "3-digit addition"
    rng = np.random.default_rng(0)
    for _ in range(200):
        task = generate(rng, 2)
        a, b = map(int, re.fullmatch(r"What is (\d+)\+(\d+)\?", task.prompt).groups())
        assert 100 <= a <= 999 and 100 <= b <= 999 and task.answer == str(a + b)


def _check_solution_lines(solution: str) -> None:
    """Every line 'e1=e2=...' without the unknown x must be a chain of equal values."""
    for line in solution.splitlines():
        if "x" in line:
            continue
        values = [evaluate(side) for side in line.split("=")]
        assert len(set(values)) == 1, f"worked solution line {line!r} is wrong: {values}"


@pytest.mark.parametrize("tier", sorted(GENERATORS))
def test_generated_answers_and_worked_solutions_are_exact(tier):
    rng = np.random.default_rng(tier)
    kinds = set()
    for _ in range(300):
        task = generate(rng, tier)
        kinds.add(task.meta["kind"])
        assert task.difficulty == tier and task.id.startswith(f"math-{tier}-")
        assert evaluate(task.meta["calc"][0]) == Fraction(task.answer), task
        _check_solution_lines(task.meta["solution"])
        if task.meta["kind"] == "linear":  # substitute the answer back into the equation
            lhs, rhs = task.prompt.removeprefix("Solve for x: ").split("=")
            assert evaluate(lhs.replace("x", f"*({task.answer})")) == Fraction(rhs)
    if tier == 8:
        assert kinds == {"fraction", "fraction_of", "percent_of", "percent_change"}


def test_generation_is_deterministic_per_seed():
    env_a, env_b = MathEnv(), MathEnv()
    ids_a = [t.id for t in env_a.make_tasks(50, seed=7)]
    assert ids_a == [t.id for t in env_b.make_tasks(50, seed=7)]
    assert ids_a != [t.id for t in env_b.make_tasks(50, seed=8)]
    for tier in GENERATORS:
        a = generate(np.random.default_rng(11), tier)
        b = generate(np.random.default_rng(11), tier)
        assert a == b
    obs_a, _ = env_a.reset(seed=5)
    obs_b, _ = env_b.reset(seed=5)
    assert obs_a == obs_b


def test_difficulty_weights_draw_only_listed_tiers():
    env = MathEnv(difficulty_weights={"2": 3.0, 7: 1.0})
    tiers = [t.difficulty for t in env.make_tasks(400, seed=0)]
    assert set(tiers) == {2, 7}
    assert 0.65 < tiers.count(2) / len(tiers) < 0.85
    with pytest.raises(ValueError, match="tier 42"):
        MathEnv(difficulty_weights={42: 1.0})
    with pytest.raises(ValueError, match="all be zero"):
        MathEnv(difficulty_weights={1: 0.0})


def test_prompts_and_demonstrations_are_short():
    env, calc = MathEnv(), MathCalculatorEnv()
    for task in env.make_tasks(200, seed=1):
        assert len(task.prompt) < 160
        assert len(env.demonstrate(task)[-1]["content"]) < 80
        assert len(env.system_prompt(task)) < 80
        demo = calc.demonstrate(task)
        assert [m["role"] for m in demo] == ["system", "user", "assistant", "tool", "assistant"]
        assert demo[2]["content"] == f"<|tool_call_start|>[calculator(expression='{task.meta['calc'][0]}')]<|tool_call_end|>"
        assert demo[-1]["content"] == f"Answer: {task.answer}"


def test_plain_demonstration_format():
    task = generate(np.random.default_rng(0), 5)
    text = MathEnv().demonstrate(task)[-1]["content"]
    lines = text.splitlines()
    assert len(lines) == 3 and lines[-1] == f"Answer: {task.answer}"


# --------------------------------------------------------------------------- policies


class WrongAnswerPolicy:
    """Answers every task with a wrong number (gold + 1), in the demonstrated format."""

    def act(self, observations, tasks):
        return [Generation(f"Answer: {Fraction(str(t.answer)) + 1}") for t in tasks]


def _tier_tasks(env, per_tier=8):
    return [t for d in env.difficulties for t in env.make_tasks(per_tier, seed=100 + d, difficulty=d)]


@pytest.mark.parametrize("env_cls, tool_format", [(MathEnv, "pythonic"), (MathCalculatorEnv, "pythonic"), (MathCalculatorEnv, "json")])
def test_oracle_scores_100_percent_on_generated_tasks(env_cls, tool_format):
    env = env_cls(tool_format=tool_format)
    records = run_episodes(lambda: env_cls(tool_format=tool_format), OraclePolicy(env), _tier_tasks(env))
    for rec in records:
        assert rec.terminated and rec.components["correct"] == 1.0, (rec.task.id, rec.messages[-1], rec.components)
        assert rec.components["answer_extracted"] == 1.0
        assert rec.reward == pytest.approx(1.0)
        if env_cls is MathCalculatorEnv:
            assert rec.components["tool_calls"] == 1.0 and rec.components["tool_errors"] == 0.0


@pytest.mark.parametrize("env_cls", [MathEnv, MathCalculatorEnv])
def test_wrong_answer_policy_scores_zero(env_cls):
    env = env_cls()
    records = run_episodes(env_cls, WrongAnswerPolicy(), _tier_tasks(env))
    assert all(r.components["correct"] == 0.0 and r.reward <= 0.0 for r in records)
    assert all(r.components["answer_extracted"] == 1.0 for r in records)


def test_percent_answers_accept_percent_sign():
    env = MathEnv(difficulty=8)
    task = next(t for t in env.make_tasks(50, seed=0) if t.meta["kind"] == "percent_change")
    reward, comps = env.score_transcript(task, env.opening(task) + [{"role": "assistant", "content": f"Answer: {task.answer}%"}])
    assert comps["correct"] == 1.0 and reward == pytest.approx(1.0)


def test_truncated_calculator_episode_scores_zero():
    env = MathCalculatorEnv(max_turns=1)
    env.reset(seed=0)
    _, reward, term, trunc, info = env.step("<|tool_call_start|>[calculator(expression='1+1')]<|tool_call_end|>")
    assert trunc and not term
    assert info["reward_components"]["correct"] == 0.0 and reward <= 0.0


def test_calculator_errors_come_back_as_tool_feedback():
    env = MathCalculatorEnv()
    env.reset(seed=0)
    obs, reward, term, trunc, info = env.step("<|tool_call_start|>[calculator(expression='9**9**9')]<|tool_call_end|>")
    assert not (term or trunc) and obs[-1] == {"role": "tool", "content": "Error: result too large"}
    assert info["tool_errors"] == []  # an error *result* is the tool's answer, not a failed call


# --------------------------------------------------------------------------- data files


def test_gsm8k_loader_reads_the_bundled_test_split(gsm8k_test):
    tasks = load_tasks(GSM8K_TEST)
    assert len(tasks) == 1319
    first = tasks[0]
    assert first.id == "gsm8k-test-0" and first.answer == "18" and first.prompt.startswith("Janet")
    assert first.meta["calc"] == ["16-3-4", "9*2"]
    assert "<<" not in first.meta["solution"] and "####" not in first.meta["solution"]
    assert all(re.fullmatch(r"-?\d+(\.\d+)?", t.answer) for t in tasks)  # commas stripped
    assert [t.id for t in load_tasks(gsm8k_test.parent, split="test", limit=5)] == [f"gsm8k-test-{i}" for i in range(5)]
    assert len(load_tasks(GSM8K_TEST, limit=0)) == 0
    # A user's own copy of the file reads the same as the bundled one.
    assert [(t.id, t.answer) for t in load_tasks(gsm8k_test, limit=50)] == [(t.id, t.answer) for t in tasks[:50]]
    with pytest.raises(FileNotFoundError, match="no train.jsonl"):
        load_tasks(GSM8K_TEST, split="train")  # only the test split is bundled


@pytest.mark.parametrize("env_cls", [MathEnv, MathCalculatorEnv])
def test_oracle_scores_100_percent_on_gsm8k(env_cls):
    # The whole file (1,319 tasks) scores 100% too; a slice keeps this test fast.
    tasks = load_tasks(GSM8K_TEST, limit=100)
    env = env_cls(tasks=tasks)
    records = run_episodes(lambda: env_cls(tasks=tasks), OraclePolicy(env), tasks)
    wrong = [(r.task.id, r.messages[-1]["content"][-60:]) for r in records if r.components["correct"] != 1.0]
    assert not wrong, wrong[:5]
    assert all(env.success(r.components) for r in records)
    wrong_records = run_episodes(lambda: env_cls(tasks=tasks), WrongAnswerPolicy(), tasks[:40])
    assert sum(r.components["correct"] for r in wrong_records) == 0


def test_gsm8k_calculator_demonstration_uses_annotated_steps():
    task = load_tasks(GSM8K_TEST, limit=1)[0]
    demo = MathCalculatorEnv(tasks=[task]).demonstrate(task)
    assert [m["role"] for m in demo[2:]] == ["assistant", "tool", "assistant", "tool", "assistant"]
    assert [m["content"] for m in demo if m["role"] == "tool"] == ["9", "18"]
    assert demo[-1]["content"] == "Answer: 18"


def test_math_format_records(tmp_path):
    path = tmp_path / "math.jsonl"
    rows = [
        {"problem": "What is $\\frac{1}{2}+\\frac{1}{4}$?", "solution": "We get $\\boxed{\\frac{3}{4}}$.", "level": "Level 1"},
        {"problem": "Find $x$.", "solution": "So $x=\\boxed{\\{1,2\\}}$ hmm \\boxed{5}", "type": "Algebra"},
        {"problem": "MATH-500 style", "solution": "It is 7.", "answer": "7"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    tasks = load_tasks(path)
    assert [t.answer for t in tasks] == ["\\frac{3}{4}", "5", "7"]
    assert tasks[0].meta["level"] == "Level 1" and tasks[0].id == "math-math-0"
    for env_cls in (MathEnv, MathCalculatorEnv):
        env = env_cls(tasks=tasks)
        reward, comps = env.score_transcript(tasks[0], env.demonstrate(tasks[0]))
        assert comps["correct"] == 1.0, comps


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "invalid JSON"),
        ('{"question": "q", "answer": "no final line"}', "####"),
        ('{"question": "", "answer": "#### 3"}', "'question'"),
        ('{"problem": "p", "solution": "no box"}', "boxed"),
        ('{"text": "hello"}', "unknown record format"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"question": "1+1?", "answer": "1+1=2\n#### 2"})
    path.write_text(good + "\n" + good + "\n" + line + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}:3") + ".*" + re.escape(message)):
        load_tasks(path)


def test_missing_local_path_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_tasks(tmp_path / "nope.jsonl")
    with pytest.raises(FileNotFoundError, match="validation.jsonl"):
        load_tasks(tmp_path, split="validation")


def test_hub_ids_go_through_datasets(monkeypatch):
    # The hub path is for users; here datasets.load_dataset is replaced so nothing is downloaded.
    import datasets

    calls = []

    def fake_load_dataset(name, config=None, split=None):
        calls.append((name, config, split))
        return [{"question": "What is 2+2?", "answer": "2+2=<<2+2=4>>4\n#### 4"}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    tasks = load_tasks("openai/gsm8k", split="train")
    assert calls == [("openai/gsm8k", "main", "train")]
    assert tasks[0].id == "gsm8k-train-0" and tasks[0].answer == "4" and tasks[0].meta["calc"] == ["2+2"]


def test_data_argument_loads_a_file_from_the_command_line(capsys, gsm8k_test):
    # `--env-arg data=...` is how a CLI user plays GSM8K (tasks=[...] needs Python).
    from lfmgym.cli import main

    env = MathCalculatorEnv(data=str(gsm8k_test.parent), limit=3)
    assert [t.id for t in env.fixed_tasks] == ["gsm8k-test-0", "gsm8k-test-1", "gsm8k-test-2"]
    with pytest.raises(ValueError, match="not both"):
        MathEnv(data=str(gsm8k_test), tasks=[])
    assert main(["play", "math", "--env-arg", "data=gsm8k", "--env-arg", "limit=5"]) == 0
    out = capsys.readouterr().out
    assert "math task gsm8k-test-" in out and "'correct': 1.0" in out


def test_a_data_file_is_read_once_per_process(tmp_path, monkeypatch):
    """Rollouts build a fresh env per episode; the file behind data= must not be re-read each time."""
    import lfmgym.envs.math.data as data_mod
    from lfmgym.envs.math.env import MathEnv

    path = tmp_path / "two.jsonl"
    path.write_text('{"question": "1+1?", "answer": "#### 2"}\n{"question": "2+2?", "answer": "#### 4"}\n')
    calls = []
    real = data_mod.load_tasks
    monkeypatch.setattr(data_mod, "load_tasks", lambda *a, **k: calls.append(a) or real(*a, **k))
    envs = [MathEnv(data=str(path)) for _ in range(5)]
    assert len(calls) == 1 and all(len(e.fixed_tasks) == 2 for e in envs)
    with pytest.raises(ValueError, match="split/limit"):
        MathEnv(limit=10)
