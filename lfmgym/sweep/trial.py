"""One sweep trial: build its config, run the target with the engine's reporter installed, record
``result.json``.

The engines differ only in the reporter they hand to :func:`run_trial`: Optuna's reports each
intermediate value to the study and raises :class:`~lfmgym.reporting.TrialPruned` when the pruner
says so; Ray Tune's passes it to ``tune.report`` (the scheduler stops the trial's actor).

Also the entry point of the trial subprocess of the Optuna executor:
``python -m lfmgym.sweep.trial TRIAL_DIR`` (reads ``TRIAL_DIR/trial.json``).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lfmgym import reporting

__all__ = ["run_trial", "trial_metric", "write_trial_spec", "SUMMARY_KEYS"]

# Final metrics of a finished trial shown next to the sweep metric (means over the last stage's envs).
SUMMARY_KEYS = ("success", "parse_rate", "doom_loop_greedy", "doom_loop_sampled", "mean_length")

# engine_report(value, step, metrics): hands one intermediate value to the engine.
EngineReport = Callable[[float, int, dict[str, float]], None]
# engine_checkpoint(path, step, stage, reports, last): a trainer checkpoint of `stage` at optimizer
# step `step`, after `reports` reports, the last of them `last` (population-based training).
EngineCheckpoint = Callable[[Path, int, str, int, dict[str, float]], None]


def write_trial_spec(trial_dir: Path, spec: dict[str, Any]) -> None:
    trial_dir.mkdir(parents=True, exist_ok=True)
    (trial_dir / "trial.json").write_text(json.dumps(spec, indent=2, default=str))


def trial_metric(rows: list[dict[str, Any]], metric: dict[str, Any]) -> float | None:
    """The sweep metric from a pipeline's ``results.json`` rows.

    ``stage: last`` takes the last stage in the rows; ``env: mean`` averages the envs' values.
    """
    if not rows:
        return None
    stage = metric.get("stage", "last")
    if stage == "last":
        stage = rows[-1]["stage"]
    chosen = [r for r in rows if r.get("stage") == stage]
    env = metric.get("env", "mean")
    if env != "mean":
        chosen = [r for r in chosen if r.get("env") == env]
    values = [float(r[metric["name"]]) for r in chosen if r.get(metric["name"]) is not None]
    return sum(values) / len(values) if values else None


class _Reports:
    """The reporter installed during a trial: forwards each report that holds ``key`` to the
    engine under a step that counts such reports (stages restart their own step at 0), and keeps
    them all in ``reports.jsonl``; hands each trainer checkpoint to ``engine_checkpoint``, if any."""

    def __init__(self, key: str, engine_report: EngineReport, log_path: Path, start_step: int = 0,
                 engine_checkpoint: EngineCheckpoint | None = None):
        self.key, self.engine_report, self.log_path = key, engine_report, log_path
        self.engine_checkpoint = engine_checkpoint
        self.step = start_step
        self.last: dict[str, float] = {}

    def __call__(self, metrics: dict[str, float], step: int, stage: str) -> None:
        if self.key not in metrics:
            return
        self.step += 1
        self.last = metrics
        with open(self.log_path, "a") as fh:
            fh.write(json.dumps({"step": self.step, "stage": stage, "stage_step": step, **metrics}) + "\n")
        self.engine_report(metrics[self.key], self.step, metrics)

    def checkpoint(self, path: Path, step: int, stage: str) -> None:
        if self.engine_checkpoint is not None:
            self.engine_checkpoint(path, step, stage, self.step, self.last)


def run_trial(spec: dict[str, Any], trial_dir: Path, engine_report: EngineReport, *,
              engine_checkpoint: EngineCheckpoint | None = None, start_report: int = 0) -> dict[str, Any]:
    """Run the trial of ``spec`` (``id``, ``target``, ``base``, ``overrides``, ``metric``,
    ``report_key``) into ``trial_dir/run``; never raises for a failing or pruned trial.
    ``engine_checkpoint`` gets each trainer checkpoint; reports are counted from ``start_report``
    (a trial continuing from a checkpoint made after that many).

    Returns (and writes as ``result.json``) ``{"id", "params", "status": ok | pruned | failed,
    "metric", "metrics", "reports", "error", "time_s", "cpu_s"}``; a pruned trial's metric is its
    last intermediate value.
    """
    trial_dir = Path(trial_dir)
    trial_dir.mkdir(parents=True, exist_ok=True)
    t0, c0 = time.time(), time.process_time()
    result: dict[str, Any] = {"id": spec["id"], "params": spec["params"], "status": "ok", "metric": None,
                              "metrics": {}, "reports": 0, "error": None, "time_s": 0.0, "cpu_s": 0.0}
    reports = _Reports(spec["report_key"], engine_report, trial_dir / "reports.jsonl", start_report, engine_checkpoint)
    try:
        from lfmgym.stages.config import load_config

        module_name, func_name = spec["target"].split(":", 1)
        target = getattr(importlib.import_module(module_name), func_name)
        config = load_config(spec["base"], overrides=spec["overrides"])
        with reporting.reporting_to(reports, on_checkpoint=reports.checkpoint):
            rows = target(config, trial_dir / "run", resume=True, progress=False)
        result["metric"] = trial_metric(rows, spec["metric"])
        if result["metric"] is None:  # a training metric (e.g. reward): its last report
            result["metric"] = reports.last.get(spec["report_key"])
        if result["metric"] is None:
            raise ValueError(f"metric {spec['metric']['name']!r} is neither in the run's results nor reported")
        last = [r for r in rows if r.get("stage") == rows[-1]["stage"]]
        for key in SUMMARY_KEYS:
            vals = [float(r[key]) for r in last if isinstance(r.get(key), (int, float))]
            if vals:
                result["metrics"][key] = sum(vals) / len(vals)
    except reporting.TrialPruned as exc:
        result["status"] = "pruned"
        result["metric"] = reports.last.get(spec["report_key"])
        result["error"] = str(exc)
    except Exception as exc:  # a failing trial is recorded and the sweep goes on
        result["status"] = "failed"
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc(limit=8)
    result["reports"] = reports.step
    result["time_s"] = round(time.time() - t0, 2)
    result["cpu_s"] = round(time.process_time() - c0, 2)  # all threads of this process: compute, not waiting
    (trial_dir / "result.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def _optuna_subprocess(trial_dir: Path) -> int:
    """Run an Optuna trial in this process: report to the study in the sweep's storage."""
    import optuna

    spec = json.loads((trial_dir / "trial.json").read_text())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from lfmgym.sweep.optuna_executor import open_storage, pruner

    study = optuna.load_study(study_name=spec["study"], storage=open_storage(optuna, spec["storage"]),
                              pruner=pruner(optuna, spec["early_stop"]))
    trial = optuna.trial.Trial(study, spec["trial_id"])

    def engine_report(value: float, step: int, metrics: dict[str, float]) -> None:
        trial.report(value, step)
        if trial.should_prune():
            raise reporting.TrialPruned(f"pruned at report {step} ({spec['report_key']} = {value:.4g})")

    result = run_trial(spec, trial_dir, engine_report)
    return 0 if result["status"] in ("ok", "pruned") else 1


if __name__ == "__main__":
    sys.exit(_optuna_subprocess(Path(sys.argv[1])))
