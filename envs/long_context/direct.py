"""``long_context_direct``: the long-context tasks answered directly, with no REPL — the baseline.

The same tasks as ``long_context`` (same families, tiers and seeds give the same tasks), but the
context is placed in the prompt, cut to ``context_tokens`` tokens as a model with that window would
see it, and the model answers in one message. Evaluating a model on both envs per length tier
says whether the REPL scaffold helps it::

    lfmgym eval --model M --envs long_context,long_context_direct \\
        --env-arg long_context.difficulty=0 --env-arg long_context_direct.difficulty=0

Cutting: ``"middle"`` (default; LongBench's rule) keeps the head and the tail and drops the middle,
``"head"`` keeps the beginning. Tokens are counted with ``tokenizer`` (a preset, checkpoint path or
hub id whose tokenizer is loaded once) or estimated at 4 characters per token.

Answer: the whole reply is the answer; a one-line reply may wrap it as ``Answer: x``,
``The answer is x`` or ``FINAL(x)``. A reply listing several candidates is not an answer.

Reward components:
    ``correct`` (weight 1.0): normalized exact match with the gold answer.
    metrics (weight 0): ``f1`` (token F1), ``answered``, ``context_kept`` (fraction of the
        context's characters left in the prompt), ``prompt_tokens`` (the cut context's tokens).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from lfmgym.env import Env, Episode, Task

from lfmgym.envs.long_context.submodel import CHARS_PER_TOKEN
from lfmgym.envs.long_context.tasks import LENGTHS, check_task_args, generate

__all__ = ["LongContextDirectEnv", "cut_context"]

CUTS = ("middle", "head")
_WRAPPED = re.compile(r"^(?:final answer|answer|the answer is)\s*[:=]?\s*(.+?)\.?$", re.I)
_FINAL = re.compile(r"^FINAL\((.*)\)$")


@lru_cache(maxsize=4)
def _load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    try:  # a named checkpoint of the model package (e.g. smollm2-135m), when it knows the name
        from lfmgym.model.pretrained import resolve_model

        name = resolve_model(name)
    except ImportError:
        pass
    return AutoTokenizer.from_pretrained(name)


def _counter(tokenizer: str | None) -> tuple[Callable[[str], int], Callable[[str, int], str]]:
    """``(count, head)``: tokens of a text, and the longest prefix of a text within n tokens."""
    if tokenizer is None:
        return (lambda text: math.ceil(len(text) / CHARS_PER_TOKEN)), (lambda text, n: text[: int(n * CHARS_PER_TOKEN)])
    tok = _load_tokenizer(tokenizer)

    def count(text: str) -> int:
        return len(tok.encode(text, add_special_tokens=False))

    def head(text: str, n: int) -> str:
        ids = tok.encode(text[: int(n * 8) + 64], add_special_tokens=False)[:n]  # no token spans > 8 chars here
        return tok.decode(ids)

    return count, head


def cut_context(text: str, budget_tokens: int, *, how: str = "middle", tokenizer: str | None = None) -> str:
    """``text`` cut to ``budget_tokens`` tokens: head and tail around a marker, or the head only."""
    count, head = _counter(tokenizer)
    if count(text) <= budget_tokens:
        return text
    marker = "\n[... {:,} characters cut ...]\n"
    if how == "head":
        kept = head(text, budget_tokens)
        return kept + marker.format(len(text) - len(kept)).rstrip("\n")
    front = head(text, budget_tokens // 2)
    back = head(text[::-1], budget_tokens - budget_tokens // 2)[::-1] if tokenizer is None else \
        _tail(text, budget_tokens - budget_tokens // 2, count)
    return front + marker.format(len(text) - len(front) - len(back)) + back


def _tail(text: str, n: int, count: Callable[[str], int]) -> str:
    """The longest suffix of ``text`` within ``n`` tokens (binary search on characters)."""
    low, high = 0, min(len(text), n * 8 + 64)
    while low < high:
        mid = (low + high + 1) // 2
        if count(text[len(text) - mid:]) <= n:
            low = mid
        else:
            high = mid - 1
    return text[len(text) - low:]


def _joined(context: str | list[str]) -> str:
    return context if isinstance(context, str) else "\n\n".join(context)


def extract_answer(reply: str) -> str | None:
    """The answer in a reply: the whole of it, unwrapped from one ``Answer:``/``FINAL(...)`` form."""
    text = reply.strip()
    if not text:
        return None
    if "\n" in text:
        return text
    match = _FINAL.match(text) or _WRAPPED.match(text)
    return match.group(1).strip().strip("'\"") if match else text


class LongContextDirectEnv(Env):
    """See the module docstring.

    Args:
        families, context_lengths: as :class:`.env.LongContextEnv` (the same tasks for a seed).
        context_tokens: the window the context is cut to (tokens).
        cut: ``"middle"`` or ``"head"``.
        tokenizer: a preset, checkpoint path or hub id whose tokenizer counts the tokens;
            ``None`` estimates 4 characters per token.
        **kwargs: see :class:`lfmgym.Env`.
    """

    name: ClassVar[str] = "long_context_direct"
    description: ClassVar[str] = "The long_context tasks with the context in the prompt (cut to a token budget), no REPL"
    difficulties: ClassVar[tuple[int, ...]] = tuple(LENGTHS)
    reward_weights = {"correct": 1.0}
    reward_range = (0.0, 1.0)
    default_max_turns: ClassVar[int] = 1

    def __init__(self, *, families: Sequence[str] | str | None = None, context_lengths: dict[int, int] | None = None,
                 context_tokens: int = 8_192, cut: str = "middle", tokenizer: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.families, self.context_lengths = check_task_args(families, context_lengths)
        if int(context_tokens) < 16:
            raise ValueError(f"context_tokens: must be at least 16, got {context_tokens!r}")
        if cut not in CUTS:
            raise ValueError(f"cut: {cut!r} is not one of {CUTS}")
        if tokenizer is not None and not isinstance(tokenizer, str):
            raise ValueError(f"tokenizer: expected a preset, path or hub id, got {type(tokenizer).__name__}")
        self.context_tokens = int(context_tokens)
        self.cut = cut
        self.tokenizer = tokenizer

    def generate_task(self, rng: np.random.Generator, difficulty: int) -> Task:
        task = generate(rng, difficulty, self.families, self.context_lengths)
        full = _joined(task.meta["context"])
        shown = cut_context(full, self.context_tokens, how=self.cut, tokenizer=self.tokenizer)
        task.meta["context_kept"] = min(1.0, len(shown) / max(1, len(full)))
        task.meta["prompt_tokens"] = float(_counter(self.tokenizer)[0](shown))
        task.prompt = f"Context:\n{shown}\n\nQuestion: {task.meta['question']}"
        return task

    def system_prompt(self, task: Task) -> str:
        return ("Read the context in the user's message and answer the question at its end. "
                "Reply with the answer only, without explanation.")

    def handle_action(self, action: str, episode: Episode) -> tuple[list[dict[str, Any]], bool]:
        episode.final_answer = extract_answer(action)
        return [], True

    def score(self, task: Task, episode: Episode) -> dict[str, float]:
        from lfmgym.rewards.qa import exact_match, token_f1

        pred = episode.final_answer
        return {
            "correct": float(exact_match(pred, [str(task.answer)])) if pred else 0.0,
            "f1": float(token_f1(pred, [str(task.answer)])) if pred else 0.0,
            "answered": float(pred is not None),
            "context_kept": float(task.meta.get("context_kept", 1.0)),
            "prompt_tokens": float(task.meta.get("prompt_tokens", 0.0)),
        }

    def demonstrate(self, task: Task) -> list[dict[str, Any]]:
        return self.opening(task) + [{"role": "assistant", "content": str(task.answer)}]
