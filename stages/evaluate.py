"""The evaluation run after every pipeline stage, on held-out tasks.

For each env: one greedy pass (success, parse rate, mean length, greedy doom-loop ratio) and one
sampled pass at ``eval.temperature`` (sampled doom-loop ratio) over the same ``eval.n`` tasks.
Rows have the shape of ``results.json``::

    {"stage", "env", "success", "parse_rate", "doom_loop_greedy", "doom_loop_sampled", "mean_length", "n"}

Definitions (per episode, averaged over the env's held-out tasks):

- ``success``: the env's ``success`` or ``correct`` component when it reports one, else the
  episode reached the env's maximum task reward (repetition penalty aside).
- ``parse_rate``: share of episodes in which every assistant message parsed (``parse_ok``).
- ``doom_loop_*``: share of episodes with at least one assistant turn that is a doom loop
  (:func:`lfmgym.rewards.doom_loop.detect_doom_loop`: hit the token cap without end-of-turn *and* has a
  periodic tail).
- ``mean_length``: generated tokens per episode, all assistant turns together (greedy pass).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lfmgym.stages.common import StageProgress, env_factory, eval_kwargs, heldout_tasks, make_env

__all__ = ["ROW_KEYS", "evaluate_model", "episode_success", "is_doom_loop", "episode_doom_loop"]

ROW_KEYS = ("stage", "env", "success", "parse_rate", "doom_loop_greedy", "doom_loop_sampled", "mean_length", "n")


def is_doom_loop(token_ids: list[int] | None, finished: bool) -> bool:
    """One generation's doom-loop verdict (see :func:`lfmgym.rewards.doom_loop.detect_doom_loop`)."""
    from lfmgym.rewards.doom_loop import detect_doom_loop

    if not token_ids:
        return False
    return bool(detect_doom_loop([int(t) for t in token_ids], finished, unit="token", metrics=False).loop)


def episode_doom_loop(generations) -> bool:
    """True when any assistant turn of the episode (a list of ``Generation``) is a doom loop."""
    return any(is_doom_loop(g.token_ids, g.finished) for g in generations)


def episode_success(env, components: dict[str, float]) -> float:
    """1.0 when the episode solved its task (see the module docstring), else 0.0."""
    for key in ("success", "correct"):
        if key in components:
            return float(components[key] >= 1.0 - 1e-9)
    task_reward = sum(w * components.get(k, 0.0) for k, w in env.reward_weights.items() if k != "repetition")
    return float(task_reward >= type(env).reward_range[1] - 1e-6)


def _mean(xs: list[float]) -> float:
    return float(sum(xs) / len(xs)) if xs else 0.0


def evaluate_model(
    model: Any,
    tokenizer: Any,
    cfg: dict,
    *,
    stage: str,
    out_dir: Path | None = None,
    progress: StageProgress | None = None,
) -> list[dict[str, Any]]:
    """Evaluate ``model`` on every env of ``cfg``; returns one row per env (and writes episodes).

    With ``out_dir``, every episode of both passes goes to ``out_dir/episodes.jsonl`` (one JSON
    object a line: env, pass, task, messages, reward, components, doom_loop) for inspection.
    """
    from lfmgym.backends.transformers_backend import TransformersBackend
    from lfmgym.rollout import ModelPolicy, run_episodes

    ev = cfg["eval"]
    progress = progress or StageProgress(enabled=False)
    backend = TransformersBackend(model, tokenizer, batch_size=ev["batch_size"])
    rows: list[dict[str, Any]] = []
    episodes_file = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        episodes_file = open(out_dir / "episodes.jsonl", "w")
    try:
        for name, env_cfg in cfg["envs"].items():
            env = make_env(name, eval_kwargs(env_cfg))
            tasks = heldout_tasks(cfg, name)
            factory = env_factory(name, eval_kwargs(env_cfg))
            passes = {"greedy": 0.0}
            if ev["sampled"]:
                passes["sampled"] = float(ev["temperature"])
            records = {}
            for pass_name, temperature in passes.items():
                policy = ModelPolicy(backend, temperature=temperature, top_p=ev["top_p"] if temperature else 1.0,
                                     max_new_tokens=ev["max_new_tokens"], seed=int(ev["seed"]))
                records[pass_name] = run_episodes(factory, policy, tasks, seed=int(ev["seed"]),
                                                  batch_size=ev["batch_size"])
                progress.advance(1, info=f"{name} {pass_name}")
            greedy = records["greedy"]
            loops = {p: [episode_doom_loop(r.generations) for r in recs] for p, recs in records.items()}
            rows.append({
                "stage": stage,
                "env": name,
                "success": _mean([episode_success(env, r.components) for r in greedy]),
                "parse_rate": _mean([float(r.components.get("parse_ok", 1.0) >= 1.0) for r in greedy]),
                "doom_loop_greedy": _mean([float(x) for x in loops["greedy"]]),
                "doom_loop_sampled": _mean([float(x) for x in loops["sampled"]]) if "sampled" in loops else None,
                "mean_length": _mean([float(sum(len(g.token_ids or []) for g in r.generations)) for r in greedy]),
                "n": len(greedy),
            })
            if episodes_file is not None:
                for pass_name, recs in records.items():
                    for rec, loop in zip(recs, loops[pass_name]):
                        episodes_file.write(json.dumps({
                            "stage": stage, "pass": pass_name, **rec.to_dict(),
                            "success": episode_success(env, rec.components), "doom_loop": loop,
                        }, ensure_ascii=False, default=str) + "\n")
    finally:
        if episodes_file is not None:
            episodes_file.close()
    return rows
