"""Math and QA rewards: equivalences, extraction precedence, never raising, and reward hacking."""

import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lfmgym import data
from lfmgym.rewards.hacking import generic_attacks
from lfmgym.rewards.math import MathReward, extract_math_answer, math_reward
from lfmgym.rewards.qa import QAReward, exact_match, extract_qa_answer, normalize_answer, token_f1


@pytest.mark.parametrize("completion, gold", [
    ("The total is 1,234.", "1234"),
    ("\\boxed{1234}", "1,234"),
    ("So the result is \\boxed{0.5}", "\\frac{1}{2}"),
    ("\\boxed{\\frac{1}{2}}", "0.5"),
    ("The answer is $12.", "12"),
    ("Answer: 12 dollars", "12"),
    ("The answer is x = 3.", "3"),
    ("#### 72", "72"),
    ("Answer: \\$1,000,000", "1000000"),
    ("Answer: 25%", "25"),
    ("\\boxed{3.50}", "3.5"),
    ("Answer: -3", "-3"),
    ("She has 5 + 3 = 8 apples left.", "8"),
    ("42", "42"),
])
def test_equivalent_forms_score_one(completion, gold):
    r = math_reward(completion, gold)
    assert r["reward"] == 1.0 and r["answer_extracted"], r


def test_percent_only_where_the_task_says_so():
    assert math_reward("\\boxed{50\\%}", "0.5")["reward"] == 0.0
    assert math_reward("\\boxed{50\\%}", "0.5", allow_percent=True)["reward"] == 1.0
    assert math_reward("\\boxed{25\\%}", "25", allow_percent=True)["reward"] == 1.0
    assert math_reward("\\boxed{0.25}", "25", allow_percent=True)["reward"] == 1.0
    assert math_reward("\\boxed{0.25}", "25")["reward"] == 0.0


def test_extraction_precedence():
    text = "The answer is 7. #### 8 and finally \\boxed{9} then 10"
    assert extract_math_answer(text) == ("9", "boxed")
    assert extract_math_answer("The answer is 7.\n#### 8") == ("7", "answer_is")
    assert extract_math_answer("blah\n#### 8\nthen 10") == ("8", "gsm8k")
    assert extract_math_answer("so we get 5 + 6 = 11") == ("11", "last_number")
    assert extract_math_answer("\\boxed{1} and \\boxed{\\frac{2}{3}}") == ("\\frac{2}{3}", "boxed")
    assert extract_math_answer("no numbers here") == (None, "none")


def test_nothing_extracted_is_zero_with_the_metric():
    r = math_reward("I am not sure.", "4")
    assert r == {"reward": 0.0, "answer_extracted": False, "extracted": None, "method": "none", "reason": "no_answer"}


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=300), gold=st.sampled_from(["4", "\\frac{1}{2}", "x^2", "", "abc"]))
def test_any_string_gives_a_number(text, gold):
    r = math_reward(text, gold)
    assert r["reward"] in (0.0, 1.0) and isinstance(r["answer_extracted"], bool)
    assert MathReward()(text, answer=gold) in (0.0, 1.0)


def test_pathological_inputs_never_raise():
    for junk in [None, 12, "\\boxed{" * 500, "}" * 1000, "\\boxed{2^{2^{2^{2^{2^{2^{10}}}}}}}", "9" * 300, "$" * 100,
                 "\\frac{" * 200 + "1", "answer is " * 3000, "\x00\ud800",
                 # inputs that make naive regexes backtrack for minutes
                 "[a(" + "), b(" * 5000, "1 = " * 15000, "\\boxed{" * 8000, '{"name": "f", "arguments": {' * 2000]:
        r = math_reward(junk, "1")
        assert r["reward"] in (0.0, 1.0)


def test_gsm8k_reference_solutions_score_one():
    rows = [json.loads(l) for l in data.read_text("gsm8k/test.jsonl").splitlines()[:40]]
    for row in rows:
        gold = row["answer"].split("####")[-1].strip()
        assert math_reward(row["answer"], gold, prompt=row["question"])["reward"] == 1.0, row["answer"]
        body = row["answer"].split("####")[0] + f"\nThe answer is {gold}."
        assert math_reward(body, gold)["reward"] == 1.0, body


MATH_TASKS = [
    ("Janet's ducks lay 16 eggs per day. She eats 3 and bakes with 4. She sells the rest for $2 each. "
     "How much does she make every day?", "18"),
    ("What is 3/4 as a decimal?", "0.75"),
    ("Compute 12 * 3.", "36"),
    ("What is 7 - 10?", "-3"),
    ("A shop sold 1,200 pens on Monday and 34 on Tuesday. How many pens in total?", "1234"),
    ("Simplify 2/4.", "\\frac{1}{2}"),
]


@pytest.mark.parametrize("prompt, gold", MATH_TASKS)
def test_math_reward_resists_generic_attacks(prompt, gold):
    for name, text in generic_attacks(prompt, gold):
        for p in (None, prompt):
            r = math_reward(text, gold, prompt=p)
            assert r["reward"] == 0.0, (name, text[:120], r)


def test_attack_list_covers_the_issue():
    names = {n for n, _ in generic_attacks("What is 40 + 2?", "42")}
    for required in ("stuff_candidates", "several_boxed", "empty", "question_copy", "question_numbers",
                     "huge_output", "lookalike_digits", "fullwidth_digits", "toolcall_pythonic", "toolcall_json"):
        assert required in names
    huge = dict(generic_attacks("What is 40 + 2?", "42"))["huge_output"]
    assert len(huge) > 100_000 and "42" in huge


def test_guards_report_their_reason():
    assert math_reward("\\boxed{41} \\boxed{42}", "42")["reason"] == "ambiguous"
    assert math_reward("Answer: 4２", "42")["reason"] == "non_ascii_digits"
    assert math_reward("1\n2\n42", "42")["reason"] == "number_list"
    assert math_reward("x" * 70_000 + " 42", "42")["reason"] == "too_long"
    assert math_reward("Compute 12 * 36 now please", "36", prompt="Compute 12 * 36 now please")["reason"] == "copied_prompt"
    assert math_reward("Is it 42?", "42")["reason"] == "question"
    # agreeing marked answers are fine
    assert math_reward("The answer is 0.5, i.e. \\boxed{\\frac{1}{2}}", "0.5")["reward"] == 1.0


def test_math_reward_callable_reads_task_fields_and_pickles():
    fn = pickle.loads(pickle.dumps(MathReward()))
    assert fn("\\boxed{50\\%}", answer="0.5", meta={"allow_percent": True}) == 1.0
    assert fn("\\boxed{50\\%}", answer="0.5", meta={}) == 0.0
    assert fn("\\boxed{7}", answer=7) == 1.0


# ----------------------------------------------------------------------------- QA


def test_squad_normalization_and_scores():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert normalize_answer("an Apple, a pear") == "apple pear"
    assert exact_match("the eiffel tower", ["Eiffel Tower", "Tour Eiffel"]) == 1.0
    assert exact_match("Eiffel", "Eiffel Tower") == 0.0
    assert token_f1("Eiffel", ["Eiffel Tower", "x"]) == pytest.approx(2 / 3)
    assert token_f1("Tour Eiffel", ["Eiffel Tower", "Tour Eiffel"]) == 1.0
    assert token_f1("", [""]) == 1.0 and token_f1("", ["Paris"]) == 0.0
    assert exact_match("Paris", []) == 0.0 and token_f1("Paris", None) == 0.0


@settings(max_examples=60, deadline=None)
@given(pred=st.text(max_size=100), aliases=st.lists(st.text(max_size=30), max_size=4))
def test_qa_scores_are_bounded_and_em_implies_f1(pred, aliases):
    em, f1 = exact_match(pred, aliases), token_f1(pred, aliases)
    assert em in (0.0, 1.0) and 0.0 <= f1 <= 1.0
    if em == 1.0:
        assert f1 == 1.0


def test_qa_extraction_and_hedging():
    assert extract_qa_answer("Thinking... Answer: Paris.") == "Paris"
    assert extract_qa_answer("so \\boxed{Paris}") == "Paris"
    assert extract_qa_answer("\\boxed{Lyon} \\boxed{Paris}") == ""
    assert extract_qa_answer("Answer: Lyon\nAnswer: Paris") == ""
    assert extract_qa_answer("Paris") == "Paris"


QA_TASKS = [("What is the capital of France?", ["Paris"]), ("Who wrote Hamlet?", ["William Shakespeare", "Shakespeare"]),
            ("In which year did World War II end?", ["1945"])]


@pytest.mark.parametrize("prompt, aliases", QA_TASKS)
def test_qa_rewards_resist_generic_attacks(prompt, aliases):
    f1, em = QAReward("f1"), QAReward("em")
    assert f1(f"Answer: {aliases[0]}", answer=aliases) == 1.0
    for name, text in generic_attacks(prompt, aliases[0]):
        assert f1(text, answer=aliases) < 1.0, (name, text[:100])
        assert em(text, answer=aliases) == 0.0, (name, text[:100])


def test_sampled_word_salad_after_answer_is_scored_quickly():
    """A GRPO sample hung the trainer here: the 'number then words' pattern backtracked
    exponentially on a long run of words. It is scored (wrong) in linear time now."""
    import time

    from lfmgym.rewards.math import math_reward

    salad = ("Answer: 670 is cancelled.To usesog uses Fingdom Jakarta J hasAdded \"PENber that Kingdom has about "
             "1101 is cancelled.")
    t0 = time.perf_counter()
    out = math_reward(salad + " word" * 2000, "825")
    assert time.perf_counter() - t0 < 5.0  # was: minutes for the first 100 characters alone
    assert out["reward"] == 0
