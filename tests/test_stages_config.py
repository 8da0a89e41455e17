"""`lfmgym pipeline --check` builds the stages' TRL configs: a `trainer:` key a stage sets itself,
or a value TRL/transformers reject, fails the check naming the key (one case per collision
class); warmup is a ratio; checkpoint intervals fit the stage."""

from __future__ import annotations

import math

import pytest
from transformers import TrainingArguments

from lfmgym.cli import main
from lfmgym.stages.config import ConfigError, check_trainer_args, load_config
from lfmgym.stages.dpo import dpo_args
from lfmgym.stages.grpo import grpo_args
from lfmgym.stages.sft import sft_args
from lfmgym.stages.trainer import checkpoint_interval, warmup_arguments

SMOKE = "configs/smoke.yaml"


def check(capsys, *sets: str) -> tuple[int, str]:
    args = ["pipeline", SMOKE, "--check"] + [a for s in sets for a in ("--set", s)]
    code = main(args)
    return code, " ".join(capsys.readouterr().out.split())  # rich wraps long lines


@pytest.mark.parametrize("stage, key, value, use", [
    # shared arguments every stage sets (output, seed, schedule, logging, checkpoints)
    ("sft", "warmup_steps", 5, "sft.warmup_ratio"),
    ("dpo", "warmup_ratio", 0.1, "dpo.warmup_ratio"),
    ("grpo", "lr_scheduler_type", "linear", "grpo.lr_scheduler_type"),
    ("sft", "save_steps", 3, "sft.save_steps"),
    ("dpo", "seed", 3, None),
    ("grpo", "report_to", "wandb", None),
    ("sft", "output_dir", "/tmp/elsewhere", None),
    # the stage's own fields
    ("sft", "gradient_accumulation_steps", 4, "sft.gradient_accumulation_steps"),
    ("dpo", "max_length", 64, "dpo.max_length"),
    ("sft", "weight_decay", 0.1, "sft.weight_decay"),
    ("dpo", "num_train_epochs", 5, "dpo.epochs"),
    ("grpo", "max_completion_length", 64, "grpo.max_completion_length"),
    ("grpo", "scale_rewards", "batch", "grpo.scale_rewards"),
    ("dpo", "per_device_train_batch_size", 4, "dpo.batch_size"),
    # settings the stage fixes by design
    ("sft", "assistant_only_loss", False, None),
    ("sft", "packing", True, None),
    ("grpo", "mask_truncated_completions", True, None),
    # set only in some configs or on some machines
    ("sft", "bf16", True, "model.precision"),
    ("grpo", "use_cpu", True, "model.precision"),
    ("grpo", "use_vllm", True, "grpo.use_vllm"),
    ("grpo", "vllm_mode", "server", "grpo.vllm_mode"),
    ("grpo", "reward_weights", [1.0], "grpo.env_weight / grpo.ngram_weight / grpo.loop_weight"),
    ("dpo", "loss_weights", [1.0, 0.5], "dpo.sft_weight"),
    ("sft", "group_by_length", True, "sft.group_by_length"),
])
def test_a_key_the_stage_sets_fails_the_check(capsys, stage, key, value, use):
    code, out = check(capsys, f"{stage}.trainer={{{key}: {value!r}}}".replace("'", '"'))
    assert code == 2
    assert f"{stage}.trainer.{key}: set by the stage" in out
    if use:
        assert f"use {use} instead" in out


@pytest.mark.parametrize("sets, message", [
    (["sft.trainer={max_grad_nrm: 0.5}"], "sft.trainer.max_grad_nrm: not a trl.SFTConfig argument"),
    (["sft.trainer={max_grad_norm: big}"], "sft.trainer.max_grad_norm: trl.SFTConfig expects float, got 'big'"),
    (["dpo.trainer={optim: adamw_nope}"], "dpo.trainer.optim: trl.DPOConfig rejects it: adamw_nope"),
    (["sft.lr_scheduler_type=cosin"], "sft.lr_scheduler_type: trl.SFTConfig rejects it: cosin"),
    (["grpo.loss_type=gpro"], "grpo.loss_type: 'gpro' is not a trl.GRPOConfig loss_type"),
    (["dpo.loss_type=sigmoid_nrom"], "dpo.loss_type: 'sigmoid_nrom' is not a trl.DPOConfig loss_type"),
    (["dpo.trainer={loss_type: hinge}"], "dpo.trainer.loss_type: set by the stage (use dpo.loss_type instead)"),
])
def test_a_value_trl_rejects_fails_the_check(capsys, sets, message):
    code, out = check(capsys, *sets)
    assert code == 2 and message in out, out


def test_free_trainer_keys_pass_and_reach_the_trainer(capsys, tmp_path):
    code, out = check(capsys, "sft.trainer={max_grad_norm: 0.5, save_total_limit: 5}", "grpo.trainer={epsilon: 0.3}")
    assert code == 0 and "ok" in out
    cfg = load_config(SMOKE, {"sft.trainer": {"max_grad_norm": 0.5, "save_total_limit": 5}})
    args = sft_args(cfg, tmp_path)
    assert args.max_grad_norm == 0.5 and args.save_total_limit == 5  # a default the user may replace
    assert sft_args(load_config(SMOKE), tmp_path).save_total_limit == 2


@pytest.mark.parametrize("ratio", [0.0, 0.05, 0.5, 1.0])
def test_warmup_ratio_is_a_share_of_the_steps(tmp_path, ratio):
    cfg = load_config(SMOKE, {"sft.warmup_ratio": ratio, "sft.max_steps": 40, "grpo.warmup_ratio": ratio,
                              "grpo.max_steps": 40, "dpo.warmup_ratio": ratio, "dpo.max_steps": -1})
    expected = math.ceil(ratio * 40)
    assert sft_args(cfg, tmp_path).get_warmup_steps(40) == expected
    assert grpo_args(cfg, tmp_path).get_warmup_steps(40) == expected
    # DPO by epochs: the length is not known when the check builds it; still a ratio of it.
    assert dpo_args(cfg, tmp_path).get_warmup_steps(40) == expected
    # With the pairs known (80 pairs, batch 2, 2 epochs: 80 steps), a share of those steps.
    assert dpo_args(cfg, tmp_path, n_pairs=80).get_warmup_steps(80) == math.ceil(ratio * 80)


def test_a_full_warmup_is_every_step_never_one(tmp_path):
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[], **warmup_arguments(1.0))
    for steps in (1, 7, 40, 10**9):
        assert args.get_warmup_steps(steps) == steps


def test_checkpoints_fall_inside_the_stage(tmp_path):
    assert checkpoint_interval(25, 18) == 9 and checkpoint_interval(1, 2) == 1 and checkpoint_interval(5, 40) == 5
    assert checkpoint_interval(25, None) == 25
    # The demo's DPO: 48 prompts -> at most 48 pairs, batch 8, 3 epochs = 18 steps, save_steps 25.
    cfg = load_config("configs/demo.yaml")
    assert cfg.dpo.save_steps > 18
    assert dpo_args(cfg, tmp_path, n_pairs=48).save_steps == 9
    assert grpo_args(cfg, tmp_path).save_steps == min(cfg.grpo.save_steps, cfg.grpo.max_steps // 2)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the CPU-only refusal")
def test_mixed_precision_without_a_gpu(capsys):
    cfg = load_config(SMOKE, {"model.precision": "bf16"})
    with pytest.raises(ConfigError, match=r"^model\.precision: bf16 needs a GPU"):
        check_trainer_args(cfg)  # what run_pipeline does before any work
    assert check_trainer_args(cfg, this_machine=False) == ["model.precision: bf16 not checked against a GPU"]
    code, out = check(capsys, "model.precision=bf16")
    assert code == 0 and "not checked against a GPU" in out
