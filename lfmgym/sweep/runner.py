"""``lfmgym sweep``: hand the sweep to its engine (Optuna or Ray Tune) and write the results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lfmgym.sweep.results import write_results
from lfmgym.sweep.space import SweepSpec, load_sweep

__all__ = ["run_sweep"]


def run_sweep(spec: SweepSpec | str | Path | dict, out_dir: str | Path, *, executor: str | None = None,
              parallel: int | None = None, address: str | None = None, retry_failed: bool = False,
              progress: bool = True) -> list[dict[str, Any]]:
    """Run (or resume) the sweep of ``spec`` in ``out_dir``; returns the result rows, best first.

    Each trial's pipeline runs in ``out_dir/trials/<id>/run``; the engine's state (``study.db``
    or ``ray/``) is in ``out_dir`` too, so running the same command again resumes. The command
    line's ``executor``, ``parallel`` and ``address`` override the file's ``executor``.
    """
    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    if executor:
        if executor not in ("optuna", "ray"):
            raise ValueError(f"executor: {executor!r} is not one of optuna, ray")
        spec.executor["type"] = executor
    if parallel:
        spec.executor["parallel"] = parallel
    if address:
        spec.executor["address"] = address
    if spec.early_stop["type"] == "pbt":  # the command line may have changed the engine or the scheduler
        from lfmgym.sweep.pbt import check_pbt

        check_pbt(spec.space, spec.alternatives, spec.search, spec.executor, spec.early_stop, spec.base)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(
        {"name": spec.name, "source": spec.source, "space": spec.space, "alternatives": spec.alternatives,
         "search": spec.search, "metric": spec.metric, "early_stop": spec.early_stop, "executor": spec.executor},
        indent=2))
    ex = spec.executor
    if ex["type"] == "ray":
        from lfmgym.sweep.ray_executor import run_ray

        rows = run_ray(spec, out, parallel=ex["parallel"], address=ex.get("address"), retry_failed=retry_failed)
        return write_results(out, rows, spec.metric)

    from lfmgym.sweep.optuna_executor import run_optuna

    done: list[dict[str, Any]] = []
    prog = None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        prog = Progress(TextColumn("sweep {task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn())
        prog.start()
        prog.add_task(spec.name, total=spec.n_trials, info="")

    def on_done(res: dict[str, Any]) -> None:
        done.append(res)
        if prog:
            counts = {s: sum(r["status"] == s for r in done) for s in ("ok", "pruned", "failed")}
            prog.update(prog.task_ids[0], advance=1, info=" ".join(f"{k} {v}" for k, v in counts.items()))

    try:
        rows = run_optuna(spec, out, parallel=ex["parallel"], timeout_s=ex.get("timeout_s"),
                          retry_failed=retry_failed, on_done=on_done)
    finally:
        if prog:
            prog.stop()
    return write_results(out, rows, spec.metric)
