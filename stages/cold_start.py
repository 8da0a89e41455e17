"""Stop SFT at a cold start: when the policy first solves a share of an env's dev tasks.

A cold start is meant to leave RL something to learn: partial success, so that sampled groups
mix right and wrong answers. A fixed step count does not give that. Skills such as copying
operands into a tool call and its result into the answer are learned abruptly, and *when* depends
on the seed (the tiny demo at 240 SFT steps: calculator success 1.00, 0.12 and 0.59 on seeds 0, 1
and 2). Stopping on a measured dev success puts every seed at the same point of the curve.

``sft.stop_at`` turns it on::

    sft:
      max_steps: 400                   # the cap
      stop_at: {env: math_calculator, success: 0.5, every: 5, after: 100, tasks: 16}

Every ``every`` optimizer steps from ``after`` on, the model plays ``tasks`` dev tasks of ``env``
greedily through the one evaluator (:func:`lfmgym.eval.envs.evaluate_envs`); at ``success`` or
above, training stops and the stage saves the model. Dev tasks come from their own stream: never
held out for evaluation. Every check goes to ``cold_start.jsonl`` in the stage directory. Under
``accelerate launch`` every process plays its share and all see the same success, so all stop at
the same step.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from lfmgym.stages.common import eval_kwargs, rollout_budgets, training_tasks
from lfmgym.stages.config import PipelineConfig

__all__ = ["ColdStartStop", "cold_start_callback"]


class ColdStartStop(TrainerCallback):
    """Ends training once greedy success on the dev tasks of one env reaches a threshold."""

    def __init__(self, cfg: PipelineConfig, tokenizer: Any, log_path: Path):
        rule = cfg.sft.stop_at
        self.env, self.threshold, self.every, self.after = rule.env, rule.success, rule.every, rule.after
        self.tokenizer = tokenizer
        self.tasks = training_tasks(cfg, rule.env, rule.tasks, "cold_start")
        self.env_kwargs = eval_kwargs(cfg.envs[rule.env])
        self.max_new_tokens = cfg.eval.max_new_tokens
        self.budgets = rollout_budgets(cfg)
        self.log_path = log_path
        self.stopped_at: int | None = None

    def dev_success(self, model) -> float:
        from lfmgym.backends.transformers_backend import TransformersBackend
        from lfmgym.eval.envs import evaluate_envs

        was_training = model.training
        model.eval()
        try:
            backend = TransformersBackend(model, self.tokenizer, batch_size=len(self.tasks))
            result = evaluate_envs(backend, [self.env], samples=0, max_new_tokens=self.max_new_tokens,
                                   env_kwargs={self.env: self.env_kwargs}, tasks={self.env: self.tasks},
                                   batch_size=len(self.tasks), budgets=self.budgets)
        finally:
            model.train(was_training)
        return float(result["envs"][self.env]["success"])

    def on_step_end(self, args, state, control, model=None, **kwargs):
        step = state.global_step
        if model is None or step < self.after or (step - self.after) % self.every:
            return control
        t0 = time.perf_counter()
        success = self.dev_success(model)
        stop = success >= self.threshold
        if state.is_world_process_zero:
            with open(self.log_path, "a") as fh:
                fh.write(json.dumps({"step": step, "env": self.env, "success": success, "tasks": len(self.tasks),
                                     "stop": stop, "seconds": round(time.perf_counter() - t0, 2)}) + "\n")
        if stop:
            self.stopped_at = step
            control.should_training_stop = True
            control.should_save = True  # the stop point is a resume point too
        return control


def cold_start_callback(cfg: PipelineConfig, tokenizer: Any, stage_dir: Path) -> ColdStartStop | None:
    """The stop rule of ``sft.stop_at``, or ``None`` when it is off (``env: null``)."""
    if cfg.sft.stop_at.env is None:
        return None
    return ColdStartStop(cfg, tokenizer, stage_dir / "cold_start.jsonl")
