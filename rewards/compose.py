"""Weighted composition of named reward components.

::

    total = sum_k weights[k] * components[k]

over the components that have a weight; a weight of 0 (or no weight) makes a component a logged
metric only. Every component is returned next to the total so logs show each one. A component
whose value is ``None`` is "not applicable" (TRL's convention) and contributes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["WeightedSum", "ComposedReward", "as_info"]


class WeightedSum:
    """``WeightedSum(weights)(components) -> (total, components)``; picklable.

    This is the one weighted sum of lfmgym: :meth:`lfmgym.Env.total_reward` (env episodes, the
    rollout engine's records for eval, the DPO jury and GRPO) and :class:`ComposedReward` use it.

    Args:
        weights: weight per component name.
        missing: ``"error"`` (a weighted component that was not computed is a configuration
            error) or ``"zero"`` (it counts 0: an episode cut before the env scored everything).

    Raises:
        KeyError: a component with a non-zero weight is missing (``missing="error"``).
        ValueError: a weighted component is not a finite number.
    """

    def __init__(self, weights: Mapping[str, float], missing: str = "error"):
        bad = {k: w for k, w in weights.items() if not isinstance(w, (int, float)) or not math.isfinite(w)}
        if bad:
            raise ValueError(f"weights must be finite numbers, got {bad}")
        if missing not in ("error", "zero"):
            raise ValueError(f"missing: must be 'error' or 'zero', got {missing!r}")
        self.weights = {str(k): float(w) for k, w in weights.items()}
        self.missing = missing

    def __call__(self, components: Mapping[str, float | None]) -> tuple[float, dict[str, float | None]]:
        missing = [k for k, w in self.weights.items() if w != 0.0 and k not in components]
        if missing and self.missing == "error":
            raise KeyError(f"reward components {missing} have weights but were not computed; got {sorted(components)}")
        total = 0.0
        for name, w in self.weights.items():
            value = components.get(name)
            if w == 0.0 or value is None:
                continue
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"reward component {name!r} is {value}; it must be finite")
            total += w * value
        return total, dict(components)

    def __repr__(self) -> str:
        return f"WeightedSum({self.weights!r})"


class ComposedReward:
    """Reward callable built from named reward callables and weights.

    ``ComposedReward({"math": MathReward(), "repetition": NgramRepetitionPenalty()},
    {"math": 1.0, "repetition": 0.1})(completion, **fields)`` returns the weighted total;
    :meth:`components` returns every component (weight 0 ones included) for logging.
    """

    def __init__(self, rewards: Mapping[str, Callable[..., Any]], weights: Mapping[str, float]):
        unknown = set(weights) - set(rewards)
        if unknown:
            raise KeyError(f"weights name unknown rewards {sorted(unknown)}; rewards are {sorted(rewards)}")
        self.rewards = dict(rewards)
        self.combine = WeightedSum(weights)
        self.__name__ = "composed"

    def components(self, completion: str = "", **fields: Any) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for name, fn in self.rewards.items():
            value = fn(completion, **fields)
            if isinstance(value, dict):  # e.g. math_reward's result dict
                value = value.get("reward")
            out[name] = None if value is None else float(value)
        return out

    def __call__(self, completion: str = "", **fields: Any) -> float:
        total, _ = self.combine(self.components(completion, **fields))
        return total


def as_info(total: float, components: Mapping[str, float | None], prefix: str = "reward/") -> dict[str, float | None]:
    """Flatten a composition into an env ``info`` / logger dict: ``{prefix+"total": t, prefix+name: v}``."""
    out: dict[str, float | None] = {f"{prefix}total": float(total)}
    out.update({f"{prefix}{k}": (None if v is None else float(v)) for k, v in components.items()})
    return out
