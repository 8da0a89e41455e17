"""Tool-call formats: round trips (property-based), malformed text, schema coercion."""

import keyword

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lfmgym.toolcalls import (
    ToolCall,
    coerce_arguments,
    parse_python_call_list,
    parse_tool_calls,
    render_tool_calls,
)

identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda s: s not in {"true", "false", "null", "none"} and not keyword.iskeyword(s)
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
calls = st.lists(
    st.builds(ToolCall, identifiers, st.dictionaries(identifiers, values, max_size=4)), min_size=1, max_size=3
)


def _same(a, b):
    """Equality that also tells True from 1 and 1.0 from 1 (types must survive)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("fmt", ["pythonic", "json"])
@settings(max_examples=150, deadline=None)
@given(calls=calls, content=st.text(alphabet=st.characters(blacklist_characters="<>"), max_size=30))
def test_round_trip_is_lossless(fmt, calls, content):
    text = render_tool_calls(calls, fmt, content=content)
    parsed = parse_tool_calls(text, fmt)
    assert parsed.ok, parsed.error
    assert parsed.content == content.strip()
    assert len(parsed.calls) == len(calls)
    for got, want in zip(parsed.calls, calls):
        assert got.name == want.name
        assert _same(got.arguments, want.arguments)


def test_pythonic_example_from_lfm2():
    text = "Let me check.<|tool_call_start|>[f(a=1, b='x'), g(c=[1,2])]<|tool_call_end|>"
    r = parse_tool_calls(text)
    assert r.ok and r.content == "Let me check."
    assert r.calls == [ToolCall("f", {"a": 1, "b": "x"}), ToolCall("g", {"c": [1, 2]})]


def test_bfcl_call_list_with_dotted_names():
    assert parse_python_call_list("[math.factorial(number=5)]") == [ToolCall("math.factorial", {"number": 5})]


def test_plain_text_is_a_final_answer():
    r = parse_tool_calls("The answer is 4.")
    assert r.ok and not r.calls and r.content == "The answer is 4."


@pytest.mark.parametrize(
    "text, reason",
    [
        ("<|tool_call_start|>[f(a=1]<|tool_call_end|>", "syntax"),
        ("<|tool_call_start|>[f(a=1)]", "unterminated"),
        ("[f(a=1)]<|tool_call_end|>", "stray"),
        ("<|tool_call_start|>[f(1)]<|tool_call_end|>", "positional"),
        ("<|tool_call_start|>[f(a=__import__('os'))]<|tool_call_end|>", "nested call"),
        ("<|tool_call_start|>[f(a=x)]<|tool_call_end|>", "bare name"),
        ("<|tool_call_start|>[f(**k)]<|tool_call_end|>", "unpacking"),
        ("<|tool_call_start|>[1+2]<|tool_call_end|>", "not a function call"),
        ("<|tool_call_start|>[]<|tool_call_end|>", None),
    ],
)
def test_malformed_pythonic_gives_reason(text, reason):
    r = parse_tool_calls(text)
    if reason is None:  # an empty list is valid: no calls
        assert r.ok and r.calls == []
        return
    assert not r.ok and reason in r.error.lower()


@pytest.mark.parametrize(
    "text, reason",
    [
        ('<tool_call>{"name": "f", "arguments": {</tool_call>', "invalid json"),
        ('<tool_call>{"arguments": {}}</tool_call>', "name"),
        ('<tool_call>{"name": "f", "arguments": 3}</tool_call>', "arguments"),
        ("<tool_call>[1]</tool_call>", "expected an object"),
    ],
)
def test_malformed_json_gives_reason(text, reason):
    r = parse_tool_calls(text, "json")
    assert not r.ok and reason in r.error.lower()


def test_json_double_encoded_arguments_are_accepted():
    r = parse_tool_calls('<tool_call>{"name": "f", "arguments": "{\\"a\\": 1}"}</tool_call>', "json")
    assert r.ok and r.calls == [ToolCall("f", {"a": 1})]


@given(st.text(max_size=300))
def test_any_text_parses_or_reports(text):
    for fmt in ("pythonic", "json"):
        r = parse_tool_calls(text, fmt)
        assert r.ok or isinstance(r.error, str)


SCHEMA = {
    "type": "function",
    "function": {
        "name": "f",
        "parameters": {
            "type": "object",
            "properties": {
                "flag": {"type": "boolean"},
                "name": {"type": "string"},
                "x": {"type": "number"},
                "n": {"type": "integer"},
                "xs": {"type": "array", "items": {"type": "integer"}},
            },
            "required": ["name"],
        },
    },
}


def test_coercion_keeps_meaning():
    out = coerce_arguments({"flag": True, "name": "True", "x": 2, "n": 3.0, "xs": [1, 2]}, SCHEMA)
    assert out["flag"] is True and out["name"] == "True"
    assert isinstance(out["x"], float) and out["x"] == 2.0
    assert isinstance(out["n"], int) and out["n"] == 3


@pytest.mark.parametrize(
    "args, needle",
    [
        ({"name": 5}, "argument 'name': expected string"),
        ({"name": "a", "flag": "True"}, "argument 'flag': expected boolean"),
        ({"name": "a", "bogus": 1}, "unknown argument"),
        ({}, "missing required argument"),
        ({"name": "a", "xs": [1, "2"]}, "xs'[1]"),
        ({"name": "a", "n": 1.5}, "expected integer"),
    ],
)
def test_coercion_errors_name_the_argument(args, needle):
    with pytest.raises(TypeError, match=None) as exc:
        coerce_arguments(args, SCHEMA)
    assert needle in str(exc.value)


def test_python_keywords_as_argument_names_round_trip():
    calls = [ToolCall("route", {"from": "Paris", "class": "economy", "note": "from=x, class=y"})]
    text = render_tool_calls(calls)
    r = parse_tool_calls(text)
    assert r.ok, r.error
    assert r.calls == calls


def test_null_byte_error_has_no_bogus_column():
    # SyntaxError carries no column for a null byte; the reason must not read "(col None)".
    r = parse_tool_calls("<|tool_call_start|>[f(a='\x00')]<|tool_call_end|>")
    assert not r.ok and "null bytes" in r.error and "None" not in r.error
