"""``executor: ray``: the sweep as a Ray Tune experiment in ``SWEEP_DIR/ray/tune``.

A ``Tuner`` with a search algorithm (``tpe``: Tune's ``OptunaSearch``; ``random`` / ``grid``:
``BasicVariantGenerator``) and a scheduler (``asha``: ``ASHAScheduler``; ``median``:
``MedianStoppingRule``; ``pbt``: ``PopulationBasedTraining``, see :mod:`lfmgym.sweep.pbt`;
``none``: FIFO) on the ``step`` of the intermediate reports. Each trial
runs in a Ray worker with ``executor.num_cpus`` / ``num_gpus``; its reports go to ``tune.report``
and the scheduler stops the trials it prunes. ``address: auto`` joins an existing cluster (the
sweep directory must then be on a filesystem every node sees); otherwise a local Ray starts.

Resuming: Tune's experiment state is in the sweep directory; running the sweep again restores it
(``Tuner.restore``), finished trials are kept and unfinished ones run again in their own run
directory, where the pipeline resumes from its checkpoints.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from lfmgym.sweep.space import SweepSpec, overrides_of, tune_space
from lfmgym.sweep.trial import SUMMARY_KEYS, run_trial

__all__ = ["run_ray", "OBJECTIVE"]

OBJECTIVE = "objective"  # the reported value Tune's searcher and scheduler watch
_MAX_T = 10**6  # ASHA's last rung: trials end on their own long before


def _trial_name(trial_id: str) -> str:
    """``t003`` for Tune's ``ab12c_00003``: the same ids as the Optuna executor."""
    return f"t{int(trial_id.rsplit('_', 1)[-1]):03d}"


def _trainable(config: dict[str, Any], *, spec: SweepSpec, out: str, cwd: str) -> None:
    from ray import tune

    if Path(cwd).is_dir():  # relative paths in the config mean the driver's working directory
        os.chdir(cwd)
    trial_id = _trial_name(tune.get_context().get_trial_id())
    params = {k: config[k] for k in config}
    t0, c0 = time.time(), time.process_time()
    trial_dir = Path(out) / "trials" / trial_id

    def usage() -> dict[str, float]:
        # The compute so far goes with every report: a trial the scheduler stops has no final one.
        return {"trial_time_s": round(time.time() - t0, 2), "trial_cpu_s": round(time.process_time() - c0, 2)}

    overrides = overrides_of(params, spec)
    pbt = spec.early_stop["type"] == "pbt"
    if pbt:  # reports go to Tune with the GRPO checkpoints; a checkpoint given to the trial is restored
        from lfmgym.sweep.pbt import tune_hooks

        engine_report, engine_checkpoint, start_report = tune_hooks(spec, trial_id, trial_dir, overrides, usage)
    else:
        engine_checkpoint, start_report = None, 0

        def engine_report(value: float, step: int, metrics: dict[str, float]) -> None:
            tune.report({**metrics, OBJECTIVE: value, "step": step, "reports": step, **usage()})

    done = trial_dir / "result.json"
    if done.is_file():
        # Finished before an interruption that came before Tune saved its state: report the result
        # again instead of training the trial a second time.
        import json

        prev = json.loads(done.read_text())
        if prev.get("status") == "ok" and prev.get("params") == overrides:
            tune.report({**prev["metrics"], OBJECTIVE: prev["metric"], **_final_step(prev["reports"], pbt),
                         "final": 1, "trial_time_s": prev["time_s"], "trial_cpu_s": prev["cpu_s"]})
            return
    result = run_trial({"id": trial_id, "target": spec.target, "base": spec.base, "params": overrides,
                        "overrides": overrides, "metric": spec.metric, "report_key": spec.report_key},
                       trial_dir, engine_report, engine_checkpoint=engine_checkpoint, start_report=start_report)
    if result["status"] == "failed":
        raise RuntimeError(result["error"])
    tune.report({**result["metrics"], OBJECTIVE: result["metric"], **_final_step(result["reports"], pbt),
                 "final": 1, "trial_time_s": result["time_s"], "trial_cpu_s": result["cpu_s"]})


def _final_step(reports: int, pbt: bool) -> dict[str, int]:
    """The report count of a trial's final result; without ``step`` under PBT, which then leaves a
    finished trial alone (it would otherwise exploit a trial on its way out)."""
    return {"reports": max(reports, 1)} if pbt else {"step": max(reports, 1), "reports": max(reports, 1)}


def _search_alg(spec: SweepSpec):
    from ray.tune.search.basic_variant import BasicVariantGenerator

    if spec.search["algorithm"] == "tpe":
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        return OptunaSearch(sampler=optuna.samplers.TPESampler(seed=spec.search["seed"]))
    return BasicVariantGenerator(random_state=spec.search["seed"] if spec.search["algorithm"] == "random" else None)


def _resumable_asha(state_path: Path, **kwargs):
    """Tune's ASHA, its rungs kept in ``state_path`` after every result.

    ``Tuner.restore`` brings back the trials but not a scheduler's state: without this, trials
    resumed after an interruption would be judged only against trials that report after it.
    """
    from ray.tune.schedulers import ASHAScheduler

    class ResumableASHA(ASHAScheduler):
        def __init__(self):
            super().__init__(**kwargs)
            self._state_path, self._loaded = str(state_path), False

        def _load(self) -> None:
            if not self._loaded:
                self._loaded = True
                if Path(self._state_path).is_file():
                    self.restore(self._state_path)

        def _save(self) -> None:
            tmp = f"{self._state_path}.tmp"
            self.save(tmp)
            os.replace(tmp, self._state_path)

        def on_trial_add(self, tune_controller, trial):
            self._load()
            if trial.trial_id not in self._trial_info:  # a restored trial keeps its bracket
                super().on_trial_add(tune_controller, trial)

        def on_trial_result(self, tune_controller, trial, result):
            self._load()
            action = super().on_trial_result(tune_controller, trial, result)
            self._save()
            return action

        def on_trial_complete(self, tune_controller, trial, result):
            self._load()
            if trial.trial_id in self._trial_info:
                super().on_trial_complete(tune_controller, trial, result)
                self._save()

        def on_trial_remove(self, tune_controller, trial):
            self._trial_info.pop(trial.trial_id, None)
            self._save()

    return ResumableASHA()


def _scheduler(spec: SweepSpec, storage: Path):
    from ray.tune.schedulers import FIFOScheduler, MedianStoppingRule

    e = spec.early_stop
    if e["type"] == "pbt":
        from lfmgym.sweep.pbt import pbt_scheduler

        return pbt_scheduler(spec)
    if e["type"] == "asha":
        return _resumable_asha(storage / "asha_state.pkl", time_attr="step", max_t=_MAX_T, grace_period=e["grace"],
                               reduction_factor=e["reduction_factor"])
    if e["type"] == "median":
        return MedianStoppingRule(time_attr="step", grace_period=e["grace"], min_samples_required=max(1, e["startup"]))
    return FIFOScheduler()


def _rows(results, spec: SweepSpec, out: Path) -> list[dict[str, Any]]:
    rows = []
    for res in results:
        m = dict(res.metrics or {})
        params = overrides_of({k: res.config[k] for k in res.config}, spec)
        row = {"id": Path(res.path).name, "params": params, "metric": m.get(OBJECTIVE), "metrics": {},
               "reports": int(m.get("reports") or m.get("step") or 0), "error": None,
               "time_s": round(float(m.get("trial_time_s", m.get("time_total_s", 0.0))), 2),
               "cpu_s": m.get("trial_cpu_s")}
        if res.error is not None:
            row.update(status="failed", metric=None, error=str(res.error).strip().splitlines()[-1][:300])
        elif m.get("final"):
            row.update(status="ok", metrics={k: m[k] for k in SUMMARY_KEYS if k in m})
        else:
            row.update(status="pruned", error=f"stopped by the scheduler at report {row['reports']}")
        continued = _continued(out, row["id"]) if spec.early_stop["type"] == "pbt" else []
        if continued:
            row["continued"] = continued
        rows.append(row)
    return rows


def _continued(out: Path, trial_id: str) -> list[str]:
    """Where a PBT trial's GRPO continued from (``grpo/stage.json``), as ``t001@4``."""
    import json

    path = out / "trials" / trial_id / "run" / "grpo" / "stage.json"
    if not path.is_file():
        return []
    return [f"{c['trial']}@{c['step']}" for c in json.loads(path.read_text()).get("continued", [])]


def run_ray(spec: SweepSpec, out: Path, *, parallel: int = 1, address: str | None = None,
            retry_failed: bool = False) -> list[dict[str, Any]]:
    """Run (or resume) the sweep with Ray Tune; returns the result rows of every trial."""
    try:
        import ray
        from ray import tune
    except ImportError as exc:  # the optional extra
        raise RuntimeError("executor.type ray needs Ray: pip install 'lfmgym[ray]'") from exc

    out = Path(out).resolve()
    storage = out / "ray"
    storage.mkdir(parents=True, exist_ok=True)
    started_here = not ray.is_initialized()
    if started_here:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            kwargs["address"] = address
        else:
            kwargs["_node_ip_address"] = "127.0.0.1"
        ray.init(**kwargs)
    try:
        ex = spec.executor
        trainable = tune.with_resources(
            tune.with_parameters(_trainable, spec=spec, out=str(out), cwd=os.getcwd()),
            {"cpu": ex["num_cpus"], "gpu": ex["num_gpus"]},
        )
        path = storage / "tune"
        if tune.Tuner.can_restore(str(path)):
            tuner = tune.Tuner.restore(str(path), trainable, resume_unfinished=True, restart_errored=retry_failed)
        else:
            grid = spec.search["algorithm"] == "grid"
            pbt = spec.early_stop["type"] == "pbt"
            tuner = tune.Tuner(
                trainable,
                param_space=tune_space(spec),
                tune_config=tune.TuneConfig(
                    metric=OBJECTIVE, mode=spec.metric["mode"], search_alg=_search_alg(spec),
                    scheduler=_scheduler(spec, storage), num_samples=1 if grid else spec.n_trials,
                    # PBT evolves the whole population at once: as many trials run as the resources
                    # allow, the others wait paused; a trial limit would keep the rest out of it.
                    max_concurrent_trials=None if pbt else parallel,
                    trial_dirname_creator=lambda t: _trial_name(t.trial_id),
                    reuse_actors=pbt,  # PBT stops and restarts trials at every exploit: keep their processes
                ),
                # Every checkpoint a trial reports is kept (Tune's default): under PBT a trial may
                # restore from another's older one, which pruning them would delete under it.
                run_config=tune.RunConfig(name="tune", storage_path=str(storage), verbose=0),
            )
        return _rows(tuner.fit(), spec, out)
    finally:
        if started_here:
            ray.shutdown()
