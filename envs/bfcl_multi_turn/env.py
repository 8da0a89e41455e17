"""The ``bfcl_multi_turn`` environment: several user turns of stateful tool use.

An episode plays one task of several user turns against live API suites (file system, math,
messaging, posting, tickets, trading, travel, vehicle; see :mod:`~lfmgym.envs.bfcl_multi_turn.apis`).
Within a turn the model calls functions (each assistant message is one *step*; several calls in one
message run in order) and sees each call's result; a message without a call ends the turn and the
env sends the next user turn. After the last turn the episode ends and the whole transcript is
scored with BFCL's multi-turn checker (:func:`~lfmgym.envs.bfcl_multi_turn.checker.check_entry`).

Tasks: procedural ones by default (:mod:`~lfmgym.envs.bfcl_multi_turn.generator`: new initial
states and requests, tiers by number of turns and calls), or BFCL's entries with
``bfcl="multi_turn_base"`` (a category, a list of categories and/or entry ids, or ``"all"``).

A turn whose ground truth has no call (a held-out function or a missing parameter) is answered by
asking or saying what is missing, in text; a held-out function is announced in a later user turn
with its document, as BFCL does (called by name before that, it runs, as in BFCL). More than ``step_limit`` steps in one turn ends the episode
(BFCL's force-quit: the entry fails).

Reward components:

=================  ======  =====================================================================
component          weight  value
=================  ======  =====================================================================
``success``        0.7     BFCL's verdict: 1 when every checked turn passes
``turn_accuracy``  0.3     fraction of checked turns whose state and results match (partial credit)
``malformed``      -0.1    1 if any assistant message had unparseable tool-call markup
=================  ======  =====================================================================

Metrics (weight 0): ``turns_completed`` (fraction of user turns the model finished),
``abstained`` (fraction of the turns without ground-truth calls in which the model called nothing),
``state_mismatch``, ``response_mismatch``, ``empty_turn``, ``force_terminated`` (the kind of the
first failure, one-hot), ``calls``, ``call_errors`` (calls whose result is an error).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from lfmgym.env import Env, Episode, Task
from lfmgym.toolcalls import ToolCall, parse_tool_calls, render_tool_calls
from lfmgym.tools import Toolbox

from lfmgym.envs.bfcl_multi_turn.bfcl_data import DOC_STYLES, load_tasks, visible_docs
from lfmgym.envs.bfcl_multi_turn.checker import check_entry
from lfmgym.envs.bfcl_multi_turn.session import ERROR_PREFIX, Call, Session, render_call, render_result

__all__ = ["BfclMultiTurnEnv", "ADDED_FUNCTIONS_PROMPT", "turn_message", "keyword_call"]

# What BFCL tells a prompting model when held-out functions are added.
ADDED_FUNCTIONS_PROMPT = "I have updated some more functions you can choose from. What about now?"
_ASK_FOR_FUNCTION = "None of the functions I have can do that. If you can give me a function for it, I will use it."
_ASK_FOR_PARAMETER = "I need more information to do that. Could you tell me the details that are missing?"
_DONE = "Done."
_FAILURES = {"multi_turn:instance_state_mismatch": "state_mismatch",
             "multi_turn:execution_response_mismatch": "response_mismatch",
             "multi_turn:empty_turn_model_response": "empty_turn",
             "multi_turn:force_terminated": "force_terminated"}


def turn_message(task: Task, turn: int, docs: str = "bfcl") -> str:
    """The user message that opens ``turn``: its text, or the held-out functions' documents (in
    style ``docs``) when the turn only reveals them (BFCL's prompting message)."""
    from lfmgym.envs.tool_calling.bfcl import declared_schema

    added = task.meta.get("missed_function", {}).get(str(turn))
    text = task.meta["turns"][turn]
    if added and not text:
        shown = [declared_schema(d)["function"] for d in visible_docs(task, turn, docs) if d["name"] in added]
        return json.dumps(shown, ensure_ascii=False) + "\n" + ADDED_FUNCTIONS_PROMPT
    return text


def keyword_call(call: Call | str, session: Session) -> ToolCall:
    """``call`` with positional arguments named from the function's signature (how a model writes
    it); the call is returned unchanged when it does not bind."""
    import inspect

    call = Call.of(call)
    fn = session.functions.get(call.name)
    if fn is None or not call.args:
        return ToolCall(call.name, dict(call.kwargs))
    try:
        bound = inspect.signature(fn).bind(*call.args, **call.kwargs)
    except TypeError:
        return ToolCall(call.name, dict(call.kwargs))
    return ToolCall(call.name, dict(bound.arguments))


class BfclMultiTurnEnv(Env):
    """Multi-turn stateful tool use over BFCL's API suites (module docstring for the details).

    Args:
        bfcl: play BFCL entries: a category (``"multi_turn_base"``), a list of categories and/or
            entry ids, or ``"all"``. Exclusive with ``tasks``. Default: generated tasks.
        step_limit: steps (messages with calls) allowed within one user turn; one more ends the
            episode (BFCL: 20, and its 21st step ends the entry).
        strict: a message whose tool-call markup does not parse ends the turn, as BFCL's decoder
            does (the eval uses this); otherwise the model gets an error message and may retry.
        docs: ``"compact"`` (default: each function's description without the suite's blurb that
            BFCL repeats in all of them: a third to a half shorter) or ``"bfcl"`` (BFCL's documents
            as they are; the eval uses this).
        **kwargs: see :class:`lfmgym.Env`.
    """

    name: ClassVar[str] = "bfcl_multi_turn"
    description: ClassVar[str] = "Multi-turn stateful tool use over BFCL's API suites, scored by BFCL's multi-turn checker"
    difficulties: ClassVar[tuple[int, ...]] = (0, 1, 2, 3)
    reward_weights = {"success": 0.7, "turn_accuracy": 0.3, "malformed": -0.1}
    reward_range = (-0.1, 1.0)
    default_max_turns: ClassVar[int] = 60

    _SYSTEM = ("You operate the user's systems through the functions below, over several requests. For each "
               "request, call the functions needed to do it (several calls in one message run in order), read "
               "the results, and continue until the request is done; then reply briefly in plain text. If no "
               "function can do what is asked, or a detail you need is missing, do not call anything: say so "
               "or ask for it.")

    def __init__(self, *, bfcl: str | Sequence[str] | None = None, step_limit: int = 20, strict: bool = False,
                 docs: str = "compact", **kwargs: Any):
        if docs not in DOC_STYLES:
            raise ValueError(f"docs: {docs!r} is not one of {DOC_STYLES}")
        if bfcl is not None:
            if kwargs.get("tasks") is not None:
                raise ValueError("bfcl: give either bfcl=... or tasks=[...], not both")
            kwargs["tasks"] = load_tasks(bfcl)
        if int(step_limit) < 1:
            raise ValueError(f"step_limit: must be >= 1, got {step_limit!r}")
        super().__init__(**kwargs)
        self.step_limit = int(step_limit)
        self.strict = bool(strict)
        self.docs = docs

    # ------------------------------------------------------------------ tasks and tools

    def generate_task(self, rng: np.random.Generator, difficulty: int) -> Task:
        from lfmgym.envs.bfcl_multi_turn.generator import generate_task

        return generate_task(rng, difficulty)

    def make_toolbox(self, task: Task) -> Toolbox:
        from lfmgym.envs.tool_calling.bfcl import DeclaredToolbox

        return DeclaredToolbox(visible_docs(task, 0, self.docs))

    def system_prompt(self, task: Task) -> str:
        return self._SYSTEM

    def on_reset(self, task: Task, episode: Episode) -> None:
        meta = task.meta
        episode.state.update(session=Session(meta["involved_classes"], meta.get("initial_config"),
                                             meta.get("long_context", False)),
                             turn=0, steps_in_turn=0, turns=[[]], force_quit=False)

    # ------------------------------------------------------------------ the episode

    def handle_action(self, action: str, episode: Episode) -> tuple[list[dict[str, Any]], bool]:
        state = episode.state
        parsed = parse_tool_calls(action, self.tool_format)
        if not parsed.ok:
            episode.parse_errors.append(parsed.error)
            if not self.strict:
                return [{"role": "user", "content": self.parse_error_feedback(parsed.error)}], False
            return self._end_turn(episode, "")
        if not parsed.calls:
            return self._end_turn(episode, parsed.content)
        state["steps_in_turn"] += 1
        session: Session = state["session"]
        feedback, rendered = [], []
        for call in parsed.calls:
            rendered.append(render_call(call))
            try:
                output = render_result(session.invoke(call))
            except NameError as exc:
                output = f"{ERROR_PREFIX}{exc}"
                episode.tool_errors.append(f"unknown_tool: {output}")
            except Exception as exc:  # a bad call is a result the model reads, as in BFCL
                output = f"{ERROR_PREFIX}{exc}"
                episode.tool_errors.append(f"tool_raised: {output}")
            episode.tool_calls.append(call)
            episode.tool_results.append(output)
            feedback.append({"role": "tool", "content": output})
        state["turns"][-1].append(rendered)
        if state["steps_in_turn"] > self.step_limit:
            state["force_quit"] = True  # BFCL stops the whole entry; the missing turns fail it
            return feedback, True
        return feedback, False

    def _end_turn(self, episode: Episode, content: str) -> tuple[list[dict[str, Any]], bool]:
        state, task = episode.state, episode.task
        state["turn"] += 1
        state["steps_in_turn"] = 0
        if state["turn"] >= len(task.meta["turns"]):
            episode.final_answer = content
            return [], True
        state["turns"].append([])
        return [{"role": "user", "content": turn_message(task, state["turn"], self.docs)}], False

    def step(self, action: str):
        obs, reward, terminated, truncated, info = super().step(action)
        if terminated or truncated:
            info["bfcl_turns"] = [list(map(list, t)) for t in self.episode.state["turns"]]
            info["bfcl_verdict"] = self.episode.state.get("verdict")
        return obs, reward, terminated, truncated, info

    # ------------------------------------------------------------------ gold

    def demonstrate(self, task: Task) -> list[dict[str, Any]]:
        """The ground truth played turn by turn: one message per call (consecutive calls of one
        function together), each followed by its results, then a short reply; a turn without calls
        is answered by asking for the missing function or detail."""
        messages = self.opening(task)
        session = Session(task.meta["involved_classes"], task.meta.get("initial_config"),
                          task.meta.get("long_context", False))
        missed = task.meta.get("missed_function", {})
        for turn, gold in enumerate(task.answer):
            if turn:
                messages.append({"role": "user", "content": turn_message(task, turn, self.docs)})
            calls = [keyword_call(c, session) for c in gold]
            groups = _group_calls(calls)
            if len(groups) > self.step_limit:
                groups = [calls]
            for group in groups:
                messages.append({"role": "assistant", "content": render_tool_calls(group, self.tool_format)})
                messages += [{"role": "tool", "content": out} for out in session.execute(group)]
            if gold:
                reply = _DONE
            elif str(turn + 1) in missed:
                reply = _ASK_FOR_FUNCTION
            else:
                reply = _ASK_FOR_PARAMETER
            messages.append({"role": "assistant", "content": reply})
        return messages

    # ------------------------------------------------------------------ scoring

    def score(self, task: Task, episode: Episode) -> dict[str, float]:
        # A cut episode keeps its unfinished turn, as BFCL's result of a force-quit entry does.
        turns = episode.state.get("turns", [])
        finished = episode.state.get("turn", 0)
        verdict = check_entry(turns, task.answer, task.meta["involved_classes"], task.meta.get("initial_config"),
                              task.meta.get("long_context", False))
        episode.state["verdict"] = verdict.to_dict()
        components = {"success": float(verdict.valid), "turn_accuracy": verdict.turn_accuracy,
                      "malformed": float(bool(episode.parse_errors)),
                      "turns_completed": min(finished, len(task.answer)) / max(1, len(task.answer)),
                      "calls": float(len(episode.tool_calls)),
                      "call_errors": float(sum(r.startswith(ERROR_PREFIX) or '"error"' in r[:40]
                                               for r in episode.tool_results))}
        unanswerable = [i for i, gold in enumerate(task.answer) if not gold]
        if unanswerable:
            components["abstained"] = sum(not (turns[i] if i < len(turns) else []) for i in unanswerable) / len(unanswerable)
        for kind, flag in _FAILURES.items():
            components[flag] = float(verdict.error_type == kind)
        return components


def _group_calls(calls: list[ToolCall]) -> list[list[ToolCall]]:
    groups: list[list[ToolCall]] = []
    for call in calls:
        if groups and groups[-1][-1].name == call.name:
            groups[-1].append(call)
        else:
            groups.append([call])
    return groups
