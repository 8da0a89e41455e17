"""Tool-call formats: parse and render the calls a model writes.

Two wire formats are supported, selectable per environment and per model:

``pythonic`` (LFM2)::

    <|tool_call_start|>[get_weather(city='Paris', days=3), now()]<|tool_call_end|>

``json`` (Hermes / Qwen style), one block per call::

    <tool_call>{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}</tool_call>

Parsing never evaluates model text: the pythonic format goes through :mod:`ast` and only
literals are accepted; the JSON format goes through :mod:`json`. Malformed text gives a
:class:`ParseResult` whose ``error`` says why, so an environment can turn it into feedback
instead of raising inside a trainer.
"""

from __future__ import annotations

import ast
import json
import keyword
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "FORMATS",
    "ToolCall",
    "ParseResult",
    "ToolCallFormat",
    "parse_tool_calls",
    "render_tool_calls",
    "parse_python_call_list",
    "render_python_call_list",
    "coerce_arguments",
]

FormatName = Literal["pythonic", "json"]
FORMATS: tuple[str, ...] = ("pythonic", "json")

PY_START, PY_END = "<|tool_call_start|>", "<|tool_call_end|>"
JSON_START, JSON_END = "<tool_call>", "</tool_call>"

# A model can produce megabytes of junk; parsing is bounded so one bad sample cannot stall a batch.
MAX_CALL_TEXT = 100_000
# Calls in one assistant message: more is junk (a 1 MB reply would otherwise parse into 240k calls).
MAX_CALLS_PER_MESSAGE = 64
# Nesting of an argument value (lists/dicts inside each other). Deeper values are refused at
# parse time, so no later consumer (rendering, scoring, logging) can hit a RecursionError.
MAX_VALUE_DEPTH = 32


@dataclass(frozen=True)
class ToolCall:
    """One function call: the function ``name`` and its keyword ``arguments``."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": dict(self.arguments)}

    def to_openai(self) -> dict[str, Any]:
        """The ``tool_calls`` entry of an OpenAI/transformers assistant message."""
        return {"type": "function", "function": {"name": self.name, "arguments": dict(self.arguments)}}


@dataclass
class ParseResult:
    """The outcome of parsing one assistant message.

    Attributes:
        calls: the tool calls found, in order (empty when there are none or on error).
        content: the message text outside the tool-call markup, stripped.
        error: ``None`` when the text parsed; otherwise a one-line reason naming the problem.
    """

    calls: list[ToolCall]
    content: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def has_calls(self) -> bool:
        return bool(self.calls)


# --------------------------------------------------------------------------- pythonic


def _literal(node: ast.AST, where: str, depth: int = 0) -> Any:
    """Convert an AST node made only of literals into a Python value (no ``eval``)."""
    if depth > MAX_VALUE_DEPTH:
        raise ValueError(f"{where}: value nested more than {MAX_VALUE_DEPTH} levels deep")
    if isinstance(node, ast.Constant):
        if isinstance(node.value, float) and not math.isfinite(node.value):
            raise ValueError(f"{where}: number out of range ({node.value!r}); use a finite number")
        if isinstance(node.value, (str, int, float, bool)) or node.value is None:
            return node.value
        raise ValueError(f"{where}: unsupported constant {node.value!r:.60}")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, where, depth + 1)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: unary sign on a non-number")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_literal(e, where, depth + 1) for e in node.elts]
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                raise ValueError(f"{where}: '**' unpacking is not allowed")
            key = _literal(k, where, depth + 1)
            if isinstance(key, (list, dict)):
                raise ValueError(f"{where}: a dict key must be a string or a number, got a {type(key).__name__}")
            out[key] = _literal(v, where, depth + 1)
        return out
    if isinstance(node, ast.Name):
        # Models trained on JSON sometimes write true/false/null inside python calls.
        aliases = {"true": True, "false": False, "null": None, "none": None, "True": True, "False": False, "None": None}
        if node.id in aliases:
            return aliases[node.id]
        raise ValueError(f"{where}: bare name {node.id!r} is not a literal (quote strings)")
    if isinstance(node, ast.Call):
        raise ValueError(f"{where}: nested call {_snippet(node)!r} is not a literal")
    raise ValueError(f"{where}: unsupported expression {type(node).__name__}")


def _snippet(node: ast.AST) -> str:
    """The first characters of a node's source, for an error message (never raises)."""
    try:
        return ast.unparse(node)[:60]
    except (RecursionError, ValueError, MemoryError):
        return f"<{type(node).__name__}>"


def _call_name(func: ast.AST, depth: int = 0) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute) and depth < MAX_VALUE_DEPTH:  # e.g. math.factorial(n=5) in BFCL
        return f"{_call_name(func.value, depth + 1)}.{func.attr}"
    raise ValueError(f"call target {_snippet(func)!r} is not a function name")


_KW_PREFIX = "__lfmgym_kw_"
_KEYWORD_ARG = re.compile(r"\b(?:" + "|".join(keyword.kwlist) + r")\s*=(?!=)")


def _escape_keyword_args(text: str) -> str:
    """Rename keyword-named arguments (``from=``, ``class=``) so :mod:`ast` can parse them.

    BFCL functions do use such names; tokens inside string literals are left alone because
    :mod:`tokenize` sees strings as single tokens.
    """
    import io
    import tokenize

    if not _KEYWORD_ARG.search(text):  # the common case: no tokenizing
        return text
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    edits = []
    for i, tok in enumerate(toks[1:-1], start=1):
        if (tok.type == tokenize.NAME and keyword.iskeyword(tok.string)
                and toks[i + 1].string == "=" and toks[i - 1].string in ("(", ",")):
            edits.append(offsets[tok.start[0] - 1] + tok.start[1])
    for pos in reversed(edits):
        text = text[:pos] + _KW_PREFIX + text[pos:]
    return text


def parse_python_call_list(source: str) -> list[ToolCall]:
    """Parse ``[f(a=1), g(b='x')]`` (or a single ``f(a=1)``) into tool calls.

    Raises:
        ValueError: with the reason, when the text is not a list of calls with literal
            keyword arguments.
    """
    text = source.strip()
    if len(text) > MAX_CALL_TEXT:
        raise ValueError(f"tool-call text too long ({len(text)} chars > {MAX_CALL_TEXT})")
    if not text:
        raise ValueError("empty tool-call list")
    try:
        tree = ast.parse(_escape_keyword_args(text), mode="eval")
    except SyntaxError as exc:
        where = f" (col {exc.offset})" if exc.offset else ""  # no column for e.g. a null byte
        raise ValueError(f"not valid Python call syntax: {exc.msg}{where}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ValueError(f"unparseable tool-call text: {type(exc).__name__}") from None
    body = tree.body
    nodes = body.elts if isinstance(body, (ast.List, ast.Tuple)) else [body]
    if len(nodes) > MAX_CALLS_PER_MESSAGE:
        raise ValueError(f"too many calls in one message ({len(nodes)} > {MAX_CALLS_PER_MESSAGE})")
    calls = []
    for i, node in enumerate(nodes):
        if not isinstance(node, ast.Call):
            raise ValueError(f"item {i} is not a function call: {_snippet(node)!r}")
        name = _call_name(node.func)
        if node.args:
            raise ValueError(f"call {i} ({name}): positional arguments are not allowed; use name=value")
        args: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise ValueError(f"call {i} ({name}): '**' unpacking is not allowed")
            arg = kw.arg.removeprefix(_KW_PREFIX)
            if arg in args:
                raise ValueError(f"call {i} ({name}): argument {arg!r} given twice")
            args[arg] = _literal(kw.value, f"call {i} ({name}) argument {arg!r}")
        calls.append(ToolCall(name, args))
    return calls


def _py_repr(value: Any) -> str:
    """Render a value as a Python literal that :func:`parse_python_call_list` reads back."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot render non-finite float {value!r} as a literal")
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py_repr(k)}: {_py_repr(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_py_repr(v) for v in value) + "]"
    return repr(value)


def render_python_call_list(calls: list[ToolCall]) -> str:
    """Render calls as ``[f(a=1), g(b='x')]``."""
    parts = []
    for call in calls:
        args = ", ".join(f"{k}={_py_repr(v)}" for k, v in call.arguments.items())
        parts.append(f"{call.name}({args})")
    return "[" + ", ".join(parts) + "]"


# --------------------------------------------------------------------------- generic


def _split_blocks(text: str, start: str, end: str) -> tuple[list[str], str, str | None]:
    """Find every ``start…end`` block. Returns (block bodies, text outside, error)."""
    blocks, outside, pos = [], [], 0
    while True:
        i = text.find(start, pos)
        if i < 0:
            break
        j = text.find(end, i + len(start))
        if j < 0:
            outside.append(text[pos:i])
            return blocks, "".join(outside), f"unterminated tool call: {start!r} without {end!r}"
        outside.append(text[pos:i])
        blocks.append(text[i + len(start) : j])
        pos = j + len(end)
    outside.append(text[pos:])
    rest = "".join(outside)
    if end in rest:
        return blocks, rest, f"stray {end!r} without a matching {start!r}"
    return blocks, rest, None


def parse_tool_calls(text: str, fmt: FormatName = "pythonic") -> ParseResult:
    """Parse the tool calls in an assistant message written in format ``fmt``.

    Text without any tool-call markup parses fine with no calls (a final answer).
    """
    if not isinstance(text, str):
        return ParseResult([], "", f"assistant message must be a string, got {type(text).__name__}")
    if fmt == "pythonic":
        start, end = PY_START, PY_END
    elif fmt == "json":
        start, end = JSON_START, JSON_END
    else:
        raise ValueError(f"unknown tool-call format {fmt!r}; expected one of {FORMATS}")
    blocks, outside, error = _split_blocks(text, start, end)
    content = outside.strip()
    if error:
        return ParseResult([], content, error)
    if len(blocks) > MAX_CALLS_PER_MESSAGE:
        return ParseResult([], content, f"too many tool calls in one message ({len(blocks)} > {MAX_CALLS_PER_MESSAGE})")
    calls: list[ToolCall] = []
    for n, body in enumerate(blocks):
        try:
            calls.extend(_parse_block(body, fmt))
        except ValueError as exc:
            return ParseResult([], content, f"tool call {n}: {exc}")
        except (RecursionError, MemoryError) as exc:  # belt and braces: junk must stay feedback
            return ParseResult([], content, f"tool call {n}: unparseable ({type(exc).__name__})")
        if len(calls) > MAX_CALLS_PER_MESSAGE:
            return ParseResult([], content, f"too many tool calls in one message (> {MAX_CALLS_PER_MESSAGE})")
    return ParseResult(calls, content, None)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON: {name} is not a number JSON allows; use a finite number")


def _check_json_value(value: Any, where: str, depth: int = 0) -> None:
    """Refuse what JSON decoding lets through but a tool call must not hold: numbers that
    overflow to infinity (``1e400``) and values nested deeper than ``MAX_VALUE_DEPTH``."""
    if depth > MAX_VALUE_DEPTH:
        raise ValueError(f"{where}: value nested more than {MAX_VALUE_DEPTH} levels deep")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: number out of range ({value!r}); use a finite number")
    if isinstance(value, list):
        for item in value:
            _check_json_value(item, where, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            _check_json_value(item, where, depth + 1)


def _parse_block(body: str, fmt: str) -> list[ToolCall]:
    if fmt == "pythonic":
        return parse_python_call_list(body)
    if len(body) > MAX_CALL_TEXT:
        raise ValueError(f"tool-call text too long ({len(body)} chars)")
    try:
        obj = json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at line {exc.lineno} col {exc.colno}") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    items = obj if isinstance(obj, list) else [obj]
    if len(items) > MAX_CALLS_PER_MESSAGE:
        raise ValueError(f"too many calls in one block ({len(items)} > {MAX_CALLS_PER_MESSAGE})")
    calls = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError('expected an object {"name": ..., "arguments": {...}}')
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("missing string field 'name'")
        args = item.get("arguments", item.get("parameters", {}))
        if isinstance(args, str):  # some models double-encode arguments
            if len(args) > MAX_CALL_TEXT:
                raise ValueError(f"field 'arguments' of {name[:60]!r} is too long")
            try:
                args = json.loads(args, parse_constant=_reject_constant)
            except (json.JSONDecodeError, RecursionError):
                raise ValueError(f"field 'arguments' of {name[:60]!r} is a string that is not JSON") from None
        if not isinstance(args, dict):
            raise ValueError(f"field 'arguments' of {name[:60]!r} must be an object")
        _check_json_value(args, f"arguments of {name[:60]!r}")
        calls.append(ToolCall(name, args))
    return calls


def render_tool_calls(calls: list[ToolCall], fmt: FormatName = "pythonic", content: str = "") -> str:
    """Render calls (with optional leading ``content``) as an assistant message in ``fmt``."""
    prefix = content + ("\n" if content and calls else "")
    if not calls:
        return content
    if fmt == "pythonic":
        return prefix + PY_START + render_python_call_list(calls) + PY_END
    if fmt == "json":
        return prefix + "\n".join(
            JSON_START + json.dumps(c.to_dict(), ensure_ascii=False) + JSON_END for c in calls
        )
    raise ValueError(f"unknown tool-call format {fmt!r}; expected one of {FORMATS}")


class ToolCallFormat:
    """A named format object, handy to pass around: ``ToolCallFormat("json").parse(text)``."""

    def __init__(self, name: FormatName = "pythonic"):
        if name not in FORMATS:
            raise ValueError(f"unknown tool-call format {name!r}; expected one of {FORMATS}")
        self.name = name

    def parse(self, text: str) -> ParseResult:
        return parse_tool_calls(text, self.name)

    def render(self, calls: list[ToolCall], content: str = "") -> str:
        return render_tool_calls(calls, self.name, content)

    def __repr__(self) -> str:
        return f"ToolCallFormat({self.name!r})"


# --------------------------------------------------------------------------- schema coercion

_JSON_TYPES = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


def _coerce(value: Any, schema: dict, where: str) -> Any:
    """Coerce ``value`` to the JSON-schema type without changing meaning.

    Only lossless conversions happen: an int where a number is expected becomes a float; a
    list for an array is checked item by item. A string is never turned into a bool or a
    number (``'True'`` stays a string, so the tool sees exactly what the model wrote).
    """
    types = schema.get("type")
    if types is None:
        return value
    types = types if isinstance(types, list) else [types]
    if "enum" in schema and value not in schema["enum"]:
        raise TypeError(f"{where}: {value!r} is not one of {schema['enum']}")
    for t in types:
        py = _JSON_TYPES.get(t)
        if py is None:
            return value
        if t == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value) if isinstance(value, int) else value
        if t == "integer" and isinstance(value, int) and not isinstance(value, bool):
            return value
        if t == "integer" and isinstance(value, float) and value.is_integer():
            return int(value)
        if t == "boolean" and isinstance(value, bool):
            return value
        if t == "string" and isinstance(value, str):
            return value
        if t == "null" and value is None:
            return value
        if t == "array" and isinstance(value, (list, tuple)):
            item_schema = schema.get("items", {})
            return [_coerce(v, item_schema, f"{where}[{i}]") for i, v in enumerate(value)]
        if t == "object" and isinstance(value, dict):
            props = schema.get("properties", {})
            return {k: _coerce(v, props.get(k, {}), f"{where}.{k}") for k, v in value.items()}
    expected = " or ".join(types)
    raise TypeError(f"{where}: expected {expected}, got {type(value).__name__} {value!r:.60}")


def coerce_arguments(arguments: dict[str, Any], schema: dict) -> dict[str, Any]:
    """Check and coerce call arguments against a tool's JSON schema (``get_json_schema`` shape).

    Raises:
        TypeError: naming the argument, for an unknown or missing argument or a wrong type.
    """
    params = schema.get("function", schema).get("parameters", {}) or {}
    props = params.get("properties", {}) or {}
    required = params.get("required", []) or []
    unknown = [k for k in arguments if k not in props]
    if unknown:
        raise TypeError(f"unknown argument(s) {', '.join(map(repr, unknown))}; expected {sorted(props)}")
    missing = [k for k in required if k not in arguments]
    if missing:
        raise TypeError(f"missing required argument(s) {', '.join(map(repr, missing))}")
    return {k: _coerce(v, props[k], f"argument {k!r}") for k, v in arguments.items()}

