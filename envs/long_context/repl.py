"""The REPL protocol of the long-context env: code cells, sub-calls and final answers.

A :class:`ReplSession` owns one sandbox holding ``context``. Each assistant message goes through
:meth:`ReplSession.step`:

1. every fenced ```repl block runs, in order, in the same persistent Python worker (at most
   ``max_cells_per_turn`` per message); the printed output of each comes back, capped at
   ``output_chars`` so the model has to work with variables rather than read everything;
2. after each cell the session looks for a final answer given in code: ``FINAL(value)``,
   ``FINAL_VAR("name")`` or ``answer["ready"] = True`` (with ``answer["content"]``);
3. otherwise a ``FINAL(...)`` / ``FINAL_VAR(name)`` line written in the message text (outside the
   code, as in the original RLM format) is the final answer.

``llm_query(prompt)`` inside the REPL calls the *sub-model* on the host: any callable taking chat
messages and returning text. Calls are budgeted per episode (``max_sub_calls``, shared by nested
calls), by prompt length (``sub_prompt_chars``) and by tokens (every sub-model call's prompt and
reply are counted into :attr:`SubCallBudget.tokens`). With ``max_depth > 1`` a sub-call is itself
a REPL episode: the sub-model gets the prompt as its own ``context`` and answers with ``FINAL``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lfmgym.sandbox import CellResult, Sandbox

__all__ = ["ReplSession", "FinalAnswer", "TurnOutcome", "SubCallBudget", "SubModel", "find_code_blocks"]

Messages = list[dict[str, Any]]
SubModel = Callable[[Messages], str]

MAX_ANSWER_CHARS = 10_000

# Defined in the worker at every start: the three ways of answering. Both functions leave the
# result in `_final`, which the host reads after each cell.
SETUP_CODE = '''
answer = {"content": "", "ready": False}
_final = None


def FINAL(value):
    """Give `value` (converted to str) as the final answer and end the episode."""
    global _final
    _final = {"text": str(value), "from_variable": False, "via": "FINAL"}


def FINAL_VAR(name):
    """Give the value of the REPL variable called `name` as the final answer, e.g. FINAL_VAR("result")."""
    global _final
    if not isinstance(name, str):
        raise TypeError("FINAL_VAR takes the variable's NAME as a string, e.g. FINAL_VAR('result')")
    name = name.strip().strip("'\\"")
    if name not in globals():
        raise NameError(f"FINAL_VAR: there is no variable named {name!r}")
    _final = {"text": str(globals()[name]), "from_variable": True, "via": "FINAL_VAR"}
'''

_REPL_BLOCK = re.compile(r"```repl[ \t]*\r?\n(.*?)```", re.S)
_OTHER_BLOCK = re.compile(r"```(?:python|py)\b", re.I)
_ANY_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.S)
_TEXT_FINAL_VAR = re.compile(r"^\s*FINAL_VAR\(\s*[\"']?([A-Za-z_]\w*)[\"']?\s*\)\s*$", re.M)
_TEXT_FINAL = re.compile(r"^\s*FINAL\((.*)\)\s*$", re.M)


def find_code_blocks(text: str) -> list[str]:
    """The code of every closed ```repl block in ``text``, in order."""
    return [m.group(1) for m in _REPL_BLOCK.finditer(text)]


@dataclass
class FinalAnswer:
    """A final answer. ``via``: FINAL, FINAL_VAR, answer (the dict), or text-FINAL/text-FINAL_VAR."""

    text: str
    from_variable: bool
    via: str


@dataclass
class TurnOutcome:
    """What one assistant message did: the feedback to show, and the final answer if any."""

    feedback: str
    final: FinalAnswer | None = None
    cells: list[CellResult] = field(default_factory=list)


def _estimate_tokens(text: str) -> int:
    return -(-len(text) // 4)


@dataclass
class SubCallBudget:
    """``llm_query`` calls and sub-model tokens of one episode, shared by every depth.

    ``tokens`` counts every sub-model call's prompt (all its messages) and reply, nested REPL
    turns included, with ``count`` (the sub-model's tokenizer, or about 4 characters a token);
    ``token_limit`` (``None`` = no limit) stops further calls once reached.
    """

    limit: int
    calls: int = 0
    errors: int = 0
    max_depth_used: int = 0
    tokens: int = 0
    token_limit: int | None = None
    count: Callable[[str], int] = _estimate_tokens

    def take(self) -> bool:
        if self.calls >= self.limit:
            return False
        self.calls += 1
        return True

    def ask(self, sub_model: SubModel, messages: Messages) -> str:
        """Call ``sub_model`` and count the tokens of its prompt and reply."""
        if self.token_limit is not None and self.tokens >= self.token_limit:
            raise RuntimeError(f"sub-call token budget exhausted: {self.tokens:,} of {self.token_limit:,} tokens used")
        reply = str(sub_model(messages))  # a call that raised produced no reply and is not counted
        self.tokens += sum(self.count(str(m.get("content", ""))) for m in messages) + self.count(reply)
        return reply


def _strip_quotes(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n... [{len(text) - limit:,} more characters not shown: print smaller slices]"


class ReplSession:
    """One REPL holding ``context``; see the module docstring.

    Args:
        context: the long input (a str or a list of str), bound to ``context`` in the REPL.
        sub_model: the callable behind ``llm_query``; ``None`` makes ``llm_query`` report that
            no sub-model is configured.
        budget: the episode's sub-call budget (shared with nested sessions).
        depth: 0 for the root session; sub-calls run at ``depth + 1``.
        max_depth: sub-calls at ``depth + 1 < max_depth`` are REPL episodes themselves.
        sub_prompt_chars: the longest prompt ``llm_query`` accepts.
        sub_max_turns: turns a nested REPL episode gets.
        output_chars: how much of each cell's output the model sees.
        max_cells_per_turn: ```repl blocks run per message (the rest are ignored, with a note).
        sandbox_options: passed to :class:`lfmgym.sandbox.Sandbox`.
    """

    def __init__(
        self,
        context: str | list[str],
        *,
        sub_model: SubModel | None = None,
        budget: SubCallBudget | None = None,
        depth: int = 0,
        max_depth: int = 1,
        sub_prompt_chars: int = 50_000,
        sub_max_turns: int = 4,
        output_chars: int = 4_000,
        max_cells_per_turn: int = 4,
        sandbox_options: dict[str, Any] | None = None,
    ) -> None:
        self.context = context
        self.sub_model = sub_model
        self.llm_query_enabled = sub_model is not None  # what the system prompt says
        self.budget = budget if budget is not None else SubCallBudget(limit=16)
        self.depth = depth
        self.max_depth = max_depth
        self.sub_prompt_chars = sub_prompt_chars
        self.sub_max_turns = sub_max_turns
        self.output_chars = output_chars
        self.max_cells_per_turn = max_cells_per_turn
        self.sandbox_options = dict(sandbox_options or {})
        self.sandbox = Sandbox(
            host_functions={"llm_query": self.llm_query},
            setup_code=SETUP_CODE,
            **self.sandbox_options,
        )
        self.sandbox.set_variable("context", context)
        self.cells_run = 0
        self.cell_errors = 0

    def close(self) -> None:
        self.sandbox.close()

    # -- llm_query -----------------------------------------------------------------------
    def llm_query(self, prompt: Any) -> str:
        """Ask the sub-model; runs on the host when sandboxed code calls ``llm_query(prompt)``."""
        if not isinstance(prompt, str):
            self.budget.errors += 1
            raise TypeError(f"llm_query takes one str prompt, got {type(prompt).__name__}")
        if self.sub_model is None:
            self.budget.errors += 1
            raise RuntimeError("no sub-model is configured for llm_query in this environment")
        if len(prompt) > self.sub_prompt_chars:
            self.budget.errors += 1
            raise ValueError(
                f"the prompt has {len(prompt):,} characters; llm_query reads at most "
                f"{self.sub_prompt_chars:,}: split the context into smaller chunks"
            )
        if not self.budget.take():
            self.budget.errors += 1
            raise RuntimeError(
                f"sub-call budget exhausted: llm_query may be called {self.budget.limit} times per episode"
            )
        depth = self.depth + 1
        self.budget.max_depth_used = max(self.budget.max_depth_used, depth)
        try:
            if depth < self.max_depth:
                return self._recursive_query(prompt, depth)
            return self.budget.ask(self.sub_model, [{"role": "user", "content": prompt}])
        except Exception:
            self.budget.errors += 1
            raise

    def _recursive_query(self, prompt: str, depth: int) -> str:
        """A sub-call that is itself a REPL episode over ``prompt``, driven by the sub-model."""
        child = ReplSession(
            prompt,
            sub_model=self.sub_model,
            budget=self.budget,
            depth=depth,
            max_depth=self.max_depth,
            sub_prompt_chars=self.sub_prompt_chars,
            sub_max_turns=self.sub_max_turns,
            output_chars=self.output_chars,
            max_cells_per_turn=self.max_cells_per_turn,
            sandbox_options=self.sandbox_options,
        )
        assert self.sub_model is not None
        messages: Messages = [
            {"role": "system", "content": system_prompt(child)},
            {"role": "user", "content": "Carry out the request stored in `context` "
                                        f"({len(prompt):,} characters) and give the result with FINAL."},
        ]
        try:
            for _ in range(self.sub_max_turns):
                reply = self.budget.ask(self.sub_model, messages)
                outcome = child.step(reply)
                if outcome.final is not None:
                    return outcome.final.text
                messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": outcome.feedback}]
        finally:
            child.close()
        raise RuntimeError(f"the depth-{depth} sub-call gave no FINAL answer within {self.sub_max_turns} turns")

    # -- turns ---------------------------------------------------------------------------
    def step(self, text: str) -> TurnOutcome:
        """Run the message's ```repl blocks, then look for a final answer (see module docstring)."""
        blocks = find_code_blocks(text)
        outcome = TurnOutcome(feedback="")
        parts: list[str] = []
        for index, code in enumerate(blocks[: self.max_cells_per_turn], start=1):
            result = self.sandbox.run(code)
            outcome.cells.append(result)
            self.cells_run += 1
            if not result.ok:
                self.cell_errors += 1
            final = self._final_from_code()
            if final is not None:
                outcome.final = final
                return outcome
            shown = result.transcript() or "(no output)"
            parts.append(f"[cell {self.cells_run} output]\n{_cap(shown, self.output_chars)}")
        if len(blocks) > self.max_cells_per_turn:
            parts.append(f"[only the first {self.max_cells_per_turn} ```repl blocks of a message run]")
        final = self._final_from_text(text)
        if final is not None:
            outcome.final = final
            return outcome
        missing = self._missing_final_var(text)
        if missing is not None:
            # The model did answer, with a name the REPL does not hold: say that, not "no answer".
            parts.append(f"FINAL_VAR({missing!r}): there is no variable named {missing!r} in the REPL. "
                         "Assign it in a ```repl block first, or answer with FINAL(answer).")
        elif not blocks:
            parts.append(self._no_code_feedback(text))
        outcome.feedback = "\n\n".join(parts)
        return outcome

    def _missing_final_var(self, text: str) -> str | None:
        """The name in a ``FINAL_VAR(name)`` line of the prose when the REPL has no such variable."""
        match = _TEXT_FINAL_VAR.search(_ANY_BLOCK.sub("", text))
        return match.group(1) if match else None

    def _no_code_feedback(self, text: str) -> str:
        if _OTHER_BLOCK.search(text):
            return ("Your code did not run: only ```repl fenced blocks are executed. "
                    "Write ```repl, your code, then ``` to run it.")
        return ("No ```repl block and no final answer found. Write Python in a ```repl block to inspect "
                "`context`, and answer with FINAL(answer), FINAL_VAR(\"variable_name\") or "
                "answer[\"content\"] = ...; answer[\"ready\"] = True.")

    def _final_from_code(self) -> FinalAnswer | None:
        if not self.sandbox.alive:  # the worker died: only what is restored is left; no final
            return None
        try:
            final = self.sandbox.get_variable("_final", default=None)
            if isinstance(final, dict) and isinstance(final.get("text"), str):
                text = final["text"][:MAX_ANSWER_CHARS]
                return FinalAnswer(text, bool(final.get("from_variable")), str(final.get("via")))
            ready = self.sandbox.get_variable("answer", default=None)
            if isinstance(ready, dict) and ready.get("ready") is True:
                return FinalAnswer(str(ready.get("content", ""))[:MAX_ANSWER_CHARS], True, "answer")
        except Exception:  # a hostile value (e.g. huge) is no final answer
            return None
        return None

    def _final_from_text(self, text: str) -> FinalAnswer | None:
        prose = _ANY_BLOCK.sub("", text)
        match = _TEXT_FINAL_VAR.search(prose)
        if match:
            try:
                value = self.sandbox.get_variable(match.group(1), as_str=True)
            except Exception:
                return None
            return FinalAnswer(str(value)[:MAX_ANSWER_CHARS], True, "text-FINAL_VAR")
        match = _TEXT_FINAL.search(prose)
        if match:
            return FinalAnswer(_strip_quotes(match.group(1))[:MAX_ANSWER_CHARS], False, "text-FINAL")
        return None


def system_prompt(session: ReplSession) -> str:
    """The REPL protocol, as the model reads it."""
    if not session.llm_query_enabled:
        sub = "`llm_query(prompt)` is not available in this run."
    else:
        sub = (f"`llm_query(prompt)` sends a str prompt (at most {session.sub_prompt_chars:,} characters) to a "
               f"language model and returns its answer as a str; you may call it {session.budget.limit} times "
               "in total, e.g. on chunks of `context`.")
    return (
        "You answer a question about a long context that is NOT shown to you. It is stored in a Python REPL "
        "as the variable `context`. Write Python in ```repl fenced blocks to inspect and process it, e.g.\n"
        "```repl\nprint(len(context))\nprint(context[:500])\n```\n"
        "All blocks run in the same REPL, so variables persist. You see the printed output of each block, "
        f"cut after {session.output_chars:,} characters, so print small slices and keep results in variables. "
        f"{sub}\n"
        "When you know the answer, give it in one of three ways: FINAL(answer) or FINAL_VAR(\"variable_name\") "
        "(in a ```repl block or on a line of its own), or in the REPL answer[\"content\"] = ... then "
        "answer[\"ready\"] = True. Give the answer only, without explanation."
    )
