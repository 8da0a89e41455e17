"""Format rewards and metrics: did the model produce something the verifiers can read?

Each is ``1.0`` (yes) or ``0.0`` (no); use them with weight 0 as logged metrics, or with a small
weight as shaping rewards early in training.

* :class:`AnswerExtracted`: a final answer can be extracted (``marked_only``: a ``\\boxed{}``,
  "answer is" or ``####`` answer, not just a trailing number);
* :class:`ToolCallParseOK`: the tool-call markup parses (no markup at all also parses);
* :class:`ToolCallSchemaValid`: every call names an offered function, gives its required
  parameters, no unknown ones, and values of the declared JSON-schema types.
"""

from __future__ import annotations

from typing import Any

from lfmgym.rewards.math import extract_math_answer, marked_answers, strip_tool_calls
from lfmgym.rewards.toolcall_ast import PYTHON_TYPES, _as_call, _function_docs, _Malformed

__all__ = ["AnswerExtracted", "ToolCallParseOK", "ToolCallSchemaValid", "schema_errors"]


class AnswerExtracted:
    """``1.0`` if a final answer can be extracted from the completion, else ``0.0``. Picklable."""

    def __init__(self, marked_only: bool = False):
        self.marked_only = bool(marked_only)
        self.__name__ = "answer_extracted"

    def __call__(self, completion: str = "", **fields: Any) -> float:
        text = "" if completion is None else str(completion)
        if self.marked_only:
            return float(bool(marked_answers(strip_tool_calls(text))))
        return float(extract_math_answer(text)[0] is not None)


class ToolCallParseOK:
    """``1.0`` if the completion's tool-call markup parses in ``tool_format``, else ``0.0``. Picklable."""

    def __init__(self, tool_format: str = "pythonic"):
        self.tool_format = tool_format
        self.__name__ = "toolcall_parse_ok"

    def __call__(self, completion: str = "", meta: dict | None = None, **fields: Any) -> float:
        from lfmgym.toolcalls import parse_tool_calls

        fmt = (meta or {}).get("tool_format", self.tool_format)
        return float(parse_tool_calls("" if completion is None else str(completion), fmt=fmt).error is None)


def _type_ok(value: Any, declared: Any) -> bool:
    expected = PYTHON_TYPES.get(declared) if isinstance(declared, str) else None
    if expected is None:
        return True  # unknown or missing type: nothing to check
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is list:
        return isinstance(value, (list, tuple))
    return isinstance(value, expected)


def schema_errors(calls: Any, functions: Any) -> list[str]:
    """Why each call does not fit the offered function schemas (empty list: all valid)."""
    docs = _function_docs(functions)
    errors = []
    for i, call in enumerate(calls or []):
        try:
            name, args = _as_call(call, i)
        except _Malformed as exc:
            errors.append(str(exc))
            continue
        doc = docs.get(name)
        if doc is None:
            errors.append(f"call {i}: unknown function {name!r}")
            continue
        params = doc.get("parameters") or {}
        props = params.get("properties") or {}
        for p in params.get("required") or []:
            if p not in args:
                errors.append(f"call {i} ({name}): missing required parameter {p!r}")
        for p, v in args.items():
            if p not in props:
                errors.append(f"call {i} ({name}): unknown parameter {p!r}")
            elif not _type_ok(v, (props[p] or {}).get("type")):
                errors.append(f"call {i} ({name}): {p!r} should be {props[p].get('type')}, got {type(v).__name__}")
    return errors


class ToolCallSchemaValid:
    """``1.0`` if every tool call fits the offered schemas (``meta["functions"]``), else ``0.0``.

    Calls come from a ``tool_calls`` field, else from parsing the completion; unparseable markup
    scores 0, no call at all scores 1. Picklable.
    """

    def __init__(self, tool_format: str = "pythonic"):
        self.tool_format = tool_format
        self.__name__ = "toolcall_schema_valid"

    def __call__(self, completion: str = "", meta: dict | None = None, tool_calls: Any = None, **fields: Any) -> float:
        from lfmgym.rewards.toolcall_ast import _parse_calls

        meta = meta or {}
        if tool_calls is None:
            tool_calls = _parse_calls("" if completion is None else str(completion), meta.get("tool_format", self.tool_format))
            if tool_calls is None:
                return 0.0
        return float(not schema_errors(tool_calls, meta.get("functions") or fields.get("functions")))
