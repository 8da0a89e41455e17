"""Semantic long-context families, sub-model choices and token counts, and the direct baseline env."""

from __future__ import annotations

import re

import numpy as np
import pytest

from lfmgym.envs.long_context.direct import LongContextDirectEnv, cut_context, extract_answer
from lfmgym.envs.long_context.env import LongContextEnv
from lfmgym.envs.long_context.semantic import SEMANTIC_FAMILIES, keyword_sub_model, oracle_sub_model
from lfmgym.envs.long_context.submodel import resolve_sub_model, token_counter
from lfmgym.envs.long_context.tasks import LENGTHS
from lfmgym.rollout import OraclePolicy, run_episodes

SMALL = {0: 2_000, 1: 4_000, 2: 8_000, 3: 16_000}
TIERS_10K = {0: 10_000, 1: 10_000, 2: 10_000, 3: 10_000}


def item_lines(task) -> list[str]:
    return [line for doc in task.meta["context"] for line in doc.splitlines()]


def play_oracle(sub_model: str, tasks, **env_kwargs):
    return run_episodes(lambda: LongContextEnv(sub_model=sub_model, **env_kwargs), OraclePolicy(LongContextEnv()),
                        tasks, batch_size=8)


# ----------------------------------------------------------------------------- the families


@pytest.mark.parametrize("family", sorted(SEMANTIC_FAMILIES))
def test_semantic_tasks_are_deterministic_reach_their_length_and_grow_the_judgments(family):
    judgments = []
    for tier in (0, 1):
        a = SEMANTIC_FAMILIES[family](np.random.default_rng(3), LENGTHS[tier], tier)
        b = SEMANTIC_FAMILIES[family](np.random.default_rng(3), LENGTHS[tier], tier)
        assert a.id == b.id and a.answer == b.answer and a.meta["context"] == b.meta["context"]
        assert LENGTHS[tier] <= sum(map(len, a.meta["context"])) <= LENGTHS[tier] * 1.1
        assert set(a.meta["labels"]) == {line.split()[1] for line in item_lines(a)}
        judgments.append(a.meta["judgments"])
    assert judgments[1] > 2 * judgments[0] > 0


def test_the_label_is_in_the_wording_not_in_a_field():
    task = SEMANTIC_FAMILIES["ticket_count"](np.random.default_rng(0), 10_000, 0)
    for line in item_lines(task)[:50]:
        body = line.split(" | ", 2)[2].lower()
        assert not re.search(r"\b(billing|access|delivery|malfunction)\b", body), line
    reviews = SEMANTIC_FAMILIES["sentiment_count"](np.random.default_rng(0), 10_000, 0)
    for line in item_lines(reviews)[:50]:
        assert not re.search(r"\b(positive|negative)\b", line.lower()), line


def test_count_answers_agree_with_the_labels():
    task = SEMANTIC_FAMILIES["sentiment_count"](np.random.default_rng(5), 50_000, 1)
    product, label = re.match(r"How many reviews of the (.+) are (\w+)\?", task.meta["question"]).groups()
    chosen = [line.split()[1] for line in item_lines(task) if f"| product={product} |" in line]
    assert int(task.answer) == sum(task.meta["labels"][i] == label for i in chosen)
    assert task.meta["judgments"] == len(chosen)


# ----------------------------------------------------------------------------- the two oracles


@pytest.mark.parametrize("family", sorted(SEMANTIC_FAMILIES))
def test_keyword_oracle_scores_at_most_half_and_llm_query_oracle_all(family):
    env = LongContextEnv(families=[family], context_lengths=TIERS_10K)
    tasks = env.make_tasks(6, seed=11)
    kwargs = {"families": [family], "context_lengths": TIERS_10K}
    oracle = play_oracle("oracle", tasks, **kwargs)
    keyword = play_oracle("keyword", tasks, **kwargs)
    assert [r.components["correct"] for r in oracle] == [1.0] * len(tasks)
    assert all(r.components["sub_calls"] >= 1 and r.components["sub_tokens"] > 0 for r in oracle)
    keyword_score = np.mean([r.components["correct"] for r in keyword])
    assert keyword_score <= 0.5, keyword_score


def test_semantic_families_are_unsolvable_without_llm_query():
    task = SEMANTIC_FAMILIES["sentiment_count"](np.random.default_rng(2), 10_000, 0)
    [record] = play_oracle("none", [task], context_lengths=TIERS_10K)
    assert record.components["sub_call_errors"] >= 1 and record.components["sub_tokens"] == 0
    assert "llm_query is not available" in str(record.messages)


def test_depth_two_sub_calls_run_their_own_repl_and_every_token_is_counted():
    env = LongContextEnv(families=["ticket_count"], context_lengths=TIERS_10K)
    tasks = env.make_tasks(2, seed=4)
    flat = play_oracle("oracle", tasks, families=["ticket_count"], context_lengths=TIERS_10K)
    deep = play_oracle("oracle", tasks, families=["ticket_count"], context_lengths=TIERS_10K, max_depth=2)
    for one, two in zip(flat, deep):
        assert two.components["correct"] == 1.0 and two.components["sub_call_depth"] == 2.0
        assert one.components["sub_call_depth"] == 1.0
        # each depth-2 call is a REPL episode (system prompt + code reply) around the plain call
        assert two.components["sub_calls"] == 2 * one.components["sub_calls"]
        assert two.components["sub_tokens"] > one.components["sub_tokens"]


def test_sub_token_budget_stops_sub_calls_with_feedback():
    task = SEMANTIC_FAMILIES["sentiment_count"](np.random.default_rng(1), 10_000, 0)
    env = LongContextEnv(sub_model="oracle", max_sub_tokens=10, context_lengths=TIERS_10K)
    env.reset(options={"task": task})
    _, _, _, _, info = env.step("```repl\nprint(llm_query('Review R1 | product=x | fine'))\nllm_query('again')\n```")
    assert "token budget exhausted" in info["new_messages"][0]["content"]
    env.close()


def test_tokens_are_counted_with_the_sub_models_tokenizer_when_reachable():
    class Tokenizer:
        def encode(self, text, add_special_tokens=False):
            return text.split()

    class Backend:
        tokenizer = Tokenizer()

    class Policy:
        backend = Backend()

        def chat(self, messages):
            return "one two three"

    count, exact = token_counter(Policy().chat)
    assert exact and count("a b c d") == 4
    count, exact = token_counter(lambda messages: "")
    assert not exact and count("x" * 9) == 3
    env = LongContextEnv(context_lengths=SMALL, families=["needle"])
    env.set_sub_model(Policy().chat)
    env.reset(seed=0)
    _, _, _, _, info = env.step("```repl\nr = llm_query('four words right here')\nFINAL(r)\n```")
    assert info["reward_components"]["sub_tokens"] == 4 + 3
    env.close()


def test_sub_model_specs_resolve_or_fail_clearly():
    assert resolve_sub_model("policy") is None
    endpoint = resolve_sub_model("openai:http://127.0.0.1:9/v1", args={"model": "m", "max_retries": 0})
    assert endpoint.backend.base_url == "http://127.0.0.1:9/v1"  # built, not contacted
    with pytest.raises(ValueError, match="sub_model"):
        LongContextEnv(sub_model="no such thing")
    # The rollout engine sets the policy only where the env has none: an explicit choice stays.
    assert LongContextEnv(sub_model="keyword").sub_model is not None


def test_oracle_and_keyword_sub_models_answer_the_labelling_prompt():
    task = SEMANTIC_FAMILIES["sentiment_count"](np.random.default_rng(0), 10_000, 0)
    lines = item_lines(task)[:5]
    prompt = [{"role": "user", "content": "Label these:\n" + "\n".join(lines)}]
    answers = dict(line.split(": ") for line in oracle_sub_model(task)(prompt).splitlines())
    assert answers == {line.split()[1]: task.meta["labels"][line.split()[1]] for line in lines}
    assert len(keyword_sub_model(task)(prompt).splitlines()) == 5


def test_demonstrations_chunk_call_llm_query_and_aggregate():
    env = LongContextEnv(context_lengths=TIERS_10K, families="semantic")  # no sub-model needed to demonstrate
    for seed in range(3):
        task = env.sample_task(np.random.default_rng(seed), 1)
        demo = env.demonstrate(task)
        code = "\n".join(m["content"] for m in demo if m["role"] == "assistant")
        assert "llm_query(" in code and "range(0, len(items)" in code and "FINAL_VAR" in code
        assert "llm_query(prompt)" in demo[0]["content"]  # the prompt offers what the demonstration uses
    env.close()


# ----------------------------------------------------------------------------- the direct baseline


def test_direct_env_plays_the_same_tasks_with_the_context_in_the_prompt():
    repl_env = LongContextEnv(context_lengths=SMALL)
    direct = LongContextDirectEnv(context_lengths=SMALL, context_tokens=100_000)
    a, b = repl_env.make_tasks(6, seed=9), direct.make_tasks(6, seed=9)
    assert [t.id for t in a] == [t.id for t in b] and [t.answer for t in a] == [t.answer for t in b]
    messages, _ = direct.reset(options={"task": b[0]})
    context = b[0].meta["context"]
    body = context if isinstance(context, str) else context[-1]
    assert body[-200:] in messages[-1]["content"] and b[0].meta["question"] in messages[-1]["content"]
    _, reward, term, _, info = direct.step(f"Answer: {b[0].answer}")
    assert term and reward == pytest.approx(1.0) and info["reward_components"]["context_kept"] == 1.0


def test_direct_env_cuts_the_context_to_its_token_budget():
    text = "".join(f"<{i:05d}>" for i in range(5_000))  # 35,000 characters
    middle = cut_context(text, 1_000)
    assert middle.startswith(text[:1_000]) and middle.endswith(text[-1_000:])
    assert "characters cut" in middle and len(middle) < 4_100
    head = cut_context(text, 1_000, how="head")
    assert head.startswith(text[:4_000]) and text[-7:] not in head
    assert cut_context(text, 10_000) == text
    env = LongContextDirectEnv(context_lengths={1: 50_000}, context_tokens=2_000)
    task = env.sample_task(np.random.default_rng(0), 1)
    assert task.meta["context_kept"] < 0.2 and len(task.prompt) < 9_000
    with pytest.raises(ValueError, match="cut"):
        LongContextDirectEnv(cut="tail")


def test_direct_answers_are_taken_whole_or_from_one_wrapper():
    assert extract_answer("  42 ") == "42"
    assert extract_answer("The answer is 42.") == "42"
    assert extract_answer("FINAL(kettle)") == "kettle"
    assert extract_answer("Answer: 3\nAnswer: 42") == "Answer: 3\nAnswer: 42"  # several candidates stay whole
    assert extract_answer("   ") is None


@pytest.mark.slow
@pytest.mark.parametrize("name, kwargs", [
    ("long_context", {"context_lengths": SMALL, "sub_model": "oracle"}),
    ("long_context_direct", {"context_lengths": SMALL}),
])
def test_check_passes_on_every_long_context_env(name, kwargs):
    from lfmgym.testing import check_env

    report = check_env(name, env_kwargs=kwargs, n_tasks=8, n_junk=200)
    assert report.ok, str(report)


def test_compare_plays_both_envs_on_the_same_tasks_and_tabulates(tmp_path):
    from lfmgym.backends.base import Generation
    from lfmgym.envs.long_context.compare import compare, format_table

    gold = {t.meta["question"]: t.answer for t in LongContextDirectEnv(context_lengths=SMALL).make_tasks(3, seed=7, difficulty=0)}

    class KnowsTheAnswers:  # answers the direct env plainly and the REPL env with a FINAL line
        def generate(self, batch, *, n=1, temperature=0.0, top_p=1.0, max_new_tokens=256, seed=None):
            out = []
            for messages in batch:
                text = messages[1]["content"]
                answer = next(a for q, a in gold.items() if q in text)
                out.append([Generation(answer if text.startswith("Context:") else f"FINAL({answer})")])
            return out

    rows = compare(KnowsTheAnswers(), tiers=[0], n=3, seed=7, repl_kwargs={"context_lengths": SMALL},
                   direct_kwargs={"context_lengths": SMALL}, out=tmp_path)
    assert [(r["env"], r["n"], r["correct"]) for r in rows] == [("long_context", 3, 1.0), ("long_context_direct", 3, 1.0)]
    assert len((tmp_path / "episodes.jsonl").read_text().splitlines()) == 6
    assert "| 0 | long_context_direct | 3 | 1.00 |" in format_table(rows)
