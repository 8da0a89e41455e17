"""The BFCL-semantics tool-call matcher: every BFCL gold answer is valid, perturbations fail with
the right kind, and the semantics the issue lists (int for float, normalization, optional, order)."""

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lfmgym import data
from lfmgym.rewards.toolcall_ast import ToolCallReward, match_calls, standardize_string, toolcall_reward
from lfmgym.toolcalls import ToolCall

CATEGORIES = ["simple_python", "multiple", "parallel", "parallel_multiple", "simple_java", "simple_javascript"]
LANG = {"simple_java": "java", "simple_javascript": "javascript"}


def load(category):
    questions = {}
    for line in data.read_text(f"bfcl/BFCL_v4_{category}.json").splitlines():
        q = json.loads(line)
        questions[q["id"]] = q
    answers = [json.loads(line) for line in data.read_text(f"bfcl/possible_answer/BFCL_v4_{category}.json").splitlines()]
    return [(questions[a["id"]], a["ground_truth"]) for a in answers]


def first_accepted(values):
    values = values if isinstance(values, list) else [values]
    return canonical(next(v for v in values if v != ""))


def canonical(value):
    """A gold accepted value as a concrete argument: dicts of accepted lists become plain dicts."""
    if isinstance(value, dict):
        return {k: first_accepted(v) for k, v in value.items() if "" not in (v if isinstance(v, list) else [v])}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [canonical(v) for v in value]
    return value


def gold_calls(gold, functions):
    """One concrete call per gold entry: the first accepted value of every parameter, leaving out
    optional ones ("" accepted) unless the schema requires them."""
    docs = {f["name"]: f for f in functions}
    calls = []
    for entry in gold:
        name, params = next(iter(entry.items()))
        required = set(docs[name]["parameters"].get("required", []))
        args = {p: first_accepted(v) for p, v in params.items() if "" not in v or p in required}
        calls.append({"name": name, "arguments": args})
    return calls


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_bfcl_gold_answer_is_valid(category):
    rows = load(category)
    rng = random.Random(0)
    for question, gold in rows:
        calls = gold_calls(gold, question["function"])
        rng.shuffle(calls)  # parallel calls match in any order
        result = match_calls(calls, gold, question["function"], language=LANG.get(category, "python"), category=category)
        assert result.valid, (question["id"], result, calls)


# ----------------------------------------------------------------------------- Java / JS source strings


def java_literal(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)


def java_source(value, ptype, item_type):
    if isinstance(value, str):
        return value  # a string parameter, or a variable name given for any type
    if ptype == "boolean":
        return "true" if value else "false"
    if ptype == "long":
        return f"{value}L"
    if ptype == "float":
        return f"{float(value)}f"
    if ptype == "double":
        return repr(float(value))
    if ptype in ("Array", "ArrayList"):
        def item(v):
            if item_type == "long":
                return f"{v}L"
            if item_type == "float":
                return f"{float(v)}f"
            return java_literal(v)
        body = ", ".join(item(v) for v in value)
        return f"new {item_type or 'Object'}[]{{{body}}}" if ptype == "Array" else f"new ArrayList<>(Arrays.asList({body}))"
    if ptype == "HashMap":
        puts = " ".join(f'put("{k}", {java_literal(v)});' for k, v in value.items())
        return f"new HashMap<String, Object>() {{{{ {puts} }}}}"
    return str(value)


def js_literal(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(js_literal(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {js_literal(x)}" for k, x in v.items()) + "}"
    return repr(v)


def js_source(value, ptype, item_type):
    if isinstance(value, str):
        return json.dumps(value) if ptype == "String" else value
    if ptype == "Boolean":
        return "true" if value else "false"
    if ptype == "float":
        return repr(float(value))
    if ptype == "Bigint":
        return f"{value}n"
    return js_literal(value)


@pytest.mark.parametrize("category, render", [("simple_java", java_source), ("simple_javascript", js_source)])
def test_java_and_javascript_gold_written_as_source_strings(category, render):
    """BFCL's own setting: every Java/JS value is source text, converted by the declared type."""
    for question, gold in load(category):
        props = question["function"][0]["parameters"]["properties"]
        calls = gold_calls(gold, question["function"])
        for call in calls:
            call["arguments"] = {p: render(v, props[p]["type"], props[p].get("items", {}).get("type"))
                                 for p, v in call["arguments"].items()}
        result = match_calls(calls, gold, question["function"], language=LANG[category], strict_types=True)
        assert result.valid, (question["id"], result, calls)


def test_java_type_rules():
    doc = [{"name": "f", "parameters": {"properties": {"n": {"type": "long"}, "ok": {"type": "boolean"},
                                                         "xs": {"type": "ArrayList", "items": {"type": "integer"}}},
                                        "required": ["n"]}}]
    gold = [{"f": {"n": [42], "ok": [True, ""], "xs": [[1, 2], ""]}}]
    assert match_calls([{"name": "f", "arguments": {"n": "42L"}}], gold, doc, language="java").valid
    # BFCL: a long needs its L suffix; "42" stays a string
    assert match_calls([{"name": "f", "arguments": {"n": "42"}}], gold, doc, language="java").kind == "wrong_type"
    assert match_calls([{"name": "f", "arguments": {"n": "42L", "ok": "true",
                                                    "xs": "new ArrayList<Integer>() {{ add(1); add(2); }}"}}], gold, doc,
                       language="java").valid
    assert match_calls([{"name": "f", "arguments": {"n": "42L", "xs": "Arrays.asList(1, 3)"}}], gold, doc,
                       language="java").kind == "wrong_value"
    native = [{"name": "f", "arguments": {"n": 42, "ok": True}}]
    assert match_calls(native, gold, doc, language="java").valid
    assert match_calls(native, gold, doc, language="java", strict_types=True).kind == "wrong_type"


# ----------------------------------------------------------------------------- perturbations


def simple_param(call, props, gold_params):
    """A parameter whose declared type is string/integer/float and whose value has that type."""
    kinds = {"string": str, "integer": int, "float": float}
    for p, v in call["arguments"].items():
        t = props.get(p, {}).get("type")
        if t in kinds and type(v) is kinds[t]:
            return p, t
    return None, None


def perturbations(question, gold):
    docs = {f["name"]: f for f in question["function"]}
    calls = gold_calls(gold, question["function"])
    out = []
    c0 = json.loads(json.dumps(calls))
    c0[0]["name"] += "_v2"
    out.append(("wrong_name", c0))
    c1 = json.loads(json.dumps(calls))
    c1[0]["arguments"]["zz_not_a_param"] = 1
    out.append(("unknown_param", c1))
    out.append(("extra_call", calls + [calls[0]]))
    out.append(("missing_call", calls[1:]))
    name, params = next(iter(gold[0].items()))
    needed = [p for p, v in params.items() if "" not in v]
    if needed:
        c2 = json.loads(json.dumps(calls))
        del c2[0]["arguments"][needed[0]]
        out.append(("missing_param", c2))
    props = docs[name]["parameters"]["properties"]
    p, t = simple_param(calls[0], props, params)
    if p is not None:
        value = calls[0]["arguments"][p]
        wrong = "zzqx not an accepted value" if t == "string" else value + (7919 if t == "integer" else 7919.5)
        c3 = json.loads(json.dumps(calls))
        c3[0]["arguments"][p] = wrong
        out.append(("wrong_value", c3))
        c4 = json.loads(json.dumps(calls))
        c4[0]["arguments"][p] = {"not": "a scalar"}
        out.append(("wrong_type", c4))
    return out


@pytest.mark.parametrize("category", ["simple_python", "multiple", "parallel", "parallel_multiple"])
def test_perturbed_gold_is_rejected_with_the_right_kind(category):
    counts = {}
    for question, gold in load(category):
        for kind, calls in perturbations(question, gold):
            result = match_calls(calls, gold, question["function"], category=category)
            assert not result.valid and result.kind == kind, (question["id"], kind, result)
            counts[kind] = counts.get(kind, 0) + 1
    n = len(load(category))
    assert counts["wrong_name"] == counts["extra_call"] == n
    assert counts["wrong_value"] > 0.8 * n and counts["wrong_type"] > 0.8 * n and counts["missing_param"] > 0.8 * n


def test_irrelevance_no_call_is_right():
    rows = [json.loads(line) for line in data.read_text("bfcl/BFCL_v4_irrelevance.json").splitlines()]
    for q in rows:
        assert match_calls([], [], q["function"], category="irrelevance").valid
        some_call = [{"name": q["function"][0]["name"], "arguments": {}}]
        assert match_calls(some_call, [], q["function"], category="irrelevance").kind == "no_call_expected"


# ----------------------------------------------------------------------------- the listed semantics

DOC = [{"name": "weather.get", "parameters": {"type": "dict", "properties": {
    "city": {"type": "string"}, "days": {"type": "integer"}, "temp": {"type": "float"},
    "metric": {"type": "boolean"}, "tags": {"type": "array", "items": {"type": "string"}},
    "opts": {"type": "dict"}}, "required": ["city"]}}]


def test_int_accepted_for_float_and_bool_is_not_int():
    gold = [{"weather.get": {"city": ["Paris"], "temp": [2.0], "metric": [True, ""]}}]
    assert match_calls([ToolCall("weather.get", {"city": "Paris", "temp": 2})], gold, DOC).valid
    assert match_calls([ToolCall("weather.get", {"city": "Paris", "temp": 2.0, "metric": 1})], gold, DOC).kind == "wrong_type"
    gold_int = [{"weather.get": {"city": ["Paris"], "days": [1]}}]
    assert match_calls([ToolCall("weather.get", {"city": "Paris", "days": True})], gold_int, DOC).kind == "wrong_type"


def test_string_normalization_lists_and_dicts():
    assert standardize_string("New York, NY") == standardize_string("new york ny") == "newyorkny"
    gold = [{"weather.get": {"city": ["new york ny"], "tags": [["Sunny-Day", "warm"]], "opts": [{"unit": ["Celsius"], "lang": ["", "en"]}]}}]
    good = {"city": "New York, NY", "tags": ["sunny day", "WARM"], "opts": {"unit": "celsius"}}
    assert match_calls([{"name": "weather.get", "arguments": good}], gold, DOC).valid
    bad_order = dict(good, tags=["warm", "sunny day"])
    assert match_calls([{"name": "weather.get", "arguments": bad_order}], gold, DOC).kind == "wrong_value"
    extra_key = dict(good, opts={"unit": "celsius", "x": 1})
    assert match_calls([{"name": "weather.get", "arguments": extra_key}], gold, DOC).kind == "wrong_value"


def test_empty_string_means_may_be_omitted():
    gold = [{"weather.get": {"city": ["Paris"], "days": ["", 3]}}]
    assert match_calls([{"name": "weather.get", "arguments": {"city": "Paris"}}], gold, DOC).valid
    assert match_calls([{"name": "weather.get", "arguments": {"city": "Paris", "days": 3}}], gold, DOC).valid
    assert match_calls([{"name": "weather.get", "arguments": {"city": "Paris", "days": 4}}], gold, DOC).kind == "wrong_value"
    gold_needs_days = [{"weather.get": {"city": ["Paris"], "days": [3]}}]
    assert match_calls([{"name": "weather.get", "arguments": {"city": "Paris"}}], gold_needs_days, DOC).kind == "missing_param"


def test_parallel_any_order_with_a_full_matching():
    gold = [{"weather.get": {"city": ["Paris", "Lyon"]}}, {"weather.get": {"city": ["Paris"]}}]
    # greedy pairing (BFCL) would give Paris to the first gold entry and then fail on Lyon
    calls = [{"name": "weather.get", "arguments": {"city": "Paris"}}, {"name": "weather.get", "arguments": {"city": "Lyon"}}]
    assert match_calls(calls, gold, DOC, category="parallel").valid
    wrong = [{"name": "weather.get", "arguments": {"city": "Lyon"}}, {"name": "weather.get", "arguments": {"city": "Nice"}}]
    result = match_calls(wrong, gold, DOC, category="parallel")
    assert result.kind == "wrong_value" and "Nice" in result.error


def test_prediction_formats_and_malformed_ones():
    gold = [{"weather.get": {"city": ["Paris"]}}]
    assert match_calls([{"weather.get": {"city": "Paris"}}], gold, DOC).valid  # BFCL's own output format
    assert match_calls([{"type": "function", "function": {"name": "weather.get", "arguments": '{"city": "Paris"}'}}], gold, DOC).valid
    assert match_calls([{"name": "weather.get", "arguments": "{bad json"}], gold, DOC).kind == "malformed"
    assert match_calls([42], gold, DOC).kind == "malformed"
    assert match_calls([], gold, DOC).kind == "missing_call"
    assert match_calls([{"name": "weather_get", "arguments": {"city": "Paris"}}], gold, DOC, underscore_to_dot=True).valid
    with pytest.raises(ValueError, match="gold"):
        match_calls([], "not gold", DOC)
    with pytest.raises(ValueError, match="language"):
        match_calls([], gold, DOC, language="rust")


def test_reward_wrappers_parse_text():
    gold = [{"weather.get": {"city": ["Paris"]}}]
    assert toolcall_reward([ToolCall("weather.get", {"city": "paris"})], gold, DOC) == 1.0
    reward = ToolCallReward()
    meta = {"functions": DOC}
    assert reward("<|tool_call_start|>[weather.get(city='Paris')]<|tool_call_end|>", answer=gold, meta=meta) == 1.0
    assert reward("[weather.get(city='Paris')]", answer=gold, meta=meta) == 1.0
    assert reward('<tool_call>{"name": "weather.get", "arguments": {"city": "Paris"}}</tool_call>', answer=gold,
                  meta=dict(meta, tool_format="json")) == 1.0
    assert reward("<|tool_call_start|>[weather.get(city=]<|tool_call_end|>", answer=gold, meta=meta) == 0.0
    assert reward("I don't know.", answer=gold, meta=meta) == 0.0
    assert reward("", answer=[], meta=dict(meta, category="irrelevance")) == 1.0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.floats(allow_nan=False, width=32) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
JAVA_DOC = [{"name": "f", "parameters": {"properties": {
    "m": {"type": "HashMap"}, "a": {"type": "ArrayList", "items": {"type": "String"}}, "n": {"type": "long"},
    "b": {"type": "boolean"}, "d": {"type": "double"}, "s": {"type": "String"}}, "required": []}}]
JS_DOC = [{"name": "f", "parameters": {"properties": {
    "m": {"type": "dict"}, "a": {"type": "array", "items": {"type": "float"}}, "n": {"type": "Bigint"},
    "b": {"type": "Boolean"}, "d": {"type": "float"}, "s": {"type": "String"}}, "required": []}}]


@settings(max_examples=150, deadline=None)
@given(args=st.dictionaries(st.sampled_from(["m", "a", "n", "b", "d", "s", "zz"]), json_values | st.text(max_size=60), max_size=4),
       gold_value=json_values)
def test_any_arguments_give_a_result_never_an_exception(args, gold_value):
    for lang, doc in (("python", DOC), ("java", JAVA_DOC), ("javascript", JS_DOC)):
        name = doc[0]["name"]
        gold = [{name: {p: [gold_value, ""] for p in ("m", "a", "n", "b", "d", "s")}}]
        result = match_calls([{"name": name, "arguments": args}], gold, doc, language=lang)
        assert result.valid or result.kind in ("wrong_name", "missing_param", "unknown_param", "wrong_type", "wrong_value")


def test_split_top_level_strict_and_lenient():
    """One splitter for the matcher (lenient) and the BFCL decoder (strict): commas inside
    quotes, brackets and generic type arguments separate nothing."""
    from lfmgym.rewards.java_js import closing_bracket, java_value, split_top_level

    text = 'm=new HashMap<String, Integer>(), s="a, b", xs=List.of(1, 2)'
    assert split_top_level(text, strict=True) == ['m=new HashMap<String, Integer>()', ' s="a, b"', " xs=List.of(1, 2)"]
    assert split_top_level(" 1 , , 2 ") == ["1", "2"]  # lenient: stripped, empty parts dropped
    assert split_top_level("f(1, 2") == ["f(1, 2"]  # lenient: unbalanced text is not an error
    with pytest.raises(ValueError, match="unbalanced"):
        split_top_level("f(1, 2", strict=True)
    assert closing_bracket('a=")", b=g(1), c=[2]) tail') == 20  # the ")" closing the call, not one in a string
    assert closing_bracket("a=g(1") is None
    assert java_value("Map.of(\"a\", 1, \"b\", 2)", "HashMap") == {"a": 1, "b": 2}
    assert java_value("new ArrayList<String>(Arrays.asList(\"x, y\", \"z\"))", "ArrayList", "String") == ["x, y", "z"]
