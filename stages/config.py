"""Pipeline configuration: one YAML file (or dict) for the model, the env mixture and every stage.

:func:`load_config` fills defaults, applies dotted-path overrides (``{"sft.learning_rate": 3e-4}``,
the hook a sweep uses), validates everything up front and returns a frozen, typed
:class:`PipelineConfig`, so a typo fails in a second with the field's full path instead of an hour
into a run::

    cfg = load_config("configs/smoke.yaml", overrides={"grpo.num_generations": 4})
    cfg.sft.learning_rate          # typed attributes; cfg.sft.learning_rate = 1 raises
    cfg.envs["math"].kwargs        # a read-only mapping (thaw() it to hand it on)
    cfg.to_dict()                  # the plain nested dict: JSON/YAML, fingerprints, config.json
    load_config(cfg, {"sft.max_steps": 50})   # a changed copy, checked like a file

(``cfg["sft"]["learning_rate"]`` still reads, for scripts written against the plain dict; nothing
writes.)

The section classes below *are* the documentation of every field (their annotations are the types;
``lfmgym pipeline --show-config`` prints them with defaults and help). ``trainer`` sub-dicts pass
extra arguments straight to TRL's ``SFTConfig`` / ``DPOConfig`` / ``GRPOConfig``;
:func:`check_trainer_args` builds those objects the way the stages do, so a key the stage sets
itself or a value TRL rejects fails the check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lfmgym.stages.schema import (
    ConfigError,
    FrozenDict,
    Section,
    apply_overrides,
    config_diff,
    free_dict,
    listed,
    named,
    setting,
    thaw,
)
from lfmgym.stages.schema import describe as describe_section

__all__ = ["ConfigError", "STAGES", "PipelineConfig", "ModelSettings", "EnvSettings", "EvalSettings",
           "RolloutSettings", "SFTSettings", "LoraSettings", "DPOSettings", "JurySettings", "JudgeSettings",
           "GRPOSettings", "NgramSettings", "load_config", "default_config", "apply_overrides", "config_diff",
           "describe", "stage_weights", "check_trainer_args", "thaw"]

STAGES = ("sft", "dpo", "grpo")


@dataclass(frozen=True)
class NgramSettings(Section):
    """The n-gram repetition penalty (DPO juror, GRPO reward)."""

    n: int = setting(3, "n-gram size of the repetition penalty", min=1)
    max_penalty: float = setting(-1.0, "penalty of a fully repetitive completion (<= 0)", max=0.0)
    # Words by default: over the few tokens of a short answer, token trigrams repeat by chance
    # (the digits of 1166), which would punish correct answers; a repeated word trigram is real repetition.
    unit: str = setting("word", "count n-grams over words or generated token ids", choices=("word", "token"))


@dataclass(frozen=True)
class ModelSettings(Section):
    """The starting model."""

    name: str = setting("tiny", "a preset (tiny, small, ...: trained from scratch), a local directory or a hub id")
    tokenizer: str | None = setting(None, "tokenizer dir/id for a preset; default: train one on the envs' text")
    tokenizer_examples: int = setting(1500, "demonstrations per env used to train a from-scratch tokenizer", min=1)
    overrides: FrozenDict = free_dict("Lfm2Config overrides of a preset, e.g. {num_hidden_layers: 4}")
    precision: str = setting("fp32", "training precision: fp32, or bf16/fp16 mixed precision (GPU)",
                             choices=("fp32", "bf16", "fp16"))


@dataclass(frozen=True)
class EnvSettings(Section):
    """One environment of the mixture."""

    weight: float = setting(1.0, "mixture weight of this env in SFT/DPO/GRPO data", min=0.0)
    kwargs: FrozenDict = free_dict("env constructor arguments (difficulty, tool_format, max_turns, ...)")
    eval_kwargs: FrozenDict = free_dict("constructor arguments for the held-out eval env (default: kwargs)")


@dataclass(frozen=True)
class EvalSettings(Section):
    """The held-out evaluation after each stage."""

    n: int = setting(32, "held-out tasks per env", min=1)
    seed: int = setting(1_000_003, "seed of the held-out tasks (never used for training tasks)", min=0, max=2**32 - 1)
    max_new_tokens: int = setting(96, "generation cap per assistant turn", min=1)
    temperature: float = setting(1.0, "temperature of the sampled pass (doom_loop_sampled)", min=0.0)
    top_p: float = setting(1.0, "nucleus sampling of the sampled pass", min=0.0, max=1.0)
    batch_size: int = setting(96, "episodes generated together", min=1)
    sampled: bool = setting(True, "also run the sampled pass (needed for doom_loop_sampled)")
    stop_loops: bool = setting(False, "end a turn as soon as it is a confirmed doom loop (counted as one; "
                                      "loop_tokens_saved in the rows and episodes.jsonl); off: the rows stay "
                                      "comparable with runs that generated every turn to the cap")


@dataclass(frozen=True)
class RolloutSettings(Section):
    """Limits of every rollout (DPO sampling, GRPO, evaluation)."""

    max_step_s: float | None = setting(None, "wall-clock limit of one env step (tool call, sandbox cell, search); "
                                       "past it the episode ends truncated (step_timeout)", min=0.0)
    max_episode_s: float | None = setting(None, "wall-clock limit of one episode (episode_timeout)", min=0.0)
    max_episode_tokens: int | None = setting(None, "generated tokens per episode, all turns (token_budget)", min=1)
    workers: int = setting(16, "threads running env resets and steps next to generation", min=1)


@dataclass(frozen=True)
class LoraSettings(Section):
    """LoRA adapters for SFT."""

    enabled: bool = setting(False, "train LoRA adapters (peft) instead of all weights; merged into the saved model")
    r: int = setting(16, "LoRA rank", min=1)
    alpha: int = setting(32, "LoRA alpha (scale alpha / r)", min=1)
    dropout: float = setting(0.0, "dropout on the LoRA input", min=0.0, max=1.0)
    target_modules: str = setting("all-linear", "peft target_modules: all-linear, or comma-separated names "
                                  "(q_proj,v_proj)")


@dataclass(frozen=True)
class StopAtSettings(Section):
    """Stop SFT at a cold start (lfmgym.stages.cold_start): once greedy success on an env's dev
    tasks reaches a share, whatever the seed; ``max_steps`` stays the cap."""

    env: str | None = setting(None, "env whose dev-task success ends SFT (null: train max_steps)")
    success: float = setting(0.5, "greedy success on the dev tasks that ends SFT", min=0.0, max=1.0)
    every: int = setting(10, "check every N optimizer steps", min=1)
    after: int = setting(0, "first step checked", min=0)
    tasks: int = setting(16, "dev tasks (their own stream: never the held-out ones)", min=1)


@dataclass(frozen=True)
class SFTSettings(Section):
    """The cold-start SFT stage."""

    examples: int = setting(2000, "demonstrations in the cold-start dataset (split by env weight)", min=1)
    env_weights: FrozenDict = free_dict("per-env weights for this stage's data, overriding envs.<name>.weight")
    max_steps: int = setting(200, "optimizer steps", min=1)
    learning_rate: float = setting(1e-3, "peak learning rate", min=0.0)
    batch_size: int = setting(16, "per-device batch size", min=1)
    gradient_accumulation_steps: int = setting(1, "micro-batches per optimizer step", min=1)
    lr_scheduler_type: str = setting("cosine", "transformers scheduler name")
    warmup_ratio: float = setting(0.05, "share of steps spent warming up", min=0.0, max=1.0)
    weight_decay: float = setting(0.0, "AdamW weight decay", min=0.0)
    max_length: int = setting(1024, "token cap of a training sequence", min=8)
    group_by_length: bool = setting(False, "batch rows of similar length together: less padding (2.2x faster per "
                                    "step on the demo's mixture, benchmarks/bench_sft_batching.py), but a "
                                    "different data order: on the demo it learned slower per step")
    save_steps: int = setting(50, "checkpoint every N steps (resume point)", min=1)
    logging_steps: int = setting(10, "log every N steps", min=1)
    lora: LoraSettings = LoraSettings()
    stop_at: StopAtSettings = StopAtSettings()
    trainer: FrozenDict = free_dict("extra trl.SFTConfig arguments")


@dataclass(frozen=True)
class JudgeSettings(Section):
    """One LLM judge of the DPO jury."""

    name: str | None = setting(None, "a registered judge (lfmgym plugins: judges), e.g. hf or openai")
    weight: float = setting(1.0, "weight of this judge's [0, 1] score", min=0.0)
    kwargs: FrozenDict = free_dict("judge factory arguments (model, base_url, rubric, ...)")


@dataclass(frozen=True)
class JurySettings(Section):
    """The jury that ranks DPO rollouts into preference pairs."""

    aggregate: str = setting("mean", "how juror scores combine", choices=("mean", "median"))
    env_weight: float = setting(1.0, "weight of the env's verifiable reward (rescaled to [0, 1])", min=0.0)
    ngram_weight: float = setting(1.0, "weight of the n-gram juror (1 + penalty, in [0, 1])", min=0.0)
    ngram: NgramSettings = NgramSettings()
    doom_loop_score: float = setting(-1.0, "forced score of a doom-looping rollout (below any juror score)")
    tie_tolerance: float = setting(1e-6, "best - worst at or below this is a tie: the group is skipped", min=0.0)
    judges: tuple[JudgeSettings, ...] = listed("optional LLM judges")


@dataclass(frozen=True)
class DPOSettings(Section):
    """The on-policy DPO stage."""

    prompts: int = setting(64, "prompts rolled out for preference pairs (split by env weight)", min=1)
    env_weights: FrozenDict = free_dict("per-env weights for this stage's prompts, overriding envs.<name>.weight")
    samples: int = setting(5, "rollouts sampled at `temperature` per prompt", min=1)
    greedy: bool = setting(True, "add one greedy rollout per prompt (the one most likely to doom-loop)")
    temperature: float = setting(1.0, "sampling temperature of the rollouts", min=0.0)
    top_p: float = setting(1.0, "nucleus sampling of the rollouts", min=0.0, max=1.0)
    max_new_tokens: int = setting(96, "generation cap per assistant turn", min=1)
    rollout_batch_size: int = setting(96, "episodes generated together", min=1)
    rounds: int = setting(1, "on-policy rounds: sample pairs from the current policy, train, sample again from "
                          "the updated policy (pairs and a model per round, each resumable)", min=1)
    jury: JurySettings = JurySettings()
    beta: float = setting(0.1, "DPO beta", min=0.0)
    loss_type: str = setting("sigmoid_norm", "TRL DPO loss (the length-normalized sigmoid by default)")
    sft_weight: float = setting(0.0, "weight of an NLL term on the chosen replies (TRL loss 'sft' next to "
                                "loss_type, as in RPO/MPO): keeps DPO from pushing the chosen likelihood down "
                                "with the rejected", min=0.0)
    learning_rate: float = setting(1e-4, "peak learning rate", min=0.0)
    epochs: float = setting(2.0, "passes over the pairs", min=0.0)
    max_steps: int = setting(-1, "optimizer steps (-1: use epochs)")
    batch_size: int = setting(8, "per-device batch size (pairs)", min=1)
    gradient_accumulation_steps: int = setting(1, "micro-batches per optimizer step", min=1)
    lr_scheduler_type: str = setting("constant", "transformers scheduler name")
    warmup_ratio: float = setting(0.0, "share of steps spent warming up", min=0.0, max=1.0)
    max_length: int = setting(1024, "token cap of prompt + completion", min=8)
    save_steps: int = setting(25, "checkpoint every N steps", min=1)
    logging_steps: int = setting(5, "log every N steps", min=1)
    trainer: FrozenDict = free_dict("extra trl.DPOConfig arguments")


@dataclass(frozen=True)
class GRPOSettings(Section):
    """The GRPO stage."""

    max_steps: int = setting(40, "optimizer steps", min=1)
    env_weights: FrozenDict = free_dict("per-env weights for this stage's prompts, overriding envs.<name>.weight "
                                        "(e.g. 0 for an env whose reward cannot vary yet: no GRPO signal)")
    prompts_per_step: int = setting(4, "distinct prompts per optimizer step (each rolled out num_generations "
                                    "times)", min=1)
    num_generations: int = setting(8, "group size G", min=2)
    temperature: float = setting(1.0, "sampling temperature", min=0.0)
    top_p: float = setting(1.0, "nucleus sampling", min=0.0, max=1.0)
    learning_rate: float = setting(2e-4, "peak learning rate", min=0.0)
    beta: float = setting(0.0, "KL coefficient (0: no reference model)", min=0.0)
    loss_type: str = setting("dapo", "TRL GRPO loss type")
    scale_rewards: str = setting("group", "advantage scaling", choices=("group", "batch", "none"))
    max_new_tokens: int = setting(96, "generation cap per assistant turn", min=1)
    max_completion_length: int = setting(384, "cap of all assistant + feedback tokens of an episode", min=8)
    env_weight: float = setting(1.0, "weight of the env's verifiable reward", min=0.0)
    ngram_weight: float = setting(0.5, "weight of the n-gram repetition penalty", min=0.0)
    ngram: NgramSettings = NgramSettings()
    loop_weight: float = setting(0.0, "weight of the episode-loop penalty (-1 when the episode loops in a turn "
                                      "or across turns; 0: logged as env/loop only)", min=0.0)
    stop_loops: bool = setting(False, "end a rollout turn as soon as it is a confirmed doom loop (transformers "
                                      "generation only; the turn still counts as a loop)")
    prompt_pool: int = setting(2000, "training prompts drawn per run (split by env weight)", min=1)
    lr_scheduler_type: str = setting("constant", "transformers scheduler name")
    warmup_ratio: float = setting(0.0, "share of steps spent warming up", min=0.0, max=1.0)
    save_steps: int = setting(10, "checkpoint every N steps", min=1)
    logging_steps: int = setting(1, "log every N steps (reward components, parse/tool-call/doom-loop rates)", min=1)
    use_vllm: bool = setting(False, "generate with vLLM (GPU); else transformers generate")
    vllm_mode: str = setting("colocate", "vLLM in this process or a `trl vllm-serve` server",
                             choices=("colocate", "server"))
    vllm_server_base_url: str | None = setting(None, "URL of `trl vllm-serve` (vllm_mode: server)")
    trainer: FrozenDict = free_dict("extra trl.GRPOConfig arguments")


@dataclass(frozen=True)
class PipelineConfig(Section):
    """The whole pipeline: model, env mixture, evaluation, rollout limits and the three stages."""

    seed: int = setting(0, "seed of task sampling, model init and trainers", min=0, max=2**32 - 1)
    threads: int | None = setting(None, "torch CPU threads (null: torch's default); 1 is fastest for tiny models "
                                  "on a busy CPU", min=1)
    model: ModelSettings = ModelSettings()
    envs: Mapping[str, EnvSettings] = named("environments to train and evaluate on, by registry name")
    stages: tuple[str, ...] = setting(STAGES, "stages to run, in order (any subset of sft, dpo, grpo)")
    eval: EvalSettings = EvalSettings()
    rollout: RolloutSettings = RolloutSettings()
    sft: SFTSettings = SFTSettings()
    dpo: DPOSettings = DPOSettings()
    grpo: GRPOSettings = GRPOSettings()

    def stage(self, name: str) -> SFTSettings | DPOSettings | GRPOSettings:
        """The section of stage ``name`` (one of :data:`STAGES`)."""
        if name not in STAGES:
            raise KeyError(f"unknown stage {name!r}; stages are {list(STAGES)}")
        return getattr(self, name)


def stage_weights(cfg: PipelineConfig, stream: str) -> dict[str, float]:
    """Env weights of a stage: ``envs.<name>.weight``, overridden by ``<stage>.env_weights``
    (any other ``stream``, e.g. ``"tokenizer"``, uses the env weights)."""
    weights = {name: float(env.weight) for name, env in cfg.envs.items()}
    if stream in STAGES:
        weights.update({name: float(w) for name, w in cfg.stage(stream).env_weights.items()})
    return weights


def _check_semantics(cfg: PipelineConfig, check_registry: bool) -> None:
    for stage in cfg.stages:
        if stage not in STAGES:
            raise ConfigError(f"stages: unknown stage {stage!r}; choose among {list(STAGES)}")
    if len(set(cfg.stages)) != len(cfg.stages):
        raise ConfigError(f"stages: a stage is listed twice: {list(cfg.stages)}")
    if not cfg.envs:
        raise ConfigError("envs: name at least one environment, e.g. {math: {weight: 1.0}}")
    if sum(env.weight for env in cfg.envs.values()) <= 0:
        raise ConfigError("envs: at least one env needs a weight > 0")
    for stage in STAGES:
        for name, w in cfg.stage(stage).env_weights.items():
            if name not in cfg.envs:
                raise ConfigError(f"{stage}.env_weights.{name}: not one of the envs {sorted(cfg.envs)}")
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0:
                raise ConfigError(f"{stage}.env_weights.{name}: expected a number >= 0, got {w!r}")
        if sum(stage_weights(cfg, stage).values()) <= 0:
            raise ConfigError(f"{stage}.env_weights: at least one env needs a weight > 0")
    stop_env = cfg.sft.stop_at.env
    if stop_env is not None and stop_env not in cfg.envs:
        raise ConfigError(f"sft.stop_at.env: {stop_env!r} is not one of the envs {sorted(cfg.envs)}")
    for i, judge in enumerate(cfg.dpo.jury.judges):
        if not judge.name:
            raise ConfigError(f"dpo.jury.judges[{i}].name: required (a registered judge name)")
    if cfg.grpo.max_new_tokens > cfg.grpo.max_completion_length:
        raise ConfigError("grpo.max_new_tokens: must be <= grpo.max_completion_length")
    if check_registry:
        _check_model_overrides(cfg.model)
        from lfmgym.plugins import get_registry

        reg = get_registry()
        for name, env in cfg.envs.items():
            try:
                spec = reg.get("envs", name)
            except KeyError as exc:
                raise ConfigError(f"envs.{name}: {exc.args[0]}") from None
            for which in ("kwargs", "eval_kwargs"):
                kwargs = getattr(env, which)
                if which == "eval_kwargs" and not kwargs:
                    continue
                try:
                    spec.factory(**thaw(kwargs))
                except TypeError as exc:
                    raise ConfigError(f"envs.{name}.{which}: {exc}") from None
                except ValueError as exc:
                    raise ConfigError(f"envs.{name}.{which}: {exc}") from None
        for i, judge in enumerate(cfg.dpo.jury.judges):
            try:
                reg.get("judges", judge.name)
            except KeyError as exc:
                raise ConfigError(f"dpo.jury.judges[{i}].name: {exc.args[0]}") from None


def _check_model_overrides(model: ModelSettings) -> None:
    """Each ``model.overrides`` entry is an ``Lfm2Config`` field with a sensible value (sizes and
    counts positive), and a preset builds with them: caught at ``--check``, named by field."""
    overrides = thaw(model.overrides)
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
    if model.name in PRESETS:
        try:
            preset_config(model.name, **overrides)
        except (TypeError, ValueError, KeyError) as exc:
            raise ConfigError(f"model.overrides: {exc}") from None


def check_trainer_args(cfg: PipelineConfig, *, this_machine: bool = True) -> list[str]:
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
    precision = cfg.model.precision
    if precision != "fp32" and this_machine:
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"model.precision: {precision} needs a GPU and this machine has none (fp32 on a CPU)")
    if not this_machine and precision != "fp32":
        notes.append(f"model.precision: {precision} not checked against a GPU")
    with tempfile.TemporaryDirectory(prefix="lfmgym-check-") as tmp:
        for stage, build in (("sft", sft_args), ("dpo", dpo_args), ("grpo", grpo_args)):
            build(cfg, Path(tmp) / stage, this_machine=this_machine)
    return notes


def default_config() -> PipelineConfig:
    """Every field at its default (``envs`` empty: a config must name its environments)."""
    return PipelineConfig()


def _read(path: str | Path) -> dict:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        from lfmgym.yaml_errors import yaml_error_line

        raise ConfigError(yaml_error_line(path, exc)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


def load_config(
    config: str | Path | Mapping[str, Any] | PipelineConfig,
    overrides: Mapping[str, Any] | None = None,
    *,
    check_registry: bool = True,
) -> PipelineConfig:
    """Read, override and validate a pipeline config; returns the complete, frozen config.

    Args:
        config: a YAML path, an already-loaded mapping or a :class:`PipelineConfig` (each
            validated the same way).
        overrides: ``{"dotted.path": value}`` applied before validation (e.g. from a sweep).
        check_registry: also check env and judge names (and env kwargs) against the plugin registry.

    Raises:
        ConfigError: the message starts with the dotted path of the offending field.
    """
    raw = _read(config) if isinstance(config, (str, Path)) else thaw(config)
    raw = apply_overrides(raw, overrides)  # dotted paths land in the plain dict, before freezing
    cfg = PipelineConfig.from_dict(raw)
    _check_semantics(cfg, check_registry)
    return cfg


def describe() -> list[tuple[str, str, str, str]]:
    """``(dotted path, type, default, help)`` for every field of :class:`PipelineConfig`: the reference
    printed by ``lfmgym pipeline --show-config``."""
    return describe_section(PipelineConfig)
