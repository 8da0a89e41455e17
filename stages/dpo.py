"""On-policy, length-normalized DPO with a jury (the seed talk's fix for doom loops, part one).

1. **Rollouts.** For each of ``dpo.prompts`` training prompts (split over the envs by weight),
   the current policy plays ``dpo.samples`` episodes sampled at ``dpo.temperature`` plus one
   greedy episode (the one most likely to doom-loop), through the rollout engine: multi-turn,
   tools run, every process of ``accelerate launch`` plays its share.
2. **Jury.** :class:`lfmgym.stages.jury.Jury` scores each rollout (env reward, n-gram penalty,
   LLM judges; mean or median; doom loops — in a turn or across turns — forced to the worst
   score) and keeps chosen = best, rejected = worst; ties are skipped and counted. The envs are
   built with ``repetition_weight=0``: the n-gram juror counts repetition, once.
3. **Pairs on disk.** ``pairs.jsonl`` holds every kept pair — token ids and masks, the
   transcripts and the scores of all rollouts — and ``jury.json`` the counts, per-judge scores and
   agreement; a resumed run reuses them instead of sampling again.
4. **Training — only what the policy wrote.** The pairs are the engine's token records: chosen
   and rejected completions are the episode's ids after the opening exactly as sampled (never
   decoded and re-tokenized), with a mask that is 1 on assistant-generated tokens and 0 on tool
   results, env feedback and the end-of-turn token the template adds after a reply cut at the
   length cap. TRL's ``DPOTrainer`` (``loss_type="sigmoid_norm"``: log-ratios averaged over the
   masked tokens; plus ``"sft"`` weighted by ``dpo.sft_weight`` on the chosen masked tokens, RPO)
   reads that mask as its completion mask (:class:`AssistantMaskCollator`).
5. **Rounds.** ``dpo.rounds: N`` samples pairs from the current policy, trains, and samples again
   from the updated one; each round has its own ``round_K/`` with pairs and model, so a run
   killed between rounds resumes at the next one.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lfmgym.stages.common import (
    StageProgress,
    barrier,
    is_main,
    load_model,
    make_env,
    mixture_tasks,
    rollout_budgets,
    write_json,
)
from lfmgym.stages.config import PipelineConfig, thaw
from lfmgym.stages.jury import Group, Jury, Rollout, jury_report, pair_row
from lfmgym.stages.trainer import train_stage, trainer_config

__all__ = ["collect_groups", "build_jury", "make_pairs", "load_pairs", "run_dpo", "pair_row",
           "AssistantMaskCollator", "MaskedDPOTrainer"]


def collect_groups(model: Any, tokenizer: Any, cfg: PipelineConfig, progress: StageProgress | None = None,
                   round_index: int = 1) -> list[Group]:
    """Play ``dpo.samples`` sampled (+ 1 greedy) episodes of each DPO prompt with the model."""
    from lfmgym.backends.transformers_backend import TransformersBackend
    from lfmgym.engine.distributed import play_split
    from lfmgym.rollout import ModelPolicy, run_episodes

    dpo = cfg.dpo
    progress = progress or StageProgress(enabled=False)
    backend = TransformersBackend(model, tokenizer, batch_size=dpo.rollout_batch_size)
    budgets = rollout_budgets(cfg)
    by_env: dict[str, list] = {}
    for name, task in mixture_tasks(cfg, dpo.prompts, "dpo"):
        by_env.setdefault(name, []).append(task)
    groups: list[Group] = []
    for name, tasks in by_env.items():
        # Repetition is the n-gram juror's: the env's own penalty is off so it counts once.
        kwargs = {**thaw(cfg.envs[name].kwargs), "repetition_weight": 0.0}
        env = make_env(name, kwargs)
        factory = lambda name=name, kwargs=kwargs: make_env(name, kwargs)  # noqa: E731
        seed = cfg.seed + 7919 * (list(cfg.envs).index(name) + 1) + 104_729 * (round_index - 1)

        def play(policy, items, seeds):
            return play_split(lambda ts, ss: run_episodes(factory, policy, ts, seeds=ss, batch_size=dpo.rollout_batch_size,
                                                          budgets=budgets, workers=cfg.rollout.workers),
                              items, seeds)

        sampler = ModelPolicy(backend, temperature=dpo.temperature, top_p=dpo.top_p, max_new_tokens=dpo.max_new_tokens)
        repeated = [t for t in tasks for _ in range(dpo.samples)]
        sampled = play(sampler, repeated, [seed + j for j in range(len(repeated))])
        progress.advance(1, info=f"{name} sampled")
        greedy = []
        if dpo.greedy:
            policy = ModelPolicy(backend, temperature=0.0, max_new_tokens=dpo.max_new_tokens)
            greedy = play(policy, tasks, [seed + len(repeated) + j for j in range(len(tasks))])
            progress.advance(1, info=f"{name} greedy")
        for i, task in enumerate(tasks):
            recs = [("sampled", r) for r in sampled[i * dpo.samples:(i + 1) * dpo.samples]]
            if greedy:
                recs.append(("greedy", greedy[i]))
            groups.append(Group(env=name, task_id=task.id, prompt=env.opening(task),
                                rollouts=[Rollout.of(kind, rec) for kind, rec in recs],
                                reward_range=tuple(env.reward_range)))
    return groups


def build_jury(cfg: PipelineConfig) -> Jury:
    """The jury of ``dpo.jury``, with its LLM judges built from the plugin registry."""
    from lfmgym.plugins import get_registry

    reg = get_registry()
    judges = []
    for judge in cfg.dpo.jury.judges:
        judges.append((judge.name, reg.get("judges", judge.name).factory(**thaw(judge.kwargs)), judge.weight))
    return Jury(cfg.dpo.jury, judges)


def make_pairs(groups: list[Group], jury: Jury) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Score ``groups`` and return ``(pair rows, summary)``; the summary counts skips and loops and
    holds the jury report (per-judge scores, agreement between jurors and with the env reward)."""
    jury.score(groups)
    rows, counts = jury.pairs(groups)
    summary: dict[str, Any] = dict(counts)
    for kind in ("sampled", "greedy"):
        rs = [r for g in groups for r in g.rollouts if r.kind == kind]
        summary[f"doom_loop_{kind}"] = sum(r.doom_loop for r in rs) / len(rs) if rs else None
        summary[f"mean_env_score_{kind}"] = sum(r.scores["env"] for r in rs) / len(rs) if rs else None
    summary["jury"] = jury_report(jury, groups)
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


# --------------------------------------------------------------------------- training on the mask


def _collator_base():
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    return DataCollatorForPreference


@dataclass
class AssistantMaskCollator(_collator_base()):
    """TRL's preference collator, with the completion mask taken from the rows' ``chosen_mask`` /
    ``rejected_mask`` (1 = a token the policy generated) instead of "every token after the prompt"."""

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        import torch
        from trl.trainer.utils import pad

        out = super().torch_call(examples)
        masks = [[0] * len(e["prompt_ids"]) + list(e["chosen_mask"]) for e in examples] + \
                [[0] * len(e["prompt_ids"]) + list(e["rejected_mask"]) for e in examples]
        if self.max_length is not None:
            sl = slice(None, self.max_length) if self.truncation_mode == "keep_start" else slice(-self.max_length, None)
            masks = [m[sl] for m in masks]
        mask = pad([torch.tensor(m, dtype=torch.long) for m in masks], padding_value=0, padding_side="right",
                   pad_to_multiple_of=self.pad_to_multiple_of)
        out["completion_mask"] = mask[:, : out["input_ids"].shape[1]]
        return out


def _trainer_base():
    from trl import DPOTrainer

    return DPOTrainer


class MaskedDPOTrainer(_trainer_base()):
    """``DPOTrainer`` over pre-tokenized episode pairs with assistant masks (no own training loop:
    only the dataset preparation and the kept columns differ)."""

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        keep = ["prompt_ids", "chosen_ids", "chosen_mask", "rejected_ids", "rejected_mask"]
        dataset = dataset.select_columns(keep)
        if args.max_length is not None and args.truncation_mode == "keep_start":
            dataset = dataset.filter(lambda e: len(e["prompt_ids"]) < args.max_length)
        return dataset

    def _set_signature_columns_if_needed(self):
        if self._signature_columns is None:
            self._signature_columns = ["prompt_ids", "chosen_ids", "chosen_mask", "rejected_ids", "rejected_mask",
                                       "ref_chosen_logps", "ref_rejected_logps"]


def dpo_steps(cfg: PipelineConfig, n_pairs: int | None, world_size: int = 1) -> int | None:
    """Optimizer steps of a DPO run on ``n_pairs`` pairs (``dpo.max_steps``, else ``dpo.epochs``
    passes), ``None`` when the pairs are not known yet."""
    dpo = cfg.dpo
    if dpo.max_steps > 0:
        return dpo.max_steps
    if n_pairs is None:
        return None
    batches = math.ceil(n_pairs / (dpo.batch_size * max(1, world_size)))
    per_epoch = max(1, math.ceil(batches / dpo.gradient_accumulation_steps))
    return max(1, math.ceil(dpo.epochs * per_epoch))


def dpo_args(cfg: PipelineConfig, output_dir: Path, n_pairs: int | None = None, *, this_machine: bool = True):
    """The ``trl.DPOConfig`` of the ``dpo`` section for ``n_pairs`` pairs (also built by
    ``lfmgym pipeline --check``, pairs unknown)."""
    from trl import DPOConfig

    from lfmgym.stages.common import dist

    dpo = cfg.dpo
    own = {
        # sigmoid_norm alone lowers chosen and rejected together on a small model; the optional
        # NLL term on the chosen replies (RPO) anchors the good behaviour.
        "loss_type": [dpo.loss_type] + (["sft"] if dpo.sft_weight > 0 else []),
        "loss_weights": [1.0, dpo.sft_weight] if dpo.sft_weight > 0 else None,
        "beta": dpo.beta,
        "num_train_epochs": dpo.epochs,
        "per_device_train_batch_size": dpo.batch_size,
        "gradient_accumulation_steps": dpo.gradient_accumulation_steps,
        "max_length": dpo.max_length,
    }
    steps = dpo_steps(cfg, n_pairs, dist().num_processes if n_pairs is not None else 1)
    return trainer_config(DPOConfig, cfg, "dpo", output_dir, own, total_steps=steps,
                          fields={"per_device_train_batch_size": "dpo.batch_size", "num_train_epochs": "dpo.epochs",
                                  "loss_weights": "dpo.sft_weight"},
                          this_machine=this_machine)


def train_on_pairs(cfg: PipelineConfig, rows: list[dict[str, Any]], model_dir: Path, stage_dir: Path,
                   progress: StageProgress) -> tuple[Path, int]:
    """One DPO training run on pre-tokenized pairs; returns ``(stage_dir/model, steps)``."""
    from datasets import Dataset

    missing = [i for i, r in enumerate(rows) if "chosen_ids" not in r]
    if missing:
        raise ValueError(f"pairs.jsonl: row {missing[0] + 1} has no token ids; DPO trains on token-level episodes "
                         "(resample the pairs with this version)")
    model, tokenizer = load_model(model_dir)
    dataset = Dataset.from_list([{k: r[k] for k in ("prompt_ids", "chosen_ids", "chosen_mask", "rejected_ids",
                                                   "rejected_mask")} for r in rows])
    args = dpo_args(cfg, stage_dir / "checkpoints", len(rows))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    collator = AssistantMaskCollator(pad_token_id=pad, max_length=args.max_length,
                                     truncation_mode=args.truncation_mode,
                                     pad_to_multiple_of=getattr(args, "pad_to_multiple_of", None))
    trainer = MaskedDPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                               data_collator=collator)
    out = train_stage(trainer, tokenizer, stage_dir, progress, phase=f"dpo: training ({stage_dir.name})", total=None,
                      summary_keys=("loss", "rewards/accuracies"))
    return out, trainer.state.global_step


def _round(cfg: PipelineConfig, model_dir: Path, round_dir: Path, progress: StageProgress, index: int) -> Path:
    """Sample (or reuse) one round's pairs from ``model_dir`` and train on them."""
    round_dir.mkdir(parents=True, exist_ok=True)
    pairs_path, summary_path = round_dir / "pairs.jsonl", round_dir / "jury.json"
    if (round_dir / "model" / "config.json").is_file():
        return round_dir / "model"
    with progress.phase(f"dpo: rollouts + jury (round {index})", total=len(cfg.envs) * (2 if cfg.dpo.greedy else 1)):
        if not (pairs_path.is_file() and summary_path.is_file()):
            model, tokenizer = load_model(model_dir, device=None)
            groups = collect_groups(model, tokenizer, cfg, progress, round_index=index)  # every process plays
            if is_main():
                rows, summary = make_pairs(groups, build_jury(cfg))
                write_pairs(rows, pairs_path)
                write_json(summary_path, {**summary, "round": index, "from": str(model_dir)})
            del model
        barrier()
    rows = load_pairs(pairs_path)
    summary = json.loads(summary_path.read_text())
    progress.log(f"dpo round {index}: {summary['pairs']} pairs from {summary['groups']} prompts "
                 f"(skipped: {summary['skipped_all_equal']} tied, {summary['skipped_identical']} identical)")
    if not rows:
        if is_main():
            write_json(summary_path, {**summary, "trained": False})
            _copy_model(model_dir, round_dir / "model")
        barrier()
        return round_dir / "model"
    out, steps = train_on_pairs(cfg, rows, model_dir, round_dir, progress)
    if is_main():
        write_json(summary_path, {**summary, "trained": True, "steps": steps})
    barrier()
    return out


def run_dpo(cfg: PipelineConfig, model_dir: Path, stage_dir: Path, progress: StageProgress | None = None) -> Path:
    """``dpo.rounds`` rounds of sample → judge → train; returns ``stage_dir/model``.

    One round works in ``stage_dir`` itself (``pairs.jsonl``, ``jury.json``, ``model``); several
    work in ``stage_dir/round_K`` and the last round's model is copied to ``stage_dir/model``.
    With no pair at all in a round (every group tied) its model is passed on unchanged and its
    ``jury.json`` says so (``"trained": false``).
    """
    progress = progress or StageProgress(enabled=False)
    rounds = cfg.dpo.rounds
    if rounds == 1:
        return _round(cfg, model_dir, stage_dir, progress, 1)
    current = model_dir
    for k in range(1, rounds + 1):
        current = _round(cfg, current, stage_dir / f"round_{k}", progress, k)
    if is_main():
        _copy_model(current, stage_dir / "model")
    barrier()
    return stage_dir / "model"


def _copy_model(src: Path, dst: Path) -> None:
    import shutil

    tmp = dst.with_name(dst.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    shutil.copytree(src, tmp)
    if dst.exists():
        shutil.rmtree(dst)
    os.replace(tmp, dst)
