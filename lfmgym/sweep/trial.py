"""Run one sweep trial: build its config, call the target, record ``result.json``.

Also the entry point of the trial subprocess used by the local executor:
``python -m lfmgym.sweep.trial TRIAL_DIR`` (reads ``TRIAL_DIR/trial.json``).
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

__all__ = ["execute_trial", "trial_metric", "write_trial_spec"]


def write_trial_spec(trial_dir: Path, *, trial_id: str, target: str, base: dict, overrides: dict, metric: dict) -> None:
    trial_dir.mkdir(parents=True, exist_ok=True)
    spec = {"id": trial_id, "target": target, "base": base, "overrides": overrides, "metric": metric}
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


def execute_trial(trial_dir: str | Path) -> dict[str, Any]:
    """Run the trial described by ``trial_dir/trial.json``; never raises: failures are recorded."""
    trial_dir = Path(trial_dir)
    spec = json.loads((trial_dir / "trial.json").read_text())
    t0 = time.time()
    result: dict[str, Any] = {"id": spec["id"], "params": spec["overrides"], "status": "ok", "metric": None,
                              "metrics": {}, "error": None, "time_s": 0.0}
    try:
        from lfmgym.stages.config import load_config

        module_name, func_name = spec["target"].split(":", 1)
        target = getattr(importlib.import_module(module_name), func_name)
        config = load_config(spec["base"], overrides=spec["overrides"])
        rows = target(config, trial_dir / "run", resume=True, progress=False)
        result["rows"] = rows
        result["metric"] = trial_metric(rows, spec["metric"])
        last = [r for r in rows if r.get("stage") == rows[-1]["stage"]] if rows else []
        for key in ("success", "parse_rate", "doom_loop_greedy", "doom_loop_sampled", "mean_length"):
            vals = [float(r[key]) for r in last if r.get(key) is not None]
            if vals:
                result["metrics"][key] = sum(vals) / len(vals)
    except BaseException as exc:  # a failing trial is recorded and the sweep goes on
        if isinstance(exc, KeyboardInterrupt):
            raise
        result["status"] = "failed"
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc(limit=8)
    result["time_s"] = round(time.time() - t0, 2)
    (trial_dir / "result.json").write_text(json.dumps(result, indent=2, default=str))
    return result


if __name__ == "__main__":
    res = execute_trial(sys.argv[1])
    sys.exit(0 if res["status"] == "ok" else 1)
