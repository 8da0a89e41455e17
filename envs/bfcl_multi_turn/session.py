"""Running calls against the live suites of one BFCL multi-turn entry.

A :class:`Session` holds one instance of each involved suite, loaded from the entry's
``initial_config``. Calls come as :class:`~lfmgym.toolcalls.ToolCall` (what the env parses from a
model) or as BFCL's decoded call strings (``"cd(folder='document')"``, ``"sort('a.txt')"``: the
ground truth and BFCL result files). Each call's result is rendered as BFCL renders it for the
checker: a string as is, a dict as JSON (its ``str`` when not serialisable), anything else with
``str``; a failing call as ``"Error during execution: <reason>"``.

Nothing is evaluated: call strings are parsed with :mod:`ast` and only literal values (and, as
BFCL allows, nested calls to the suites' own functions) are accepted.
"""

from __future__ import annotations

import ast
import copy
import inspect
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lfmgym.toolcalls import ToolCall

from lfmgym.envs.bfcl_multi_turn.apis import SUITES, Suite

__all__ = ["Call", "Session", "parse_calls", "render_call", "render_result", "ERROR_PREFIX"]

ERROR_PREFIX = "Error during execution: "


@dataclass(frozen=True)
class Call:
    """One call: ``name(*args, **kwargs)``; argument values may themselves be :class:`Call`."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, call: Call | ToolCall | str) -> Call:
        if isinstance(call, Call):
            return call
        if isinstance(call, ToolCall):
            return cls(call.name, (), dict(call.arguments))
        calls = parse_calls(call)
        if len(calls) != 1:
            raise ValueError(f"expected one call, got {len(calls)} in {call[:80]!r}")
        return calls[0]


def _value(node: ast.AST) -> Any:
    if isinstance(node, ast.Call):
        return _call(node)
    if isinstance(node, ast.Name):
        return node.id  # a bare name reads as its text, as BFCL's decoder reads it
    if isinstance(node, ast.List):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.Tuple):
        return tuple(_value(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise ValueError("'**' unpacking is not allowed")
        return {_value(k): _value(v) for k, v in zip(node.keys, node.values)}
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ValueError(f"unsupported value {ast.unparse(node)[:60]!r}") from None


def _call(node: ast.Call) -> Call:
    func = node.func
    while isinstance(func, ast.Attribute):  # Instance.method(...) -> method
        func = ast.Name(func.attr)
    if not isinstance(func, ast.Name):
        raise ValueError(f"call target {ast.unparse(node.func)[:60]!r} is not a function name")
    kwargs = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise ValueError("'**' unpacking is not allowed")
        kwargs[kw.arg] = _value(kw.value)
    if any(isinstance(a, ast.Starred) for a in node.args):
        raise ValueError("'*' unpacking is not allowed")
    return Call(func.id, tuple(_value(a) for a in node.args), kwargs)


def parse_calls(text: str) -> list[Call]:
    """The calls in ``"f(a=1)"`` or ``"[f(a=1), g('x')]"``.

    Raises:
        ValueError: the text is not a call or a list of calls with literal arguments.
    """
    source = text.strip()
    if not source:
        raise ValueError("empty call text")
    if len(source) > 100_000:
        raise ValueError("call text too long")
    try:
        body = ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise ValueError(f"not a Python call: {getattr(exc, 'msg', type(exc).__name__)}") from None
    nodes = body.elts if isinstance(body, (ast.List, ast.Tuple)) else [body]
    calls = []
    for node in nodes:
        if not isinstance(node, ast.Call):
            raise ValueError(f"not a function call: {ast.unparse(node)[:60]!r}")
        calls.append(_call(node))
    return calls


def _literal(value: Any) -> str:
    if isinstance(value, Call):
        return render_call(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def render_call(call: Call | ToolCall) -> str:
    """A call as BFCL's decoded call string: ``name(a='x', b=2)``."""
    call = Call.of(call)
    parts = [_literal(a) for a in call.args] + [f"{k}={_literal(v)}" for k, v in call.kwargs.items()]
    return f"{call.name}({', '.join(parts)})"


def render_result(value: Any) -> str:
    """A call's return value as the text BFCL compares: str as is, dict as JSON, else ``str``."""
    if type(value) is str:
        return value
    if type(value) is dict:
        try:
            return json.dumps(value)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


class Session:
    """The live suites of one entry.

    Args:
        involved_classes: BFCL class names (see :data:`~lfmgym.envs.bfcl_multi_turn.apis.SUITES`).
        initial_config: ``{class name: scenario}``; a class without one starts from its defaults.
        long_context: load the suites with long-context filler (BFCL's ``long_context`` category).

    Raises:
        ValueError: an unknown class name.
    """

    def __init__(self, involved_classes: Sequence[str], initial_config: dict[str, Any] | None = None,
                 long_context: bool = False):
        unknown = [c for c in involved_classes if c not in SUITES]
        if unknown:
            raise ValueError(f"involved_classes: unknown suite(s) {unknown}; known: {sorted(SUITES)}")
        config = initial_config or {}
        self.instances: dict[str, Suite] = {}
        self.functions: dict[str, Any] = {}
        for name in involved_classes:
            suite = SUITES[name]()
            if not suite.stateless:
                suite._load_scenario(copy.deepcopy(config.get(name, {})), long_context=long_context)
            self.instances[name] = suite
            self.functions.update(suite._functions())  # a later class wins a name clash, as in BFCL

    def invoke(self, call: Call | ToolCall | str) -> Any:
        """Run one call and return its raw value.

        Raises:
            Exception: whatever the call raises (unknown function, bad arguments, a suite error).
        """
        call = Call.of(call)
        if call.name not in self.functions:
            raise NameError(f"name '{call.name}' is not defined")
        fn = self.functions[call.name]
        args = [self.invoke(a) if isinstance(a, Call) else a for a in call.args]
        kwargs = {k: self.invoke(v) if isinstance(v, Call) else v for k, v in call.kwargs.items()}
        try:
            inspect.signature(fn).bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{type(fn.__self__).__name__}.{call.name}() {exc}") from None
        return fn(*args, **kwargs)

    def execute(self, calls: Iterable[Call | ToolCall | str]) -> list[str]:
        """Run calls in order; one rendered result per call (errors rendered, never raised)."""
        results = []
        for call in calls:
            try:
                results.append(render_result(self.invoke(call)))
            except Exception as exc:  # a bad call is a result the model sees, as in BFCL
                results.append(f"{ERROR_PREFIX}{exc}")
        return results

    def state(self) -> dict[str, dict[str, Any]]:
        """``{class name: public attributes}`` of the stateful suites."""
        return {name: s._state() for name, s in self.instances.items() if not s.stateless}

    def differences(self, other: Session) -> dict[str, dict[str, Any]]:
        """``{class: {attribute: {"model": ..., "ground_truth": ...}}}`` where ``self`` (the model's
        session) and ``other`` (the ground truth's) disagree; empty when the states match."""
        out: dict[str, dict[str, Any]] = {}
        for name, gold in other.instances.items():
            mine = self.instances.get(name)
            if mine is None:
                out[name] = {"<instance>": {"model": None, "ground_truth": "present"}}
                continue
            diff = {k: {"model": getattr(mine, k, None), "ground_truth": v}
                    for k, v in gold._state().items() if getattr(mine, k, None) != v}
            if diff:
                out[name] = diff
        return out
