"""Gymnasium spaces for chat episodes: :class:`Messages` observations and :class:`Text` actions."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium.spaces import Space

__all__ = ["ROLES", "Messages", "Text"]

ROLES = ("system", "user", "assistant", "tool")

_SAMPLE_WORDS = ["the", "answer", "is", "42", "call", "(", ")", "[", "]", "<|tool_call_start|>", "x", "=", "'", "\n"]


class Text(Space[str]):
    """Any Python string of at most ``max_length`` characters (the raw assistant text).

    Unlike :class:`gymnasium.spaces.Text` there is no character set: a model can write any
    unicode, and the environment (not the space) decides what that text means.
    """

    def __init__(self, max_length: int = 100_000, seed: int | np.random.Generator | None = None):
        self.max_length = int(max_length)
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        n = int(self.np_random.integers(0, 20))
        return " ".join(self.np_random.choice(_SAMPLE_WORDS) for _ in range(n))

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"Text(max_length={self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Text) and other.max_length == self.max_length


class Messages(Space[list]):
    """A chat transcript: a list of ``{"role": str, "content": str}`` dicts.

    ``role`` must be one of :data:`ROLES`; extra keys (e.g. ``tool_calls``, ``name``) are allowed.
    """

    def __init__(self, max_messages: int = 10_000, seed: int | np.random.Generator | None = None):
        self.max_messages = int(max_messages)
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    @staticmethod
    def validate(x: Any) -> str | None:
        """Return ``None`` when ``x`` is a valid transcript, else the reason naming the bad item."""
        if not isinstance(x, list):
            return f"messages must be a list, got {type(x).__name__}"
        for i, m in enumerate(x):
            if not isinstance(m, dict):
                return f"message {i} must be a dict, got {type(m).__name__}"
            if m.get("role") not in ROLES:
                return f"message {i}: role {m.get('role')!r} is not one of {ROLES}"
            if not isinstance(m.get("content"), str):
                return f"message {i}: content must be a string"
        return None

    def sample(self, mask: Any = None, probability: Any = None) -> list:
        n = int(self.np_random.integers(1, 4))
        roles = ["system", "user"] + ["assistant", "user"] * n
        return [{"role": r, "content": f"sample {i}"} for i, r in enumerate(roles[: n + 1])]

    def contains(self, x: Any) -> bool:
        return self.validate(x) is None and len(x) <= self.max_messages

    def __repr__(self) -> str:
        return f"Messages(max_messages={self.max_messages})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Messages) and other.max_messages == self.max_messages
