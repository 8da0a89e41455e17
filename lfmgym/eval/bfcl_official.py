"""BFCL verdicts exactly as the official checker gives them (``bfcl-eval`` 2026.3.23).

The leaderboard number is whatever ``bfcl_eval``'s decoder and ``ast_checker`` say, defects
included, so a score people compare with the leaderboard has to come from the same rules. This
module reimplements them (the rules, read from the public ``bfcl_eval`` sources; no code of it is
imported or needed):

* decoding (``default_decode_ast_prompting``): backticks/newlines stripped, ``[...]`` added, then
  Python read with :mod:`ast` (``resolve_ast_by_type``: a bare name is its text, a call without
  keywords its source, arithmetic evaluated, ``-x`` and any other unary operator read as the
  negated constant), Java and JavaScript with :mod:`lfmgym.eval.bfcl_source`;
* the checker: ``simple`` categories check the *first* function doc, ``multiple`` only the first
  answer, ``parallel`` pairs calls greedily (the first call that matches an answer takes it);
  a value must have the schema's Python type exactly (a tuple for an ``array`` is wrong, an int
  for a ``float`` is fine), a value of the answers' own type is a "variable" compared as is;
  strings, lists, dicts and lists of dicts compared after BFCL's string normalization;
* Java/JavaScript values converted from their source text by BFCL's type converters (regular
  expressions: ``new ArrayList<>(Arrays.asList(...))`` items split on every comma, ``String``
  items of an ``Array`` keep their quotes, ``HashMap`` read from the first
  ``new HashMap<...>() {{ put("k", v); }}`` found anywhere in the text, ...);
* an exception anywhere (an unsupported type, a malformed answer) makes the entry wrong.

:func:`official_verdict` is the entry point; :mod:`lfmgym.eval.bfcl` uses it for the default
verdict and keeps :func:`lfmgym.rewards.toolcall_ast.match_calls` (semantic, order-free matching)
as the ``--lenient`` verdict.
"""

from __future__ import annotations

import ast
import operator
import re
import warnings
from typing import Any

from lfmgym.eval.bfcl_source import parse_java_call, parse_js_call

__all__ = ["official_verdict", "decode_official", "is_call_list", "is_empty_output", "ast_checker"]

PYTHON_TYPES = {"string": str, "integer": int, "float": float, "boolean": bool, "array": list, "tuple": list,
                "dict": dict, "any": str}
JAVA_TYPES = {"byte": int, "short": int, "integer": int, "float": float, "double": float, "long": int,
              "boolean": bool, "char": str, "Array": list, "ArrayList": list, "Set": set, "HashMap": dict,
              "Hashtable": dict, "Queue": list, "Stack": list, "String": str, "any": str}
JS_TYPES = {"String": str, "integer": int, "float": float, "Bigint": int, "Boolean": bool, "dict": dict,
            "array": list, "any": str}
_NESTED = ("Array", "ArrayList", "array")  # types whose items are converted / checked too


class CheckerError(Exception):
    """Where the official checker raises (it would crash or reject the entry)."""


# --------------------------------------------------------------------------- decoding


def decode_official(text: str, language: str) -> Any:
    """BFCL's ``default_decode_ast_prompting``; raises where it raises."""
    result = text.strip("`\n ")
    if not result.startswith("["):
        result = "[" + result
    if not result.endswith("]"):
        result = result + "]"
    if language == "java":
        return parse_java_call(result[1:-1])
    if language == "javascript":
        return parse_js_call(result[1:-1])
    return _decode_python(result)


def _decode_python(text: str) -> list[dict]:
    with warnings.catch_warnings():  # "invalid decimal literal" and friends: the text is data
        warnings.simplefilter("ignore")
        body = ast.parse(text.strip().strip("'"), mode="eval").body
    if isinstance(body, ast.Call):
        return [_py_call(body)]
    elts = body.elts  # AttributeError for anything but a list/tuple/set, as in BFCL
    out = []
    for elem in elts:
        if not isinstance(elem, ast.Call):
            raise AssertionError("not a call")
        out.append(_py_call(elem))
    return out


def _py_call(node: ast.Call) -> dict:
    parts, func = [], node.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return {".".join(reversed(parts)): {kw.arg: _py_value(kw.value) for kw in node.keywords}}


def _py_value(node: Any) -> Any:
    if isinstance(node, ast.Constant):
        return "..." if node.value is Ellipsis else node.value
    if isinstance(node, ast.UnaryOp):  # BFCL negates the operand's constant, whatever the operator
        if not isinstance(node.operand, ast.Constant):
            raise TypeError("unary operator on a non-constant")
        return -node.operand.value
    if isinstance(node, ast.List):
        return [_py_value(v) for v in node.elts]
    if isinstance(node, ast.Dict):
        return {_py_value(k): _py_value(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.BinOp):  # BFCL evals the expression; constants only here
        return _arith(node)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Call):
        return ast.unparse(node) if not node.keywords else _py_call(node)
    if isinstance(node, ast.Tuple):
        return tuple(_py_value(v) for v in node.elts)
    if isinstance(node, ast.Subscript):
        return ast.unparse(node.value) + "[" + ast.unparse(node.slice) + "]"
    raise TypeError(f"Unsupported AST type: {type(node)}")


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
           ast.BitOr: operator.or_, ast.BitAnd: operator.and_, ast.BitXor: operator.xor,
           ast.LShift: operator.lshift, ast.RShift: operator.rshift}
_UNOPS = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_, ast.Invert: operator.invert}
_MAX_SIZE = 100_000


def _arith(node: Any) -> Any:
    """What Python's ``eval`` gives for an expression of literals (names and calls are not evaluated)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_arith(v) for v in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_arith(k): _arith(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNOPS:
        return _UNOPS[type(node.op)](_arith(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _arith(node.left), _arith(node.right)
        if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > 256:
            raise OverflowError("exponent too large to evaluate here")
        if isinstance(node.op, ast.LShift) and isinstance(right, int) and right > 4096:
            raise OverflowError("shift too large to evaluate here")
        if isinstance(node.op, ast.Mult):
            sizes = [len(x) for x in (left, right) if isinstance(x, (str, bytes, list, tuple))]
            counts = [x for x in (left, right) if isinstance(x, int) and not isinstance(x, bool)]
            if sizes and counts and sizes[0] * max(counts[0], 0) > _MAX_SIZE:
                raise OverflowError("sequence too long to evaluate here")
        return _BINOPS[type(node.op)](left, right)
    raise NameError(f"{ast.unparse(node)[:40]!r} is not a literal expression")


def is_call_list(decoded: Any) -> bool:
    """BFCL's ``is_function_calling_format_output``: ``[{name: {param: value}}, ...]`` (``[]`` too)."""
    if type(decoded) is not list:
        return False
    return all(type(item) is dict and len(item) == 1 and type(next(iter(item.values()))) is dict for item in decoded)


def is_empty_output(decoded: Any) -> bool:
    """BFCL's ``is_empty_output``: not a call list, ``[]`` or ``[{}]``."""
    return not is_call_list(decoded) or len(decoded) == 0 or (len(decoded) == 1 and len(decoded[0]) == 0)


# --------------------------------------------------------------------------- Java / JavaScript values


def _java_convert(value: str, typ: str, nested: str | None = None) -> Any:
    if typ not in JAVA_TYPES:
        raise CheckerError(f"Unsupported type: {typ}")
    if typ in ("byte", "short", "integer"):
        return int(value) if re.match(r"^-?\d+$", value) else str(value)
    if typ == "float":
        return float(re.sub(r"[fF]$", "", value)) if re.match(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]$", value) \
            else str(value)
    if typ == "double":
        return float(value) if re.match(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$", value) else str(value)
    if typ == "long":
        return int(re.sub(r"[lL]$", "", value)) if re.match(r"^-?\d+[lL]$", value) else str(value)
    if typ == "boolean":
        return value == "true" if value in ("true", "false") else str(value)
    if typ == "ArrayList":
        return _java_arraylist(value, nested)
    if typ == "Array":
        return _java_array(value, nested)
    if typ == "HashMap":
        return _java_hashmap(value)
    if typ in ("Set", "Hashtable", "Queue", "Stack"):
        # The official checker has no converter for these either (it raises): same verdict, an error row.
        raise CheckerError(f"{typ} conversion is not implemented")
    return str(value)  # char (BFCL's char pattern never matches), String, any


def _java_item(text: str, nested: str | None) -> Any:
    if nested in ("char", "String"):
        return text[1:-1]
    return _java_convert(text, nested) if nested else _java_literal(text)


def _java_arraylist(text: str, nested: str | None) -> Any:
    m = re.search(r"new\s+ArrayList<\w*>\(Arrays\.asList\((.+?)\)\)", text)
    if m:
        return [_java_item(e.strip(), nested) for e in m.group(1).split(",")]
    m = re.search(r"new\s+ArrayList<\w*>\(\)\s*\{\{\s*(.+?)\s*\}\}", text, re.DOTALL)
    if m:
        return [_java_item(a.strip(), nested) for a in re.findall(r"add\((.+?)\)", m.group(1))]
    if re.search(r"new\s+ArrayList<\w*>\(\)", text):
        return []
    return text


def _java_array(text: str, nested: str | None) -> Any:
    m = re.search(r"new\s+\w+\[\]\s*\{(.*?)\}", text)
    if not m:
        return text
    items = [x.strip() for x in m.group(1).split(",") if x.strip()]
    return [_java_convert(x, nested) if nested else _java_literal(x) for x in items]


def _java_hashmap(text: str) -> Any:
    m = re.search(r"new\s+HashMap<.*?>\s*\(\)\s*\{\s*\{?\s*(.*?)\s*\}?\s*\}", text, re.DOTALL)
    if m:
        body = m.group(1)
        if not body.strip():
            return {}
        return {k: _java_literal(v.strip()) for k, v in re.findall(r"put\(\"(.*?)\",\s*(.*?)\)", body)}
    if re.search(r"new\s+HashMap<.*?>\s*\(\)", text):
        return {}
    return text


def _java_literal(s: str) -> Any:
    """BFCL's ``parse_java_value``: a literal read without a declared type."""
    if s == "true":
        return True
    if s == "false":
        return False
    if s.startswith('"') and s.endswith('"'):
        return s[1:-1]
    if re.match(r"^-?\d+[lL]$", s):
        return int(s[:-1])
    if re.match(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?[fF]$", s):
        return float(re.sub(r"[fF]$", "", s))
    return _number_or_text(s)


def _number_or_text(s: str) -> Any:
    try:
        return int(s)
    except ValueError:
        try:
            return float(s)
        except ValueError:
            return s


def _js_convert(value: str, typ: str, nested: str | None = None) -> Any:
    if typ not in JS_TYPES:
        raise CheckerError(f"Unsupported type: {typ}")
    if typ == "String":
        quoted = (value.startswith('"') and value.endswith('"')) or (value.startswith("'") and value.endswith("'"))
        return value[1:-1] if quoted else str(value)
    if typ == "integer":
        return int(value) if re.match(r"^-?\d+$", value) else str(value)
    if typ == "float":
        return float(value) if re.match(r"^-?\d+(\.\d+)?$", value) else str(value)
    if typ == "Bigint":
        return int(value[:-1]) if re.match(r"^-?\d+n$", value) else str(value)
    if typ == "Boolean":
        return value == "true" if value in ("true", "false") else str(value)
    if typ == "array":
        return _js_array(value.strip(), nested)
    if typ == "dict":
        return _js_dict(value.strip())
    return str(value)


def _js_array(code: str, nested: str | None) -> Any:
    try:
        m2 = re.match(r"\[\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\]|\bnew\s+Array\(\s*\[.*?\]\s*(,\s*\[.*?\]\s*)*\)", code)
        if m2:
            rows = []
            for idx, inner in enumerate(re.findall(r"\[(.*?)\]", m2.group(0))):
                inner = inner.strip()
                if idx == 0 and inner.startswith("["):
                    inner = inner[1:]
                rows.append([_js_literal(e.strip()) for e in inner.split(",")])
            return rows
        m = re.match(r"\[(.*?)\]|\bnew\s+Array\((.*?)\)", code)
        if not m:
            return code
        body = m.group(1) if m.group(1) is not None else m.group(2)
        body = (body or "").strip()
        items = body.split(",") if body else []
        if nested:
            return [_js_convert(e.strip(), nested, "String") if e.strip().startswith(("'", '"'))
                    else _js_convert(e.strip(), nested) for e in items]
        return [_js_literal(e.strip()) for e in items]
    except Exception:  # BFCL returns the text when anything goes wrong
        return code


def _js_dict(code: str) -> Any:
    if code == "{}":
        return {}
    m = re.match(r"\{(.*?)\}", code)
    if not m:
        return code
    try:
        out = {}
        for key, value in re.findall(r"([^:]+):\s*(.*?)(?:,\s*(?=[^,]+:)|$)", m.group(1)):
            key, value = key.strip().strip("'\""), value.strip()
            if value.startswith("[") and value.endswith("]"):
                out[key] = _js_array(value.strip(), None)
            elif value.startswith("{") and value.endswith("}"):
                out[key] = _js_dict(value.strip())
            else:
                out[key] = _js_literal(value.strip("'\""))
        return out
    except Exception:
        return code


def _js_literal(s: str) -> Any:
    s = s.strip()
    if s == "true":
        return True
    if s == "false":
        return False
    if (s.startswith('"') and s.endswith('"')) or (s.startswith("'") and s.endswith("'")):
        return s[1:-1]
    return _number_or_text(s)


# --------------------------------------------------------------------------- the checker


def _fail(kind: str, error: str) -> dict[str, Any]:
    return {"valid": False, "error": error, "error_type": kind}


_OK: dict[str, Any] = {"valid": True, "error": None, "error_type": None}


def standardize(s: str) -> str:
    return re.sub(r"[ ,./\-_*^]", "", s).lower().replace("'", '"')


def _answer_type(possible: list) -> type | None:
    for a in possible:
        if a != "":
            return type(a)
    return None


def _type_check(param: str, value: Any, possible: Any, expected: Any, nested: Any) -> tuple[bool, bool]:
    """``(valid, is_variable)`` as BFCL's ``type_checker`` decides (one level of item types)."""
    answer_type = _answer_type(possible)
    is_variable = answer_type is not None and answer_type != expected
    valid = True
    if type(value) == expected:  # noqa: E721 -- BFCL compares types exactly (bool is not int)
        if nested is None:
            return True, is_variable
        for option in possible:
            ok = True
            if type(option) == list:  # noqa: E721
                for item in value:
                    if not _type_check(param, item, option, nested, None)[0]:
                        ok = False
                        break
            if ok:
                return True, is_variable
        valid = False
    if answer_type is not None and type(value) == answer_type:
        return valid, True
    return False, is_variable


def _string_ok(value: str, possible: list) -> bool:
    return standardize(value) in [standardize(a) for a in possible if type(a) == str]  # noqa: E721


def _list_ok(value: Any, possible: list) -> bool:
    std = [standardize(v) if type(v) == str else v for v in value]  # noqa: E721
    options = []
    for option in possible:
        options.append([standardize(x) if type(x) == str else x for x in _items(option)])  # noqa: E721
    return std in options


def _items(option: Any) -> list:
    # BFCL indexes each option with range(len(option)): strings give their characters, "" nothing.
    return [option[j] for j in range(len(option))]


def _dict_check(value: Any, possibles: list) -> dict[str, Any]:
    result = _fail("value_error:dict", "no accepted dict")
    for option in possibles:
        if option == "":
            continue
        result = _fail("value_error:dict", "no accepted dict")
        ok = True
        for key, v in value.items():
            if key not in option:
                result, ok = _fail("value_error:dict_key", f"unexpected dict key {key!r}"), False
                break
            std = standardize(v) if type(v) == str else v  # noqa: E721
            accepted = [standardize(a) if type(a) == str else a for a in _items(option[key])]  # noqa: E721
            if std not in accepted:
                result, ok = _fail("value_error:dict_value", f"dict value {key!r}: {v!r} is not one of {accepted}"), False
                break
        for key, allowed in option.items():
            if key not in value and "" not in allowed:
                result, ok = _fail("value_error:dict_key", f"missing dict key {key!r}"), False
                break
        if ok:
            return _OK
    return result


def _list_dict_check(value: Any, possibles: list) -> dict[str, Any]:
    result = _fail("value_error:list_dict", "no accepted list of dicts")
    for option in possibles:
        if len(value) != len(option):
            result = _fail("value_error:list_dict_count", "wrong number of dicts in the list")
            continue
        ok = True
        for i in range(len(value)):
            result = _dict_check(value[i], [option[i]])
            if not result["valid"]:
                ok = False
                break
        if ok:
            return _OK
    return result


def _check_call(doc: dict, output: dict, answer: dict, language: str) -> dict[str, Any]:
    """BFCL's ``simple_function_checker``."""
    possible = list(answer.values())[0]
    name = doc["name"]
    props = doc["parameters"]["properties"]
    required = doc["parameters"]["required"]
    if name not in output:
        return _fail("simple_function_checker:wrong_func_name", f"function {name!r} not found in the output")
    params = output[name]
    for p in required:
        if p not in params:
            return _fail("simple_function_checker:missing_required", f"missing required parameter {p!r}")
    for p, value in params.items():
        if p not in props or p not in possible:
            return _fail("simple_function_checker:unexpected_param", f"unexpected parameter {p!r}")
        typ = props[p]["type"]
        nested = None
        if language in ("java", "javascript"):
            table, convert = (JAVA_TYPES, _java_convert) if language == "java" else (JS_TYPES, _js_convert)
            expected = table[typ]
            if type(value) != str:  # noqa: E721
                return _fail(f"type_error:{'java' if language == 'java' else 'js'}",
                             f"{p}: expected a String of source text, got {type(value).__name__}")
            if typ in _NESTED:
                item_type = props[p]["items"]["type"]
                nested = table[item_type]
                value = convert(value, typ, item_type)
            else:
                value = convert(value, typ)
        else:
            expected = PYTHON_TYPES[typ]
            if typ in ("array", "tuple"):
                nested = PYTHON_TYPES[props[p]["items"]["type"]]
        if typ == "tuple" and type(value) == tuple:  # noqa: E721
            value = list(value)
        if language == "python" and typ == "float" and type(value) == int:  # noqa: E721
            value = float(value)
        valid, is_variable = _type_check(p, value, possible[p], expected, nested)
        if not valid:
            if type(value) == expected and nested is not None:  # noqa: E721
                return _fail("type_error:nested", f"{p}: the items of {value!r} do not have the accepted item "
                                                  f"types ({typ} of {props[p]['items']['type']})"[:300])
            return _fail("type_error:simple", f"{p}: expected {typ}, got {type(value).__name__} {value!r}"[:300])
        if not is_variable:
            if expected == dict:
                result = _dict_check(value, possible[p])
                if not result["valid"]:
                    return result
                continue
            if expected == list and nested == dict:
                result = _list_dict_check(value, possible[p])
                if not result["valid"]:
                    return result
                continue
            if expected == str:
                if not _string_ok(value, possible[p]):
                    return _fail("value_error:string", f"{p}: {value!r} is not one of {possible[p]!r}"[:300])
                continue
            if expected == list:
                if not _list_ok(value, possible[p]):
                    return _fail("value_error:list/tuple", f"{p}: {value!r} is not one of {possible[p]!r}"[:300])
                continue
        if value not in possible[p]:
            return _fail("value_error:others", f"{p}: {value!r} is not one of {possible[p]!r}"[:300])
    for p in possible:
        if p not in params and "" not in possible[p]:
            return _fail("simple_function_checker:missing_optional", f"parameter {p!r} is required by the answer")
    return _OK


def _find_doc(functions: Any, name: str) -> Any:
    if type(functions) == list:  # noqa: E721
        return next((f for f in functions if f["name"] == name), None)
    return functions


def ast_checker(functions: list, output: list, answers: list, language: str, category: str) -> dict[str, Any]:
    """BFCL's ``ast_checker`` for one entry (``error_type`` names the official failure)."""
    if "parallel" in category:
        if len(output) != len(answers):
            return _fail("parallel_function_checker_no_order:wrong_count", "wrong number of functions")
        matched: list[int] = []
        for answer in answers:
            doc = _find_doc(functions, list(answer)[0])
            result = _OK
            for index in range(len(output)):
                if index in matched:
                    continue
                result = _check_call(doc, output[index], answer, language)
                if result["valid"]:
                    matched.append(index)
                    break
            if not result["valid"]:
                return {"valid": False, "error": f"no call matches {list(answer)[0]!r}: {result['error']}",
                        "error_type": "parallel_function_checker_no_order:cannot_find_match",
                        "sub_error_type": result["error_type"]}
        return _OK
    if "multiple" in category:
        if len(output) != len(answers):
            return _fail("multiple_function_checker:wrong_count", "wrong number of functions")
        return _check_call(_find_doc(functions, list(answers[0])[0]), output[0], answers[0], language)
    if len(output) != 1:
        return _fail("simple_function_checker:wrong_count", "wrong number of functions")
    return _check_call(functions[0], output[0], answers[0], language)


# --------------------------------------------------------------------------- one entry

# The official error types -> lfmgym's failure kinds (rewards.toolcall_ast.KINDS).
_KINDS = {
    "wrong_func_name": "wrong_name", "missing_required": "missing_param", "missing_optional": "missing_param",
    "unexpected_param": "unknown_param", "type_error": "wrong_type", "value_error": "wrong_value",
}


def _kind(error_type: str, n_out: int, n_gold: int) -> str:
    if error_type.endswith("wrong_count"):
        return "extra_call" if n_out > n_gold else "missing_call"
    for key, kind in _KINDS.items():
        if key in error_type:
            return kind
    return "wrong_value"


def official_verdict(text: str, language: str, category: str, functions: list, ground_truth: list,
                     decoded: Any = None) -> tuple[bool, str | None, str | None]:
    """``(valid, error, kind)`` of the official checker for one raw model output.

    ``category`` decides the rules: ``irrelevance``/``live_irrelevance`` (right when nothing
    decodes to a call), ``live_relevance`` (right when something does), otherwise AST checking.
    ``decoded`` replaces the text decoding (calls already decoded, e.g. from a JSON tool call).
    """
    if "relevance" in category:  # BFCL decodes these as Python whatever the language
        try:
            calls = _decode_python_prompting(text) if decoded is None else decoded
            has_call = not is_empty_output(calls)
        except Exception:  # noqa: BLE001 -- any decoder failure means "no call", as in BFCL
            has_call = False
        if "irrelevance" in category:
            return (True, None, None) if not has_call else \
                (False, "a function call decoded where none was expected", "no_call_expected")
        return (True, None, None) if has_call else (False, "no function call decoded", "missing_call")
    try:
        calls = decode_official(text, language) if decoded is None else decoded
    except (Exception, RecursionError) as exc:  # noqa: BLE001 -- BFCL: any decoder failure
        return False, f"could not decode the output: {type(exc).__name__}: {str(exc)[:200]}", "malformed"
    if not is_call_list(calls):
        return False, "the decoded output is not a list of function calls", "malformed"
    try:
        result = ast_checker(functions, calls, ground_truth, language, category)
    except (Exception, RecursionError) as exc:  # noqa: BLE001 -- the official checker raises: wrong
        return False, f"the official checker fails on this output: {type(exc).__name__}: {str(exc)[:200]}", \
            "wrong_type"
    if result["valid"]:
        return True, None, None
    error_type = result.get("sub_error_type") or result["error_type"]
    return False, f"{result['error_type']}: {result['error']}", _kind(error_type, len(calls), len(ground_truth))


def _decode_python_prompting(text: str) -> Any:
    return decode_official(text, "python")
