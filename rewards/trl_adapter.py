"""Adapter from lfmgym reward callables to TRL's reward-function signature.

TRL (``GRPOTrainer(reward_funcs=[...])``) calls::

    reward_func(prompts, completions, completion_ids=None, **columns) -> list[float | None]

with one entry per completion; ``columns`` are the dataset's extra columns as lists (plus a few
trainer-state keywords). :func:`as_trl_reward` wraps a per-sample ``fn(completion, **fields)`` into
that shape. It is a class instance, not a closure, so it pickles (TRL may ship reward functions
to worker processes).
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["as_trl_reward", "TRLReward", "completion_text"]


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or conversational messages (assistant contents joined)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, (list, tuple)):
        parts = [completion_text(m) for m in completion if not isinstance(m, dict) or m.get("role", "assistant") == "assistant"]
        return "\n".join(p for p in parts if p)
    return "" if completion is None else str(completion)


class TRLReward:
    """``fn`` with TRL's batch signature; ``__name__`` is the name TRL logs it under.

    Per completion ``i`` it calls ``fn(text_i, prompt=prompts[i], completion_ids=ids_i,
    **{column: values[i]})``, passing only the keywords ``fn`` accepts (all of them if it takes
    ``**kwargs``). A dict result uses its ``"reward"`` key. An exception or a non-finite value
    gives ``None`` for that sample (TRL ignores it) and a warning, never a crashed training step.
    """

    def __init__(self, fn: Callable[..., Any], name: str):
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.__name__ = str(name)

    def _accepted(self) -> tuple[set[str], bool]:
        try:
            params = inspect.signature(self.fn).parameters.values()
        except (TypeError, ValueError):
            return set(), True
        names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        return names, any(p.kind is p.VAR_KEYWORD for p in params)

    def __call__(self, prompts: Any = None, completions: Any = None, completion_ids: Any = None, **columns: Any) -> list[float | None]:
        completions = list(completions or [])
        n = len(completions)
        names, takes_all = self._accepted()
        rows: dict[str, Any] = {}
        shared: dict[str, Any] = {}
        for key, value in columns.items():
            if isinstance(value, (list, tuple)) and len(value) == n:
                rows[key] = value
            else:
                shared[key] = value  # trainer_state, log_extra, ... : the same for every sample
        out: list[float | None] = []
        for i, completion in enumerate(completions):
            kwargs: dict[str, Any] = dict(shared)
            kwargs.update({k: v[i] for k, v in rows.items()})
            if prompts is not None and len(prompts) == n:
                kwargs["prompt"] = prompts[i]
            if completion_ids is not None:
                kwargs["completion_ids"] = completion_ids[i]
            if not takes_all:
                kwargs = {k: v for k, v in kwargs.items() if k in names}
            try:
                value = self.fn(completion_text(completion), **kwargs)
                if isinstance(value, dict):
                    value = value.get("reward")
                value = None if value is None else float(value)
                if value is not None and not math.isfinite(value):
                    raise ValueError(f"non-finite reward {value}")
            except Exception as exc:  # one bad sample must not kill the step
                warnings.warn(f"reward {self.__name__!r} failed on sample {i}: {type(exc).__name__}: {exc}", stacklevel=2)
                value = None
            out.append(value)
        return out

    def __repr__(self) -> str:
        return f"TRLReward({self.fn!r}, name={self.__name__!r})"


def as_trl_reward(fn: Callable[..., Any], name: str | None = None) -> TRLReward:
    """Wrap ``fn(completion, **fields)`` as a picklable TRL reward function named ``name``."""
    return TRLReward(fn, name or getattr(fn, "__name__", type(fn).__name__))
