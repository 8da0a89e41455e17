"""Cold-start SFT: TRL's ``SFTTrainer`` on the environments' gold demonstrations.

The seed talk's lesson: small models are sensitive to cold-start data, and every task that RL
will train needs matching SFT examples. So the dataset is ``env.demonstrate(task)`` for tasks
of *every* env in the mixture (split by the env weights), in TRL's conversational format::

    {"messages": [{"role": "system", ...}, {"role": "user", ...},
                  {"role": "assistant", "content": "<|tool_call_start|>[calculator(...)]<|tool_call_end|>"},
                  {"role": "tool", "content": "579"}, {"role": "assistant", "content": "Answer: 579"}]}

The env renders its tool schemas into the system message itself (``List of tools: [...]``,
LFM2's layout), exactly as the model sees them when it plays the env, so the rows carry no
separate ``tools`` column (the template would render the tools a second time).

Loss: ``assistant_only_loss=True`` — only assistant tokens (including their end-of-turn token)
are trained; the chat template's ``{% generation %}`` markers delimit them. The training template
comes from :func:`lfmgym.model.templates.training_chat_template`: TRL's patch for the families it
knows, else the behaviour-identical ChatML one (SmolLM2 and other ChatML models).

Full fine-tuning by default; ``sft.lora.enabled`` trains LoRA adapters (``peft``) instead and
merges them into the saved model, so the next stage and the evaluation see a plain checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lfmgym.stages.cold_start import cold_start_callback
from lfmgym.stages.common import StageProgress, make_env, mixture_tasks
from lfmgym.stages.config import ConfigError, PipelineConfig
from lfmgym.stages.trainer import train_stage, trainer_config

__all__ = ["build_sft_dataset", "sft_rows", "length_grouping", "lora_config", "sft_args", "run_sft"]


def sft_rows(cfg: PipelineConfig, n: int | None = None) -> list[dict[str, Any]]:
    """``n`` (default ``sft.examples``) conversational rows ``{"messages", "env", "task_id"}``."""
    n = int(n if n is not None else cfg.sft.examples)
    envs = {name: make_env(name, env.kwargs) for name, env in cfg.envs.items()}
    rows = []
    for name, task in mixture_tasks(cfg, n, "sft"):
        rows.append({"messages": envs[name].demonstrate(task), "env": name, "task_id": task.id})
    return rows


def build_sft_dataset(cfg: PipelineConfig, n: int | None = None):
    """The cold-start dataset as a ``datasets.Dataset`` (columns: messages, env, task_id)."""
    from datasets import Dataset

    return Dataset.from_list(sft_rows(cfg, n))


def length_grouping(enabled: bool) -> dict[str, Any]:
    """SFTConfig arguments for length-grouped batches (the name changed in transformers 5).

    Env mixtures mix 70-token and 500-token rows, so random batches are mostly padding.
    """
    if not enabled:
        return {}
    from trl import SFTConfig

    if "train_sampling_strategy" in SFTConfig.__dataclass_fields__:
        return {"train_sampling_strategy": "group_by_length"}
    return {"group_by_length": True}


def lora_config(cfg: PipelineConfig):
    """The ``peft.LoraConfig`` of ``sft.lora``, or ``None`` when LoRA is off (full fine-tuning)."""
    lora = cfg.sft.lora
    if not lora.enabled:
        return None
    try:
        from peft import LoraConfig
    except ImportError:
        raise ConfigError("sft.lora.enabled: needs the `peft` package (pip install peft)") from None
    targets = lora.target_modules.strip()
    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",") if t.strip()],
        task_type="CAUSAL_LM",
    )


def _save_merged(trainer, tokenizer, path: Path) -> Path:
    """Merge the LoRA adapters into the base weights and save a plain checkpoint (main process)."""
    from lfmgym.stages.common import save_model

    if trainer.accelerator.is_main_process:
        model = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
        save_model(model, tokenizer, path)
    trainer.accelerator.wait_for_everyone()
    return path


def sft_args(cfg: PipelineConfig, output_dir: Path, *, this_machine: bool = True):
    """The ``trl.SFTConfig`` of the ``sft`` section (also built by ``lfmgym pipeline --check``)."""
    from trl import SFTConfig

    sft = cfg.sft
    own = {
        "per_device_train_batch_size": sft.batch_size,
        "gradient_accumulation_steps": sft.gradient_accumulation_steps,
        "weight_decay": sft.weight_decay,
        "max_length": sft.max_length,
        "assistant_only_loss": True,
        "packing": False,
        **length_grouping(sft.group_by_length),
    }
    return trainer_config(SFTConfig, cfg, "sft", output_dir, own, total_steps=sft.max_steps,
                          fields={"per_device_train_batch_size": "sft.batch_size",
                                  "train_sampling_strategy": "sft.group_by_length"},
                          reserved=("group_by_length", "train_sampling_strategy"), this_machine=this_machine)


def run_sft(cfg: PipelineConfig, model_dir: Path, stage_dir: Path, progress: StageProgress | None = None) -> Path:
    """Train from ``model_dir`` with the SFT settings of ``cfg``; returns ``stage_dir/model``.

    Checkpoints go to ``stage_dir/checkpoints`` every ``sft.save_steps``; an interrupted run
    resumes from the newest one.
    """
    from trl import SFTTrainer

    from lfmgym.stages.common import load_model

    progress = progress or StageProgress(enabled=False)
    from lfmgym.model.templates import training_chat_template

    model, tokenizer = load_model(model_dir)
    try:
        template = training_chat_template(tokenizer)
    except ValueError as exc:
        raise ConfigError(f"model.name: {exc}") from None
    if template is not None:
        tokenizer.chat_template = template
    peft_config = lora_config(cfg)
    dataset = build_sft_dataset(cfg)
    trainer = SFTTrainer(model=model, args=sft_args(cfg, stage_dir / "checkpoints"), train_dataset=dataset,
                         processing_class=tokenizer, peft_config=peft_config)
    stop = cold_start_callback(cfg, tokenizer, stage_dir)
    if stop is not None:
        trainer.add_callback(stop)
    return train_stage(trainer, tokenizer, stage_dir, progress, phase="sft: training", total=cfg.sft.max_steps,
                       summary_keys=("loss", "mean_token_accuracy"),
                       save=_save_merged if peft_config is not None else None)
