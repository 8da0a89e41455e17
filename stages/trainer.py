"""The trainer scaffold the three stages share: one builder of TRL config objects, one training tail.

:func:`trainer_config` builds a stage's ``trl.SFTConfig`` / ``DPOConfig`` / ``GRPOConfig`` from
the arguments every stage sets the same way (output dir, seed, precision, logging, checkpoints,
scheduler, warmup), the stage's own arguments, and the user's ``<stage>.trainer`` extras::

    args = trainer_config(SFTConfig, cfg, "sft", ckpt_dir, own={"max_length": 1024, ...},
                          total_steps=cfg.sft.max_steps)

A ``trainer:`` key that the stage sets itself, a key the class does not have, or a value the
class rejects is a :class:`ConfigError` naming the key: ``lfmgym pipeline --check`` calls the
same stage functions with a throwaway output directory, so a config that passes the check builds
the same objects when the stage starts, hours later.

:func:`train_stage` is the tail: progress callback and ``log.jsonl``, no console printer, train
(resuming from the newest checkpoint, written to ``resume.log``, at the configured learning rate:
:func:`use_configured_learning_rate`), each checkpoint announced to
:func:`lfmgym.reporting.checkpoint` (a sweep's population-based training), save the model.
"""

from __future__ import annotations

import math
import os
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lfmgym.stages.config import ConfigError, PipelineConfig, thaw

__all__ = ["precision_flags", "warmup_arguments", "checkpoint_interval", "trainer_config", "train_stage",
           "use_configured_learning_rate", "OVERRIDABLE", "ALWAYS_RESERVED"]

# Defaults of the stages that a `<stage>.trainer` entry may replace (keep more checkpoints, ...).
OVERRIDABLE: dict[str, Any] = {"save_total_limit": 2}
# Arguments whose values TRL documents but only checks when training starts.
CHOICE_FIELDS = ("loss_type",)
# Arguments a stage may set depending on the config or the machine (precision, warmup on either
# transformers version, CPU process groups): reserved even when this config does not set them.
ALWAYS_RESERVED = frozenset({"warmup_steps", "warmup_ratio", "bf16", "fp16", "use_cpu", "num_train_epochs",
                             "gradient_accumulation_steps", "per_device_train_batch_size"})


def precision_flags(cfg: PipelineConfig, *, this_machine: bool = True) -> dict[str, bool]:
    """TRL's bf16/fp16 flags from ``model.precision`` (TRL defaults to bf16, wrong on a CPU), and
    ``use_cpu`` when several processes run without a GPU (torchrun / ``accelerate launch
    --multi_gpu`` on a CPU box): the trainers' accelerator then joins the same gloo group as the
    pipeline instead of each process training alone.

    ``this_machine=False`` (a check made away from the GPU machine) leaves mixed precision out:
    transformers refuses bf16/fp16 on a machine without an accelerator.
    """
    import torch

    precision = cfg.model.precision
    if not this_machine:
        return {"bf16": False, "fp16": False}
    flags = {"bf16": precision == "bf16", "fp16": precision == "fp16"}
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available():
        flags["use_cpu"] = True
    return flags


def warmup_arguments(ratio: float) -> dict[str, Any]:
    """Warmup of ``ratio`` of the training steps, on every supported transformers version.

    transformers 4 has ``warmup_ratio``; transformers 5 only ``warmup_steps``, read as a ratio of
    its own step count below 1 and as a number of steps from 1 up. So ``ratio`` goes as
    ``warmup_ratio`` where that exists, else as ``warmup_steps`` below 1: a full warmup (1.0) as
    the largest float below 1, whose ceil(steps x ratio) is every step (never "1 step"). The
    trainer applies it to the length it really trains (DPO by epochs included).
    """
    from transformers import TrainingArguments

    ratio = float(ratio)
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"warmup ratio must be in [0, 1], got {ratio}")
    if "warmup_ratio" in TrainingArguments.__dataclass_fields__:
        return {"warmup_ratio": ratio}
    return {"warmup_steps": min(ratio, math.nextafter(1.0, 0.0))}


def checkpoint_interval(save_steps: int, total_steps: int | None) -> int:
    """``save_steps`` clamped so that a stage of ``total_steps`` steps writes a checkpoint before its
    last step (at most every ``total_steps // 2`` steps): a kill past the middle always resumes
    from something. Unknown length: ``save_steps`` unchanged."""
    if total_steps is None or total_steps <= 0:
        return int(save_steps)
    return max(1, min(int(save_steps), total_steps // 2))


def _field_types(config_cls) -> dict[str, Any]:
    try:
        return typing.get_type_hints(config_cls)
    except Exception:  # an annotation this Python cannot resolve: skip the type check
        return {}


def _accepts(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits a dataclass annotation (plain types, unions, lists, dicts, literals;
    anything else is left to the class)."""
    if hint is Any or hint is None:
        return True
    if hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(value, h) for h in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple))
    if origin is dict:
        return isinstance(value, dict)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if isinstance(hint, type) and issubclass(hint, str):  # str enums (SchedulerType, ...) take their values
        return isinstance(value, str)
    return True


def _build(config_cls, kwargs: dict[str, Any]):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return config_cls(**kwargs)


def trainer_config(config_cls, cfg: PipelineConfig, stage: str, output_dir: str | Path, own: dict[str, Any], *,
                   total_steps: int | None = None, fields: dict[str, str] | None = None,
                   reserved: tuple[str, ...] = (), this_machine: bool = True):
    """The stage's TRL config object: shared arguments + ``own`` + ``<stage>.trainer`` extras.

    Args:
        config_cls: ``trl.SFTConfig``, ``DPOConfig`` or ``GRPOConfig``.
        cfg: the pipeline config; its ``stage`` section has ``max_steps``, ``learning_rate``,
            ``lr_scheduler_type``, ``warmup_ratio``, ``save_steps`` and ``logging_steps``.
        own: the stage's own arguments (they may replace a shared one, e.g. ``max_steps``).
        total_steps: optimizer steps of the stage when known (checkpoints are clamped to it).
        fields: ``{argument: config field}`` naming the field behind an argument in errors
            (default: ``<stage>.<argument>`` when that field exists, else ``<stage>``).
        reserved: more arguments the stage sets in some configs only.
        this_machine: check the precision against this machine's hardware.

    Raises:
        ConfigError: a ``trainer:`` key the stage sets, that the class lacks, or whose value does
            not fit or is rejected (``<stage>.trainer.<key>: ...``), or a stage field the class
            rejects (``<stage>.<field>: ...``).
    """
    section = cfg.stage(stage)
    shared = {
        "output_dir": str(output_dir),
        "max_steps": section.max_steps,
        "learning_rate": section.learning_rate,
        "lr_scheduler_type": section.lr_scheduler_type,
        "save_steps": checkpoint_interval(section.save_steps, total_steps),
        "logging_steps": section.logging_steps,
        "report_to": [],
        "disable_tqdm": True,
        "seed": cfg.seed,
        "data_seed": cfg.seed,
        **warmup_arguments(section.warmup_ratio),
        **precision_flags(cfg, this_machine=this_machine),
    }
    kwargs = {**shared, **own}
    extras = thaw(section.trainer)  # plain lists/dicts, as TRL expects them
    name = config_cls.__name__
    fields = {"warmup_steps": f"{stage}.warmup_ratio", "warmup_ratio": f"{stage}.warmup_ratio",
              "bf16": "model.precision", "fp16": "model.precision", "use_cpu": "model.precision",
              **({"per_device_train_batch_size": f"{stage}.batch_size"} if "batch_size" in section else {}),
              **(fields or {})}
    taken = set(kwargs) | ALWAYS_RESERVED | set(reserved)
    known = set(config_cls.__dataclass_fields__)
    hints = _field_types(config_cls)
    for key, value in extras.items():
        path = f"{stage}.trainer.{key}"
        if key in taken:
            field = _field_name(cfg, stage, key, fields)
            hint = f"use {field} instead" if field != stage else f"the {stage} stage decides it"
            raise ConfigError(f"{path}: set by the stage ({hint})")
        if key not in known:
            raise ConfigError(f"{path}: not a trl.{name} argument")
        if key in hints and not _accepts(value, hints[key]):
            raise ConfigError(f"{path}: trl.{name} expects {_hint_name(hints[key])}, got {value!r}")
        if key in CHOICE_FIELDS:
            _check_choice(config_cls, key, value, path)
    for key in CHOICE_FIELDS:
        if key in kwargs:
            _check_choice(config_cls, key, kwargs[key], _field_name(cfg, stage, key, fields))
    defaults = {k: v for k, v in OVERRIDABLE.items() if k in known}
    try:
        return _build(config_cls, {**defaults, **kwargs, **extras})
    except (ValueError, TypeError) as exc:
        raise ConfigError(_blame(config_cls, cfg, stage, {**defaults, **kwargs}, extras, fields, exc)) from None


def documented_choices(config_cls, key: str) -> tuple[str, ...] | None:
    """The values the class's help of ``key`` lists ("Possible values are: 'a', 'b'." /
    "Supported values are 'a' and 'b'."), ``None`` when it lists none: TRL checks some of these
    (loss types) only at the first training step."""
    import re

    field = config_cls.__dataclass_fields__.get(key)
    help_text = field.metadata.get("help", "") if field is not None else ""
    m = re.search(r"(?:Possible|Supported) values are:?(.*?)(?:\.\s|\.$)", help_text, re.S)
    names = tuple(re.findall(r"'([A-Za-z0-9_\-]+)'", m.group(1))) if m else ()
    return names or None


def _check_choice(config_cls, key: str, value: Any, path: str) -> None:
    choices = documented_choices(config_cls, key)
    if choices is None:
        return
    for v in value if isinstance(value, (list, tuple)) else [value]:
        if v not in choices:
            raise ConfigError(f"{path}: {v!r} is not a trl.{config_cls.__name__} {key}; choose among {list(choices)}")


def _field_name(cfg: PipelineConfig, stage: str, key: str, fields: dict[str, str] | None) -> str:
    if fields and key in fields:
        return fields[key]
    return f"{stage}.{key}" if key in cfg.stage(stage) else stage


def _hint_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _blame(config_cls, cfg: PipelineConfig, stage: str, kwargs: dict, extras: dict, fields, exc: Exception) -> str:
    """Name what the class rejected: the one ``trainer:`` key whose removal lets it build, else the
    stage argument (mapped to its config field) whose removal does."""
    name = config_cls.__name__
    msg = f"trl.{name} rejects it: {exc}"

    def builds(kw: dict) -> bool:
        try:
            _build(config_cls, kw)
            return True
        except (ValueError, TypeError):
            return False

    for key in extras:
        if builds({**kwargs, **{k: v for k, v in extras.items() if k != key}}):
            return f"{stage}.trainer.{key}: {msg}"
    if builds(kwargs):
        return f"{stage}.trainer: {msg}"
    for key in kwargs:
        if key != "output_dir" and builds({k: v for k, v in kwargs.items() if k != key}):
            if key in ("bf16", "fp16", "use_cpu"):
                return f"model.precision: {msg}"
            return f"{_field_name(cfg, stage, key, fields)}: {msg}"
    return f"{stage}: {msg}"


def use_configured_learning_rate(optimizer, scheduler, learning_rate: float) -> float | None:
    """Make an optimizer and scheduler restored from a checkpoint run at ``learning_rate`` (the
    configured peak rate) instead of the checkpoint's; returns the checkpoint's peak rate when it
    differed, else ``None``.

    ``Trainer`` builds both from the arguments, then loads their states from the checkpoint: the
    param groups' ``lr``/``initial_lr`` and the scheduler's ``base_lrs`` come back as they were
    saved, so a stage continued with another learning rate (population-based training) would run
    on at the old one. This rescales the peak rates (param groups keep their ratios) and sets each
    group's current rate to what the schedule gives at the restored step. A scheduler without
    ``base_lrs`` (DeepSpeed's) is left alone.
    """
    base = list(getattr(scheduler, "base_lrs", None) or [])
    if not base or base[0] == learning_rate:
        return None
    peaks = [b * learning_rate / base[0] for b in base] if base[0] else [float(learning_rate)] * len(base)
    lambdas = getattr(scheduler, "lr_lambdas", None)  # transformers' schedules are LambdaLRs
    for i, group in enumerate(optimizer.param_groups):
        old = group["lr"]
        group["initial_lr"] = peaks[i]
        if lambdas is not None:
            group["lr"] = peaks[i] * lambdas[i](scheduler.last_epoch)
        else:
            group["lr"] = old * peaks[i] / base[i] if base[i] else peaks[i]
    scheduler.base_lrs = peaks
    scheduler._last_lr = [g["lr"] for g in optimizer.param_groups]
    return base[0]


def _checkpoint_callback(stage_dir: Path, *, resumed: bool):
    """Announces each saved checkpoint to :func:`lfmgym.reporting.checkpoint` (a sweep engine may
    hand it to another trial), and on a resume makes the restored optimizer use the configured
    learning rate (:func:`use_configured_learning_rate`; ``resume.log`` says when it changed)."""
    from transformers import TrainerCallback

    from lfmgym import reporting

    class _Callback(TrainerCallback):
        def on_train_begin(self, args, state, control, optimizer=None, lr_scheduler=None, **kwargs):
            if resumed and optimizer is not None and lr_scheduler is not None:
                old = use_configured_learning_rate(optimizer, lr_scheduler, args.learning_rate)
                if old is not None and state.is_world_process_zero:
                    with open(stage_dir / "resume.log", "a") as fh:
                        fh.write(f"learning rate {args.learning_rate:g} (the checkpoint's was {old:g})\n")

        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                reporting.checkpoint(path, state.global_step, stage_dir.name)

    return _Callback()


def train_stage(trainer, tokenizer, stage_dir: Path, progress, *, phase: str, total: int | None,
                summary_keys: tuple[str, ...] = ("loss",),
                save: Callable[[Any, Any, Path], Path] | None = None) -> Path:
    """The training tail of every stage: progress + ``log.jsonl`` callback, no console printer,
    ``train`` resumed from the newest checkpoint in ``stage_dir/checkpoints`` (``resume.log``
    says which), then ``save(trainer, tokenizer, stage_dir / "model")`` (default: the trainer's
    model, gathered and saved atomically). Returns the saved model's directory."""
    from lfmgym.stages import common

    common.quiet_trainer(trainer)
    trainer.add_callback(common.trainer_callback(progress, stage_dir / "log.jsonl", summary_keys))
    checkpoint = common.resume_point(stage_dir, progress)
    trainer.add_callback(_checkpoint_callback(stage_dir, resumed=checkpoint is not None))
    with progress.phase(phase, total=total):
        trainer.train(resume_from_checkpoint=checkpoint)
    return (save or common.save_trained)(trainer, tokenizer, stage_dir / "model")
