"""Evaluation metrics over rollout records: success, pass@k, parse and tool-error rates, doom loops.

All rates are shares in [0, 1]. Definitions (per environment):

- ``success``: share of greedy episodes where ``env.success(components)`` holds (see
  :meth:`lfmgym.Env.success`).
- ``pass@k``: unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained
  on Code"): with ``n`` samples of a task of which ``c`` succeed,
  ``pass@k = 1 - C(n - c, k) / C(n, k)``, averaged over tasks.
- ``parse_rate``: share of episodes whose every assistant message parsed (``parse_ok``).
- ``tool_error_rate``: failed tool calls / tool calls, over all episodes (``None`` without calls).
- ``doom_loop_greedy`` / ``doom_loop_sampled``: share of episodes with at least one assistant
  turn that is a doom loop (:func:`lfmgym.engine.episode_loop`), greedy and sampled pass.
- ``doom_loop_episode``: share of greedy episodes that loop in a turn *or across turns* (the
  same call with the same result again, the same message again).
- ``truncated``: episodes cut, by reason (``max_turns``, ``step_timeout``, ``token_budget``, ...).
- ``mean_tokens``: generated tokens per episode, all turns (``None`` when the backend gives no ids);
  ``mean_chars`` the same in characters.
- ``latency_s``: wall time per episode spent in generation.
- ``loop_tokens_saved``: a count, not a rate: tokens not generated because turns were stopped as
  confirmed doom loops while generating (greedy + sampled; 0 when loop stopping is off).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["pass_at_k", "mean_pass_at_k", "summarize_records", "truncation_counts"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one task: ``1 - C(n-c, k) / C(n, k)`` (``n`` samples, ``c`` correct)."""
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k: need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass_at_k: need 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    # Product form: numerically stable, no huge binomials.
    return 1.0 - math.prod((n - c - i) / (n - i) for i in range(k))


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """Mean pass@k over tasks given ``(n, c)`` per task."""
    if not counts:
        return 0.0
    return sum(pass_at_k(n, c, k) for n, c in counts) / len(counts)


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def summarize_records(env: Any, greedy: list[Any], sampled: list[Any] | None = None,
                      samples: int = 0) -> dict[str, Any]:
    """Metrics of one env from its greedy records and (optionally) ``samples`` sampled records per task.

    Records are the engine's :class:`~lfmgym.engine.EpisodeRecord`: success is the env's own
    :meth:`~lfmgym.Env.success` and the loop verdicts are the engine's, computed once per episode.
    ``sampled`` holds ``samples`` consecutive records per task, in task order.
    """
    row: dict[str, Any] = {"n": len(greedy)}
    row["success"] = _mean([float(r.success) for r in greedy])
    row["parse_rate"] = _mean([float(r.components.get("parse_ok", 1.0) >= 1.0) for r in greedy])
    n_calls = sum(r.components.get("tool_calls", 0.0) for r in greedy)
    n_errors = sum(r.components.get("tool_errors", 0.0) for r in greedy)
    row["tool_error_rate"] = (n_errors / n_calls) if n_calls else None
    row["doom_loop_greedy"] = _mean([float(r.doom_loop) for r in greedy])
    row["doom_loop_episode"] = _mean([float(r.episode_loop) for r in greedy])
    tokens = [r.generated_tokens for r in greedy]
    row["mean_tokens"] = _mean([float(t) for t in tokens]) if all(t is not None for t in tokens) else None
    row["mean_chars"] = _mean([float(sum(len(t.text) for t in r.turns)) for r in greedy])
    row["mean_turns"] = _mean([float(len(r.turns)) for r in greedy])
    row["mean_reward"] = _mean([float(r.reward) for r in greedy])
    row["latency_s"] = _mean([float(r.latency_s) for r in greedy])
    row["length_capped"] = _mean([float(r.length_capped) for r in greedy])
    row["truncated"] = truncation_counts(greedy + list(sampled or []))
    row["loop_tokens_saved"] = sum(int(getattr(r, "loop_tokens_saved", 0)) for r in greedy + list(sampled or []))
    if sampled:
        if samples < 1 or len(sampled) != samples * len(greedy):
            raise ValueError(f"sampled: expected {samples} records per task x {len(greedy)} tasks, got {len(sampled)}")
        counts = []
        for t in range(len(greedy)):
            chunk = sampled[t * samples:(t + 1) * samples]
            counts.append((samples, sum(bool(r.success) for r in chunk)))
        row["samples"] = samples
        row["pass@1"] = mean_pass_at_k(counts, 1)
        row[f"pass@{samples}"] = mean_pass_at_k(counts, samples)
        row["doom_loop_sampled"] = _mean([float(r.doom_loop) for r in sampled])
        row["success_sampled"] = _mean([float(r.success) for r in sampled])
    else:
        row["doom_loop_sampled"] = None
    return row


def truncation_counts(records: list[Any]) -> dict[str, int]:
    """How many episodes ended truncated, by reason (``max_turns``, ``step_timeout``, ...)."""
    out: dict[str, int] = {}
    for r in records:
        if r.truncated:
            out[r.truncation_reason or "max_turns"] = out.get(r.truncation_reason or "max_turns", 0) + 1
    return dict(sorted(out.items()))
