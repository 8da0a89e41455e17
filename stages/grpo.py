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

Rewards (``GRPOConfig.reward_weights`` = ``[env_weight, ngram_weight]``):

- :class:`EnvReward`: the env's episode reward (built with ``repetition_weight=0`` so the
  repetition penalty is not counted twice);
- :class:`NgramPenalty`: ``(1 - unique n-grams / total n-grams) * max_penalty`` over the tokens
  the policy generated (all assistant turns).

Logged every step next to TRL's own metrics: each reward component (``env/<component>``), per-env
success, ``episodes/parse_rate``, ``episodes/tool_call_rate``, ``episodes/doom_loop_ratio``,
``episodes/turns`` and ``episodes/ended_early`` (episodes cut because the chat template rewrote
their history); ``log.jsonl`` in the stage directory keeps them all.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lfmgym.stages.common import (
    StageProgress,
    make_env,
    mixture_tasks,
    prompt_key,
    quiet_trainer,
    resume_point,
    save_trained,
    trainer_callback,
)

__all__ = ["EnvReward", "NgramPenalty", "EnvRollout", "build_prompt_pool", "run_grpo"]

# Below this many tokens of budget left, another turn cannot say anything useful: stop and score.
MIN_TURN_TOKENS = 4
# Special tokens that carry no meaning in assistant text (tool-call markers are kept).
_NOISE = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|startoftext|>", "<|im_start|>", "<|pad|>")


class EnvReward:
    """``r_env`` = the env's episode reward: ``sum_k weight_k * component_k`` (the env's ``reward_weights``).

    Reads the ``env_reward`` column the rollout adds; also logs the per-step episode metrics.
    """

    __name__ = "env"

    def __call__(self, prompts, completions, completion_ids=None, *, env_reward, env_name, components,
                 doom_loop, success, ended_early=None, log_metric=None, **_: Any) -> list[float]:
        if log_metric is not None:
            n = len(env_reward)
            keys = sorted({k for c in components for k in c})
            for key in keys:
                values = [c[key] for c in components if key in c]
                log_metric(f"env/{key}", sum(values) / len(values))
            for name in sorted(set(env_name)):
                vals = [s for s, e in zip(success, env_name) if e == name]
                log_metric(f"success/{name}", sum(vals) / len(vals))
            log_metric("episodes/parse_rate", sum(c.get("parse_ok", 1.0) >= 1.0 for c in components) / n)
            log_metric("episodes/tool_call_rate", sum(c.get("tool_calls", 0.0) > 0 for c in components) / n)
            log_metric("episodes/doom_loop_ratio", sum(bool(x) for x in doom_loop) / n)
            log_metric("episodes/turns", sum(c.get("turns", 0.0) for c in components) / n)
            if ended_early is not None:
                log_metric("episodes/ended_early", sum(bool(x) for x in ended_early) / n)
        return [float(r) for r in env_reward]


class NgramPenalty:
    """``r_ngram = (1 - unique n-grams / total n-grams) * max_penalty`` over the generated tokens
    (or words) of all assistant turns of the episode; 0 for no repetition, ``max_penalty`` at worst."""

    __name__ = "ngram"

    def __init__(self, n: int = 3, max_penalty: float = -1.0, unit: str = "token"):
        self.n, self.max_penalty, self.unit = int(n), float(max_penalty), unit

    def __call__(self, prompts, completions, completion_ids=None, *, assistant_ids, assistant_text,
                 **_: Any) -> list[float]:
        from lfmgym.rewards.ngram import ngram_repetition_penalty

        if self.unit == "token":
            return [float(ngram_repetition_penalty(list(ids), n=self.n, max_penalty=self.max_penalty, unit="token"))
                    for ids in assistant_ids]
        return [float(ngram_repetition_penalty(t, n=self.n, max_penalty=self.max_penalty, unit="word"))
                for t in assistant_text]


@dataclass
class _Episode:
    name: str
    env: Any
    prompt_ids: list[int]
    completion_ids: list[int] = field(default_factory=list)
    env_mask: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    turns: list[tuple[list[int], bool]] = field(default_factory=list)
    reward: float = 0.0
    components: dict[str, float] = field(default_factory=dict)
    done: bool = False
    ended_early: bool = False  # the template rewrote this episode's history: scored as truncated


class EnvRollout:
    """TRL ``rollout_func``: plays each prompt's episode through its env (see the module docstring).

    Args:
        pool: ``prompt_key(opening) -> (env name, Task)`` for every training prompt.
        env_kwargs: constructor kwargs per env name.
        tokenizer: the policy's tokenizer (with a prefix-preserving chat template).
        max_new_tokens: cap of one assistant turn.
        max_completion_length: cap of all completion tokens (assistant turns + feedback).
        temperature, top_p: sampling (transformers path; vLLM takes them from ``GRPOConfig``).
        batch_size: rows generated together on the transformers path.
        generate: a custom generator ``(prompt ids, caps) -> [(ids, finished, logprobs or None)]``
            used instead of the trainer's model or vLLM (another backend, or an oracle in tests).
    """

    def __init__(self, pool: dict[str, tuple[str, Any]], env_kwargs: dict[str, dict], tokenizer: Any, *,
                 max_new_tokens: int, max_completion_length: int, temperature: float = 1.0, top_p: float = 1.0,
                 batch_size: int = 64, generate: Any = None):
        self.pool = pool
        self.env_kwargs = env_kwargs
        self.tokenizer = tokenizer
        self.max_new_tokens = int(max_new_tokens)
        self.max_completion_length = int(max_completion_length)
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.batch_size = int(batch_size)
        self.generate = generate
        vocab = tokenizer.get_vocab()
        stops = [tokenizer.eos_token_id] + [vocab[t] for t in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>") if t in vocab]
        self.stop_ids = list(dict.fromkeys(int(t) for t in stops if t is not None))
        self.eos_id = int(tokenizer.eos_token_id if tokenizer.eos_token_id is not None else self.stop_ids[0])
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id)
        self.eos_text = tokenizer.convert_ids_to_tokens(self.eos_id)
        self.template_breaks = 0  # episodes ended because the template was not prefix-preserving on them

    # ------------------------------------------------------------------ text <-> tokens

    def _render(self, messages: list[dict[str, Any]], generation_prompt: bool) -> str:
        # preserve_thinking: LFM2.5-style templates drop the text before "</think>" in assistant turns
        # that precede the last user message; env feedback such as a parse error is a user message,
        # so without it a generated "</think>" would rewrite a turn the policy already produced.
        # Templates that do not know the flag ignore it.
        return self.tokenizer.apply_chat_template(messages, add_generation_prompt=generation_prompt, tokenize=False,
                                                  preserve_thinking=True)

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, ids: list[int]) -> str:
        """Assistant text of generated ids: special tokens kept except end-of-turn, padding and BOS."""
        text = self.tokenizer.decode([t for t in ids if t not in self.stop_ids and t != self.pad_id],
                                     skip_special_tokens=False)
        for noise in _NOISE:
            text = text.replace(noise, "")
        return text.strip()

    def feedback_ids(self, history: list[dict[str, Any]], feedback: list[dict[str, Any]], finished: bool) -> list[int]:
        """Tokens between the end of the last assistant turn and the next generation prompt.

        ``history`` ends with that assistant message. The text is what the chat template puts
        after the assistant's end-of-turn token, then the feedback messages, then the assistant
        header; an end-of-turn token is prepended when the turn hit the length cap without one.
        """
        before = self._render(history, False)
        after = self._render(history + feedback, True)
        if not after.startswith(before):
            raise ValueError(
                "the chat template is not prefix-preserving (rendering more messages changed earlier text); "
                "multi-turn GRPO needs one, e.g. a TRL training template (trl.chat_template_utils)"
            )
        cut = before.rfind(self.eos_text) if self.eos_text else -1
        tail = before[cut + len(self.eos_text):] if cut >= 0 else ""
        ids = self._encode(tail + after[len(before):])
        return ids if finished else [self.eos_id] + ids

    # ------------------------------------------------------------------ generation
    # A generator maps (prompt token ids, per-row token caps) to (generated ids, finished, logprobs)
    # per row; ids end with the end-of-turn token when finished.

    def _vllm_generate(self, trainer: Any, prompts: list[list[int]], caps: list[int]):
        _, completion_ids, logprobs, _ = trainer.vllm_generation.generate(prompts=prompts, images=None, num_generations=1)
        out = []
        for ids, lps, cap in zip(completion_ids, logprobs, caps):
            lps = [lp[0] if isinstance(lp, (list, tuple)) else lp for lp in lps]
            cut = next((k for k, t in enumerate(ids) if t in self.stop_ids), None)
            finished = cut is not None and cut < cap
            end = cut + 1 if finished else min(len(ids), cap)
            out.append((list(ids[:end]), finished, [float("nan") if x is None else float(x) for x in lps[:end]]))
        return out

    def _hf_generate(self, model: Any, prompts: list[list[int]], caps: list[int]):
        import torch

        results: list[Any] = [None] * len(prompts)
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        greedy = self.temperature == 0
        sampling = {} if greedy else {"temperature": self.temperature, "top_p": self.top_p, "top_k": 0}
        device = next(model.parameters()).device
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            width = max(len(prompts[i]) for i in chunk)
            ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                ids[row, width - len(prompts[i]):] = torch.tensor(prompts[i])
                mask[row, width - len(prompts[i]):] = 1
            with torch.no_grad():
                out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=not greedy,
                                     max_new_tokens=max(caps[i] for i in chunk), eos_token_id=self.stop_ids,
                                     pad_token_id=self.pad_id, use_cache=True, **sampling)
            for row, i in enumerate(chunk):
                new = out[row, width:].tolist()
                cut = next((k for k, t in enumerate(new) if t in self.stop_ids), None)
                finished = cut is not None and cut < caps[i]
                results[i] = (new[:cut + 1] if finished else new[:caps[i]], finished, None)
        return results

    # ------------------------------------------------------------------ the rollout

    def play(self, prompts: list[list[dict[str, Any]]], trainer: Any) -> list[_Episode]:
        """Play one episode per prompt; returns the finished episodes in prompt order.

        Collective-safe under ``accelerate launch``: with transformers generation the model is
        unwrapped once per rollout (one ZeRO-3 parameter gather, whatever the number of turns);
        with vLLM every process makes the same number of equally sized generation calls (the
        calls gather prompts across processes), padding with finished episodes until the last
        episode of every process is over.
        """
        episodes = []
        for prompt in prompts:
            key = prompt_key(prompt)
            if key not in self.pool:
                raise KeyError("GRPO got a prompt that is not in the task pool (the dataset and the pool disagree)")
            name, task = self.pool[key]
            env = make_env(name, {**self.env_kwargs[name], "repetition_weight": 0.0})
            obs, _ = env.reset(options={"task": task})
            episodes.append(_Episode(name, env, self._encode(self._render(obs, True))))
        if self.generate is not None:
            return self._play(episodes, self.generate, None)
        if getattr(trainer, "use_vllm", False):
            # Several processes must make the same generation calls (they gather prompts); one alone
            # need not re-send its finished episodes.
            lockstep = trainer.accelerator if trainer.accelerator.num_processes > 1 else None
            return self._play(episodes, lambda p, c: self._vllm_generate(trainer, p, c), lockstep)
        from trl.models.utils import unwrap_model_for_generation

        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator,
                                         gather_deepspeed3_params=trainer.args.ds3_gather_for_generation) as model:
            was_training = model.training
            model.eval()
            try:
                return self._play(episodes, lambda p, c: self._hf_generate(model, p, c), None)
            finally:
                if was_training:
                    model.train()

    def _play(self, episodes: list[_Episode], generate: Any, lockstep: Any) -> list[_Episode]:
        while True:
            live = [e for e in episodes if not e.done]
            if lockstep is not None:
                import torch

                n_live = torch.tensor([len(live)], device=lockstep.device)
                if int(lockstep.gather(n_live).sum().item()) == 0:
                    break
                rows = episodes  # same call size on every process; finished rows are generated and dropped
            else:
                if not live:
                    break
                rows = live
            caps = [min(self.max_new_tokens, self.max_completion_length - len(e.completion_ids)) if not e.done else 1
                    for e in rows]
            gens = generate([e.prompt_ids + e.completion_ids for e in rows], caps)
            for e, (ids, finished, lps) in zip(rows, gens):
                if not e.done:
                    self._advance(e, ids, finished, lps)
        return episodes

    def _advance(self, e: _Episode, ids: list[int], finished: bool, lps: list[float] | None) -> None:
        """Append one generated turn, step the env, and append its feedback (or finish the episode)."""
        e.completion_ids += ids
        e.env_mask += [1] * len(ids)
        e.logprobs += lps if lps is not None else [0.0] * len(ids)
        e.turns.append((ids, finished))
        obs, reward, term, trunc, info = e.env.step(self.decode(ids))
        if term or trunc:
            e.reward, e.components, e.done = float(reward), dict(info.get("reward_components", {})), True
            return
        feedback = info["new_messages"]
        try:
            extra = self.feedback_ids(obs[: len(obs) - len(feedback)], feedback, finished)
        except ValueError as exc:
            # The template re-renders this generated text differently once feedback follows it, so
            # the episode cannot go on token-exactly: end it here, scored like a truncated episode,
            # rather than stop the trainer over one sample's text.
            if not self.template_breaks:
                warnings.warn(f"GRPO rollout: an episode was ended early: {exc}", stacklevel=2)
            self.template_breaks += 1
            e.ended_early = True
            extra = None
        if extra is None or len(e.completion_ids) + len(extra) + MIN_TURN_TOKENS > self.max_completion_length:
            # Out of token budget mid-episode: score it as the env scores a truncated episode.
            e.components = e.env.reward_components(e.env.episode)
            e.reward = e.env.total_reward(e.components)
            e.done = True
            return
        e.completion_ids += extra
        e.env_mask += [0] * len(extra)
        e.logprobs += [0.0] * len(extra)

    def __call__(self, prompts: list[list[dict[str, Any]]], trainer: Any) -> dict[str, list]:
        from lfmgym.stages.evaluate import episode_success, is_doom_loop

        episodes = self.play(prompts, trainer)
        use_logprobs = bool(getattr(trainer, "use_vllm", False))
        return {
            "prompt_ids": [e.prompt_ids for e in episodes],
            "completion_ids": [e.completion_ids for e in episodes],
            "logprobs": [e.logprobs for e in episodes] if use_logprobs else None,
            "env_mask": [e.env_mask for e in episodes],
            "env_reward": [e.reward for e in episodes],
            "env_name": [e.name for e in episodes],
            "components": [e.components for e in episodes],
            "success": [episode_success(e.env, e.components) for e in episodes],
            "doom_loop": [any(is_doom_loop(ids, fin) for ids, fin in e.turns) for e in episodes],
            "ended_early": [e.ended_early for e in episodes],
            "assistant_ids": [[t for ids, _ in e.turns for t in ids] for e in episodes],
            "assistant_text": ["\n".join(self.decode(ids) for ids, _ in e.turns) for e in episodes],
        }


def build_prompt_pool(cfg: dict) -> tuple[list[list[dict[str, Any]]], dict[str, tuple[str, Any]]]:
    """The GRPO prompts (env openings, ``grpo.prompt_pool`` of them by env weight) and the
    ``prompt_key -> (env, task)`` map; a prompt shared by two different tasks keeps the first."""
    envs = {name: make_env(name, e["kwargs"]) for name, e in cfg["envs"].items()}
    prompts, pool = [], {}
    for name, task in mixture_tasks(cfg, cfg["grpo"]["prompt_pool"], "grpo"):
        opening = envs[name].opening(task)
        key = prompt_key(opening)
        if key in pool:
            continue
        pool[key] = (name, task)
        prompts.append(opening)
    return prompts, pool


def grpo_args(cfg: dict, output_dir: Path):
    """The ``trl.GRPOConfig`` of the ``grpo`` section."""
    from trl import GRPOConfig

    from lfmgym.stages.sft import precision_flags

    g = cfg["grpo"]
    vllm = {}
    if g["use_vllm"]:
        vllm = {"use_vllm": True, "vllm_mode": g["vllm_mode"]}
        if g["vllm_server_base_url"]:
            vllm["vllm_server_base_url"] = g["vllm_server_base_url"]
    return GRPOConfig(
        output_dir=str(output_dir),
        max_steps=g["max_steps"],
        per_device_train_batch_size=g["prompts_per_step"] * g["num_generations"],
        gradient_accumulation_steps=1,
        num_generations=g["num_generations"],
        learning_rate=g["learning_rate"],
        beta=g["beta"],
        loss_type=g["loss_type"],
        scale_rewards=g["scale_rewards"],
        temperature=g["temperature"],
        top_p=g["top_p"],
        max_completion_length=g["max_completion_length"],
        reward_weights=[g["env_weight"], g["ngram_weight"]],
        mask_truncated_completions=False,  # a looping, length-capped reply must get its negative advantage
        lr_scheduler_type=g["lr_scheduler_type"],
        warmup_steps=g["warmup_ratio"],
        save_steps=g["save_steps"],
        save_total_limit=2,
        logging_steps=g["logging_steps"],
        report_to=[],
        disable_tqdm=True,
        log_completions=False,
        seed=cfg["seed"],
        data_seed=cfg["seed"],
        **precision_flags(cfg),
        **vllm,
        **g["trainer"],
    )


def run_grpo(cfg: dict, model_dir: Path, stage_dir: Path, progress: StageProgress | None = None) -> Path:
    """Train from ``model_dir`` with GRPO on the env mixture; returns ``stage_dir/model``."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is flagged experimental in TRL
    from datasets import Dataset
    from trl import GRPOTrainer

    from lfmgym.stages.common import load_model

    g = cfg["grpo"]
    progress = progress or StageProgress(enabled=False)
    model, tokenizer = load_model(model_dir)
    prompts, pool = build_prompt_pool(cfg)
    rollout = EnvRollout(
        pool,
        {name: e["kwargs"] for name, e in cfg["envs"].items()},
        tokenizer,
        max_new_tokens=g["max_new_tokens"],
        max_completion_length=g["max_completion_length"],
        temperature=g["temperature"],
        top_p=g["top_p"],
        batch_size=g["prompts_per_step"] * g["num_generations"],
    )
    ckpt_dir = stage_dir / "checkpoints"
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[EnvReward(), NgramPenalty(**g["ngram"])],
        args=grpo_args(cfg, ckpt_dir),
        train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
        processing_class=tokenizer,
        rollout_func=rollout,
    )
    quiet_trainer(trainer)
    trainer.add_callback(trainer_callback(progress, stage_dir / "log.jsonl", ("reward", "episodes/doom_loop_ratio")))
    with progress.phase("grpo: training", total=g["max_steps"]):
        trainer.train(resume_from_checkpoint=resume_point(stage_dir, progress))
    return save_trained(trainer, tokenizer, stage_dir / "model")
