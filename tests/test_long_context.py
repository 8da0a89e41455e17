"""The long_context env: tasks, the REPL protocol, llm_query budgets, the oracle at every length."""

from __future__ import annotations

import numpy as np
import pytest

from lfmgym.envs.long_context.env import LongContextEnv
from lfmgym.envs.long_context.repl import ReplSession, SubCallBudget, find_code_blocks
from lfmgym.envs.long_context.submodel import backend_sub_model, policy_sub_model
from lfmgym.envs.long_context.tasks import FAMILIES, LENGTHS
from lfmgym.rollout import OraclePolicy, run_episodes

SMALL = {0: 2_000, 1: 4_000, 2: 8_000, 3: 16_000}


def context_chars(task) -> int:
    context = task.meta["context"]
    return len(context) if isinstance(context, str) else sum(map(len, context))


def play(env: LongContextEnv, actions: list[str], task=None, seed: int = 0):
    env.reset(seed=seed, options={"task": task} if task is not None else None)
    out = None
    for action in actions:
        out = env.step(action)
        if out[2] or out[3]:
            break
    return out


def repl(code: str) -> str:
    return f"```repl\n{code}\n```"


@pytest.fixture
def env():
    # The protocol tests read len(context): families whose context is one str.
    environment = LongContextEnv(context_lengths=SMALL, cell_timeout=5.0, families=["needle", "multi_hop"])
    yield environment
    environment.close()


# ----------------------------------------------------------------------------- tasks


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_tasks_are_deterministic_and_reach_their_length(family):
    for tier, target in LENGTHS.items():
        a = FAMILIES[family](np.random.default_rng(7), target, tier)
        b = FAMILIES[family](np.random.default_rng(7), target, tier)
        assert a.id == b.id and a.answer == b.answer and a.meta["context"] == b.meta["context"]
        assert target <= context_chars(a) <= target * 1.15
    assert context_chars(FAMILIES[family](np.random.default_rng(1), LENGTHS[3], 3)) >= 1_000_000


def test_prompt_gives_metadata_and_question_not_the_context(env):
    task = env.sample_task(np.random.default_rng(3), 2)
    messages, _ = env.reset(options={"task": task})
    assert len(messages) == 2
    user = messages[1]["content"]
    assert task.meta["question"] in user and f"{context_chars(task):,} characters" in user
    body = task.meta["context"] if isinstance(task.meta["context"], str) else task.meta["context"][0]
    assert body[200:260] not in user and body[200:260] not in messages[0]["content"]
    assert "```repl" in messages[0]["content"] and "FINAL_VAR" in messages[0]["content"]


@pytest.mark.slow
def test_oracle_scores_full_marks_for_every_family_at_every_length():
    tasks = []
    for family in FAMILIES:
        family_env = LongContextEnv(families=[family])
        for tier in LENGTHS:
            tasks.append(family_env.sample_task(np.random.default_rng(100 + tier), tier))
    records = run_episodes(lambda: LongContextEnv(sub_model="oracle"), OraclePolicy(LongContextEnv()), tasks, batch_size=4)
    for record in records:
        assert record.terminated and record.components["correct"] == 1.0, (record.task.id, record.components)
        assert record.components["cell_errors"] == 0.0
    assert {context_chars(t) >= 1_000_000 for t in tasks if t.difficulty == 3} == {True}


# ----------------------------------------------------------------------------- protocol


def test_state_persists_and_output_is_fed_back(env):
    env.reset(seed=1)
    _, reward, term, trunc, info = env.step(repl("n = len(context)\nprint('chars', n)"))
    assert not term and reward == 0.0
    feedback = info["new_messages"][0]
    assert feedback["role"] == "user" and "[cell 1 output]" in feedback["content"] and "chars" in feedback["content"]
    _, _, _, _, info = env.step(repl("n * 2"))
    assert str(2 * context_chars(env.episode.task)) in info["new_messages"][0]["content"]


@pytest.mark.parametrize(
    "final_action, via, from_variable",
    [
        (repl("x = GOLD\nFINAL(x)"), "FINAL", 0.0),
        (repl("x = GOLD\nFINAL_VAR('x')"), "FINAL_VAR", 1.0),
        (repl("answer['content'] = GOLD\nanswer['ready'] = True"), "answer", 1.0),
        ("I computed it.\nFINAL(GOLD)", "text-FINAL", 0.0),
    ],
)
def test_every_final_answer_form_is_accepted(env, final_action, via, from_variable):
    task = env.sample_task(np.random.default_rng(5), 0)
    literal = final_action.replace("GOLD", repr(task.answer) if "```" in final_action else str(task.answer))
    _, reward, term, _, info = play(env, [literal], task)
    assert term and reward == pytest.approx(1.0)
    assert env.episode.state["answer_via"] == via
    assert info["reward_components"]["answer_from_variable"] == from_variable


def test_final_var_written_in_text_reads_the_repl_variable(env):
    task = env.sample_task(np.random.default_rng(6), 0)
    _, reward, term, _, info = play(env, [repl(f"result = {task.answer!r}"), "FINAL_VAR(result)"], task)
    assert term and reward == pytest.approx(1.0)
    assert env.episode.state["answer_via"] == "text-FINAL_VAR"


def test_final_var_of_a_missing_variable_says_so(env):
    # The model did give an answer form; the feedback must name the missing variable, not claim
    # that no final answer was written.
    env.reset(seed=2)
    _, _, term, _, info = env.step('FINAL_VAR("nowhere")')
    feedback = info["new_messages"][0]["content"]
    assert not term and "no variable named 'nowhere'" in feedback and "No ```repl block" not in feedback


def test_tracebacks_number_cells_as_the_feedback_does(env):
    # The REPL's setup code must not shift the numbering: "[cell 1 output]" shows "<cell 1>".
    env.reset(seed=2)
    _, _, _, _, info = env.step(repl("1/0"))
    feedback = info["new_messages"][0]["content"]
    assert "[cell 1 output]" in feedback and 'File "<cell 1>"' in feedback


def test_wrong_answer_scores_zero_with_metrics(env):
    task = env.sample_task(np.random.default_rng(8), 0)
    _, reward, term, _, info = play(env, [repl("1/0"), repl("FINAL('certainly not this')")], task)
    assert term and reward == pytest.approx(0.0, abs=0.2)
    components = info["reward_components"]
    assert components["correct"] == 0.0 and components["answered"] == 1.0
    assert components["cells_run"] == 2.0 and components["cell_errors"] == 1.0


def test_messages_without_code_or_final_get_guidance(env):
    env.reset(seed=2)
    _, _, term, _, info = env.step("Let me think about the answer.")
    assert not term and "No ```repl block" in info["new_messages"][0]["content"]
    _, _, term, _, info = env.step("```python\nprint(1)\n```")
    assert not term and "only ```repl fenced blocks are executed" in info["new_messages"][0]["content"]


def test_output_shown_to_the_model_is_capped():
    env = LongContextEnv(context_lengths=SMALL, output_chars=100)
    env.reset(seed=0)
    _, _, _, _, info = env.step(repl("print('z' * 5000)"))
    text = info["new_messages"][0]["content"]
    assert "4,900 more characters not shown" in text and len(text) < 300
    env.close()


def test_cells_per_turn_are_limited():
    env = LongContextEnv(context_lengths=SMALL, max_cells_per_turn=2)
    env.reset(seed=0)
    _, _, _, _, info = env.step("\n".join(repl(f"print({i})") for i in range(4)))
    text = info["new_messages"][0]["content"]
    assert "[cell 2 output]" in text and "[cell 3 output]" not in text and "only the first 2" in text
    env.close()


def test_turn_limit_truncates_without_reward():
    env = LongContextEnv(context_lengths=SMALL, max_turns=2)
    _, reward, term, trunc, info = play(env, [repl("x = 1"), repl("x += 1")])
    assert trunc and not term and reward <= 0.0 and info["reward_components"]["answered"] == 0.0
    env.close()


def test_a_crashing_episode_does_not_affect_the_next(env):
    env.reset(seed=0)
    _, _, _, _, info = env.step(repl("import os\nos._exit(1)"))
    assert "SandboxCrash" in info["new_messages"][0]["content"]
    _, _, _, _, info = env.step(repl("len(context)"))  # restarted, context restored
    assert str(context_chars(env.episode.task)) in info["new_messages"][0]["content"]
    task = env.sample_task(np.random.default_rng(1), 0)
    _, reward, term, _, _ = play(env, [repl(f"FINAL({task.answer!r})")], task)
    assert term and reward == pytest.approx(1.0)


def test_reset_and_close_release_the_sandbox(env):
    env.reset(seed=0)
    env.step(repl("1"))
    first = env.session.sandbox
    assert first.alive
    env.reset(seed=1)
    assert not first.alive
    env.step(repl("1"))
    second = env.session.sandbox
    env.close()
    assert not second.alive and env.session is None


# ----------------------------------------------------------------------------- llm_query


def echo_sub_model(calls: list):
    def sub_model(messages):
        calls.append(messages)
        return "SUB:" + messages[-1]["content"][:20]

    return sub_model


def test_llm_query_uses_the_configured_sub_model_and_counts_calls():
    calls: list = []
    env = LongContextEnv(context_lengths=SMALL, families=["needle"], sub_model=echo_sub_model(calls), max_sub_calls=2)
    env.reset(seed=0)
    _, _, _, _, info = env.step(repl("a = llm_query('summarise: ' + context[:50])\nprint(a)"))
    assert "SUB:summarise" in info["new_messages"][0]["content"]
    assert calls[0] == [{"role": "user", "content": "summarise: " + env.session.context[:50]}]
    _, _, _, _, info = env.step(repl("llm_query('b')\nllm_query('c')"))
    assert "sub-call budget exhausted" in info["new_messages"][0]["content"]
    _, _, term, _, info = env.step(repl("FINAL('x')"))
    components = info["reward_components"]
    assert components["sub_calls"] == 2.0 and components["sub_call_errors"] == 1.0 and components["sub_call_depth"] == 1.0
    # every call's prompt and reply, at 4 characters a token without a tokenizer: 61 + 24, then 1 + 5 characters
    assert components["sub_tokens"] == 16 + 6 + 1 + 2
    assert len(calls) == 2
    env.close()


def test_llm_query_refuses_long_prompts_and_missing_sub_model():
    env = LongContextEnv(context_lengths=SMALL, sub_model=echo_sub_model([]), sub_prompt_chars=100)
    env.reset(seed=0)
    _, _, _, _, info = env.step(repl("llm_query('x' * 101)"))
    assert "reads at most 100" in info["new_messages"][0]["content"]
    env.close()
    off = LongContextEnv(context_lengths=SMALL, sub_model="none")
    messages, _ = off.reset(seed=0)
    assert "not available" in messages[0]["content"]
    _, _, _, _, info = off.step(repl("llm_query('hello')"))
    assert "llm_query is not available" in info["new_messages"][0]["content"]
    off.close()
    bare = LongContextEnv(context_lengths=SMALL)  # "policy": nobody has set one yet
    bare.reset(seed=0)
    _, _, _, _, info = bare.step(repl("llm_query('hello')"))
    assert "no sub-model is configured" in info["new_messages"][0]["content"]
    bare.set_sub_model(echo_sub_model([]))
    _, _, _, _, info = bare.step(repl("llm_query('hello')"))
    assert "'SUB:hello'" in info["new_messages"][0]["content"]
    bare.close()


def test_sub_model_failures_are_feedback_not_exceptions():
    def broken(messages):
        raise ConnectionError("backend down")

    env = LongContextEnv(context_lengths=SMALL, sub_model=broken)
    env.reset(seed=0)
    _, _, _, _, info = env.step(repl("llm_query('hi')"))
    assert "ConnectionError: backend down" in info["new_messages"][0]["content"]
    env.close()


def test_depth_two_sub_calls_are_repl_episodes_sharing_the_budget():
    seen = []

    def scripted(messages):
        seen.append(messages)
        # A nested REPL episode: the sub-model answers with code over its own `context`.
        if "stored in `context`" in messages[-1]["content"]:
            return repl("FINAL(context.upper())")
        return "plain"

    budget = SubCallBudget(limit=3)
    session = ReplSession("root context", sub_model=scripted, budget=budget, max_depth=2)
    try:
        outcome = session.step(repl("r = llm_query('inner text')\nprint(r)"))
        assert "INNER TEXT" in outcome.feedback
        assert budget.calls == 1 and budget.max_depth_used == 1
        assert seen[0][0]["role"] == "system" and "```repl" in seen[0][0]["content"]
    finally:
        session.close()


def test_sub_model_adapters():
    from lfmgym.backends.base import Generation

    class EchoPolicy:
        def act(self, observations, tasks):
            return [Generation(obs[-1]["content"] + "!") for obs in observations]

    class EchoBackend:
        def generate(self, batch, *, n=1, temperature=0.0, top_p=1.0, max_new_tokens=256, seed=None):
            return [[Generation(f"{msgs[-1]['content']}|{max_new_tokens}")] for msgs in batch]

    assert policy_sub_model(EchoPolicy())([{"role": "user", "content": "hi"}]) == "hi!"
    assert backend_sub_model(EchoBackend(), max_new_tokens=7)([{"role": "user", "content": "hi"}]) == "hi|7"


# ----------------------------------------------------------------------------- misc


def test_code_block_parsing():
    text = "a\n```repl\nx = 1\n```\nb\n```repl  \nprint(x)\n```\n```python\nno\n```\n```repl\nunclosed"
    assert find_code_blocks(text) == ["x = 1\n", "print(x)\n"]


def test_constructor_validates_arguments():
    with pytest.raises(ValueError, match="families"):
        LongContextEnv(families=["nope"])
    with pytest.raises(ValueError, match="context_lengths"):
        LongContextEnv(context_lengths={9: 10_000})
    with pytest.raises(ValueError, match="max_depth"):
        LongContextEnv(max_depth=0)
    with pytest.raises(ValueError, match="sub_model"):
        LongContextEnv(sub_model="not callable")


def test_string_keys_from_the_cli_are_accepted_for_lengths():
    env = LongContextEnv(context_lengths={"0": 3_000})
    assert env.context_lengths[0] == 3_000
