"""The tool_calling environment: conformance, oracle on every shape, failure kinds, state, fuzzing."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lfmgym import Task, ToolCall, render_tool_calls
from lfmgym.envs.tool_calling import catalog
from lfmgym.envs.tool_calling.env import FAILURE_FLAGS, ToolCallingEnv, mentions
from lfmgym.envs.tool_calling.store import Store
from lfmgym.envs.tool_calling.tasks import ALIASES, SHAPES, TIER_SHAPES, TOOLS, make_task, possible_answer
from lfmgym.tools import Toolbox

FORMATS = ("pythonic", "json")
WEIGHTED = ("calls", "outcome", "unknown_tool", "invalid_args", "malformed")


def play(env: ToolCallingEnv, task: Task, actions: list[str]) -> tuple[float, dict, dict]:
    """Play ``actions`` (the last one is repeated if the episode goes on) and return
    ``(reward, components, calls_match)``."""
    env.reset(options={"task": task})
    for i in range(env.max_turns):
        _, reward, term, trunc, info = env.step(actions[min(i, len(actions) - 1)])
        if term or trunc:
            return reward, info["reward_components"], env.episode.state["calls_match"]
    raise AssertionError("episode did not end within max_turns")


def without_repetition(env: ToolCallingEnv, reward: float, components: dict) -> float:
    return reward - env.reward_weights["repetition"] * components["repetition"]


def call(fmt: str, *calls: tuple[str, dict]) -> str:
    return render_tool_calls([ToolCall(n, a) for n, a in calls], fmt)


def hand_task(tools: list[str], turns: list[list[tuple[str, dict]]], *, shape: str, final: str,
              expect=(), forbid=(), store=None, exact=False, prompt="test") -> Task:
    """A task in the generator's format, written out by hand for a precise scenario."""
    turn_dicts = [[{"name": n, "arguments": a} for n, a in turn] for turn in turns]
    flat = [c for turn in turn_dicts for c in turn]
    meta = {"shape": shape, "source": "generated", "tools": [[t, t] for t in tools], "turns": turn_dicts,
            "final": final, "expect": list(expect), "forbid": list(forbid), "exact": exact, "store": store}
    return Task(id=f"hand-{shape}-{len(flat)}", prompt=prompt, answer=possible_answer(flat), meta=meta)


STORE = {
    "accounts": {"ACC-1": 100.0, "ACC-2": 50.0, "ACC-3": 10.0},
    "orders": [
        {"id": "O-101", "customer": "Ana Lopez", "item": "lamp", "status": "pending"},
        {"id": "O-102", "customer": "Ana Lopez", "item": "desk", "status": "shipped"},
        {"id": "O-201", "customer": "Ben Carter", "item": "chair", "status": "pending"},
    ],
    "events": [{"id": "E-1", "title": "Gym", "date": "2024-05-03"}],
    "next_event": 2,
}

CAPITAL = hand_task(["get_capital", "get_currency"], [[("get_capital", {"country": "Peru"})]],
                    shape="multiple", final="The capital of Peru is Lima.", expect=["Lima"])
TWO_CONVERSIONS = hand_task(
    ["convert_units"],
    [[("convert_units", {"value": 12, "from_unit": "km", "to_unit": "mi"}),
      ("convert_units", {"value": 100, "from_unit": "C", "to_unit": "F"})]],
    shape="parallel", final="7.46 mi and 212 F.", expect=["7.46", "212"])
CANCEL = hand_task(["list_orders", "cancel_order"],
                   [[("list_orders", {"customer": "Ana Lopez"})], [("cancel_order", {"order_id": "O-101"})]],
                   shape="multi_step", final="Cancelled O-101.", store=STORE)
IRRELEVANT = hand_task(["get_capital", "add_days"], [], shape="irrelevance", final="42.", expect=["42"],
                       forbid=["17"], exact=True, prompt="Which is larger, 17 or 42?")


@pytest.fixture(params=FORMATS)
def env(request) -> ToolCallingEnv:
    return ToolCallingEnv(tool_format=request.param)


# --------------------------------------------------------------------------- conformance


@pytest.mark.parametrize("fmt", FORMATS)
def test_check_env_passes(fmt):
    from lfmgym.testing import check_env

    report = check_env("tool_calling", env_kwargs={"tool_format": fmt})
    assert report.ok, str(report)


def test_registered_through_the_plugin():
    from lfmgym.plugins import get_registry, make_env

    registry = get_registry()
    assert "tool_calling" in registry.envs
    assert {"convert_units", "get_capital", "convert_currency", "day_of_week"} <= set(registry.tools)
    assert registry.tools["get_capital"].factory()("Peru") == "Lima"
    env = make_env("tool_calling", tool_format="json", difficulty=3)
    _, info = env.reset(seed=1)
    assert info["difficulty"] == 3 and env.episode.task.meta["shape"] == "multi_step"


# --------------------------------------------------------------------------- the oracle


@pytest.mark.parametrize("shape", SHAPES)
def test_oracle_earns_the_maximum_on_every_shape(env, shape):
    rng = np.random.default_rng(sum(map(ord, shape)))
    for _ in range(12):
        task = make_task(rng, int(rng.integers(4)), shape)
        reward, components = env.score_transcript(task, env.demonstrate(task))
        assert without_repetition(env, reward, components) == pytest.approx(1.0), (task.prompt, components)
        assert components["calls"] == components["outcome"] == 1.0
        assert all(components[f] == 0.0 for f in FAILURE_FLAGS), components
        assert components["tool_errors"] == 0.0
        if task.meta["store"] is not None and any(t[0] in ("transfer", "cancel_order", "add_event", "delete_event") for t in task.meta["tools"]):
            assert components["state"] == 1.0


def test_oracle_on_bfcl_style_irrelevance_and_multi_turn_transcript(env):
    demo = env.demonstrate(CANCEL)
    roles = [m["role"] for m in demo]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert "O-101" in demo[3]["content"]  # the first result feeds the second call
    assert demo[5]["content"] == "order O-101 cancelled"
    reward, components = env.score_transcript(CANCEL, demo)
    assert components["state"] == 1.0 and reward == pytest.approx(1.0 + 0.1 * components["repetition"])
    demo = env.demonstrate(IRRELEVANT)
    assert [m["role"] for m in demo] == ["system", "user", "assistant"] and demo[-1]["content"] == "42."


# --------------------------------------------------------------------------- task generation


def test_tiers_map_to_shapes():
    env = ToolCallingEnv()
    for d, shapes in TIER_SHAPES.items():
        for task in env.make_tasks(20, seed=d, difficulty=d):
            assert task.difficulty == d and task.meta["shape"] in shapes


def test_shapes_have_their_structure():
    rng = np.random.default_rng(7)
    for _ in range(30):
        t = make_task(rng, 0, "simple")
        assert len(t.meta["tools"]) == 1 and len(t.meta["turns"]) == 1 and len(t.answer) == 1
        t = make_task(rng, 1, "multiple")
        assert 2 <= len(t.meta["tools"]) <= 3 and len(t.answer) == 1
        t = make_task(rng, 1, "irrelevance")
        assert t.answer == [] and t.meta["turns"] == [] and len(t.meta["tools"]) == 2
        t = make_task(rng, 2, "parallel")
        (turn,) = t.meta["turns"]
        assert len(turn) >= 2 and len({c["name"] for c in turn}) == 1
        t = make_task(rng, 2, "parallel_multiple")
        (turn,) = t.meta["turns"]
        assert len(turn) >= 2 and len({c["name"] for c in turn}) == 2
        t = make_task(rng, 3, "multi_step")
        assert len(t.meta["turns"]) == 2


def test_multi_step_results_feed_the_next_call():
    env = ToolCallingEnv()
    rng = np.random.default_rng(11)
    for _ in range(40):
        task = make_task(rng, 3, "multi_step")
        demo = env.demonstrate(task)
        first_result = demo[3]["content"]
        second_args = task.meta["turns"][1][0]["arguments"]
        assert any(str(v) in first_result for v in second_args.values()), (first_result, second_args)


def test_requests_are_paraphrased_and_tools_renamed():
    rng = np.random.default_rng(3)
    templates, names = set(), set()
    for _ in range(300):
        t = make_task(rng, 1, "multiple")
        for key, shown in t.meta["tools"]:
            if key == "get_capital":
                names.add(shown)
        if any(k == "get_capital" for k, _ in t.meta["tools"]) and t.answer and "country" in next(iter(t.answer[0].values())):
            country = next(iter(t.answer[0].values()))["country"][0]
            templates.add(t.prompt.replace(country, "<C>"))
    assert names == {"get_capital", *ALIASES["get_capital"]}
    assert len(templates) >= 5  # three tools take a country, each with several templates


def test_every_tool_is_asked_for():
    # Each tool domain contributes a request per tool: a tool no request calls is never trained.
    rng = np.random.default_rng(0)
    called = set()
    for _ in range(200):
        t = make_task(rng, 0, "simple")
        called |= {key for key, _ in t.meta["tools"]}
    assert called == set(TOOLS)


def test_generation_is_deterministic_and_ids_are_stable():
    a = [make_task(np.random.default_rng(s), s % 4) for s in range(20)]
    b = [make_task(np.random.default_rng(s), s % 4) for s in range(20)]
    assert [t.to_dict() for t in a] == [t.to_dict() for t in b]
    assert len({t.id for t in a}) == 20


def test_demonstrations_fit_a_small_context():
    # The demo trains a ~3M-parameter model on ~512-token sequences: at most 3 tools per task
    # and short transcripts (about 3.5 characters per token with a BPE trained on this text).
    env = ToolCallingEnv(tool_format="json")
    rng = np.random.default_rng(0)
    for i in range(300):
        task = make_task(rng, i % 4)
        assert len(task.meta["tools"]) <= 3
        assert sum(len(m["content"]) for m in env.demonstrate(task)) < 2000


# --------------------------------------------------------------------------- failure kinds


def flags(components: dict) -> set[str]:
    return {f for f in FAILURE_FLAGS if components[f] == 1.0}


def test_wrong_function(env):
    fmt = env.tool_format
    reward, c, match = play(env, CAPITAL, [call(fmt, ("get_currency", {"country": "Peru"})), "PEN"])
    assert flags(c) == {"wrong_function"} and c["calls"] == 0.0 and c["outcome"] == 0.0
    assert match["kind"] == "wrong_name" and "get_capital" in match["error"]
    assert reward <= 0.0 + 1e-9


def test_wrong_value(env):
    fmt = env.tool_format
    reward, c, match = play(env, CAPITAL, [call(fmt, ("get_capital", {"country": "Chile"})), "Santiago"])
    assert flags(c) == {"wrong_value"} and c["calls"] == 0.0 and c["answer"] == 0.0
    assert match["kind"] == "wrong_value" and "Chile" in match["error"]
    assert reward <= 0.0 + 1e-9


def test_wrong_parameter_name_is_a_params_failure_and_an_invalid_argument(env):
    fmt = env.tool_format
    reward, c, match = play(env, CAPITAL, [call(fmt, ("get_capital", {"nation": "Peru"})), "Lima"])
    assert flags(c) == {"wrong_params"} and match["kind"] in ("missing_param", "unknown_param")
    assert c["invalid_args"] == 1.0 and reward < 0.0


def test_missing_call(env):
    fmt = env.tool_format
    one = call(fmt, ("convert_units", {"value": 12, "from_unit": "km", "to_unit": "mi"}))
    reward, c, match = play(env, TWO_CONVERSIONS, [one, "7.46 mi"])
    assert flags(c) == {"missing_call"} and match["kind"] == "missing_call" and "2" in match["error"]
    assert c["answer"] == 0.0 and reward <= 0.0 + 1e-9


def test_extra_call(env):
    fmt = env.tool_format
    both = call(fmt, ("get_capital", {"country": "Peru"}), ("get_currency", {"country": "Peru"}))
    reward, c, match = play(env, CAPITAL, [both, "The capital of Peru is Lima."])
    assert flags(c) == {"extra_call"} and match["kind"] == "extra_call"
    assert c["calls"] == 0.0 and c["answer"] == 1.0 and reward == pytest.approx(0.0, abs=0.2)


def test_any_call_on_an_irrelevance_task_is_an_extra_call(env):
    fmt = env.tool_format
    _, c, match = play(env, IRRELEVANT, [call(fmt, ("get_capital", {"country": "Peru"})), "42"])
    assert flags(c) == {"extra_call"} and match["kind"] == "no_call_expected" and c["calls"] == 0.0


def test_malformed_text_is_fed_back_and_penalised(env):
    fmt = env.tool_format
    broken = "<|tool_call_start|>[get_capital(country='Peru')" if fmt == "pythonic" else '<tool_call>{"name": "get_capital", "arguments": {'
    env.reset(options={"task": CAPITAL})
    _, _, term, _, info = env.step(broken)
    assert not term and not info["parse_ok"] and "could not be parsed" in info["new_messages"][0]["content"]
    reward, c, match = play(env, CAPITAL, [broken, call(fmt, ("get_capital", {"country": "Peru"})), "Lima."])
    assert flags(c) == {"malformed"} and match["valid"] and c["calls"] == c["outcome"] == 1.0
    assert without_repetition(env, reward, c) == pytest.approx(0.9)


def test_each_failure_kind_scores_below_the_oracle(env):
    fmt = env.tool_format
    best, _ = env.score_transcript(CAPITAL, env.demonstrate(CAPITAL))
    attempts = {
        "wrong_function": [call(fmt, ("get_currency", {"country": "Peru"})), "PEN"],
        "wrong_value": [call(fmt, ("get_capital", {"country": "Chile"})), "Santiago"],
        "extra_call": [call(fmt, ("get_capital", {"country": "Peru"}), ("get_capital", {"country": "Chile"})), "Lima"],
        "missing_call": ["Lima"],
        "malformed": ["<tool_call>{</tool_call>" if fmt == "json" else "<|tool_call_start|>[x(]<|tool_call_end|>", "Lima"],
    }
    for kind, actions in attempts.items():
        reward, c, _ = play(env, CAPITAL, actions)
        assert kind in flags(c) and reward < best, (kind, reward, c)


# --------------------------------------------------------------------------- penalties, state, answers


def test_unknown_tool_and_invalid_arguments_are_penalised(env):
    fmt = env.tool_format
    _, c, _ = play(env, CAPITAL, [call(fmt, ("get_weather", {"city": "Lima"})), "Lima"])
    assert c["unknown_tool"] == 1.0 and c["invalid_args"] == 0.0
    assert "unknown tool" in env.episode.tool_results[0]
    _, c, _ = play(env, CAPITAL, [call(fmt, ("get_capital", {})), "Lima"])
    assert c["invalid_args"] == 1.0 and c["unknown_tool"] == 0.0 and c["wrong_params"] == 1.0
    # A tool that rejects its input (unknown unit code) counts as an invalid argument too.
    _, c, _ = play(env, TWO_CONVERSIONS, [call(fmt, ("convert_units", {"value": 12, "from_unit": "kilometers", "to_unit": "mi"})), "?"])
    assert c["invalid_args"] == 1.0 and "unknown unit" in env.episode.tool_results[0]
    for comp in WEIGHTED:
        assert comp in c


def test_end_state_is_checked(env):
    fmt = env.tool_format
    list_ana = call(fmt, ("list_orders", {"customer": "Ana Lopez"}))
    reward, c, _ = play(env, CANCEL, [list_ana, call(fmt, ("cancel_order", {"order_id": "O-101"})), "Cancelled."])
    assert c["state"] == 1.0 and c["calls"] == 1.0 and reward > 0.9
    assert env.episode.state["store"].snapshot()["orders"][0] == ("O-101", "cancelled")
    # The wrong order: calls and state both fail.
    _, c, _ = play(env, CANCEL, [list_ana, call(fmt, ("cancel_order", {"order_id": "O-201"})), "Cancelled."])
    assert c["state"] == 0.0 and c["calls"] == 0.0 and c["outcome"] == 0.0
    # Claiming success without acting.
    _, c, _ = play(env, CANCEL, ["Cancelled O-101."])
    assert c["state"] == 0.0 and c["outcome"] == 0.0 and c["missing_call"] == 1.0


def test_each_episode_gets_a_fresh_store(env):
    fmt = env.tool_format
    for _ in range(2):
        _, c, _ = play(env, CANCEL, [call(fmt, ("list_orders", {"customer": "Ana Lopez"})),
                                     call(fmt, ("cancel_order", {"order_id": "O-101"})), "Done."])
        assert c["state"] == 1.0 and c["invalid_args"] == 0.0  # a shared store would refuse the 2nd cancel


def test_state_comparison_ignores_case_of_free_text(env):
    task = hand_task(["add_event"], [[("add_event", {"title": "Dentist", "date": "2024-06-01"})]],
                     shape="simple", final="Added.", store=STORE)
    _, c, _ = play(env, task, [call(env.tool_format, ("add_event", {"title": "dentist", "date": "2024-06-01"})), "Added."])
    assert c["state"] == 1.0 and c["calls"] == 1.0


def test_final_answer_must_report_the_result(env):
    fmt = env.tool_format
    right = call(fmt, ("get_capital", {"country": "Peru"}))
    for text, ok in [("Lima.", 1.0), ("The capital is LIMA", 1.0), ("Limassol", 0.0), ("I don't know", 0.0),
                     ("Lima " + "x" * 500, 0.0)]:
        _, c, _ = play(env, CAPITAL, [right, text])
        assert c["answer"] == ok and c["outcome"] == ok, text


def test_mentions():
    assert mentions("200 USD is 29,900 JPY.", "29900")
    assert mentions("It is -40 degrees.", "-40") and not mentions("ACC-40 has 5", "-40")
    assert mentions("7.460 mi", "7.46") and not mentions("746 mi", "7.46")
    assert mentions("On 2024-05-03: Gym", "2024-05-03") and not mentions("2024-05-30", "2024-05-03")
    assert mentions("the weekday is Friday!", "friday") and not mentions("Fridays", "Friday")
    assert not mentions("", "Lima")


def test_irrelevance_needs_exactly_the_right_option(env):
    for text, ok in [("42.", 1.0), ("42", 1.0), ("17", 0.0), ("42 or 17", 0.0), ("40, 41, 42, 43", 0.0),
                     ("Which is larger, 17 or 42?", 0.0), ("I cannot help with that.", 0.0)]:
        reward, c, _ = play(env, IRRELEVANT, [text])
        assert c["answer"] == ok and c["calls"] == 1.0, text
        assert (without_repetition(env, reward, c) == pytest.approx(1.0)) == bool(ok)


def test_generic_reward_hacks_never_earn_the_maximum():
    from lfmgym.rewards.hacking import generic_attacks

    env = ToolCallingEnv()
    rng = np.random.default_rng(5)
    for i in range(24):
        task = make_task(rng, i % 4, SHAPES[i % len(SHAPES)])
        gold = task.meta["expect"][0] if task.meta["expect"] else ""
        for name, text in generic_attacks(task.prompt, gold):
            reward, c, _ = play(env, task, [text])
            assert reward < 1.0 - 1e-9, (name, task.prompt)
            if task.meta["shape"] == "irrelevance":
                assert c["answer"] == 0.0, (name, task.prompt)


# --------------------------------------------------------------------------- fuzzing

# Flat strategies on purpose: recursive ones cost more generation time than the env steps they feed.
identifiers = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_.ABC0123", min_size=1, max_size=10)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
values = st.one_of(scalars, st.lists(scalars, max_size=3))
TOOL_NAMES = sorted({n for aliases in ALIASES.values() for n in aliases} | set(ALIASES))
names = st.one_of(st.sampled_from(TOOL_NAMES), identifiers)
PARAMS = ["value", "from_unit", "to_unit", "country", "date", "days", "amount", "account", "order_id", "title", "customer"]
args = st.dictionaries(st.one_of(st.sampled_from(PARAMS), identifiers), values, max_size=4)


@st.composite
def junk(draw):
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.text(max_size=300))
    calls = draw(st.lists(st.tuples(names, args), min_size=1, max_size=3))
    fmt = draw(st.sampled_from(FORMATS))
    try:
        text = render_tool_calls([ToolCall(n, a) for n, a in calls], fmt)
    except ValueError:
        text = "<|tool_call_start|>[f(x=1)]<|tool_call_end|>"
    if kind == 1:
        return text
    if kind == 2:  # cut anywhere: unterminated markup, half a literal
        return text[: draw(st.integers(0, len(text)))]
    if kind == 3:  # splice random text into the call
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.text(max_size=20)) + text[at:]
    if kind == 4:
        pieces = ["<|tool_call_start|>", "<|tool_call_end|>", "<tool_call>", "</tool_call>", "[", "]", "(", ")",
                  "{", "}", "=", ",", "'", '"', ":", "get_capital", "country", "None", "1e999", "\\", "\n"]
        return "".join(draw(st.lists(st.sampled_from(pieces), max_size=30)))
    return text + "\n" + draw(st.text(max_size=40))


FUZZ_ENVS = {fmt: ToolCallingEnv(tool_format=fmt) for fmt in FORMATS}


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 10_000), fmt=st.sampled_from(FORMATS), actions=st.lists(junk(), min_size=1, max_size=3))
def test_fuzzed_junk_never_raises(seed, fmt, actions):
    env = FUZZ_ENVS[fmt]
    env.reset(seed=seed)
    low, high = env.reward_range
    for i in range(env.max_turns):
        obs, reward, term, trunc, info = env.step(actions[i % len(actions)])
        assert math.isfinite(reward) and low - 1e-9 <= reward <= high + 1e-9
        assert env.observation_space.contains(obs)
        if term or trunc:
            break
    errors = " ".join(env.episode.parse_errors)
    assert "env error" not in errors and "score error" not in errors, errors
    assert "score_error" not in info["reward_components"]
    assert all(k in info["reward_components"] for k in WEIGHTED)


# --------------------------------------------------------------------------- the tool suites


def test_stateless_tools():
    assert catalog.convert_units(12, "km", "mi") == 7.46
    assert catalog.convert_units(100, "C", "F") == 212 and catalog.convert_units(-40, "F", "C") == -40
    assert catalog.days_between("2024-02-27", "2024-03-01") == 3
    assert catalog.add_days("2024-02-27", 3) == "2024-03-01"
    assert catalog.day_of_week("2024-03-01") == "Friday"
    assert catalog.get_capital("peru") == "Lima" and catalog.get_currency("Japan") == "JPY"
    assert catalog.convert_currency(200, "USD", "JPY") == 29900
    for bad in (lambda: catalog.convert_units(1, "km", "kg"), lambda: catalog.convert_units(1, "kms", "mi"),
                lambda: catalog.add_days("03/01/2024", 1), lambda: catalog.get_capital("Atlantis"),
                lambda: catalog.convert_currency(1, "USD", "XYZ")):
        with pytest.raises(ValueError):
            bad()


def test_store_tools():
    store = Store(STORE)
    assert store.get_balance("ACC-1") == 100
    assert store.transfer("ACC-1", "ACC-2", 30) == "moved 30 from ACC-1 to ACC-2"
    assert store.accounts == {"ACC-1": 70.0, "ACC-2": 80.0, "ACC-3": 10.0}
    with pytest.raises(ValueError, match="insufficient funds"):
        store.transfer("ACC-3", "ACC-1", 11)
    with pytest.raises(ValueError, match="only pending"):
        store.cancel_order("O-102")
    assert [o["id"] for o in store.list_orders("ana lopez")] == ["O-101", "O-102"]
    assert store.add_event("Dentist", "2024-05-03") == "added E-2"
    assert [e["title"] for e in store.list_events("2024-05-03")] == ["Gym", "Dentist"]
    assert store.delete_event("E-1") == "deleted E-1"
    assert Store(STORE).accounts["ACC-1"] == 100.0  # the spec itself is never mutated


def test_tool_schemas_are_small():
    toolbox = Toolbox([*(getattr(catalog, n) for n in ("convert_units", "days_between", "add_days", "day_of_week",
                                                        "get_capital", "get_currency", "get_population",
                                                        "convert_currency")), *Store(STORE).tools()])
    assert len(toolbox) == 15
    for schema in toolbox.schemas:
        fn = schema["function"]
        assert "return" not in fn and len(fn["description"]) <= 40, fn["name"]
        for p in fn["parameters"]["properties"].values():
            assert len(p["description"]) <= 45 and re.match(r"[A-Z]", p["description"])


def test_skipping_needed_tools_never_beats_a_failed_attempt(env):
    # Without the no_call floor a reply that never calls scores 0 and every failed attempt less:
    # RL then learns to stop calling tools.
    skipped, c, _ = play(env, CAPITAL, ["The capital of Peru is Lima."])
    assert c["no_call"] == 1.0 and skipped == pytest.approx(-0.3)
    broken = {"pythonic": "<|tool_call_start|>[get_capital(country=Peru<|tool_call_end|>",
              "json": '<tool_call>{"name": "get_capital", "arguments": {"country": "Peru"</tool_call>'}[env.tool_format]
    malformed, c, _ = play(env, CAPITAL, [broken, "Lima"])
    assert c["no_call"] == 0.0 and malformed > skipped
    wrong, _, _ = play(env, CAPITAL, [call(env.tool_format, ("get_capital", {"nation": "Peru"})), "Lima"])
    assert wrong > skipped
    assert env.reward_range[0] <= skipped
    # Where no call is the right answer, not calling costs nothing.
    reward, c, _ = play(env, IRRELEVANT, ["None of the tools can do that. 42."])
    assert c["no_call"] == 0.0 and reward >= 0.5  # the calls credit: no call was right
