"""``executor: optuna`` (the local default): an Optuna study in ``SWEEP_DIR/study.db``.

The driver asks the study for a trial (its sampler picks the parameters), runs it as a subprocess
``python -m lfmgym.sweep.trial TRIAL_DIR`` (a crash or OOM fails one trial, not the sweep), and
tells the study how it ended. The subprocess opens the same study and reports each intermediate
value to it; the pruner's verdict comes back as :class:`~lfmgym.reporting.TrialPruned` and ends
the trial at that report.

Resuming: the study lives in sqlite, so running the sweep again continues it. A trial left
running by a killed sweep is marked failed and enqueued again with the same parameters, in the
same run directory (the pipeline resumes from its checkpoints); ``retry_failed`` does the same for
trials that failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lfmgym.sweep.space import SweepSpec, grid_points, overrides_of, suggest
from lfmgym.sweep.trial import write_trial_spec

__all__ = ["run_optuna", "optuna_rows", "pruner", "open_storage"]

OnDone = Callable[[dict[str, Any]], None]
_RETRY_OF = "retry_of"  # user attr of a trial enqueued again: the number of the one it replaces


def _import_optuna():
    try:
        import optuna
    except ImportError as exc:
        raise RuntimeError("executor.type optuna needs Optuna: pip install optuna") from exc
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _sampler(optuna, spec: SweepSpec):
    seed = spec.search["seed"]
    if spec.search["algorithm"] == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)  # grid points are enqueued: the sampler is not asked


def pruner(optuna, early_stop: dict[str, Any]):
    """The Optuna pruner of a validated ``early_stop`` (the driver's and each trial's study use it)."""
    e = early_stop
    if e["type"] == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=e["grace"], reduction_factor=e["reduction_factor"])
    if e["type"] == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=e["startup"], n_warmup_steps=e["grace"] - 1)
    return optuna.pruners.NopPruner()


def open_storage(optuna, url: str):
    """The study's storage; the driver and the trial subprocesses share one sqlite file, so each
    waits for sqlite's lock instead of failing."""
    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})


def _superseded(trials) -> set[int]:
    return {int(t.user_attrs[_RETRY_OF]) for t in trials if _RETRY_OF in t.user_attrs}


def _trial_id(number: int) -> str:
    return f"t{number:03d}"


def _prepare(study, storage, spec: SweepSpec, retry_failed: bool) -> None:
    """Enqueue the grid of a new study; requeue trials a killed sweep left running (and failures)."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    if not trials and spec.search["algorithm"] == "grid":
        for p in grid_points(spec):
            study.enqueue_trial(p)
        return
    done = _superseded(trials)
    for t in trials:
        if t.number in done:
            continue
        stale = t.state == TrialState.RUNNING  # nothing else runs this sweep: its driver was killed
        if stale:
            storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        if stale or (retry_failed and t.state == TrialState.FAIL):
            run_dir = t.user_attrs.get("run_dir")
            study.enqueue_trial(t.params, user_attrs={_RETRY_OF: t.number, **({"run_dir": run_dir} if run_dir else {})})


def optuna_rows(study, spec: SweepSpec) -> list[dict[str, Any]]:
    """The result rows of every finished trial of ``study`` (retried ones replaced)."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    gone = _superseded(trials)
    status = {TrialState.COMPLETE: "ok", TrialState.PRUNED: "pruned", TrialState.FAIL: "failed"}
    rows = []
    for t in trials:
        if t.state not in status or t.number in gone:
            continue
        a = t.user_attrs
        value = t.value if t.state == TrialState.COMPLETE else (
            t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None)
        elapsed = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_complete and t.datetime_start else 0.0
        rows.append({"id": _trial_id(t.number), "params": overrides_of(t.params, spec), "status": status[t.state],
                     "metric": value, "metrics": a.get("metrics", {}), "reports": len(t.intermediate_values),
                     "error": a.get("error"), "time_s": a.get("time_s", round(elapsed, 2)), "cpu_s": a.get("cpu_s")})
    return rows


def _gpu_ids(spec: SweepSpec) -> list[str]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d for d in visible.split(",") if d.strip()]
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except ImportError:
        return []


def run_optuna(spec: SweepSpec, out: Path, *, parallel: int = 1, timeout_s: float | None = None,
               retry_failed: bool = False, on_done: OnDone = lambda r: None) -> list[dict[str, Any]]:
    """Run the sweep until the study has ``search.trials`` finished trials; returns the rows.

    ``parallel`` trials run at a time; with ``executor.num_gpus`` each gets that many of the
    visible GPUs (``CUDA_VISIBLE_DEVICES``), and no more trials start than the GPUs allow.
    """
    optuna = _import_optuna()
    from optuna.trial import TrialState

    out = Path(out)
    (out / "trials").mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(out / 'study.db').resolve()}"
    storage = open_storage(optuna, url)
    study = optuna.create_study(study_name=spec.name, storage=storage, load_if_exists=True,
                                direction="maximize" if spec.metric["mode"] == "max" else "minimize",
                                sampler=_sampler(optuna, spec), pruner=pruner(optuna, spec.early_stop))
    _prepare(study, storage, spec, retry_failed)

    gpus_per_trial = int(spec.executor.get("num_gpus") or 0)
    free_gpus = _gpu_ids(spec) if gpus_per_trial else []
    if gpus_per_trial:
        if len(free_gpus) < gpus_per_trial:
            raise RuntimeError(f"executor.num_gpus: {gpus_per_trial} per trial, {len(free_gpus)} visible")
        parallel = min(parallel, len(free_gpus) // gpus_per_trial)

    def finished() -> int:
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
        return len(trials) - len(_superseded(study.get_trials(deepcopy=False)) & {t.number for t in trials})

    running: dict[subprocess.Popen, tuple[Any, Path, float, Any, list[str]]] = {}
    try:
        while finished() + len(running) < spec.n_trials or running:
            while len(running) < parallel and finished() + len(running) < spec.n_trials:
                trial = study.ask()
                params = suggest(trial, spec)
                run_dir = trial.user_attrs.get("run_dir") or str(out / "trials" / _trial_id(trial.number))
                trial.set_user_attr("run_dir", run_dir)
                d = Path(run_dir)
                write_trial_spec(d, {"id": _trial_id(trial.number), "target": spec.target, "base": spec.base,
                                     "params": overrides_of(params, spec), "overrides": overrides_of(params, spec),
                                     "metric": spec.metric, "report_key": spec.report_key, "storage": url,
                                     "study": spec.name, "trial_id": trial._trial_id, "early_stop": spec.early_stop})
                (d / "result.json").unlink(missing_ok=True)
                (d / "reports.jsonl").unlink(missing_ok=True)
                gpus, free_gpus[:] = free_gpus[:gpus_per_trial], free_gpus[gpus_per_trial:]
                env = dict(os.environ, **({"CUDA_VISIBLE_DEVICES": ",".join(gpus)} if gpus_per_trial else {}))
                log = open(d / "log.txt", "a")
                proc = subprocess.Popen([sys.executable, "-m", "lfmgym.sweep.trial", str(d)], stdout=log,
                                        stderr=subprocess.STDOUT, env=env)
                running[proc] = (trial, d, time.time(), log, gpus)
            time.sleep(0.2)
            for proc in list(running):
                trial, d, t0, log, gpus = running[proc]
                timed_out = timeout_s is not None and time.time() - t0 > timeout_s
                if timed_out:
                    proc.kill()
                    proc.wait()
                if proc.poll() is None:
                    continue
                log.close()
                del running[proc]
                free_gpus.extend(gpus)
                on_done(_tell(study, trial, d, proc.returncode, timed_out))
    finally:
        for proc, (_, _, _, log, _) in running.items():
            proc.kill()
            log.close()
    return optuna_rows(study, spec)


def _tell(study, trial, d: Path, returncode: int | None, timed_out: bool) -> dict[str, Any]:
    """Tell the study how a trial subprocess ended (from its ``result.json``)."""
    from optuna.trial import TrialState

    path = d / "result.json"
    if path.exists():
        result = json.loads(path.read_text())
    else:
        log = d / "log.txt"
        tail = log.read_text()[-300:].strip() if log.exists() else ""
        reason = "timed out" if timed_out else f"trial process exited with {returncode} without a result"
        result = {"id": _trial_id(trial.number), "status": "failed", "metric": None, "metrics": {},
                  "error": f"{reason}; log tail: {tail}", "time_s": round(time.time() - trial.datetime_start.timestamp(), 2)}
    for key in ("metrics", "error", "time_s", "cpu_s"):
        if result.get(key) is not None:
            trial.set_user_attr(key, result[key])
    if result["status"] == "ok":
        study.tell(trial, result["metric"])
    elif result["status"] == "pruned":
        study.tell(trial, state=TrialState.PRUNED)
    else:
        study.tell(trial, state=TrialState.FAIL)
    return result
