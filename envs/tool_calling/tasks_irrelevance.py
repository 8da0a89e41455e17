"""Irrelevance requests: questions no tool helps with, answered from the prompt itself."""

from __future__ import annotations

import numpy as np

from lfmgym.envs.tool_calling.tasks_base import Context, Request

__all__ = ["req_choice"]

_WORDS = ("cat", "zebra", "apple", "river", "moon", "pencil", "garden", "sky", "elephant", "kite", "bridge", "ocean",
          "lamp", "tiger", "violin", "desk", "mountain", "owl", "banana", "rocket")


def req_choice(ctx: Context) -> Request:
    """A question any tool is useless for, answered from the prompt itself: which of two options.

    The final answer must be exactly the right option (SQuAD-normalized, so "42." is fine): a reply
    that copies the question back, lists candidates, or declines earns nothing."""
    kind = int(ctx.rng.integers(4))
    if kind < 2:
        a, b = (int(x) for x in ctx.rng.choice(np.arange(1, 1000), 2, replace=False))
        larger = kind == 0
        right, wrong = (max(a, b), min(a, b)) if larger else (min(a, b), max(a, b))
        word = ctx.pick(("larger", "bigger", "greater")) if larger else ctx.pick(("smaller", "lower"))
        sentence = ctx.pick((f"Which is {word}, {a} or {b}?", f"Which number is {word}: {a} or {b}?", f"Of {a} and {b}, which is {word}?"))
        return Request(sentence, [], f"{right}.", [str(right)], [str(wrong)], exact=True)
    while True:
        a, b = (str(w) for w in ctx.rng.choice(_WORDS, 2, replace=False))
        if a not in b and b not in a and (kind == 3 or len(a) != len(b)):
            break
    if kind == 2:
        right, wrong = (a, b) if len(a) > len(b) else (b, a)
        sentence = ctx.pick((f"Which word is longer, '{a}' or '{b}'?", f"Which has more letters: '{a}' or '{b}'?"))
    else:
        right, wrong = (a, b) if a < b else (b, a)
        sentence = ctx.pick((f"Which comes first in alphabetical order: '{a}' or '{b}'?", f"Sort '{a}' and '{b}' alphabetically: which is first?"))
    return Request(sentence, [], f"{right}.", [right], [wrong], exact=True)
