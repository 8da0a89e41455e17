"""On-policy, length-normalized DPO with a jury (the seed talk's fix for doom loops, part one).

1. **Rollouts.** For each of ``dpo.prompts`` training prompts (split over the envs by weight),
   the current policy plays ``dpo.samples`` episodes sampled at ``dpo.temperature`` plus one
   greedy episode (the one most likely to doom-loop), through the env: multi-turn, tools run.
2. **Jury.** :class:`lfmgym.stages.jury.Jury` scores each rollout (env reward, n-gram penalty,
   optional LLM judges; mean or median; doom loops forced to the worst score) and keeps
   chosen = best, rejected = worst; ties are skipped and counted.
3. **Pairs on disk.** ``pairs.jsonl`` holds every kept pair with the scores of all its rollouts,
   ``jury.json`` the counts; a resumed run reuses them instead of sampling again.
4. **Training.** TRL's ``DPOTrainer`` with ``loss_type="sigmoid_norm"`` (log-ratios averaged per
   token, so a long looping reply cannot win or lose on length alone), plus TRL's ``"sft"`` loss on
   the chosen replies weighted by ``dpo.sft_weight`` when it is above 0 (RPO), on
   ``{"prompt": opening, "chosen": rest of the episode, "rejected": rest of the episode}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lfmgym.stages.common import (
    StageProgress,
    barrier,
    env_factory,
    is_main,
    load_model,
    make_env,
    mixture_tasks,
    quiet_trainer,
    resume_point,
    save_trained,
    trainer_callback,
    write_json,
)
from lfmgym.stages.evaluate import is_doom_loop
from lfmgym.stages.jury import Group, Jury, Rollout

__all__ = ["collect_groups", "build_jury", "make_pairs", "load_pairs", "run_dpo"]


def collect_groups(model: Any, tokenizer: Any, cfg: dict, progress: StageProgress | None = None) -> list[Group]:
    """Play ``dpo.samples`` sampled (+ 1 greedy) episodes of each DPO prompt with the model."""
    from lfmgym.backends.transformers_backend import TransformersBackend
    from lfmgym.rollout import ModelPolicy, run_episodes

    d = cfg["dpo"]
    progress = progress or StageProgress(enabled=False)
    backend = TransformersBackend(model, tokenizer, batch_size=d["rollout_batch_size"])
    by_env: dict[str, list] = {}
    for name, task in mixture_tasks(cfg, d["prompts"], "dpo"):
        by_env.setdefault(name, []).append(task)
    groups: list[Group] = []
    for name, tasks in by_env.items():
        kwargs = cfg["envs"][name]["kwargs"]
        env = make_env(name, kwargs)
        factory = env_factory(name, kwargs)
        seed = cfg["seed"] + 7919 * (list(cfg["envs"]).index(name) + 1)
        sampler = ModelPolicy(backend, temperature=d["temperature"], top_p=d["top_p"],
                              max_new_tokens=d["max_new_tokens"], seed=seed)
        repeated = [t for t in tasks for _ in range(d["samples"])]
        sampled = run_episodes(factory, sampler, repeated, seed=seed, batch_size=d["rollout_batch_size"])
        progress.advance(1, info=f"{name} sampled")
        greedy = []
        if d["greedy"]:
            policy = ModelPolicy(backend, temperature=0.0, max_new_tokens=d["max_new_tokens"], seed=seed)
            greedy = run_episodes(factory, policy, tasks, seed=seed, batch_size=d["rollout_batch_size"])
            progress.advance(1, info=f"{name} greedy")
        for i, task in enumerate(tasks):
            recs = [("sampled", r) for r in sampled[i * d["samples"]:(i + 1) * d["samples"]]]
            if greedy:
                recs.append(("greedy", greedy[i]))
            rollouts = [
                Rollout(
                    kind=kind,
                    messages=rec.messages,
                    reward=float(rec.reward),
                    components=dict(rec.components),
                    token_ids=[list(g.token_ids or []) for g in rec.generations],
                    finished=[bool(g.finished) for g in rec.generations],
                    doom_loop=any(is_doom_loop(g.token_ids, g.finished) for g in rec.generations),
                )
                for kind, rec in recs
            ]
            groups.append(Group(env=name, task_id=task.id, prompt=env.opening(task), rollouts=rollouts,
                                reward_range=tuple(env.reward_range)))
    return groups


def build_jury(cfg: dict) -> Jury:
    """The jury of ``dpo.jury``, with its LLM judges built from the plugin registry."""
    from lfmgym.plugins import get_registry

    reg = get_registry()
    judges = []
    for j in cfg["dpo"]["jury"]["judges"]:
        judges.append((j["name"], reg.get("judges", j["name"]).factory(**j["kwargs"]), j["weight"]))
    return Jury(cfg["dpo"]["jury"], judges)


def make_pairs(groups: list[Group], jury: Jury) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Score ``groups`` and return ``(pair rows, summary)``; the summary counts skips and loops."""
    jury.score(groups)
    rows, counts = jury.pairs(groups)
    summary: dict[str, Any] = dict(counts)
    for kind in ("sampled", "greedy"):
        rs = [r for g in groups for r in g.rollouts if r.kind == kind]
        summary[f"doom_loop_{kind}"] = sum(r.doom_loop for r in rs) / len(rs) if rs else None
        summary[f"mean_env_score_{kind}"] = sum(r.scores["env"] for r in rs) / len(rs) if rs else None
    summary["judges"] = {name: {"calls": getattr(j, "calls", None), "unparsed": getattr(j, "unparsed", None)}
                         for name, j, _ in jury.judges}
    return rows, summary


def write_pairs(rows: list[dict[str, Any]], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def load_pairs(path: str | Path) -> list[dict[str, Any]]:
    """Read a ``pairs.jsonl`` written by this stage (every pair with all its scores)."""
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def run_dpo(cfg: dict, model_dir: Path, stage_dir: Path, progress: StageProgress | None = None) -> Path:
    """Generate (or reuse) the pairs, then train with DPO; returns ``stage_dir/model``.

    The main process samples and judges (the others wait for ``pairs.jsonl``). With no pair at
    all (every group tied) the model is passed on unchanged and ``jury.json`` says so
    (``"trained": false``): there is nothing to prefer.
    """
    from trl import DPOConfig, DPOTrainer

    from lfmgym.stages.sft import precision_flags

    d = cfg["dpo"]
    progress = progress or StageProgress(enabled=False)
    pairs_path, summary_path = stage_dir / "pairs.jsonl", stage_dir / "jury.json"
    with progress.phase("dpo: rollouts + jury", total=len(cfg["envs"]) * (2 if d["greedy"] else 1)):
        if is_main() and not (pairs_path.is_file() and summary_path.is_file()):
            model, tokenizer = load_model(model_dir, device=None)
            groups = collect_groups(model, tokenizer, cfg, progress)
            rows, summary = make_pairs(groups, build_jury(cfg))
            write_pairs(rows, pairs_path)
            write_json(summary_path, summary)
            del model
        barrier()
    rows = load_pairs(pairs_path)
    summary = json.loads(summary_path.read_text())
    progress.log(f"dpo: {summary['pairs']} pairs from {summary['groups']} prompts "
                 f"(skipped: {summary['skipped_all_equal']} tied, {summary['skipped_identical']} identical)")
    if not rows:
        if is_main():
            write_json(summary_path, {**summary, "trained": False})
            _copy_model(model_dir, stage_dir / "model")
        barrier()
        with progress.phase("dpo: training (no pairs)", total=0):
            pass
        return stage_dir / "model"
    model, tokenizer = load_model(model_dir)
    from datasets import Dataset

    dataset = Dataset.from_list([{"prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]} for r in rows])
    ckpt_dir = stage_dir / "checkpoints"
    args = DPOConfig(
        output_dir=str(ckpt_dir),
        # sigmoid_norm alone lowers chosen and rejected together on a small model; the optional
        # NLL term on the chosen replies (RPO) anchors the good behaviour.
        loss_type=[d["loss_type"]] + (["sft"] if d["sft_weight"] > 0 else []),
        loss_weights=[1.0, d["sft_weight"]] if d["sft_weight"] > 0 else None,
        beta=d["beta"],
        learning_rate=d["learning_rate"],
        num_train_epochs=d["epochs"],
        max_steps=d["max_steps"],
        per_device_train_batch_size=d["batch_size"],
        gradient_accumulation_steps=d["gradient_accumulation_steps"],
        lr_scheduler_type=d["lr_scheduler_type"],
        warmup_steps=d["warmup_ratio"],
        max_length=d["max_length"],
        save_steps=d["save_steps"],
        save_total_limit=2,
        logging_steps=d["logging_steps"],
        report_to=[],
        disable_tqdm=True,
        seed=cfg["seed"],
        data_seed=cfg["seed"],
        **precision_flags(cfg),
        **d["trainer"],
    )
    trainer = DPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    quiet_trainer(trainer)
    trainer.add_callback(trainer_callback(progress, stage_dir / "log.jsonl", ("loss", "rewards/accuracies")))
    with progress.phase("dpo: training", total=None):
        trainer.train(resume_from_checkpoint=resume_point(stage_dir, progress))
    if is_main():
        write_json(summary_path, {**summary, "trained": True, "steps": trainer.state.global_step})
    return save_trained(trainer, tokenizer, stage_dir / "model")


def _copy_model(src: Path, dst: Path) -> None:
    import shutil

    tmp = dst.with_name(dst.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(src, tmp)
    os.replace(tmp, dst)
