"""Reading the calls out of a raw model output for BFCL (:func:`decode_output`).

* ``<|tool_call_start|>[...]<|tool_call_end|>`` (LFM2): the list inside each block;
* ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` (JSON format): via
  :func:`lfmgym.toolcalls.parse_tool_calls`;
* otherwise BFCL's prompting format ``[f(a=1), g(b='x')]``, read exactly like BFCL's own decoder
  (``default_decode_ast_prompting``): surrounding backticks/newlines stripped, brackets added when
  missing; Python values as BFCL's ``resolve_ast_by_type`` reads them (a bare name is its text, a
  call without keywords its source, ``2*3`` its value -- computed without ``eval``); Java and
  JavaScript as one call whose values stay source text (quotes of a string literal removed), to be
  converted by the declared types under BFCL's rules inside the matcher.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import warnings
from typing import Any

from lfmgym.rewards.java_js import closing_bracket, split_top_level, unquote
from lfmgym.toolcalls import JSON_START, PY_END, PY_START, ToolCall, parse_tool_calls

__all__ = ["decode_output"]

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}


def _arith(node: ast.AST) -> Any:
    """Numeric constant arithmetic (BFCL evaluates ``BinOp`` values; we do it without ``eval``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _arith(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _arith(node.left), _arith(node.right)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
            raise ValueError("exponent too large")
        value = _BINOPS[type(node.op)](left, right)
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("non-finite result")
        return value
    raise ValueError(f"unsupported expression {ast.unparse(node)[:40]!r}")


def _py_value(node: ast.AST) -> Any:
    """A call argument as BFCL's ``resolve_ast_by_type`` reads it."""
    if isinstance(node, ast.Constant):
        return "..." if node.value is Ellipsis else node.value
    if isinstance(node, ast.UnaryOp):
        return _arith(node) if isinstance(node.op, (ast.USub, ast.UAdd)) else _fail_value(node)
    if isinstance(node, ast.List):
        return [_py_value(e) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_py_value(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise ValueError("'**' unpacking in a dict value")
        return {_py_value(k): _py_value(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Name):
        return node.id  # BFCL reads a bare name as its text (a variable)
    if isinstance(node, ast.BinOp):
        return _arith(node)
    if isinstance(node, ast.Call):
        return ast.unparse(node) if not node.keywords else _py_call(node)
    if isinstance(node, ast.Subscript):
        return ast.unparse(node)
    return _fail_value(node)


def _fail_value(node: ast.AST) -> Any:
    raise ValueError(f"unsupported value {type(node).__name__}: {ast.unparse(node)[:60]!r}")


def _py_call(node: ast.Call) -> dict[str, Any]:
    parts, func = [], node.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    else:
        raise ValueError(f"call target {ast.unparse(node.func)[:60]!r} is not a function name")
    args = {}
    for kw in node.keywords:  # positional arguments are ignored, as BFCL does
        if kw.arg is None:
            raise ValueError("'**' unpacking in a call")
        args[kw.arg] = _py_value(kw.value)
    return {".".join(reversed(parts)): args}


def _decode_python(text: str) -> list[ToolCall]:
    source = text.strip().strip("'")
    if len(source) > 100_000:
        raise ValueError("output too long to decode")
    try:
        with warnings.catch_warnings():  # "invalid decimal literal" and friends: the text is data
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not a Python call list: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ValueError(f"not a Python call list: {type(exc).__name__}") from None
    body = tree.body
    if isinstance(body, ast.Call):
        nodes = [body]
    elif isinstance(body, (ast.List, ast.Tuple, ast.Set)):
        nodes = list(body.elts)
    else:
        raise ValueError(f"expected a list of calls, got {type(body).__name__}")
    calls = []
    for i, node in enumerate(nodes):
        if not isinstance(node, ast.Call):
            raise ValueError(f"item {i} is not a function call: {ast.unparse(node)[:60]!r}")
        name, args = next(iter(_py_call(node).items()))
        calls.append(ToolCall(name, args))
    return calls


# A (possibly dotted) function name followed by its opening parenthesis.
_NAME = re.compile(r"\s*([A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*)\s*\(")


def _decode_java_js(text: str, language: str) -> list[ToolCall]:
    """One call ``name(a=value, ...)``; each value its source text, quotes of a string literal removed.

    BFCL parses these with tree-sitter and keeps only the first call of a statement; several
    comma-separated calls are not valid Java / JavaScript statements there, nor here.
    """
    m = _NAME.match(text)
    if not m:
        raise ValueError(f"not a {language} call: {text[:60]!r}")
    name = re.sub(r"\s+", "", m.group(1))
    parts = text[m.end():]
    end = closing_bracket(parts)
    if end is None:
        raise ValueError(f"unclosed call {name}(")
    trailing = parts[end + 1:].strip().rstrip(";").strip()
    if trailing:
        raise ValueError(f"text after the call: {trailing[:40]!r} (one {language} call is expected)")
    args: dict[str, Any] = {}
    body = parts[:end]
    for raw in split_top_level(body, ",", strict=True) if body.strip() else []:
        piece = raw.strip()
        if not piece:
            raise ValueError("empty argument")
        key, eq, value = piece.partition("=")
        key = key.strip()
        if not eq or not re.fullmatch(r"[A-Za-z_$][\w$]*", key) or value.startswith("="):
            raise ValueError(f"argument {piece[:40]!r} is not name=value")
        if key in args:
            raise ValueError(f"argument {key!r} given twice")
        value = value.strip()
        quotes = "\"'" if language == "java" else "\"'`"
        body = unquote(value, quotes)
        if body is not None:
            value = body
        args[key] = value
    return [ToolCall(name, args)]


def _decode_plain(text: str, language: str) -> list[ToolCall]:
    # BFCL's default_decode_ast_prompting: strip backticks/newlines/spaces, wrap in [...].
    result = text.strip("`\n ")
    if not result.startswith("["):
        result = "[" + result
    if not result.endswith("]"):
        result = result + "]"
    if language == "python":
        return _decode_python(result)
    return _decode_java_js(result[1:-1], language)


def decode_output(text: str, language: str = "python") -> tuple[list[ToolCall] | None, str | None]:
    """Calls in a raw model output: ``(calls, None)``, or ``(None, reason)`` when nothing decodes."""
    if not isinstance(text, str):
        return None, f"output must be a string, got {type(text).__name__}"
    try:
        if PY_START in text:
            calls: list[ToolCall] = []
            pos = 0
            while (i := text.find(PY_START, pos)) >= 0:
                j = text.find(PY_END, i)
                if j < 0:
                    return None, f"unterminated {PY_START}"
                calls.extend(_decode_plain(text[i + len(PY_START): j], language))
                pos = j + len(PY_END)
            return calls, None
        if JSON_START in text:
            parsed = parse_tool_calls(text, "json")
            return (parsed.calls, None) if parsed.ok else (None, parsed.error)
        return _decode_plain(text, language), None
    except ValueError as exc:
        return None, str(exc)
    except (RecursionError, MemoryError):  # pathologically nested input: a verdict, not a crash
        return None, "the output is nested too deeply to decode"
    except TypeError as exc:  # e.g. an unhashable dict key, {[1]: 2}: a verdict, not a crash
        return None, f"not decodable: {exc}"
