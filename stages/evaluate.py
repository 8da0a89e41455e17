"""The evaluation run after every pipeline stage, on held-out tasks.

For each env: one greedy pass (success, parse rate, mean length, greedy doom-loop ratio) and one
sampled pass at ``eval.temperature`` (sampled doom-loop ratio) over the same ``eval.n`` tasks.
Rows have the shape of ``results.json``::

    {"stage", "env", "success", "parse_rate", "doom_loop_greedy", "doom_loop_sampled", "doom_loop_episode",
     "mean_length", "n", "truncated", "loop_tokens_saved"}

Definitions (per episode, averaged over the env's held-out tasks):

- ``success``: :meth:`lfmgym.Env.success` (the env's own definition).
- ``parse_rate``: share of episodes in which every assistant message parsed (``parse_ok``).
- ``doom_loop_greedy`` / ``doom_loop_sampled``: share of episodes with at least one assistant turn
  that is a doom loop; ``doom_loop_episode``: a turn loop or a loop across turns (greedy pass);
  all from :func:`lfmgym.engine.episode_loop`.
- ``truncated``: episodes cut, by reason.
- ``mean_length``: generated tokens per episode, all assistant turns together (greedy pass).
- ``loop_tokens_saved``: with ``eval.stop_loops``, tokens not generated because turns were stopped
  as confirmed doom loops (a count, both passes; per episode in ``episodes.jsonl``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lfmgym.stages.common import StageProgress, eval_kwargs, heldout_tasks
from lfmgym.stages.config import PipelineConfig

__all__ = ["ROW_KEYS", "evaluate_model"]

ROW_KEYS = ("stage", "env", "success", "parse_rate", "doom_loop_greedy", "doom_loop_sampled", "doom_loop_episode",
            "mean_length", "n")


def evaluate_model(
    model: Any,
    tokenizer: Any,
    cfg: PipelineConfig,
    *,
    stage: str,
    out_dir: Path | None = None,
    progress: StageProgress | None = None,
) -> list[dict[str, Any]]:
    """Evaluate ``model`` on every env of ``cfg``; returns one row per env (and writes episodes).

    The evaluator is :func:`lfmgym.eval.envs.evaluate_envs` (the one ``lfmgym eval`` uses), on
    the held-out tasks of the config, greedy plus one sampled episode per task. Every process of
    ``accelerate launch`` plays its share. With ``out_dir``, every episode of both passes goes to
    ``out_dir/episodes.jsonl`` (written by the main process).
    """
    from lfmgym.backends.transformers_backend import TransformersBackend
    from lfmgym.eval.envs import evaluate_envs
    from lfmgym.rewards.loop_stopping import LoopStop
    from lfmgym.stages.common import is_main, rollout_budgets

    settings = cfg.eval
    progress = progress or StageProgress(enabled=False)
    backend = TransformersBackend(model, tokenizer, batch_size=settings.batch_size,
                                  loop_stop=LoopStop(enabled=settings.stop_loops))
    names = list(cfg.envs)
    path = None
    if out_dir is not None and is_main():
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "episodes.jsonl"
    budgets = rollout_budgets(cfg)
    result = evaluate_envs(
        backend, names, samples=1 if settings.sampled else 0,
        temperature=float(settings.temperature) if settings.sampled else 0.0,
        top_p=settings.top_p, max_new_tokens=settings.max_new_tokens, seed=int(settings.seed),
        env_kwargs={name: eval_kwargs(cfg.envs[name]) for name in names},
        batch_size=settings.batch_size, tasks={name: heldout_tasks(cfg, name) for name in names},
        budgets=budgets, episodes_path=path,
        on_pass=lambda name, pass_name: progress.advance(1, info=f"{name} {pass_name}"),
    )
    rows = []
    for name in names:
        r = result["envs"][name]
        rows.append({
            "stage": stage,
            "env": name,
            "success": r["success"],
            "parse_rate": r["parse_rate"],
            "doom_loop_greedy": r["doom_loop_greedy"],
            "doom_loop_sampled": r["doom_loop_sampled"],
            "doom_loop_episode": r["doom_loop_episode"],
            "mean_length": r["mean_tokens"],
            "n": r["n"],
            "truncated": r["truncated"],
            "loop_tokens_saved": r["loop_tokens_saved"],
        })
    return rows
