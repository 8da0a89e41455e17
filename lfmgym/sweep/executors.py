"""Executors: where trials run. ``local`` (subprocesses, N at a time) and ``ray`` (Ray tasks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["run_local", "run_ray"]

OnDone = Callable[[dict[str, Any]], None]


def _read_result(trial_dir: Path, returncode: int | None, timed_out: bool = False) -> dict[str, Any]:
    path = trial_dir / "result.json"
    if path.exists():
        return json.loads(path.read_text())
    spec = json.loads((trial_dir / "trial.json").read_text())
    log = trial_dir / "log.txt"
    tail = log.read_text()[-2000:] if log.exists() else ""
    reason = "timed out" if timed_out else f"trial process exited with {returncode} without a result"
    result = {"id": spec["id"], "params": spec["overrides"], "status": "failed", "metric": None, "metrics": {},
              "error": f"{reason}; log tail: {tail.strip()[-300:]}", "time_s": 0.0}
    path.write_text(json.dumps(result, indent=2))
    return result


def run_local(trial_dirs: list[Path], *, parallel: int = 1, timeout_s: float | None = None,
              on_done: OnDone = lambda r: None) -> None:
    """Run each trial as ``python -m lfmgym.sweep.trial DIR``, ``parallel`` at a time.

    A subprocess per trial isolates crashes (a segfault or OOM fails one trial, not the sweep)
    and lets a killed sweep leave no half-written state behind except the trial it was running.
    """
    pending = list(trial_dirs)
    running: dict[subprocess.Popen, tuple[Path, float, Any]] = {}
    env = dict(os.environ)
    try:
        while pending or running:
            while pending and len(running) < parallel:
                d = pending.pop(0)
                log = open(d / "log.txt", "w")
                proc = subprocess.Popen([sys.executable, "-m", "lfmgym.sweep.trial", str(d)], stdout=log,
                                        stderr=subprocess.STDOUT, env=env)
                running[proc] = (d, time.time(), log)
            time.sleep(0.2)
            for proc in list(running):
                d, t0, log = running[proc]
                timed_out = timeout_s is not None and time.time() - t0 > timeout_s
                if timed_out:
                    proc.kill()
                    proc.wait()
                if proc.poll() is None:
                    continue
                log.close()
                del running[proc]
                on_done(_read_result(d, proc.returncode, timed_out))
    finally:
        for proc, (_, _, log) in running.items():
            proc.kill()
            log.close()


def run_ray(trial_dirs: list[Path], *, address: str | None = None, num_cpus: float = 1, num_gpus: float = 0,
            on_done: OnDone = lambda r: None) -> None:
    """Run each trial as a Ray task with the given resources.

    ``address``: ``"auto"`` joins an existing cluster (``ray start --head``); ``None`` starts a
    local one on loopback. Results come back to the driver, which writes ``result.json``, so the
    sweep directory only needs to live on the driver's machine.
    """
    try:
        import ray
    except ImportError as exc:  # the optional extra
        raise RuntimeError("executor.type ray needs Ray: pip install 'lfmgym[ray]'") from exc

    started_here = not ray.is_initialized()
    if started_here:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            kwargs["address"] = address
        else:
            kwargs["_node_ip_address"] = "127.0.0.1"
        ray.init(**kwargs)
    try:
        @ray.remote
        def _trial(spec_text: str, trial_dir: str) -> dict[str, Any]:
            from lfmgym.sweep.trial import execute_trial

            d = Path(trial_dir)
            d.mkdir(parents=True, exist_ok=True)
            (d / "trial.json").write_text(spec_text)
            return execute_trial(d)

        refs = {}
        for d in trial_dirs:
            ref = _trial.options(num_cpus=num_cpus, num_gpus=num_gpus).remote((d / "trial.json").read_text(), str(d))
            refs[ref] = d
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                d = refs.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:  # a worker crash: record it, keep going
                    spec = json.loads((d / "trial.json").read_text())
                    result = {"id": spec["id"], "params": spec["overrides"], "status": "failed", "metric": None,
                              "metrics": {}, "error": f"ray task failed: {type(exc).__name__}: {exc}", "time_s": 0.0}
                (d / "result.json").write_text(json.dumps(result, indent=2, default=str))
                on_done(result)
    finally:
        if started_here:
            ray.shutdown()
