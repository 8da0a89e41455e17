"""GRPO with verifiable rewards from the environments (the seed talk's fix for doom loops, part two).

TRL's ``GRPOTrainer`` does the optimisation; the episodes are played by **our** environments
through TRL's ``rollout_func`` hook, so the env stays the single source of truth for multi-turn
tool use: its tool-call format, its parser, its tools, its feedback on malformed calls and its
reward. (TRL's ``environment_factory`` would instead parse calls with the chat template's
response schema and run them itself: a second implementation of what the env already does.)

One rollout, for each prompt TRL hands over (already repeated ``num_generations`` times):

1. ``prompt_ids`` = the env's opening messages through the chat template (generation prompt on);
2. generate an assistant turn (the trainer's model, or vLLM with ``use_vllm``), decode it with
   the tool-call markers kept, ``env.step(text)``;
3. while the episode goes on, append the feedback (tool results, parse errors) as tokens with
   ``env_mask = 0`` — they are context, not policy output, and get no loss — and generate again;
4. stop at the env's end, or when ``max_completion_length`` tokens are used up (then the env
   scores the unfinished episode as it would a truncated one).

The episodes are played by the rollout engine (:mod:`lfmgym.engine`, the one eval and DPO use):
env steps run next to generation, budgets bound each episode, and the records carry the sampled
ids, ``env_mask`` and logprobs that go to TRL unchanged.

Reward (:class:`EpisodeReward`, one reward function): the record's total, composed by the env's
one weighted sum (:meth:`lfmgym.Env.total_reward`) over the env's components (scaled by
``grpo.env_weight``; built with ``repetition_weight=0``) plus ``ngram`` = ``(1 - unique n-grams /
total n-grams) * max_penalty`` over the generated tokens of all assistant turns, weighted
``grpo.ngram_weight``: repetition is counted once; plus ``episode_loop`` = -1 when the episode is a
doom loop in a turn or across turns (the same call with the same result again, the same message
again: :func:`lfmgym.engine.episode_loop`, the verdict eval and the DPO jury use), weighted
``grpo.loop_weight`` (default 0: logged as ``env/episode_loop``, not added, so the tuned demo trains
as before; the n-gram penalty already sees loops inside a turn, this one sees them across turns).

``grpo.stop_loops`` ends a rollout turn as soon as it is a confirmed doom loop (transformers
generation; the turn still counts as a loop, so its penalties stand) and logs the tokens it saved
(``episodes/loop_tokens_saved``, per step).

Logged every step next to TRL's own metrics: each reward component (``env/<component>``), per-env
success, ``episodes/parse_rate``, ``episodes/tool_call_rate``, ``episodes/doom_loop_ratio``,
``episodes/turns`` and ``episodes/ended_early`` (episodes cut because the chat template rewrote
their history); ``log.jsonl`` in the stage directory keeps them all.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from lfmgym.stages.common import (
    StageProgress,
    make_env,
    mixture_tasks,
    prompt_key,
    rollout_budgets,
)
from lfmgym.stages.config import ConfigError, PipelineConfig, thaw
from lfmgym.stages.trainer import train_stage, trainer_config

__all__ = ["EpisodeReward", "token_ngram_penalty", "episode_loop_penalty", "grpo_extra_rewards", "EnvRollout",
           "build_prompt_pool", "run_grpo"]



class EpisodeReward:
    """The episode's reward as the rollout engine composed it: the env's components plus the token
    n-gram penalty (``ngram``) and the episode-loop penalty (``episode_loop``), in one weighted sum (:meth:`lfmgym.Env.total_reward`). Also logs the
    per-step episode metrics, from the same records ``lfmgym eval`` summarizes."""

    __name__ = "episode"

    def __call__(self, prompts, completions, completion_ids=None, *, env_reward, env_name, components,
                 doom_loop, success, truncation_reason=None, loop_tokens_saved=None, log_metric=None,
                 all_ranks=None, **_: Any) -> list[float]:
        if log_metric is not None:
            if all_ranks and all_ranks[0] is not None:
                # Several processes: log means over every rank's episodes, not this rank's share.
                gathered = all_ranks[0]
                env_name, components, doom_loop, success, truncation_reason, loop_tokens_saved = (
                    gathered["env_name"], gathered["components"], gathered["doom_loop"], gathered["success"],
                    gathered["truncation_reason"], gathered["loop_tokens_saved"])
            n = len(env_name)
            keys = sorted({k for c in components for k in c})
            for key in keys:
                values = [c[key] for c in components if key in c]
                log_metric(f"env/{key}", sum(values) / len(values))
            for name in sorted(set(env_name)):
                vals = [float(s) for s, e in zip(success, env_name) if e == name]
                log_metric(f"success/{name}", sum(vals) / len(vals))
            log_metric("episodes/parse_rate", sum(c.get("parse_ok", 1.0) >= 1.0 for c in components) / n)
            log_metric("episodes/tool_call_rate", sum(c.get("tool_calls", 0.0) > 0 for c in components) / n)
            log_metric("episodes/doom_loop_ratio", sum(bool(x) for x in doom_loop) / n)
            log_metric("episodes/turns", sum(c.get("turns", 0.0) for c in components) / n)
            if truncation_reason is not None:
                log_metric("episodes/ended_early", sum(r == "template" for r in truncation_reason) / n)
                log_metric("episodes/truncated", sum(r is not None for r in truncation_reason) / n)
            if loop_tokens_saved is not None:  # a count: tokens grpo.stop_loops did not generate this step
                log_metric("episodes/loop_tokens_saved", float(sum(loop_tokens_saved)))
        return [float(r) for r in env_reward]


def token_ngram_penalty(n: int = 3, max_penalty: float = -1.0, unit: str = "token"):
    """``r_ngram = (1 - unique n-grams / total n-grams) * max_penalty`` over the tokens (or words) the
    policy generated in all assistant turns of a record; 0 for no repetition, ``max_penalty`` at worst."""
    from lfmgym.rewards.ngram import ngram_repetition_penalty

    def ngram(record) -> float:
        if unit == "token":
            return float(ngram_repetition_penalty(record.assistant_ids, n=n, max_penalty=max_penalty, unit="token"))
        return float(ngram_repetition_penalty(record.completion_text, n=n, max_penalty=max_penalty, unit="word"))

    return ngram


def episode_loop_penalty(record) -> float:
    """``r_loop = -1`` when the episode is a doom loop in a turn or across turns (the record's
    ``episode_loop`` verdict, set by the engine before extra rewards are computed), else 0."""
    return -1.0 if record.episode_loop else 0.0


def grpo_extra_rewards(ngram: dict | None = None, ngram_weight: float = 1.0, loop_weight: float = 0.0) -> list:
    """GRPO's rewards next to the env's: the token n-gram penalty and the episode-loop penalty, as
    :class:`~lfmgym.engine.ExtraReward` components of the engine's one weighted sum (weight 0: logged only)."""
    from lfmgym.engine import ExtraReward

    ngram = dict(ngram or {"n": 3, "max_penalty": -1.0, "unit": "token"})
    return [ExtraReward("ngram", token_ngram_penalty(**ngram), float(ngram_weight)),
            ExtraReward("episode_loop", episode_loop_penalty, float(loop_weight))]


class _CallableGenerator:
    """A :class:`~lfmgym.engine.TokenGenerator` over ``f(prompt ids, caps) -> [(ids, finished, logprobs)]``
    (another backend, or an oracle in tests)."""

    def __init__(self, codec, fn):
        self.codec, self.fn = codec, fn

    def generate_ids(self, prompts, caps, *, temperature=0.0, top_p=1.0, seeds=None):
        from lfmgym.engine import Sampled

        out = []
        for (ids, finished, lps), cap in zip(self.fn([list(p) for p in prompts], list(caps)), caps):
            kept, fin = self.codec.cut_at_stop(list(ids), cap)
            out.append(Sampled(kept, fin and finished, None if lps is None else list(lps)[: len(kept)]))
        return out


class _VLLMTrainerGenerator:
    """GRPO's vLLM (colocated or server) as a token generator; sampling comes from ``GRPOConfig``."""

    def __init__(self, codec, trainer):
        self.codec, self.trainer = codec, trainer

    def generate_ids(self, prompts, caps, *, temperature=0.0, top_p=1.0, seeds=None):
        from lfmgym.engine import Sampled

        _, completion_ids, logprobs, _ = self.trainer.vllm_generation.generate(
            prompts=[list(p) for p in prompts], images=None, num_generations=1)
        out = []
        for ids, lps, cap in zip(completion_ids, logprobs, caps):
            lps = [lp[0] if isinstance(lp, (list, tuple)) else lp for lp in lps]
            kept, fin = self.codec.cut_at_stop(list(ids), cap)
            out.append(Sampled(kept, fin, [float("nan") if x is None else float(x) for x in lps[: len(kept)]]))
        return out


class _GeneratorPolicy:
    """What the engine plays with: a token generator, and ``chat`` for envs' sub-model calls."""

    def __init__(self, generator, sub_calls: bool):
        self.generator = generator
        if sub_calls:
            self.chat = self._chat

    def _chat(self, messages):
        s = self.generator.generate_ids([self.generator.codec.encode_prompt(messages)], [256], temperature=0.0,
                                        top_p=1.0, seeds=[0])[0]
        return self.generator.codec.decode(s.ids)


def _collective_generate(model, n_proc: int) -> bool:
    """Whether ``model.generate`` is a collective call across processes: transformers turns on
    ``synced_gpus`` under ZeRO-3 or FSDP with several processes (not under DDP)."""
    if n_proc <= 1:
        return False
    from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled
    from transformers.integrations.fsdp import is_fsdp_managed_module

    return bool(is_deepspeed_zero3_enabled() or is_fsdp_managed_module(model))


def _global_count(accelerator):
    """``f(local live episodes) -> live episodes on every process``: the engine's lockstep test."""
    import torch

    def count(n_live: int) -> int:
        return int(accelerator.gather(torch.tensor([n_live], device=accelerator.device)).sum().item())

    return count


class EnvRollout:
    """TRL ``rollout_func``: a thin adapter from TRL's contract to the rollout engine.

    TRL hands over prompts (each repeated ``num_generations`` times); the engine plays one episode
    per prompt through its env (token-in/token-out: the ids, ``env_mask`` and logprobs are exactly
    what was sampled; feedback ids are masked out) and this returns TRL's columns plus the
    record's reward and metrics for :class:`EpisodeReward`.

    Args:
        pool: ``prompt_key(opening) -> (env name, Task)`` for every training prompt.
        env_kwargs: constructor kwargs per env name (built with ``repetition_weight=0``: the token
            n-gram penalty counts repetition, once).
        tokenizer: the policy's tokenizer (with a prefix-preserving chat template).
        max_new_tokens: cap of one assistant turn.
        max_completion_length: cap of all completion tokens (assistant turns + feedback).
        temperature, top_p: sampling (transformers path; vLLM takes them from ``GRPOConfig``).
        batch_size: rows generated together on the transformers path.
        ngram: ``{n, max_penalty, unit}`` of the n-gram penalty; ``ngram_weight`` its weight next to
            the env's components (``env_weight`` scales the env's own weights).
        loop_weight: weight of the episode-loop penalty (:func:`episode_loop_penalty`).
        stop_loops: end a turn once it is a confirmed doom loop (transformers generation only).
        budgets: the engine's time/token budgets (``max_completion_tokens`` is set from above).
        generate: a custom generator ``(prompt ids, caps) -> [(ids, finished, logprobs or None)]``
            used instead of the trainer's model or vLLM (another backend, or an oracle in tests).
    """

    def __init__(self, pool: dict[str, tuple[str, Any]], env_kwargs: dict[str, dict], tokenizer: Any, *,
                 max_new_tokens: int, max_completion_length: int, temperature: float = 1.0, top_p: float = 1.0,
                 batch_size: int = 64, generate: Any = None, ngram: dict | None = None, ngram_weight: float = 1.0,
                 env_weight: float = 1.0, budgets: Any = None, workers: int = 16, seed: int = 0,
                 loop_weight: float = 0.0, stop_loops: bool = False):
        from lfmgym.engine import Budgets, ChatCodec

        self.pool = pool
        self.env_kwargs = env_kwargs
        self.codec = ChatCodec(tokenizer)
        self.max_new_tokens = int(max_new_tokens)
        self.max_completion_length = int(max_completion_length)
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.batch_size = int(batch_size)
        self.generate = generate
        self.ngram = dict(ngram or {"n": 3, "max_penalty": -1.0, "unit": "token"})
        self.ngram_weight = float(ngram_weight)
        self.loop_weight = float(loop_weight)
        self.stop_loops = bool(stop_loops)
        self.env_weight = float(env_weight)
        b = budgets or Budgets()
        self.budgets = Budgets(max_step_s=b.max_step_s, max_episode_s=b.max_episode_s,
                               max_episode_tokens=b.max_episode_tokens,
                               max_completion_tokens=self.max_completion_length)
        self.workers = int(workers)
        self.seed = int(seed)
        self.calls = 0
        self.template_breaks = 0  # episodes ended because the template was not prefix-preserving on them

    def decode(self, ids: list[int]) -> str:
        return self.codec.decode(ids)

    def _env_factory(self, name: str):
        kwargs = {**self.env_kwargs[name], "repetition_weight": 0.0}
        return lambda: make_env(name, kwargs)

    def play(self, prompts: list[list[dict[str, Any]]], trainer: Any):
        """Play one episode per prompt; returns the engine's records, in prompt order.

        Collective-safe under ``accelerate launch``: with several processes the engine runs in
        lockstep (every process makes the same generation calls with the same row counts), as
        ZeRO-3/FSDP's ``synced_gpus`` and vLLM's prompt gathering need; with transformers
        generation the model is unwrapped once per rollout (one ZeRO-3 parameter gather).
        """
        from lfmgym.engine import RolloutEngine, Sampling, row_seed

        jobs = []
        for prompt in prompts:
            key = prompt_key(prompt)
            if key not in self.pool:
                raise KeyError("GRPO got a prompt that is not in the task pool (the dataset and the pool disagree)")
            jobs.append(self.pool[key])
        accelerator = getattr(trainer, "accelerator", None)
        n_proc = accelerator.num_processes if accelerator is not None else 1
        rank = accelerator.process_index if accelerator is not None else 0
        step = int(getattr(getattr(trainer, "state", None), "global_step", self.calls) or 0)
        self.calls += 1
        seeds = [row_seed(self.seed, step, self.calls, rank, i) for i in range(len(jobs))]
        lockstep = _global_count(accelerator) if n_proc > 1 else None

        def run(generator, sub_calls: bool):
            engine = RolloutEngine(
                _GeneratorPolicy(generator, sub_calls), sampling=Sampling(self.temperature, self.top_p, self.max_new_tokens),
                budgets=self.budgets, batch_size=max(self.batch_size, len(jobs)), workers=self.workers,
                strict_tokens=True, lockstep=lockstep, env_weight=self.env_weight,
                extra_rewards=grpo_extra_rewards(self.ngram, self.ngram_weight, self.loop_weight))
            factories = {name: self._env_factory(name) for name in {n for n, _ in jobs}}
            records = engine.play([factories[name] for name, _ in jobs], [task for _, task in jobs], seeds)
            return records

        if self.generate is not None:
            records = run(_CallableGenerator(self.codec, self.generate), True)
        elif getattr(trainer, "use_vllm", False):
            records = run(_VLLMTrainerGenerator(self.codec, trainer), n_proc == 1)
        else:
            from trl.models.utils import unwrap_model_for_generation

            from lfmgym.engine import HFGenerator
            from lfmgym.rewards.loop_stopping import LoopStop

            with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator,
                                             gather_deepspeed3_params=trainer.args.ds3_gather_for_generation) as model:
                # Sub-model calls from one rank would desynchronise ZeRO-3/FSDP's collective generate;
                # under DDP (or one process) each rank's generate is its own, so envs get the policy.
                records = run(HFGenerator(model, self.codec, batch_size=self.batch_size,
                                          loop_stop=LoopStop(enabled=self.stop_loops)),
                              not _collective_generate(model, n_proc))
        breaks = sum(r.truncation_reason == "template" for r in records)
        if breaks and not self.template_breaks:
            warnings.warn(f"GRPO rollout: {breaks} episode(s) ended early: "
                          f"{next(r.info.get('template_error') for r in records if r.truncation_reason == 'template')}",
                          stacklevel=2)
        self.template_breaks += breaks
        return records

    def __call__(self, prompts: list[list[dict[str, Any]]], trainer: Any) -> dict[str, list]:
        records = self.play(prompts, trainer)
        logprobs = [r.completion_logprobs for r in records]
        use_logprobs = bool(getattr(trainer, "use_vllm", False)) and all(lp is not None for lp in logprobs)
        return {
            "prompt_ids": [r.prompt_ids for r in records],
            "completion_ids": [r.completion_ids for r in records],
            "logprobs": logprobs if use_logprobs else None,
            "env_mask": [r.env_mask for r in records],
            "env_reward": [r.reward for r in records],
            "env_name": [r.env_name for r in records],
            "components": [r.components for r in records],
            "success": [float(r.success) for r in records],
            "doom_loop": [r.doom_loop for r in records],
            "truncation_reason": [r.truncation_reason for r in records],
            "loop_tokens_saved": [r.loop_tokens_saved for r in records],
            "ended_early": [r.truncation_reason == "template" for r in records],
            "all_ranks": [self._gather_metrics(records, trainer)] * len(records),
        }

    @staticmethod
    def _gather_metrics(records, trainer) -> dict[str, list] | None:
        """Every rank's episode metrics (for global means in the logs); ``None`` with one process."""
        accelerator = getattr(trainer, "accelerator", None)
        if accelerator is None or accelerator.num_processes == 1:
            return None
        from accelerate.utils import gather_object

        mine = [(r.env_name, r.components, r.doom_loop, float(r.success), r.truncation_reason, r.loop_tokens_saved)
                for r in records]
        rows = gather_object(mine)
        return {"env_name": [x[0] for x in rows], "components": [x[1] for x in rows], "doom_loop": [x[2] for x in rows],
                "success": [x[3] for x in rows], "truncation_reason": [x[4] for x in rows],
                "loop_tokens_saved": [x[5] for x in rows]}


def build_prompt_pool(cfg: PipelineConfig) -> tuple[list[list[dict[str, Any]]], dict[str, tuple[str, Any]]]:
    """The GRPO prompts (env openings, ``grpo.prompt_pool`` of them by env weight) and the
    ``prompt_key -> (env, task)`` map; a prompt shared by two different tasks keeps the first."""
    envs = {name: make_env(name, env.kwargs) for name, env in cfg.envs.items()}
    prompts, pool = [], {}
    for name, task in mixture_tasks(cfg, cfg.grpo.prompt_pool, "grpo"):
        opening = envs[name].opening(task)
        key = prompt_key(opening)
        if key in pool:
            continue
        pool[key] = (name, task)
        prompts.append(opening)
    return prompts, pool


def grpo_args(cfg: PipelineConfig, output_dir: Path, *, this_machine: bool = True):
    """The ``trl.GRPOConfig`` of the ``grpo`` section (also built by ``lfmgym pipeline --check``)."""
    from trl import GRPOConfig

    grpo = cfg.grpo
    if grpo.stop_loops and grpo.use_vllm:
        raise ConfigError("grpo.stop_loops: not available with grpo.use_vllm (vLLM has no per-request stopping "
                          "hook); set one of them to false")
    own = {
        "per_device_train_batch_size": grpo.prompts_per_step * grpo.num_generations,
        "gradient_accumulation_steps": 1,
        "num_generations": grpo.num_generations,
        "beta": grpo.beta,
        "loss_type": grpo.loss_type,
        "scale_rewards": grpo.scale_rewards,
        "temperature": grpo.temperature,
        "top_p": grpo.top_p,
        "max_completion_length": grpo.max_completion_length,
        "mask_truncated_completions": False,  # a looping, length-capped reply must get its negative advantage
        "log_completions": False,
        "use_vllm": grpo.use_vllm,
    }
    if grpo.use_vllm:
        own["vllm_mode"] = grpo.vllm_mode
        if grpo.vllm_server_base_url:
            own["vllm_server_base_url"] = grpo.vllm_server_base_url
    # One reward function (EpisodeReward): its weights are the env's, grpo.ngram_weight and grpo.loop_weight.
    return trainer_config(GRPOConfig, cfg, "grpo", output_dir, own, total_steps=grpo.max_steps,
                          fields={"per_device_train_batch_size": "grpo.prompts_per_step",
                                  "reward_weights": "grpo.env_weight / grpo.ngram_weight / grpo.loop_weight"},
                          reserved=("vllm_mode", "vllm_server_base_url", "reward_weights"),
                          this_machine=this_machine)


def run_grpo(cfg: PipelineConfig, model_dir: Path, stage_dir: Path, progress: StageProgress | None = None) -> Path:
    """Train from ``model_dir`` with GRPO on the env mixture; returns ``stage_dir/model``."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is flagged experimental in TRL
    from datasets import Dataset
    from trl import GRPOTrainer

    from lfmgym.stages.common import load_model

    grpo = cfg.grpo
    progress = progress or StageProgress(enabled=False)
    model, tokenizer = load_model(model_dir)
    prompts, pool = build_prompt_pool(cfg)
    rollout = EnvRollout(
        pool,
        {name: thaw(env.kwargs) for name, env in cfg.envs.items()},
        tokenizer,
        max_new_tokens=grpo.max_new_tokens,
        max_completion_length=grpo.max_completion_length,
        temperature=grpo.temperature,
        top_p=grpo.top_p,
        batch_size=grpo.prompts_per_step * grpo.num_generations,
        ngram=grpo.ngram.to_dict(),
        ngram_weight=grpo.ngram_weight,
        loop_weight=grpo.loop_weight,
        stop_loops=grpo.stop_loops,
        env_weight=grpo.env_weight,
        budgets=rollout_budgets(cfg),
        workers=cfg.rollout.workers,
        seed=cfg.seed,
    )
    ckpt_dir = stage_dir / "checkpoints"
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[EpisodeReward()],
        args=grpo_args(cfg, ckpt_dir),
        train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
        processing_class=tokenizer,
        rollout_func=rollout,
    )
    return train_stage(trainer, tokenizer, stage_dir, progress, phase="grpo: training", total=grpo.max_steps,
                       summary_keys=("reward", "episodes/doom_loop_ratio"))
