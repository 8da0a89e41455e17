"""The ``tool_calling`` environment: multi-turn function calling in BFCL's shapes.

Procedural tasks (see :mod:`lfmgym.envs.tool_calling.tasks` for the shapes and tiers) run real
tools: stateless ones (:mod:`~lfmgym.envs.tool_calling.catalog`) and a per-episode in-memory
store (:mod:`~lfmgym.envs.tool_calling.store`). BFCL tasks (``tasks=load_bfcl_tasks(...)`` or
``bfcl=PATH`` or a bundled category such as ``bfcl=live_simple``) show the BFCL function docs and answer every accepted call with ``"OK"``.

A demonstration, pythonic format::

    [user]      How much is 200 USD in the currency of Japan?
    [assistant] <|tool_call_start|>[get_currency(country='Japan')]<|tool_call_end|>
    [tool]      JPY
    [assistant] <|tool_call_start|>[convert_currency(amount=200, from_currency='USD', to_currency='JPY')]<|tool_call_end|>
    [tool]      29900
    [assistant] 200 USD is 29900 JPY.

Reward components (every episode reports all of the weighted ones):

=================  ======  =====================================================================
component          weight  value
=================  ======  =====================================================================
``calls``          0.5     1 if the calls of the whole episode pair one-to-one (in any order)
                           with the gold calls, each AST-matching its gold entry
                           (:func:`lfmgym.rewards.toolcall_ast.match_calls`; no call at all is
                           the gold of irrelevance tasks), else 0
``outcome``        0.5     1 if the calls match, the episode ended with a text reply and the
                           task's end checks pass: ``state`` and ``answer`` where they apply
                           (BFCL tasks execute nothing: there, the calls are the outcome). An
                           answer the model knew without the tools earns nothing
``unknown_tool``   -0.1    1 if any call named a tool that does not exist
``invalid_args``   -0.1    1 if any call had wrong/missing arguments or made the tool raise
``malformed``      -0.1    1 if any assistant message had unparseable tool-call markup
``no_call``        -0.3    1 if the task needs calls and the episode made none (not even a
                           malformed one). The three penalties above only fall on attempts, so
                           without this a reply that skips the tools would outscore every failed
                           attempt, and RL learns to stop calling tools (measured: GRPO on the
                           demo's mix drove replies to 4 tokens and calculator success 0.59 -> 0)
=================  ======  =====================================================================

Metrics (weight 0): ``state`` (stateful tasks: the store's end state equals the one the gold
calls produce), ``answer`` (tasks with a result to report: the final text, at most 400
characters, mentions every expected value and no forbidden one; irrelevance questions need
exactly the right option), ``finished`` (the episode ended with a text reply), and one 0/1 flag
per failure kind of the call match: ``wrong_function`` (a call to another tool), ``wrong_value``
(a wrong or mistyped argument value), ``wrong_params`` (a missing or unknown parameter),
``missing_call``, ``extra_call`` (too many calls, or any call where none fits), plus
``malformed`` above. The matcher's verdict and reason (``valid``, ``kind``, ``error``) are
kept in ``episode.state["calls_match"]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lfmgym.env import Env, Episode, Task
from lfmgym.toolcalls import ToolCall, render_tool_calls
from lfmgym.tools import Toolbox

from lfmgym.envs.tool_calling.bfcl import DeclaredToolbox, canonical_calls, load_bfcl_source
from lfmgym.envs.tool_calling.store import Store
from lfmgym.envs.tool_calling.tasks import SHAPES, TIER_SHAPES, make_task, stateless_tool, store_tool

__all__ = ["ToolCallingEnv", "FAILURE_FLAGS", "mentions"]

# The failure kinds reported as separate 0/1 metrics (``malformed`` is also a penalty).
FAILURE_FLAGS: tuple[str, ...] = ("wrong_function", "wrong_value", "wrong_params", "missing_call", "extra_call", "malformed")

_SHAPE_TIER = {shape: tier for tier, shapes in TIER_SHAPES.items() for shape in shapes}

_LANGUAGE_NOTE = {
    "java": "The functions are Java methods: write each argument value as Java code in a string.",
    "javascript": "The functions are JavaScript functions: write each argument value as JavaScript code in a string.",
}


class ToolCallingEnv(Env):
    """Function calling: simple, multiple, parallel, parallel-multiple, multi-step and
    irrelevance tasks over stateless and stateful tool suites, or BFCL data.

    Args:
        shapes: restrict generated tasks to these shapes (default: the tier's shapes). A shape's
            tier is fixed (see :data:`~lfmgym.envs.tool_calling.tasks.TIER_SHAPES`); when none of
            ``shapes`` belongs to the requested tier, one is drawn from ``shapes`` anyway.
        bfcl: a bundled BFCL category (``live_simple``), a pattern (``live_*``), ``bfcl`` (every
            single-turn category), a question file or a folder of them, or a list: play those
            tasks (answers from ``possible_answer/`` beside each file). Exclusive with ``tasks``.
        **kwargs: see :class:`lfmgym.Env` (``tool_format="pythonic"|"json"``, ``tasks=``, ...).
    """

    name: ClassVar[str] = "tool_calling"
    description: ClassVar[str] = "Function calling in BFCL's shapes over real tools (or BFCL data), AST-matched"
    difficulties: ClassVar[tuple[int, ...]] = tuple(TIER_SHAPES)
    reward_weights = {"calls": 0.5, "outcome": 0.5, "unknown_tool": -0.1, "invalid_args": -0.1, "malformed": -0.1,
                      "no_call": -0.3}
    reward_range = (-0.3, 1.0)
    default_max_turns: ClassVar[int] = 5
    # A final answer is a sentence or two; a longer one is candidate stuffing, not an answer.
    max_answer_chars: ClassVar[int] = 400

    _SYSTEM = "Use the tools when they help, then answer briefly."

    def __init__(self, *, shapes: Sequence[str] | None = None, bfcl: str | Path | Sequence[str | Path] | None = None,
                 **kwargs: Any):
        if shapes is not None:
            shapes = [shapes] if isinstance(shapes, str) else list(shapes)
            bad = [s for s in shapes if s not in SHAPES]
            if bad or not shapes:
                raise ValueError(f"shapes: {bad or shapes!r} not among {SHAPES}")
        if bfcl is not None:
            if kwargs.get("tasks") is not None:
                raise ValueError("bfcl: give either bfcl=PATH or tasks=[...], not both")
            kwargs["tasks"] = _load_bfcl(bfcl)
        super().__init__(**kwargs)
        self.shapes = tuple(shapes) if shapes else None
        self._episode_store: Store | None = None
        self._docs: dict[tuple, list[dict[str, Any]]] = {}

    # ------------------------------------------------------------------ tasks and tools

    def generate_task(self, rng: np.random.Generator, difficulty: int) -> Task:
        shape = None
        if self.shapes:
            tiered = [s for s in self.shapes if _SHAPE_TIER[s] == difficulty]
            shape = str(rng.choice(tiered or list(self.shapes)))
            difficulty = _SHAPE_TIER[shape]
        return make_task(rng, difficulty, shape)

    def tools(self, task: Task) -> list[Callable | tuple[str, Callable]]:
        """Fresh tools for one episode: a new :class:`Store` when any store tool is shown."""
        if task.meta.get("source") == "bfcl":
            return []  # documentation-only functions: see make_toolbox
        store = Store(task.meta["store"]) if task.meta.get("store") is not None else None
        self._episode_store = store  # on_reset hands it to the episode for the scorer
        return _bind(task, store)

    def make_toolbox(self, task: Task) -> Toolbox:
        """The episode's toolbox: real tools, or the declared (non-executable) BFCL functions."""
        if task.meta.get("source") == "bfcl":
            return DeclaredToolbox(task.meta["functions"])
        return Toolbox(self.tools(task))

    def system_prompt(self, task: Task) -> str:
        parts = [task.meta.get("system") or self._SYSTEM]
        note = _LANGUAGE_NOTE.get(task.meta.get("language", "python"))
        if note:
            parts.append(note)
        return "\n".join(parts)

    def opening(self, task: Task) -> list[dict[str, Any]]:
        return [
            {"role": "system", "content": self._render_system(task, self.make_toolbox(task))},
            {"role": "user", "content": task.prompt},
        ]

    def on_reset(self, task: Task, episode: Episode) -> None:
        if task.meta.get("source") == "bfcl":
            # The base reset built an empty toolbox from tools(); swap in the declared one.
            self.toolbox = self.make_toolbox(task)
            episode.messages[0]["content"] = self._render_system(task, self.toolbox)
        else:
            episode.state["store"] = self._episode_store

    # ------------------------------------------------------------------ gold

    def gold_turns(self, task: Task) -> list[list[ToolCall]]:
        """The canonical calls of each assistant turn of the demonstration."""
        if task.meta.get("source") == "bfcl":
            calls = canonical_calls(task.answer, task.meta["functions"])
            return [calls] if calls else []
        return [[ToolCall(c["name"], c["arguments"]) for c in turn] for turn in task.meta["turns"]]

    def demonstrate(self, task: Task) -> list[dict[str, Any]]:
        messages = self.opening(task)
        toolbox = self.make_toolbox(task)
        for calls in self.gold_turns(task):
            messages.append({"role": "assistant", "content": render_tool_calls(calls, self.tool_format)})
            messages += [{"role": "tool", "content": toolbox.call(c).output} for c in calls]
        messages.append({"role": "assistant", "content": self._final_text(task)})
        return messages

    def _final_text(self, task: Task) -> str:
        if task.meta.get("source") != "bfcl":
            return task.meta["final"]
        return "Done." if task.answer else "None of the available functions can do that."

    def expected_state(self, task: Task) -> dict[str, Any] | None:
        """The store snapshot the gold calls lead to (``None`` for tasks without a store)."""
        if task.meta.get("source") == "bfcl" or task.meta.get("store") is None:
            return None
        store = Store(task.meta["store"])
        methods = {shown: getattr(store, key) for key, shown in task.meta["tools"] if store_tool(key)}
        for turn in self.gold_turns(task):
            for call in turn:
                if call.name in methods:
                    methods[call.name](**call.arguments)
        return store.snapshot()

    # ------------------------------------------------------------------ scoring

    def answer_ok(self, task: Task, text: str) -> bool:
        """The final-answer check: brief (at most ``max_answer_chars``), mentions every expected
        value and no forbidden one; for ``exact`` tasks, exactly the expected answer."""
        from lfmgym.rewards.qa import exact_match

        if len(text) > self.max_answer_chars:
            return False
        if task.meta.get("exact"):
            return bool(exact_match(text, task.meta["expect"][0]))
        return all(mentions(text, e) for e in task.meta["expect"]) and not any(mentions(text, f) for f in task.meta["forbid"])

    def functions(self, task: Task) -> list[dict[str, Any]]:
        """The function docs the model was shown (what the AST matcher checks calls against)."""
        if task.meta.get("source") == "bfcl":
            return task.meta["functions"]
        key = tuple(map(tuple, task.meta["tools"]))
        if key not in self._docs:
            store = Store(task.meta["store"]) if task.meta.get("store") is not None else None
            self._docs[key] = [s["function"] for s in Toolbox(_bind(task, store)).schemas]
        return self._docs[key]

    def score(self, task: Task, episode: Episode) -> dict[str, float]:
        from lfmgym.rewards.toolcall_ast import match_calls

        bfcl = task.meta.get("source") == "bfcl"
        match = match_calls(episode.tool_calls, task.answer, self.functions(task),
                            language=task.meta.get("language", "python"), category=task.meta.get("shape"))
        episode.state["calls_match"] = {"valid": match.valid, "kind": match.kind, "error": match.error}
        finished = episode.final_answer is not None
        components = {"calls": float(match.valid), "finished": float(finished)}

        checks = []
        expected = self.expected_state(task)
        if expected is not None:
            store = episode.state.get("store")
            components["state"] = float(store is not None and store.snapshot() == expected)
            checks.append(components["state"])
        if not bfcl and (task.meta["expect"] or task.meta["forbid"]):
            components["answer"] = float(finished and self.answer_ok(task, episode.final_answer or ""))
            checks.append(components["answer"])
        # Gated on the calls: an answer the model knew without (or despite) the tools earns nothing.
        components["outcome"] = float(match.valid and finished and all(checks))

        kinds = [e.split(":", 1)[0] for e in episode.tool_errors]
        components["unknown_tool"] = float("unknown_tool" in kinds)
        components["invalid_args"] = float("invalid_arguments" in kinds or "tool_raised" in kinds)
        components["malformed"] = float(bool(episode.parse_errors))
        # Skipping needed tools scores the floor of an attempt (-0.3): never better than trying.
        components["no_call"] = float(bool(task.answer) and not episode.tool_calls and not episode.parse_errors)
        flags = _FAILURE_FLAGS.get(match.kind or "", ())
        for flag in ("wrong_function", "wrong_value", "wrong_params", "missing_call", "extra_call"):
            components[flag] = float(flag in flags)
        return components


def _bind(task: Task, store: Store | None) -> list[tuple[str, Callable]]:
    """``(shown name, function)`` for each tool of a generated task; store tools bound to ``store``."""
    return [(shown, getattr(store, key) if store_tool(key) else stateless_tool(key)) for key, shown in task.meta["tools"]]


# match_calls' failure kinds -> the failure flags reported as metrics.
_FAILURE_FLAGS: dict[str, tuple[str, ...]] = {
    "wrong_name": ("wrong_function",),
    "wrong_value": ("wrong_value",),
    "wrong_type": ("wrong_value",),
    "missing_param": ("wrong_params",),
    "unknown_param": ("wrong_params",),
    "missing_call": ("missing_call",),
    "extra_call": ("extra_call",),
    "no_call_expected": ("extra_call",),
}

_NUMBER = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|(?<![\w.])-?\d+(?:\.\d+)?")


def mentions(text: str, expected: str) -> bool:
    """Does ``text`` state ``expected``? Numbers compare by value (``29,900`` == ``29900.0``); other
    strings as whole words after SQuAD normalization (:func:`lfmgym.rewards.qa.normalize_answer`),
    so ``'Lima.'`` mentions ``lima`` but ``'Limassol'`` does not."""
    from lfmgym.rewards.qa import normalize_answer

    try:
        target = float(expected)
    except ValueError:
        words, want = normalize_answer(text).split(), normalize_answer(expected).split()
        if not want:
            return False
        return any(words[i : i + len(want)] == want for i in range(len(words) - len(want) + 1))
    return any(abs(float(m.replace(",", "")) - target) <= 1e-9 * max(1.0, abs(target)) for m in _NUMBER.findall(text))


def _load_bfcl(spec: str | Path | Sequence[str | Path]) -> list[Task]:
    return load_bfcl_source(spec)
