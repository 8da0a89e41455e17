"""Population-based training of the GRPO stage (``early_stop: {type: pbt}``, Ray Tune only).

Tune's ``PopulationBasedTraining`` runs a population of trials; every ``interval`` reports, a trial
in the bottom ``quantile`` stops and continues from the newest checkpoint of a trial in the top
one, with that trial's settings perturbed (x1.2 / x0.8, a neighbour in a list, or a fresh draw
with ``resample_probability``; kept inside the sweep's bounds). ``synch: true`` makes every trial
wait at each perturbation until all have reached it (Tune's synchronous PBT: trials that run at
different speeds are compared at the same step; a trial only compares with trials that have
reported otherwise). Here a trial is a pipeline run and its checkpoints are the GRPO trainer's:

- each GRPO checkpoint (every ``grpo.save_steps``, the stage's last step left out) goes to
  ``tune.report`` with the metric reported last, as a Tune checkpoint: the trainer checkpoint
  plus ``pbt.json`` (which trial, which step, its settings, the model its GRPO started from);
- a trial handed another trial's checkpoint (:func:`restore`) replaces its GRPO checkpoints with
  it, and its run directory's config with the new settings, and records that as the explicit
  exception it is: ``grpo/stage.json`` gets a ``continued`` entry (from which trial, at which
  step, the values before and after) and ``grpo/resume.log`` a line. The pipeline then resumes
  GRPO from that checkpoint with the new settings (the trainer scaffold makes the restored
  optimizer use the new learning rate). A plain resume with changed settings is still refused.

Only settings the GRPO stage applies when it continues may be in the space (:data:`MUTABLE`):
the optimizer's learning rate, sampling (temperature, top_p), the KL coefficient and the reward
weights. Anything that shapes the batch, the data or the model (group size, prompts per step,
``max_steps``, the model, other stages) cannot change in a running stage and is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["MUTABLE", "PBT_FIELDS", "check_pbt", "pbt_scheduler", "tune_hooks", "stage_checkpoint", "is_last",
           "restore", "continue_stage", "drop_stale_stop", "CHECKPOINT_INFO"]

STAGE = "grpo"
CHECKPOINT_INFO = "pbt.json"  # in a Tune checkpoint, next to the trainer checkpoint (trainer/)
TRAINER_DIR = "trainer"
PBT_FIELDS = {"interval", "quantile", "resample_probability", "synch"}

# What GRPO honestly applies when it continues from a checkpoint, and how.
MUTABLE = {
    "grpo.learning_rate": "the restored optimizer and scheduler are set to it",
    "grpo.temperature": "sampling of the next rollouts (and TRL's logprobs)",
    "grpo.top_p": "sampling of the next rollouts",
    "grpo.beta": "the KL term's weight (the reference model is GRPO's input model either way)",
    "grpo.env_weight": "the next episodes' reward",
    "grpo.ngram_weight": "the next episodes' reward",
    "grpo.loop_weight": "the next episodes' reward",
}


def _err(path: str, msg: str):
    from lfmgym.sweep.space import SweepConfigError

    return SweepConfigError(f"{path}: {msg}")


def check_pbt(space: dict[str, dict[str, Any]], alternatives: list, search: dict[str, Any],
              executor: dict[str, Any], early: dict[str, Any], base: dict[str, Any]) -> None:
    """Refuse a population-based sweep that cannot run, naming the field: another engine than Ray
    Tune, a setting in the space that cannot change in a running GRPO stage, a KL term switched
    on or off, a pipeline whose last stage is not GRPO, or bad PBT settings."""
    if executor["type"] != "ray":
        raise _err("early_stop.type", f"pbt needs executor.type ray (Ray Tune's PopulationBasedTraining); "
                                      f"{executor['type']} cannot continue a trial from another trial's checkpoint")
    if search["algorithm"] == "tpe":
        raise _err("search.algorithm", "pbt draws its population at random or from a grid and then evolves it; "
                                       "use random or grid")
    if alternatives:
        raise _err("alternatives", "pbt mutates settings of a running GRPO stage; alternatives change the run")
    mutable = ", ".join(sorted(MUTABLE))
    for name, d in space.items():
        if name not in MUTABLE:
            raise _err(f"space.{name}", f"population-based training changes settings in the middle of the GRPO "
                                        f"stage, and {name} cannot change there (it shapes the batch, the data or "
                                        f"the model); settings that can: {mutable}")
        kind, arg = next(iter(d.items()))
        if kind == "randint":
            raise _err(f"space.{name}", "must be a list or a uniform / loguniform range")
        values = arg if kind == "choice" else list(arg)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise _err(f"space.{name}", "pbt perturbs numbers: every value must be a number")
        if name == "grpo.beta" and min(values) <= 0:
            raise _err("space.grpo.beta", "must stay above 0 under pbt: a reference model exists only when "
                                          "beta > 0, so the KL term cannot be switched on or off mid-run")
    if not isinstance(early["interval"], int) or early["interval"] < 1:
        raise _err("early_stop.interval", "must be a positive integer (reports between perturbations)")
    if not (isinstance(early["quantile"], (int, float)) and 0 < early["quantile"] <= 0.5):
        raise _err("early_stop.quantile", "must be in (0, 0.5]: the share of trials replaced / copied")
    if not (isinstance(early["resample_probability"], (int, float)) and 0 <= early["resample_probability"] <= 1):
        raise _err("early_stop.resample_probability", "must be in [0, 1]")
    if not isinstance(early["synch"], bool):
        raise _err("early_stop.synch", "must be true or false")
    from lfmgym.stages.config import load_config

    stages = list(load_config(base).stages)
    if not stages or stages[-1] != STAGE:
        raise _err("base.stages", f"pbt continues the GRPO stage, so grpo must be the last stage (got {stages})")


def pbt_scheduler(spec):
    """Tune's ``PopulationBasedTraining`` over the sweep's space, on the ``step`` of the reports."""
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining

    mutations: dict[str, Any] = {}
    bounds: dict[str, tuple[float, float]] = {}
    for name, d in spec.space.items():
        kind, arg = next(iter(d.items()))
        if kind == "choice":
            mutations[name] = list(arg)
        else:
            mutations[name] = tune.loguniform(*arg) if kind == "loguniform" else tune.uniform(*arg)
            bounds[name] = (float(arg[0]), float(arg[1]))

    def clamp(config: dict[str, Any]) -> dict[str, Any]:
        """x1.2 / x0.8 may leave the sweep's range: keep each value inside its bounds."""
        for name, (lo, hi) in bounds.items():
            config[name] = min(max(float(config[name]), lo), hi)
        return config

    class Scheduler(PopulationBasedTraining):
        def _exploit(self, tune_controller, trial, trial_to_clone):
            super()._exploit(tune_controller, trial, trial_to_clone)
            drop_stale_stop(tune_controller, trial)

    e = spec.early_stop
    return Scheduler(
        time_attr="step", perturbation_interval=e["interval"], quantile_fraction=e["quantile"],
        resample_probability=e["resample_probability"], hyperparam_mutations=mutations, custom_explore_fn=clamp,
        synch=e["synch"],
        # The final result of a trial carries no `step`: PBT does not act on a trial that has finished.
        require_attrs=False)


def drop_stale_stop(tune_controller, trial) -> None:
    """Undo the STOP that Ray Tune (2.x) leaves queued on a trial exploited mid-save.

    Under ``synch``, a trial that waits at the perturbation point is being saved (the checkpoint of
    its pause). Exploiting it then stops its actor while the save is pending: Tune queues STOP "after
    the save resolves", cancels the save, and keeps the STOP. The trial restarts from the donor's
    checkpoint and is stopped at its next checkpoint, with no final result (reported "pruned" with
    its training cut short). The exploited trial is restarting, so no STOP for it can be meant.
    """
    controller = getattr(tune_controller, "_tune_controller", tune_controller)
    queued = getattr(controller, "_cached_trial_decisions", None)
    if isinstance(queued, dict) and queued.get(trial.trial_id) == "STOP":
        del queued[trial.trial_id]


def stage_checkpoint(trainer_checkpoint: Path, into: Path, info: dict[str, Any]) -> Path:
    """Lay out a Tune checkpoint in ``into``: the trainer checkpoint as ``trainer/`` (hard links
    where the filesystem allows, Tune copies it away) and ``pbt.json`` with ``info`` plus the GRPO
    stage's input (``stage.json``: the stage it started from and that model's fingerprint)."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(trainer_checkpoint, into / TRAINER_DIR, copy_function=link)
    stage_json = Path(trainer_checkpoint).parent.parent / "stage.json"
    recorded = json.loads(stage_json.read_text()) if stage_json.is_file() else {}
    info = {**info, "input": {"from": recorded.get("from"), "model": recorded.get("model")}}
    (into / CHECKPOINT_INFO).write_text(json.dumps(info, indent=2, default=str))
    return into


def tune_hooks(spec, trial_id: str, trial_dir: Path, params: dict[str, Any], usage: Callable[[], dict]):
    """The ``(engine_report, engine_checkpoint, start_report)`` of a PBT trial in a Tune worker.

    Reports are only kept (``reports.jsonl``); each GRPO checkpoint but the last goes to
    ``tune.report`` with the last report and ``usage()``, as a Tune checkpoint. A checkpoint Tune
    hands the trial (a restart, or PBT's exploit) is restored first (:func:`restore`).
    """
    from ray import tune

    from lfmgym.stages.config import load_config
    from lfmgym.sweep.ray_executor import OBJECTIVE

    def engine_report(value: float, step: int, metrics: dict[str, float]) -> None:
        pass  # PBT acts on checkpoints: the metric goes to Tune with the next GRPO checkpoint

    def engine_checkpoint(path: Path, step: int, stage: str, reports: int, last: dict[str, float]) -> None:
        if stage != STAGE or spec.report_key not in last or is_last(path):
            return  # the stage's last checkpoint: nothing is left to train under other settings
        staged = stage_checkpoint(path, trial_dir / "tune-checkpoint", {
            "trial": trial_id, "stage": stage, "step": step, "reports": reports, "params": params})
        try:
            tune.report({**last, OBJECTIVE: last[spec.report_key], "step": reports, "reports": reports,
                         "grpo_step": step, **usage()}, checkpoint=tune.Checkpoint.from_directory(str(staged)))
        finally:
            shutil.rmtree(staged, ignore_errors=True)

    start_report = 0
    given = tune.get_checkpoint()
    if given is not None:
        with given.as_directory() as d:
            start_report = restore(Path(d), trial_dir / "run", load_config(spec.base, overrides=params), trial_id,
                                   params)
    return engine_report, engine_checkpoint, start_report


def is_last(trainer_checkpoint: Path) -> bool:
    """Whether a trainer checkpoint is its stage's last step (``trainer_state.json``)."""
    state = json.loads((Path(trainer_checkpoint) / "trainer_state.json").read_text())
    return bool(state.get("max_steps")) and state.get("global_step", 0) >= state["max_steps"]


def restore(checkpoint_dir: Path, run_dir: Path, cfg, trial_id: str, params: dict[str, Any]) -> int:
    """Prepare ``run_dir`` for the Tune checkpoint a trial (re)starts with; returns the number of
    reports that checkpoint was made after (the trial's report count goes on from there).

    The trial's own checkpoint under its own settings (Tune paused or restarted it): the pipeline
    resumes from its newest checkpoint as usual. Another trial's checkpoint, or new settings (PBT
    exploited it): :func:`continue_stage`.
    """
    info = json.loads((Path(checkpoint_dir) / CHECKPOINT_INFO).read_text())
    if info["trial"] != trial_id or info["params"] != params:
        continue_stage(run_dir, cfg, Path(checkpoint_dir) / TRAINER_DIR, info, params)
    return int(info.get("reports", 0))


def continue_stage(run_dir: Path, cfg, trainer_checkpoint: Path, info: dict[str, Any],
                   params: dict[str, Any]) -> dict[str, Any]:
    """Make the GRPO stage of ``run_dir`` continue from ``trainer_checkpoint`` (made by trial
    ``info["trial"]`` at step ``info["step"]`` under ``info["params"]``) with the settings of
    ``cfg`` (the trial's new ``params``); returns the record written to ``stage.json``.

    The stage's checkpoints, and a model or evaluation it may have written, are replaced by the
    checkpoint; ``config.json`` and ``stage.json`` take the new GRPO settings; ``stage.json``'s
    ``continued`` list and ``resume.log`` say where the stage continued from, and with what.

    Raises:
        ConfigError: the checkpoint's GRPO started from another model than this run's would (PBT
            continues GRPO only between trials that start it from the same model).
    """
    from lfmgym.stages.common import read_json, write_json
    from lfmgym.stages.config import ConfigError
    from lfmgym.stages.pipeline import stage_input

    run_dir = Path(run_dir)
    stage = info.get("stage", STAGE)
    stages = list(cfg.stages)
    previous = stages[stages.index(stage) - 1] if stages.index(stage) else "base"
    model_dir = run_dir / previous / "model"
    if not (model_dir / "config.json").is_file():
        raise ConfigError(f"stages: trial {info['trial']}'s {stage} checkpoint cannot continue in {run_dir}: "
                          f"this run has no {previous} model to start {stage} from yet")
    now = stage_input(cfg, stage, previous, model_dir)
    given = info.get("input") or {}
    if (given.get("from"), given.get("model")) != (now["from"], now["model"]):
        raise ConfigError(
            f"{stage}: trial {info['trial']}'s {stage} started from {given.get('from')}/model (fingerprint "
            f"{str(given.get('model'))[:12]}), this trial's from {now['from']}/model ({now['model'][:12]}): "
            "population-based training continues GRPO only between trials that start it from the same model "
            "(start the sweep from a fixed checkpoint: model.name, stages: [grpo])")
    stage_dir = run_dir / stage
    step = int(info["step"])
    shutil.rmtree(stage_dir / "checkpoints", ignore_errors=True)
    shutil.rmtree(stage_dir / "model", ignore_errors=True)
    (stage_dir / "eval.json").unlink(missing_ok=True)
    shutil.copytree(trainer_checkpoint, stage_dir / "checkpoints" / f"checkpoint-{step}")

    before, after = info["params"], params
    record = {"trial": info["trial"], "step": step, "values": {k: after[k] for k in sorted(after)},
              "donor_values": {k: before.get(k) for k in sorted(after)}, "time": round(time.time(), 3)}
    origin = stage_dir / "stage.json"
    recorded = read_json(origin) if origin.is_file() else {}
    write_json(origin, {"stage": stage, **now, "continued": [*recorded.get("continued", []), record]})
    saved = read_json(run_dir / "config.json")
    saved[stage] = now["config"][stage]
    write_json(run_dir / "config.json", saved)
    changes = ", ".join(f"{k}={after[k]:.4g}" + ("" if after[k] == before.get(k) else f" (was {before.get(k):.4g})")
                        for k in sorted(after))
    with open(stage_dir / "resume.log", "a") as fh:
        fh.write(f"continued from trial {info['trial']} checkpoint-{step} (step {step}) with {changes} "
                 "(population-based training)\n")
    return record
