"""Environment evaluation: play held-out tasks of each env with a model, greedy and sampled.

    results = evaluate_envs(backend, ["math", "tool_calling"], n=64, samples=4, temperature=0.7)

For each env, ``n`` tasks are drawn with ``seed`` (keep it different from the training seed so
the tasks are held out). The greedy pass gives success, parse rate, tool-error rate, greedy
doom-loop ratio, length and latency; the sampled pass (``samples`` episodes per task at
``temperature``) gives pass@1 / pass@k and the sampled doom-loop ratio. Metric definitions are in
:mod:`lfmgym.eval.metrics`. ``overall`` is the unweighted mean over envs of each metric.
"""

from __future__ import annotations

import time
from typing import Any

from lfmgym.eval.metrics import summarize_records

__all__ = ["evaluate_envs", "DEFAULT_EVAL_SEED", "OVERALL_KEYS"]

DEFAULT_EVAL_SEED = 10_000
OVERALL_KEYS = ("success", "pass@1", "parse_rate", "tool_error_rate", "doom_loop_greedy", "doom_loop_sampled",
                "mean_tokens", "mean_chars", "latency_s")


def _overall(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": sum(r["n"] for r in rows.values()), "envs": len(rows)}
    keys = list(OVERALL_KEYS) + sorted({k for r in rows.values() for k in r if k.startswith("pass@")} - {"pass@1"})
    for key in keys:
        vals = [r[key] for r in rows.values() if r.get(key) is not None]
        out[key] = sum(vals) / len(vals) if vals else None
    return out


def evaluate_envs(
    backend: Any,
    envs: list[str],
    *,
    n: int = 32,
    samples: int = 4,
    temperature: float = 0.7,
    top_p: float = 1.0,
    max_new_tokens: int = 256,
    seed: int = DEFAULT_EVAL_SEED,
    env_kwargs: dict[str, dict[str, Any]] | None = None,
    batch_size: int = 64,
    progress: bool = False,
    keep_records: bool = False,
) -> dict[str, Any]:
    """Evaluate ``backend`` on each env of ``envs`` (registered names).

    Args:
        n: held-out tasks per env.
        samples: sampled episodes per task for pass@k (0 or ``temperature == 0`` skips the pass).
        temperature, top_p: decoding of the sampled pass (the first pass is always greedy).
        max_new_tokens: generation cap per assistant turn.
        seed: draws the tasks and seeds sampling.
        env_kwargs: constructor arguments per env name.
        keep_records: also return the episode records (``result["records"][env]``).

    Returns:
        ``{"envs": {name: metrics}, "overall": metrics, "config": {...}}``.
    """
    from lfmgym.plugins import make_env
    from lfmgym.rollout import ModelPolicy, run_episodes

    if n < 1:
        raise ValueError(f"n: must be >= 1, got {n}")
    if samples < 0:
        raise ValueError(f"samples: must be >= 0, got {samples}")
    if not envs:
        raise ValueError("envs: give at least one environment name")
    env_kwargs = env_kwargs or {}
    rows: dict[str, dict[str, Any]] = {}
    records: dict[str, Any] = {}
    t_start = time.perf_counter()
    for name in envs:
        kwargs = dict(env_kwargs.get(name, {}))
        factory = lambda name=name, kwargs=kwargs: make_env(name, **kwargs)  # noqa: E731
        env = factory()
        tasks = env.make_tasks(n, seed=seed)
        greedy_policy = ModelPolicy(backend, temperature=0.0, top_p=1.0, max_new_tokens=max_new_tokens, seed=seed)
        greedy = run_episodes(factory, greedy_policy, tasks, seed=seed, batch_size=batch_size, progress=progress,
                              description=f"{name} greedy")
        sampled = None
        k = samples if temperature > 0 else 0
        if k:
            policy = ModelPolicy(backend, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
                                 seed=seed + 1)
            repeated = [t for t in tasks for _ in range(k)]
            sampled = run_episodes(factory, policy, repeated, seed=seed, batch_size=batch_size, progress=progress,
                                   description=f"{name} x{k} sampled")
        rows[name] = summarize_records(env, greedy, sampled, k)
        if keep_records:
            records[name] = {"greedy": greedy, "sampled": sampled}
    result = {
        "kind": "envs",
        "envs": rows,
        "overall": _overall(rows),
        "config": {"n": n, "samples": samples, "temperature": temperature, "top_p": top_p,
                   "max_new_tokens": max_new_tokens, "seed": seed, "env_kwargs": env_kwargs},
        "wall_s": time.perf_counter() - t_start,
    }
    if keep_records:
        result["records"] = records
    return result
