"""Environment evaluation: play held-out tasks of each env with a model, greedy and sampled.

    results = evaluate_envs(backend, ["math", "tool_calling"], n=64, samples=4, temperature=0.7)

For each env, ``n`` tasks are drawn with ``seed`` (keep it different from the training seed so
the tasks are held out). The greedy pass gives success, parse rate, tool-error rate, greedy
doom-loop ratio, length and latency; the sampled pass (``samples`` episodes per task at
``temperature``) gives pass@1 / pass@k and the sampled doom-loop ratio. Metric definitions are in
:mod:`lfmgym.eval.metrics`. ``overall`` is the unweighted mean over envs of each metric (counts,
like ``loop_tokens_saved``, are summed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lfmgym.engine import Budgets
from lfmgym.eval.metrics import summarize_records

__all__ = ["evaluate_envs", "DEFAULT_EVAL_SEED", "OVERALL_KEYS"]

DEFAULT_EVAL_SEED = 10_000
OVERALL_KEYS = ("success", "pass@1", "parse_rate", "tool_error_rate", "doom_loop_greedy", "doom_loop_sampled",
                "doom_loop_episode", "mean_tokens", "mean_chars", "latency_s")


def _overall(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"n": sum(r["n"] for r in rows.values()), "envs": len(rows)}
    keys = list(OVERALL_KEYS) + sorted({k for r in rows.values() for k in r if k.startswith("pass@")} - {"pass@1"})
    for key in keys:
        vals = [r[key] for r in rows.values() if r.get(key) is not None]
        out[key] = sum(vals) / len(vals) if vals else None
    out["loop_tokens_saved"] = sum(int(r.get("loop_tokens_saved") or 0) for r in rows.values())  # a count: summed
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
    tasks: dict[str, list[Any]] | None = None,
    budgets: Budgets | None = None,
    episodes_path: str | Path | None = None,
    on_pass: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate ``backend`` on each env of ``envs`` (registered names): the one evaluator
    (``lfmgym eval`` and the pipeline's per-stage eval both call it).

    Args:
        n: held-out tasks per env (drawn with ``seed``) unless ``tasks`` gives them.
        samples: sampled episodes per task for pass@k (0 or ``temperature == 0`` skips the pass).
        temperature, top_p: decoding of the sampled pass (the first pass is always greedy).
        max_new_tokens: generation cap per assistant turn.
        seed: draws the tasks and seeds every episode.
        env_kwargs: constructor arguments per env name.
        keep_records: also return the episode records (``result["records"][env]``).
        tasks: explicit tasks per env name.
        budgets: per-step / per-episode limits (:class:`lfmgym.engine.Budgets`).
        episodes_path: write every episode of both passes there (``episodes.jsonl``).
        on_pass: called ``(env, pass)`` after each pass (progress).

    Under ``accelerate launch`` every process plays its share of the episodes and all get the
    whole result (the same as one process: each episode is seeded by its task, not by its batch).

    Returns:
        ``{"envs": {name: metrics}, "overall": metrics, "config": {...}}``.
    """
    from lfmgym.engine.distributed import play_split
    from lfmgym.plugins import make_env
    from lfmgym.rollout import ModelPolicy, run_episodes

    if n < 1 and not tasks:
        raise ValueError(f"n: must be >= 1, got {n}")
    if samples < 0:
        raise ValueError(f"samples: must be >= 0, got {samples}")
    if not envs:
        raise ValueError("envs: give at least one environment name")
    env_kwargs = env_kwargs or {}
    rows: dict[str, dict[str, Any]] = {}
    records: dict[str, Any] = {}
    t_start = time.perf_counter()
    out = open(episodes_path, "w") if episodes_path is not None else None
    try:
        for name in envs:
            kwargs = dict(env_kwargs.get(name, {}))
            factory = lambda name=name, kwargs=kwargs: make_env(name, **kwargs)  # noqa: E731
            env = factory()
            env_tasks = list(tasks[name]) if tasks and name in tasks else env.make_tasks(n, seed=seed)
            passes = [("greedy", 0.0, 1, seed)]
            k = samples if temperature > 0 else 0
            if k:
                passes.append(("sampled", temperature, k, seed + 1))
            result: dict[str, list] = {}
            for pass_name, temp, reps, pass_seed in passes:
                policy = ModelPolicy(backend, temperature=temp, top_p=top_p if temp else 1.0,
                                     max_new_tokens=max_new_tokens, seed=pass_seed)
                repeated = [t for t in env_tasks for _ in range(reps)]
                seeds = [pass_seed + j for j in range(len(repeated))]
                play = lambda ts, ss, policy=policy, pass_name=pass_name: run_episodes(  # noqa: E731
                    factory, policy, ts, seeds=ss, batch_size=batch_size, budgets=budgets, progress=progress,
                    description=f"{name} {pass_name}")
                result[pass_name] = play_split(play, repeated, seeds)
                if out is not None:
                    for rec in result[pass_name]:
                        out.write(json.dumps({"pass": pass_name, **rec.to_dict()}, ensure_ascii=False,
                                             default=str) + "\n")
                if on_pass is not None:
                    on_pass(name, pass_name)
            rows[name] = summarize_records(env, result["greedy"], result.get("sampled"), k)
            if keep_records:
                records[name] = {"greedy": result["greedy"], "sampled": result.get("sampled")}
            env.close()
    finally:
        if out is not None:
            out.close()
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
