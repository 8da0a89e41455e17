"""Render BFCL ground truth as model output text (stdlib only; shared by the builder and tests).

``render_gold(entry, ground_truth, category, rng=None)`` writes one prediction in BFCL's prompting
format: ``[f(a=1, b='x')]`` for Python, and Java / JavaScript call syntax with each value written
the way BFCL's type rules read it back (``42L`` for a Java long, ``3.5f`` for a float,
``new ArrayList<>(Arrays.asList(...))``, ``123n`` for a JS BigInt, ...).
"""
from __future__ import annotations

import json
import random


def first_value(accepted: list, rng: random.Random | None = None):
    """An accepted value: ``""`` (omit) when allowed, else the first; a random one with ``rng``.
    A few live answers accept nothing for a key (``[]``): an empty list stands in (no value can match)."""
    if not accepted:
        return []
    if rng is None:
        return "" if "" in accepted else accepted[0]
    return rng.choice(list(accepted))


def choose_args(params: dict, rng: random.Random | None = None, required: tuple = ()) -> dict:
    out = {}
    for name, accepted in params.items():
        if name in required:  # BFCL checks "required" before the accepted values
            accepted = [a for a in accepted if a != ""] or accepted
        v = first_value(accepted, rng)
        if v == "" and "" in accepted:
            continue
        out[name] = _choose_nested(v, rng)
    return out


def _choose_nested(v, rng):
    # A dict value in BFCL ground truth maps each key to its own accepted list.
    if isinstance(v, dict):
        return {k: _choose_nested(first_value(a, rng), rng) for k, a in v.items()
                if not (first_value(a, rng) == "" and "" in a)} if all(isinstance(a, list) for a in v.values()) else v
    if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
        return [_choose_nested(x, rng) for x in v]
    return v


def py_value(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{py_value(k)}: {py_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(py_value(x) for x in v) + "]"
    return repr(v)


def _java_str(s: str) -> str:
    return '"' + s + '"'


def _java_scalar(v, typ: str) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if typ == "long" and isinstance(v, int):
        return f"{v}L"
    if typ == "float" and isinstance(v, (int, float)):
        return f"{float(v)}f"
    if typ == "double" and isinstance(v, (int, float)):
        return f"{float(v)}"
    if isinstance(v, (int, float)):
        return str(v)
    if typ == "char" and isinstance(v, str):
        return f"'{v}'"
    if isinstance(v, str):
        # Java source (an expression such as ``new File("x")``) is written as code, anything else
        # as a string literal: BFCL reads both back as the text.
        return v if _is_java_expression(v) else _java_str(v)
    return str(v)


def _is_java_expression(v: str) -> bool:
    import re

    return bool(re.fullmatch(r"new\s+[\w.<>]+\s*[(\[].*|[A-Za-z_$][\w$.]*\(.*\)", v, re.S)) and '"' in v


def java_value(v, schema: dict) -> str:
    typ = schema.get("type", "any")
    item = (schema.get("items") or {}).get("type", "any")
    if typ == "Array" and isinstance(v, list):
        java_t = {"integer": "int", "String": "String", "long": "long", "double": "double", "float": "float",
                  "boolean": "boolean", "char": "char"}.get(item, "Object")
        return f"new {java_t}[]{{" + ", ".join(_java_scalar(x, item) for x in v) + "}"
    if typ == "ArrayList" and isinstance(v, list):
        return "new ArrayList<>(Arrays.asList(" + ", ".join(_java_scalar(x, item if item != "any" else _guess(x)) for x in v) + "))"
    if typ == "HashMap" and isinstance(v, dict):
        # BFCL's Java parser drops the body of an anonymous class (the ``{{ put(...); }}`` of a
        # bare double-brace map) but keeps a method call's text whole, so the map is wrapped.
        return f"Collections.unmodifiableMap({java_hashmap(v)})"
    return _java_scalar(v, typ)


def java_hashmap(v: dict) -> str:
    """A double-brace ``HashMap`` initialization (idiomatic Java)."""
    body = " ".join(f'put("{k}", {_java_scalar(x, _guess(x))});' for k, x in v.items())
    return "new HashMap<String, Object>() {{ " + body + " }}"


def _guess(x) -> str:
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, int):
        return "integer"
    if isinstance(x, float):
        return "double"
    return "String"


def js_value(v, schema: dict) -> str:
    typ = schema.get("type", "any")
    if isinstance(v, bool):
        return "true" if v else "false"
    if typ == "Bigint" and isinstance(v, int):
        return f"{v}n"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v) if typ in ("String", "any") or not typ else json.dumps(v)
    if isinstance(v, list):
        item = (schema.get("items") or {})
        return "[" + ", ".join(js_value(x, item) for x in v) + "]"
    if isinstance(v, dict):
        props = schema.get("properties") or {}
        return "{" + ", ".join(f"{k}: {js_value(x, props.get(k, {}))}" for k, x in v.items()) + "}"
    return str(v)


def render_call(name: str, args: dict, language: str, doc: dict | None) -> str:
    props = ((doc or {}).get("parameters") or {}).get("properties") or {}
    if language == "python":
        parts = [f"{k}={py_value(v)}" for k, v in args.items()]
    elif language == "java":
        parts = [f"{k}={java_value(v, props.get(k, {}))}" for k, v in args.items()]
    else:
        parts = [f"{k}={js_value(v, props.get(k, {}))}" for k, v in args.items()]
    return f"{name}({', '.join(parts)})"


def py_value_tuples(v) -> str:
    """Like :func:`py_value`, lists written as Python tuples."""
    if isinstance(v, dict):
        return "{" + ", ".join(f"{py_value_tuples(k)}: {py_value_tuples(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(py_value_tuples(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


def language_of(category: str) -> str:
    return "javascript" if "javascript" in category else "java" if "java" in category else "python"


def render_calls(calls: list[tuple[str, dict]], entry: dict, category: str) -> str:
    lang = language_of(category)
    docs = {f["name"]: f for f in entry["function"]}
    return "[" + ", ".join(render_call(n, a, lang, docs.get(n)) for n, a in calls) + "]"


def gold_calls(ground_truth: list, entry: dict, rng: random.Random | None = None) -> list[tuple[str, dict]]:
    docs = {f["name"]: f for f in entry["function"]}
    out = []
    for item in ground_truth:
        for name, params in item.items():
            required = tuple((docs.get(name, {}).get("parameters") or {}).get("required") or ())
            out.append((name, choose_args(params, rng, required)))
    return out


def render_gold(entry: dict, ground_truth: list, category: str, rng: random.Random | None = None) -> str:
    return render_calls(gold_calls(ground_truth, entry, rng), entry, category)
