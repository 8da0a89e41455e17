"""AST matching of tool calls against accepted answers, with BFCL's semantics.

This is the one matcher behind the BFCL evaluation and the tool-calling environment. The gold is
BFCL's ``possible_answer`` ``ground_truth``: a list of ``{function_name: {param: [accepted
values]}}``, one entry per expected call. A prediction is valid when

* the number of calls equals the number of gold entries (no call at all is right only for
  irrelevance: ``category`` containing ``"irrelevance"`` or an empty gold list; for relevance,
  ``category`` containing ``"relevance"`` alone, any call is right);
* the calls can be paired one-to-one with the gold entries in *any* order (parallel calls), each
  pair matching:

  - same function name;
  - every parameter the function schema marks ``required`` is present;
  - no parameter outside the schema, nor one the gold entry does not list;
  - every gold parameter is present unless ``""`` is among its accepted values (optional);
  - each value has the schema's type -- an ``int`` is accepted for a ``float``, a tuple for an
    array -- and equals one of the accepted values: strings after BFCL's normalization
    (lower case, without spaces and ``,./-_*^``, ``'`` read as ``"``), lists element-wise,
    dicts key by key, lists of dicts dict by dict. A value of the accepted values' own type
    where the schema says otherwise (a variable name given for an object) is compared as is.

Java and JavaScript follow BFCL's rules for those languages: values are source-code strings
(``"42L"`` for a ``long``, ``"new ArrayList<>(Arrays.asList(1, 2))"``, ``"[1, 2]"``,
``"{a: 1}"``) converted by the declared type before comparison; a string that does not convert
stays a string (and then only matches a variable name). Natively typed values (from a JSON
tool call) are accepted as they are unless ``strict_types=True``, which reproduces BFCL's
rejection of non-string Java/JavaScript values.

Two deliberate differences from BFCL's checker, both only accepting what is correct: parallel
calls are paired by maximum bipartite matching rather than greedily (greedy pairing can reject a
valid permutation), and the quotes around string elements of Java arrays are removed.

Failures report *why* in :attr:`MatchResult.kind`: ``wrong_name``, ``missing_param``,
``unknown_param``, ``wrong_type``, ``wrong_value``, ``extra_call``, ``missing_call`` (too many /
too few calls), ``no_call_expected`` (irrelevance) or ``malformed`` (a prediction that is not a
call).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from lfmgym.rewards.java_js import JAVA_TYPES, JS_TYPES, java_value, js_value

__all__ = [
    "KINDS",
    "MatchResult",
    "match_calls",
    "toolcall_reward",
    "standardize_string",
    "ToolCallReward",
]

KINDS = (
    "wrong_name",
    "missing_param",
    "unknown_param",
    "wrong_type",
    "wrong_value",
    "extra_call",
    "missing_call",
    "no_call_expected",
    "malformed",
)

PYTHON_TYPES: dict[str, type] = {
    "string": str, "str": str, "any": str,
    "integer": int, "int": int,
    "float": float, "number": float, "double": float,
    "boolean": bool, "bool": bool,
    "array": list, "list": list, "tuple": list,
    "dict": dict, "object": dict,
}
_LANGS = {"python": "python", "java": "java", "javascript": "javascript", "js": "javascript"}
MAX_SOURCE_CHARS = 4096  # longer Java/JS source values are not converted (and so do not match)


@dataclass(frozen=True)
class MatchResult:
    """Outcome of :func:`match_calls`: ``valid``, and when not, a readable ``error`` and its ``kind``."""

    valid: bool
    error: str | None = None
    kind: str | None = None

    def __bool__(self) -> bool:
        return self.valid


_OK = MatchResult(True)


def _fail(kind: str, error: str) -> MatchResult:
    return MatchResult(False, error, kind)


# ----------------------------------------------------------------------------- normalization


def standardize_string(s: str) -> str:
    """BFCL's string normalization: drop spaces and ``,./-_*^``, lower-case, ``'`` -> ``"``."""
    return re.sub(r"[ ,./\-_*^]", "", s).lower().replace("'", '"')


def _std(v: Any) -> Any:
    return standardize_string(v) if isinstance(v, str) else v


class _Malformed(ValueError):
    pass


def _as_call(item: Any, i: int) -> tuple[str, dict]:
    """``(name, arguments)`` from a ToolCall, an OpenAI/``{name, arguments}`` dict or a BFCL ``{name: args}`` dict."""
    if hasattr(item, "name") and hasattr(item, "arguments"):
        name, args = item.name, item.arguments
    elif isinstance(item, dict) and "function" in item and isinstance(item["function"], dict):
        name, args = item["function"].get("name"), item["function"].get("arguments", {})
    elif isinstance(item, dict) and "name" in item:
        name, args = item["name"], item.get("arguments", item.get("parameters", {}))
    elif isinstance(item, dict) and len(item) == 1:
        name, args = next(iter(item.items()))
    else:
        raise _Malformed(f"call {i} is not a function call: {str(item)[:80]!r}")
    if isinstance(args, str):  # OpenAI-style JSON-encoded arguments
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError as exc:
            raise _Malformed(f"call {i} ({name}): arguments are not valid JSON ({exc.msg})") from None
    if not isinstance(name, str) or not name:
        raise _Malformed(f"call {i}: function name must be a non-empty string, got {name!r}")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise _Malformed(f"call {i} ({name}): arguments must be a mapping, got {type(args).__name__}")
    return name, dict(args)


def _gold_entries(gold: Any) -> list[tuple[str, dict]]:
    if isinstance(gold, dict):
        gold = [gold]
    if not isinstance(gold, list):
        raise ValueError(f"gold must be a list of {{function_name: {{param: [values]}}}}, got {type(gold).__name__}")
    out = []
    for i, entry in enumerate(gold):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ValueError(f"gold[{i}] must be a one-key dict {{function_name: {{param: [values]}}}}, got {entry!r}"[:200])
        name, params = next(iter(entry.items()))
        if not isinstance(params, dict):
            raise ValueError(f"gold[{i}] ({name}): parameters must be a dict, got {type(params).__name__}")
        out.append((name, {p: (v if isinstance(v, list) else [v]) for p, v in params.items()}))
    return out


def _function_docs(functions: Any) -> dict[str, dict]:
    docs: dict[str, dict] = {}
    for i, f in enumerate(functions or []):
        if isinstance(f, dict) and f.get("type") == "function" and isinstance(f.get("function"), dict):
            f = f["function"]  # OpenAI tool format
        if not isinstance(f, dict) or "name" not in f:
            raise ValueError(f"functions[{i}] must be a dict with a 'name', got {str(f)[:80]!r}")
        docs[f["name"]] = f
    return docs


# ----------------------------------------------------------------------------- value checks


def _first_type(accepted: list) -> type | None:
    for a in accepted:
        if a != "":  # "" marks an optional parameter, not a type
            return type(a)
    return None


def _same(value: Any, accepted: Any) -> bool:
    # True == 1 in Python; a boolean must only match a boolean.
    if isinstance(value, bool) or isinstance(accepted, bool):
        return type(value) is type(accepted) and value == accepted
    return value == accepted


def _check_dict(param: str, value: dict, accepted: list) -> MatchResult:
    last = _fail("wrong_value", f"{param}: no accepted dict to compare with {value!r}")
    for option in accepted:
        if option == "" or not isinstance(option, dict):
            continue
        bad = None
        for k, v in value.items():
            if k not in option:
                bad = f"{param}: unexpected key {k!r}"
                break
            allowed = option[k] if isinstance(option[k], list) else [option[k]]
            if _std(v) not in [_std(a) for a in allowed]:
                bad = f"{param}[{k!r}]: {v!r} is not one of {allowed!r}"
                break
        if bad is None:
            for k, allowed in option.items():
                allowed = allowed if isinstance(allowed, list) else [allowed]
                if k not in value and "" not in allowed:
                    bad = f"{param}: missing key {k!r}"
                    break
        if bad is None:
            return _OK
        last = _fail("wrong_value", bad)
    return last


def _check_list_of_dicts(param: str, value: list, accepted: list) -> MatchResult:
    last = _fail("wrong_value", f"{param}: {value!r} matches no accepted list of dicts")
    for option in accepted:
        if not isinstance(option, list):
            continue
        if len(option) != len(value):
            last = _fail("wrong_value", f"{param}: {len(value)} dicts, expected {len(option)}")
            continue
        results = [_check_dict(param, v, [o]) if isinstance(v, dict) else _fail("wrong_type", f"{param}: {v!r} is not a dict")
                   for v, o in zip(value, option)]
        bad = next((r for r in results if not r.valid), None)
        if bad is None:
            return _OK
        last = bad
    return last


def _check_value(param: str, value: Any, accepted: list, ptype: str | None, item_type: str | None,
                 lang: str, strict_types: bool) -> MatchResult:
    table = {"python": PYTHON_TYPES, "java": JAVA_TYPES, "javascript": JS_TYPES}[lang]
    expected = table.get(ptype) if isinstance(ptype, str) else None
    # "any" items do not constrain the element types
    nested = table.get(item_type) if isinstance(item_type, str) and item_type not in ("any", "Any") else None

    if lang != "python" and expected is not None:
        if isinstance(value, str) and len(value) <= MAX_SOURCE_CHARS:
            convert = java_value if lang == "java" else js_value
            value = convert(value, ptype, item_type)
        elif strict_types:
            return _fail("wrong_type", f"{param}: {lang} values must be written as source strings, got {type(value).__name__}")
    if isinstance(value, tuple):
        value = list(value)
    if expected is float and type(value) is int:  # int accepted for float
        value = float(value)
    if expected is list and nested is float and isinstance(value, list):
        value = [float(v) if type(v) is int else v for v in value]

    # Type check, BFCL-style: a value of the accepted answers' own type is a "variable".
    accepted_type = _first_type(accepted)
    is_variable = accepted_type is not None and expected is not None and accepted_type is not expected
    if expected is not None:
        if type(value) is expected:
            if nested is not None and isinstance(value, list):
                ok = False
                for option in accepted:
                    if not isinstance(option, list):
                        ok = True  # BFCL: a non-list option (a variable) does not constrain items
                        break
                    item_types = {nested, _first_type(option)} - {None}
                    if all(type(v) in item_types for v in value):
                        ok = True
                        break
                if not ok:
                    return _fail("wrong_type", f"{param}: items of {value!r} are not all {item_type}")
        elif accepted_type is not None and type(value) is accepted_type:
            is_variable = True
        else:
            return _fail("wrong_type", f"{param}: expected {ptype}, got {type(value).__name__} {value!r}"[:200])

    if not is_variable:
        if expected is dict or (expected is None and isinstance(value, dict)):
            return _check_dict(param, value, accepted) if isinstance(value, dict) else _fail("wrong_type", f"{param}: not a dict")
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value) and (nested is dict or expected is None):
            return _check_list_of_dicts(param, value, accepted)
        if isinstance(value, str):
            if standardize_string(value) in [standardize_string(a) for a in accepted if isinstance(a, str)]:
                return _OK
            return _fail("wrong_value", f"{param}: {value!r} is not one of {accepted!r}"[:200])
        if isinstance(value, list):
            std_value = [_std(v) for v in value]
            if any(isinstance(a, list) and std_value == [_std(x) for x in a] for a in accepted):
                return _OK
            return _fail("wrong_value", f"{param}: {value!r} is not one of {accepted!r}"[:200])
    if any(_same(value, a) for a in accepted):
        return _OK
    return _fail("wrong_value", f"{param}: {value!r} is not one of {accepted!r}"[:200])


def _check_call(name: str, args: dict, gold_name: str, accepted: dict, doc: dict | None, lang: str,
                strict_types: bool, underscore_to_dot: bool) -> MatchResult:
    if name != gold_name and not (underscore_to_dot and name == gold_name.replace(".", "_")):
        return _fail("wrong_name", f"called {name!r}, expected {gold_name!r}")
    if doc is None:  # no schema: the gold decides what is required and known
        props = {p: {} for p in accepted}
        required = [p for p, vals in accepted.items() if "" not in vals]
    else:
        params = doc.get("parameters") or {}
        props = params.get("properties") or {}
        required = params.get("required") or []
    for p in required:
        if p not in args:
            return _fail("missing_param", f"{gold_name}: missing required parameter {p!r}")
    # Structure before values, so the reported kind does not depend on argument order.
    for p in args:
        if p not in props:
            return _fail("unknown_param", f"{gold_name}: unknown parameter {p!r} (not in the function's schema)")
        if p not in accepted:
            return _fail("unknown_param", f"{gold_name}: unexpected parameter {p!r} (the answer does not use it)")
    for p, vals in accepted.items():
        if p not in args and "" not in vals:
            return _fail("missing_param", f"{gold_name}: missing parameter {p!r} (the answer requires it)")
    for p, value in args.items():
        spec = props[p] if isinstance(props[p], dict) else {}
        items = spec.get("items") if isinstance(spec.get("items"), dict) else {}
        result = _check_value(p, value, accepted[p], spec.get("type"), items.get("type"), lang, strict_types)
        if not result.valid:
            return MatchResult(False, f"{gold_name}: {result.error}", result.kind)
    return _OK


def _max_matching(ok: list[list[bool]]) -> list[int]:
    """Kuhn's augmenting paths: ``match[j]`` = gold index paired with prediction ``j`` (or -1)."""
    n_pred = len(ok[0]) if ok else 0
    match = [-1] * n_pred

    def augment(i: int, seen: list[bool]) -> bool:
        for j in range(n_pred):
            if ok[i][j] and not seen[j]:
                seen[j] = True
                if match[j] < 0 or augment(match[j], seen):
                    match[j] = i
                    return True
        return False

    for i in range(len(ok)):
        augment(i, [False] * n_pred)
    return match


def match_calls(
    predicted: Any,
    gold: Any,
    functions: Any = None,
    *,
    language: str = "python",
    category: str | None = None,
    strict_types: bool = False,
    underscore_to_dot: bool = False,
) -> MatchResult:
    """Match predicted calls against BFCL-format gold answers (see the module docstring).

    Args:
        predicted: a list of :class:`lfmgym.ToolCall`, ``{"name", "arguments"}`` dicts (arguments
            may be a JSON string), OpenAI ``{"function": {...}}`` dicts or BFCL ``{name: args}``.
        gold: BFCL ``ground_truth``: ``[{function_name: {param: [accepted values]}}, ...]``.
        functions: the function docs offered to the model (``name``, ``parameters`` with
            ``properties`` and ``required``); a gold function without a doc is checked against
            the gold alone.
        language: ``"python"``, ``"java"`` or ``"javascript"`` (BFCL's type rules).
        category: the BFCL category; only ``"irrelevance"`` (no call is right) and
            ``"relevance"`` (any call is right) change anything.
        strict_types: reject non-string Java/JavaScript values, as BFCL does.
        underscore_to_dot: accept ``math_factorial`` for ``math.factorial`` (for APIs that forbid
            dots in function names).

    Returns:
        :class:`MatchResult`. Malformed predictions give ``kind="malformed"``; a malformed gold or
        function list raises ``ValueError`` (that is a dataset bug, not model output).
    """
    lang = _LANGS.get(str(language).lower())
    if lang is None:
        raise ValueError(f"language must be one of python, java, javascript; got {language!r}")
    entries = _gold_entries(gold if gold is not None else [])
    docs = _function_docs(functions)
    try:
        calls = [_as_call(c, i) for i, c in enumerate(predicted or [])]
    except _Malformed as exc:
        return _fail("malformed", str(exc))
    except TypeError:
        return _fail("malformed", f"predicted calls must be a list, got {type(predicted).__name__}")

    if category and "relevance" in category and "irrelevance" not in category:
        # BFCL's relevance: any well-formed call is right (there is no ground truth to compare with).
        return _OK if calls else _fail("missing_call", "a function call was expected, got none")
    if (category and "irrelevance" in category) or not entries:
        if calls:
            return _fail("no_call_expected", f"no call was expected, got {len(calls)}: {calls[0][0]!r}...")
        return _OK
    if not calls:
        return _fail("missing_call", f"expected {len(entries)} call(s), got none")
    if len(calls) > len(entries):
        return _fail("extra_call", f"expected {len(entries)} call(s), got {len(calls)}")
    if len(calls) < len(entries):
        return _fail("missing_call", f"expected {len(entries)} call(s), got {len(calls)}")

    results = [[_check_call(name, args, gname, accepted, docs.get(gname), lang, strict_types, underscore_to_dot)
                for name, args in calls] for gname, accepted in entries]
    if len(entries) == 1:
        return results[0][0]
    match = _max_matching([[r.valid for r in row] for row in results])
    paired = set(match)
    for i, (gname, _) in enumerate(entries):
        if i in paired:
            continue
        # Explain with the closest unpaired prediction: same name first.
        free = [j for j in range(len(calls)) if match[j] < 0]
        same = [j for j in free if results[i][j].kind != "wrong_name"]
        if same:
            r = results[i][same[0]]
            return MatchResult(False, f"call {same[0]}: {r.error}", r.kind)
        return _fail("wrong_name", f"no call matches expected {gname!r}")
    return _OK


def toolcall_reward(predicted: Any, gold: Any, functions: Any = None, **kwargs: Any) -> float:
    """1.0 when :func:`match_calls` says valid, else 0.0."""
    return 1.0 if match_calls(predicted, gold, functions, **kwargs).valid else 0.0


class ToolCallReward:
    """Reward callable: ``1.0`` if the completion's tool calls AST-match the task's gold calls.

    Task fields: ``answer`` (BFCL ground truth), ``meta["functions"]`` (the docs),
    ``meta["language"]``, ``meta["category"]``; the calls come from a ``tool_calls`` field when the
    environment already parsed them, else from the completion text in ``meta["tool_format"]``
    (``pythonic`` markup, ``json`` markup, or a bare ``[f(a=1)]`` list). Picklable.
    """

    def __init__(self, tool_format: str = "pythonic"):
        self.tool_format = tool_format
        self.__name__ = "toolcall_ast"

    def __call__(self, completion: str = "", answer: Any = None, meta: dict | None = None, tool_calls: Any = None,
                 **fields: Any) -> float:
        meta = meta or {}
        if tool_calls is None:
            tool_calls = _parse_calls(str(completion or ""), meta.get("tool_format", self.tool_format))
            if tool_calls is None:
                return 0.0
        result = match_calls(tool_calls, answer, meta.get("functions"), language=meta.get("language", "python"),
                             category=meta.get("category"))
        return 1.0 if result.valid else 0.0


def _parse_calls(text: str, fmt: str) -> list | None:
    """Calls in ``text`` (None when the markup is malformed); a bare ``[f(a=1)]`` list also works."""
    from lfmgym.toolcalls import parse_python_call_list, parse_tool_calls

    parsed = parse_tool_calls(text, fmt=fmt)
    if parsed.error:
        return None
    if parsed.calls:
        return parsed.calls
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        try:
            return parse_python_call_list(stripped)
        except ValueError:
            return None
    return []
