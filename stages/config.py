"""Pipeline configuration: one YAML file (or dict) for the model, the env mixture and every stage.

:func:`load_config` fills defaults, applies dotted-path overrides (``{"sft.learning_rate": 3e-4}``,
the hook a sweep uses) and validates everything up front, so a typo fails in a second with the
field's full path instead of an hour into a run::

    cfg = load_config("configs/smoke.yaml", overrides={"grpo.num_generations": 4})
    cfg["sft"]["learning_rate"]   # a plain nested dict; JSON/YAML-serialisable

The schema below *is* the documentation of every field (``lfmgym pipeline --show-config``
prints the defaults). ``trainer`` sub-dicts pass extra arguments straight to TRL's
``SFTConfig`` / ``DPOConfig`` / ``GRPOConfig``; :func:`check_trainer_args` builds those objects
the way the stages do, so a key the stage sets itself or a value TRL rejects fails the check.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lfmgym.stages.schema import (
    ConfigError,
    F,
    FreeDict,
    ListOf,
    MapOf,
    apply_overrides,
    config_diff,
    defaults,
    validate,
)
from lfmgym.stages.schema import describe as describe_schema

__all__ = ["ConfigError", "STAGES", "SCHEMA", "load_config", "default_config", "apply_overrides", "config_diff"]

STAGES = ("sft", "dpo", "grpo")


NGRAM = {
    "n": F(int, 3, "n-gram size of the repetition penalty", min=1),
    "max_penalty": F(float, -1.0, "penalty of a fully repetitive completion (<= 0)", max=0.0),
    # Words by default: over the few tokens of a short answer, token trigrams repeat by chance
    # (the digits of 1166), which would punish correct answers; a repeated word trigram is real repetition.
    "unit": F(str, "word", "count n-grams over words or generated token ids", choices=("word", "token")),
}

SCHEMA: dict[str, Any] = {
    "seed": F(int, 0, "seed of task sampling, model init and trainers", min=0, max=2**32 - 1),
    "threads": F(int, None, "torch CPU threads (null: torch's default); 1 is fastest for tiny models on a busy CPU",
                 nullable=True, min=1),
    "model": {
        "name": F(str, "tiny", "a preset (tiny, small, ...: trained from scratch), a local directory or a hub id"),
        "tokenizer": F(str, None, "tokenizer dir/id for a preset; default: train one on the envs' text", nullable=True),
        "tokenizer_examples": F(int, 1500, "demonstrations per env used to train a from-scratch tokenizer", min=1),
        "overrides": FreeDict("Lfm2Config overrides of a preset, e.g. {num_hidden_layers: 4}"),
        "precision": F(str, "fp32", "training precision: fp32, or bf16/fp16 mixed precision (GPU)", choices=("fp32", "bf16", "fp16")),
    },
    "envs": MapOf(
        {
            "weight": F(float, 1.0, "mixture weight of this env in SFT/DPO/GRPO data", min=0.0),
            "kwargs": FreeDict("env constructor arguments (difficulty, tool_format, max_turns, ...)"),
            "eval_kwargs": FreeDict("constructor arguments for the held-out eval env (default: kwargs)"),
        },
        "environments to train and evaluate on, by registry name",
    ),
    "stages": F(list, ["sft", "dpo", "grpo"], "stages to run, in order (any subset of sft, dpo, grpo)"),
    "eval": {
        "n": F(int, 32, "held-out tasks per env", min=1),
        "seed": F(int, 1_000_003, "seed of the held-out tasks (never used for training tasks)", min=0, max=2**32 - 1),
        "max_new_tokens": F(int, 96, "generation cap per assistant turn", min=1),
        "temperature": F(float, 1.0, "temperature of the sampled pass (doom_loop_sampled)", min=0.0),
        "top_p": F(float, 1.0, "nucleus sampling of the sampled pass", min=0.0, max=1.0),
        "batch_size": F(int, 96, "episodes generated together", min=1),
        "sampled": F(bool, True, "also run the sampled pass (needed for doom_loop_sampled)"),
    },
    "rollout": {
        "max_step_s": F(float, None, "wall-clock limit of one env step (tool call, sandbox cell, search); past it "
                        "the episode ends truncated (step_timeout)", min=0.0, nullable=True),
        "max_episode_s": F(float, None, "wall-clock limit of one episode (episode_timeout)", min=0.0, nullable=True),
        "max_episode_tokens": F(int, None, "generated tokens per episode, all turns (token_budget)", min=1,
                                nullable=True),
        "workers": F(int, 16, "threads running env resets and steps next to generation", min=1),
    },
    "sft": {
        "examples": F(int, 2000, "demonstrations in the cold-start dataset (split by env weight)", min=1),
        "env_weights": FreeDict("per-env weights for this stage's data, overriding envs.<name>.weight"),
        "max_steps": F(int, 200, "optimizer steps", min=1),
        "learning_rate": F(float, 1e-3, "peak learning rate", min=0.0),
        "batch_size": F(int, 16, "per-device batch size", min=1),
        "gradient_accumulation_steps": F(int, 1, "micro-batches per optimizer step", min=1),
        "lr_scheduler_type": F(str, "cosine", "transformers scheduler name"),
        "warmup_ratio": F(float, 0.05, "share of steps spent warming up", min=0.0, max=1.0),
        "weight_decay": F(float, 0.0, "AdamW weight decay", min=0.0),
        "max_length": F(int, 1024, "token cap of a training sequence", min=8),
        "group_by_length": F(bool, False, "batch rows of similar length together: less padding (2.2x faster per "
                             "step on the demo's mixture, benchmarks/bench_sft_batching.py), but a different data "
                             "order: on the demo it learned slower per step"),
        "save_steps": F(int, 50, "checkpoint every N steps (resume point)", min=1),
        "logging_steps": F(int, 10, "log every N steps", min=1),
        "lora": {
            "enabled": F(bool, False, "train LoRA adapters (peft) instead of all weights; merged into the saved model"),
            "r": F(int, 16, "LoRA rank", min=1),
            "alpha": F(int, 32, "LoRA alpha (scale alpha / r)", min=1),
            "dropout": F(float, 0.0, "dropout on the LoRA input", min=0.0, max=1.0),
            "target_modules": F(str, "all-linear", "peft target_modules: all-linear, or comma-separated names (q_proj,v_proj)"),
        },
        "trainer": FreeDict("extra trl.SFTConfig arguments"),
    },
    "dpo": {
        "prompts": F(int, 64, "prompts rolled out for preference pairs (split by env weight)", min=1),
        "env_weights": FreeDict("per-env weights for this stage's prompts, overriding envs.<name>.weight"),
        "samples": F(int, 5, "rollouts sampled at `temperature` per prompt", min=1),
        "greedy": F(bool, True, "add one greedy rollout per prompt (the one most likely to doom-loop)"),
        "temperature": F(float, 1.0, "sampling temperature of the rollouts", min=0.0),
        "top_p": F(float, 1.0, "nucleus sampling of the rollouts", min=0.0, max=1.0),
        "max_new_tokens": F(int, 96, "generation cap per assistant turn", min=1),
        "rollout_batch_size": F(int, 96, "episodes generated together", min=1),
        "rounds": F(int, 1, "on-policy rounds: sample pairs from the current policy, train, sample again from "
                    "the updated policy (pairs and a model per round, each resumable)", min=1),
        "jury": {
            "aggregate": F(str, "mean", "how juror scores combine", choices=("mean", "median")),
            "env_weight": F(float, 1.0, "weight of the env's verifiable reward (rescaled to [0, 1])", min=0.0),
            "ngram_weight": F(float, 1.0, "weight of the n-gram juror (1 + penalty, in [0, 1])", min=0.0),
            "ngram": NGRAM,
            "doom_loop_score": F(float, -1.0, "forced score of a doom-looping rollout (below any juror score)"),
            "tie_tolerance": F(float, 1e-6, "best - worst at or below this is a tie: the group is skipped", min=0.0),
            "judges": ListOf(
                {
                    "name": F(str, None, "a registered judge (lfmgym plugins: judges), e.g. hf or openai"),
                    "weight": F(float, 1.0, "weight of this judge's [0, 1] score", min=0.0),
                    "kwargs": FreeDict("judge factory arguments (model, base_url, rubric, ...)"),
                },
                "optional LLM judges",
            ),
        },
        "beta": F(float, 0.1, "DPO beta", min=0.0),
        "loss_type": F(str, "sigmoid_norm", "TRL DPO loss (the length-normalized sigmoid by default)"),
        "sft_weight": F(float, 0.0, "weight of an NLL term on the chosen replies (TRL loss 'sft' next to loss_type, "
                        "as in RPO/MPO): keeps DPO from pushing the chosen likelihood down with the rejected", min=0.0),
        "learning_rate": F(float, 1e-4, "peak learning rate", min=0.0),
        "epochs": F(float, 2.0, "passes over the pairs", min=0.0),
        "max_steps": F(int, -1, "optimizer steps (-1: use epochs)"),
        "batch_size": F(int, 8, "per-device batch size (pairs)", min=1),
        "gradient_accumulation_steps": F(int, 1, "micro-batches per optimizer step", min=1),
        "lr_scheduler_type": F(str, "constant", "transformers scheduler name"),
        "warmup_ratio": F(float, 0.0, "share of steps spent warming up", min=0.0, max=1.0),
        "max_length": F(int, 1024, "token cap of prompt + completion", min=8),
        "save_steps": F(int, 25, "checkpoint every N steps", min=1),
        "logging_steps": F(int, 5, "log every N steps", min=1),
        "trainer": FreeDict("extra trl.DPOConfig arguments"),
    },
    "grpo": {
        "max_steps": F(int, 40, "optimizer steps", min=1),
        "env_weights": FreeDict("per-env weights for this stage's prompts, overriding envs.<name>.weight "
                                "(e.g. 0 for an env whose reward cannot vary yet: no GRPO signal)"),
        "prompts_per_step": F(int, 4, "distinct prompts per optimizer step (each rolled out num_generations times)", min=1),
        "num_generations": F(int, 8, "group size G", min=2),
        "temperature": F(float, 1.0, "sampling temperature", min=0.0),
        "top_p": F(float, 1.0, "nucleus sampling", min=0.0, max=1.0),
        "learning_rate": F(float, 2e-4, "peak learning rate", min=0.0),
        "beta": F(float, 0.0, "KL coefficient (0: no reference model)", min=0.0),
        "loss_type": F(str, "dapo", "TRL GRPO loss type"),
        "scale_rewards": F(str, "group", "advantage scaling", choices=("group", "batch", "none")),
        "max_new_tokens": F(int, 96, "generation cap per assistant turn", min=1),
        "max_completion_length": F(int, 384, "cap of all assistant + feedback tokens of an episode", min=8),
        "env_weight": F(float, 1.0, "weight of the env's verifiable reward", min=0.0),
        "ngram_weight": F(float, 0.5, "weight of the n-gram repetition penalty", min=0.0),
        "ngram": NGRAM,
        "prompt_pool": F(int, 2000, "training prompts drawn per run (split by env weight)", min=1),
        "lr_scheduler_type": F(str, "constant", "transformers scheduler name"),
        "warmup_ratio": F(float, 0.0, "share of steps spent warming up", min=0.0, max=1.0),
        "save_steps": F(int, 10, "checkpoint every N steps", min=1),
        "logging_steps": F(int, 1, "log every N steps (reward components, parse/tool-call/doom-loop rates)", min=1),
        "use_vllm": F(bool, False, "generate with vLLM (GPU); else transformers generate"),
        "vllm_mode": F(str, "colocate", "vLLM in this process or a `trl vllm-serve` server", choices=("colocate", "server")),
        "vllm_server_base_url": F(str, None, "URL of `trl vllm-serve` (vllm_mode: server)", nullable=True),
        "trainer": FreeDict("extra trl.GRPOConfig arguments"),
    },
}

def stage_weights(cfg: dict, stream: str) -> dict[str, float]:
    """Env weights of a stage: ``envs.<name>.weight``, overridden by ``<stage>.env_weights``
    (any other ``stream``, e.g. ``"tokenizer"``, uses the env weights)."""
    weights = {n: float(e["weight"]) for n, e in cfg["envs"].items()}
    if isinstance(cfg.get(stream), dict):
        weights.update({n: float(w) for n, w in (cfg[stream].get("env_weights") or {}).items()})
    return weights


def _check_semantics(cfg: dict, check_registry: bool) -> None:
    stages = cfg["stages"]
    if not all(isinstance(s, str) for s in stages):
        raise ConfigError(f"stages: expected a list of stage names, got {stages!r}")
    for s in stages:
        if s not in STAGES:
            raise ConfigError(f"stages: unknown stage {s!r}; choose among {list(STAGES)}")
    if len(set(stages)) != len(stages):
        raise ConfigError(f"stages: a stage is listed twice: {stages}")
    if not cfg["envs"]:
        raise ConfigError("envs: name at least one environment, e.g. {math: {weight: 1.0}}")
    if sum(e["weight"] for e in cfg["envs"].values()) <= 0:
        raise ConfigError("envs: at least one env needs a weight > 0")
    for stage in STAGES:
        weights = cfg[stage]["env_weights"]
        for name, w in weights.items():
            if name not in cfg["envs"]:
                raise ConfigError(f"{stage}.env_weights.{name}: not one of the envs {sorted(cfg['envs'])}")
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0:
                raise ConfigError(f"{stage}.env_weights.{name}: expected a number >= 0, got {w!r}")
        if sum(stage_weights(cfg, stage).values()) <= 0:
            raise ConfigError(f"{stage}.env_weights: at least one env needs a weight > 0")
    for i, judge in enumerate(cfg["dpo"]["jury"]["judges"]):
        if not judge["name"]:
            raise ConfigError(f"dpo.jury.judges[{i}].name: required (a registered judge name)")
    if cfg["grpo"]["max_new_tokens"] > cfg["grpo"]["max_completion_length"]:
        raise ConfigError("grpo.max_new_tokens: must be <= grpo.max_completion_length")
    if check_registry:
        _check_model_overrides(cfg["model"])
        from lfmgym.plugins import get_registry

        reg = get_registry()
        for name, env_cfg in cfg["envs"].items():
            try:
                spec = reg.get("envs", name)
            except KeyError as exc:
                raise ConfigError(f"envs.{name}: {exc.args[0]}") from None
            for which in ("kwargs", "eval_kwargs"):
                kwargs = env_cfg[which] if which == "kwargs" or env_cfg[which] else None
                if kwargs is None:
                    continue
                try:
                    spec.factory(**kwargs)
                except TypeError as exc:
                    raise ConfigError(f"envs.{name}.{which}: {exc}") from None
                except ValueError as exc:
                    raise ConfigError(f"envs.{name}.{which}: {exc}") from None
        for i, judge in enumerate(cfg["dpo"]["jury"]["judges"]):
            try:
                reg.get("judges", judge["name"])
            except KeyError as exc:
                raise ConfigError(f"dpo.jury.judges[{i}].name: {exc.args[0]}") from None


def _check_model_overrides(model: dict) -> None:
    """Each ``model.overrides`` entry is an ``Lfm2Config`` field with a sensible value (sizes and
    counts positive), and a preset builds with them: caught at ``--check``, named by field."""
    overrides = model["overrides"]
    if not overrides:
        return
    from transformers import Lfm2Config

    from lfmgym.model.presets import PRESETS, preset_config

    known = Lfm2Config().to_dict()
    for key, value in overrides.items():
        path = f"model.overrides.{key}"
        if key not in known:
            raise ConfigError(f"{path}: not an Lfm2Config field")
        default = known[key]
        if isinstance(default, int) and not isinstance(default, bool):
            low = 0 if key.endswith("_token_id") or default == 0 else 1
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value < 2**31:
                raise ConfigError(f"{path}: expected an integer >= {low}, got {value!r}")
        elif isinstance(default, float) and (isinstance(value, bool) or not isinstance(value, (int, float))
                                             or not math.isfinite(value) or value < 0):
            raise ConfigError(f"{path}: expected a finite number >= 0, got {value!r}")
    if model["name"] in PRESETS:
        try:
            preset_config(model["name"], **overrides)
        except (TypeError, ValueError, KeyError) as exc:
            raise ConfigError(f"model.overrides: {exc}") from None


def check_trainer_args(cfg: dict, *, this_machine: bool = True) -> list[str]:
    """Build every stage's TRL config object exactly as the stage will (``sft_args``, ``dpo_args``,
    ``grpo_args``, into a throwaway directory, no model): a ``<stage>.trainer`` key the stage sets
    itself, a key the class lacks, or a value TRL/transformers reject fails here, named, instead of
    when the stage starts. Imports trl.

    Args:
        this_machine: also check ``model.precision`` against this machine (bf16/fp16 need an
            accelerator); ``False`` checks a config meant for another machine.

    Returns:
        notes on what was not checked (mixed precision away from an accelerator).
    """
    import tempfile

    from lfmgym.stages.dpo import dpo_args
    from lfmgym.stages.grpo import grpo_args
    from lfmgym.stages.sft import sft_args

    notes = []
    if cfg["model"]["precision"] != "fp32" and this_machine:
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"model.precision: {cfg['model']['precision']} needs a GPU and this machine has none "
                              "(fp32 on a CPU)")
    if not this_machine and cfg["model"]["precision"] != "fp32":
        notes.append(f"model.precision: {cfg['model']['precision']} not checked against a GPU")
    with tempfile.TemporaryDirectory(prefix="lfmgym-check-") as tmp:
        for stage, build in (("sft", sft_args), ("dpo", dpo_args), ("grpo", grpo_args)):
            build(cfg, Path(tmp) / stage, this_machine=this_machine)
    return notes


def default_config() -> dict:
    """Every field at its default (``envs`` empty: a config must name its environments)."""
    return defaults(SCHEMA)


def _read(path: str | Path) -> dict:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def load_config(
    config: str | Path | Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
    *,
    check_registry: bool = True,
) -> dict:
    """Read, override and validate a pipeline config; returns the complete config as a dict.

    Args:
        config: a YAML path or an already-loaded mapping (validated the same way).
        overrides: ``{"dotted.path": value}`` applied before validation (e.g. from a sweep).
        check_registry: also check env and judge names (and env kwargs) against the plugin registry.

    Raises:
        ConfigError: the message starts with the dotted path of the offending field.
    """
    raw = _read(config) if isinstance(config, (str, Path)) else copy.deepcopy(dict(config))
    raw = apply_overrides(raw, overrides)
    cfg = validate(raw, SCHEMA, "")
    _check_semantics(cfg, check_registry)
    return cfg


def describe() -> list[tuple[str, str, str]]:
    """``(dotted path, default, help)`` for every pipeline field: the reference printed by the CLI."""
    return describe_schema(SCHEMA)
