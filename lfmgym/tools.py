"""Tools: typed Python functions that a model may call.

A tool is a plain function with type hints and a Google-style docstring (``Args:`` section);
its JSON schema comes from :func:`transformers.utils.get_json_schema`, the same schema chat
templates render. :class:`Toolbox` runs calls safely: an unknown tool, wrong argument types, a
tool that raises, or one that outlives its deadline all come back as an error *string* for the
tool turn, never as an exception out of :meth:`lfmgym.Env.step`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from lfmgym.toolcalls import ToolCall, coerce_arguments

__all__ = ["tool_schema", "ToolResult", "Toolbox", "format_tool_output"]

# Tool results go back into a small model's context: keep them short and say when they were cut.
MAX_TOOL_OUTPUT = 4_000


_SCHEMA_CACHE: dict[Any, dict] = {}


def tool_schema(fn: Callable) -> dict:
    """JSON schema of a typed, documented function (``{"type": "function", "function": {...}}``).

    Schemas are cached per function (bound methods share their function's entry): envs build a
    fresh toolbox every episode and parsing docstrings would otherwise dominate a cheap reset.

    Raises:
        ValueError: naming the function when its docstring or type hints are incomplete.
    """
    import copy

    key = getattr(fn, "__func__", fn)
    try:
        cached = _SCHEMA_CACHE.get(key)
    except TypeError:  # unhashable callable
        cached, key = None, None
    if cached is not None:
        return copy.deepcopy(cached)
    from transformers.utils import get_json_schema

    try:
        schema = get_json_schema(fn)
        if key is not None:
            _SCHEMA_CACHE[key] = copy.deepcopy(schema)
        return schema
    except Exception as exc:  # transformers raises several DocstringParsingException flavours
        name = getattr(fn, "__name__", repr(fn))
        raise ValueError(f"tool {name!r}: cannot build its JSON schema: {exc}") from exc


@dataclass
class ToolResult:
    """What one call returned. ``error`` is set (and ``output`` holds the message) on failure."""

    call: ToolCall
    output: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def format_tool_output(value: Any, limit: int = MAX_TOOL_OUTPUT) -> str:
    """Render a tool's return value as text: strings as-is, the rest as compact JSON."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    if len(text) > limit:
        text = text[:limit] + f"... [truncated {len(text) - limit} chars]"
    return text


class Toolbox:
    """A set of callable tools with their schemas.

    Args:
        tools: functions (or ``(name, function)`` pairs to expose a bound method under a
            clean name). Each needs type hints and a Google-style docstring.
        output_limit: characters of a result kept before truncation with a marker.
        timeout_s: one deadline per call, everything the tool does included (network retries,
            backoff): past it the call is an error result and the episode goes on. ``None`` runs
            tools inline without a deadline (right for pure-Python tools). With a deadline each
            call runs in a helper thread; a call past its deadline cannot be stopped, so until it
            returns further calls of this toolbox are refused (no two calls race on its state).
    """

    def __init__(self, tools: Iterable[Callable | tuple[str, Callable]] = (), output_limit: int = MAX_TOOL_OUTPUT,
                 timeout_s: float | None = None):
        if timeout_s is not None and not (isinstance(timeout_s, (int, float)) and 0 < timeout_s < float("inf")):
            raise ValueError(f"timeout_s: expected a positive number of seconds or None, got {timeout_s!r}")
        self.output_limit = output_limit
        self.timeout_s = timeout_s
        self._running: threading.Thread | None = None  # a call that outlived its deadline
        self._fns: dict[str, Callable] = {}
        self._schemas: dict[str, dict] = {}
        for item in tools:
            name, fn = item if isinstance(item, tuple) else (item.__name__, item)
            schema = tool_schema(fn)
            schema["function"]["name"] = name
            if name in self._fns:
                raise ValueError(f"duplicate tool name {name!r}")
            self._fns[name] = fn
            self._schemas[name] = schema

    @property
    def names(self) -> list[str]:
        return list(self._fns)

    @property
    def schemas(self) -> list[dict]:
        return list(self._schemas.values())

    def __contains__(self, name: str) -> bool:
        return name in self._fns

    def __len__(self) -> int:
        return len(self._fns)

    def call(self, call: ToolCall) -> ToolResult:
        """Run one call; every failure becomes an error result that names the problem."""
        fn = self._fns.get(call.name)
        if fn is None:
            known = ", ".join(self._fns) or "none"
            msg = f"Error: unknown tool {call.name!r}. Available tools: {known}."
            return ToolResult(call, msg, "unknown_tool")
        try:
            args = coerce_arguments(call.arguments, self._schemas[call.name])
        except TypeError as exc:
            return ToolResult(call, f"Error: invalid arguments for {call.name}: {exc}", "invalid_arguments")
        if self.timeout_s is None:
            try:
                value = fn(**args)
            except (Exception, SystemExit) as exc:  # a tool bug or bad input must not end the episode
                return _raised(call, exc)
            return ToolResult(call, format_tool_output(value, self.output_limit))
        return self._call_with_deadline(call, fn, args)

    def _call_with_deadline(self, call: ToolCall, fn: Callable, args: dict[str, Any]) -> ToolResult:
        if self._running is not None and self._running.is_alive():
            return ToolResult(call, f"Error: {call.name} not run: an earlier tool call is still running past its "
                                    f"{self.timeout_s:g} s deadline.", "tool_timeout")
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                outcome["value"] = fn(**args)
            except BaseException as exc:  # reported below; a thread must not print a traceback
                outcome["error"] = exc

        worker = threading.Thread(target=target, name=f"lfmgym-tool-{call.name}", daemon=True)
        started = time.monotonic()
        worker.start()
        worker.join(self.timeout_s)
        if worker.is_alive():
            self._running = worker
            return ToolResult(call, f"Error: {call.name} did not finish within its {self.timeout_s:g} s deadline "
                                    f"({time.monotonic() - started:.1f} s).", "tool_timeout")
        if "error" in outcome:
            exc = outcome["error"]
            if not isinstance(exc, (Exception, SystemExit)):  # KeyboardInterrupt: the user's
                raise exc
            return _raised(call, exc)
        return ToolResult(call, format_tool_output(outcome.get("value"), self.output_limit))


def _raised(call: ToolCall, exc: BaseException) -> ToolResult:
    try:
        message = str(exc)[:1000]
    except Exception:
        message = "<unprintable>"
    return ToolResult(call, f"Error: {call.name} raised {type(exc).__name__}: {message}", "tool_raised")
