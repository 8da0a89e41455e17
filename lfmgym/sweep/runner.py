"""``lfmgym sweep``: expand the space, run the trials (resuming), and report the results."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

from lfmgym.sweep.executors import run_local, run_ray
from lfmgym.sweep.space import SweepSpec, load_sweep
from lfmgym.sweep.trial import write_trial_spec

__all__ = ["run_sweep", "write_results", "results_table"]


def run_sweep(spec: SweepSpec | str | Path | dict, out_dir: str | Path, *, executor: str | None = None,
              parallel: int | None = None, address: str | None = None, retry_failed: bool = False,
              progress: bool = True) -> list[dict[str, Any]]:
    """Run every trial of ``spec`` into ``out_dir/trials/<id>`` and write the result tables.

    Trials with a ``result.json`` are skipped (resume); failed ones are re-run only with
    ``retry_failed``. Returns the result rows sorted by the metric.
    """
    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    out = Path(out_dir)
    (out / "trials").mkdir(parents=True, exist_ok=True)
    ex = dict(spec.executor)
    if executor:
        ex["type"] = executor
    if parallel:
        ex["parallel"] = parallel
    if address:
        ex["address"] = address
    (out / "sweep.json").write_text(json.dumps({"name": spec.name, "source": spec.source, "metric": spec.metric,
                                                "executor": ex, "trials": [t.id for t in spec.trials]}, indent=2))
    todo, results = [], {}
    for trial in spec.trials:
        d = out / "trials" / trial.id
        res_path = d / "result.json"
        if res_path.exists():
            res = json.loads(res_path.read_text())
            if res.get("status") == "ok" or not retry_failed:
                results[trial.id] = res
                continue
            res_path.unlink()
        write_trial_spec(d, trial_id=trial.id, target=spec.target, base=spec.base, overrides=trial.overrides,
                         metric=spec.metric)
        todo.append(d)

    prog = None
    if progress and todo:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        prog = Progress(TextColumn("sweep {task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        prog.start()
        prog.add_task(spec.name, total=len(spec.trials), completed=len(results))

    def on_done(res: dict[str, Any]) -> None:
        results[res["id"]] = res
        write_results(out, list(results.values()), spec.metric)  # partial tables while it runs
        if prog:
            prog.advance(prog.task_ids[0])

    try:
        if ex["type"] == "local":
            run_local(todo, parallel=ex.get("parallel", 1), timeout_s=ex.get("timeout_s"), on_done=on_done)
        else:
            run_ray(todo, address=ex.get("address"), num_cpus=ex.get("num_cpus", 1), num_gpus=ex.get("num_gpus", 0),
                    on_done=on_done)
    finally:
        if prog:
            prog.stop()
    rows = write_results(out, [results[t.id] for t in spec.trials if t.id in results], spec.metric)
    return rows


def _sort_key(metric: dict[str, Any]):
    sign = -1 if metric.get("mode", "max") == "max" else 1

    def key(row):
        m = row.get("metric")
        return (row.get("status") != "ok" or m is None, sign * (m or 0.0), row["id"])

    return key


def results_table(rows: list[dict[str, Any]], metric: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    params = sorted({k for r in rows for k in r.get("params", {})})
    extra = sorted({k for r in rows for k in r.get("metrics", {})})
    header = ["trial", "status", metric["name"], *params, *extra, "time_s", "error"]
    body = []
    for r in rows:
        p = r.get("params", {})
        body.append([r["id"], r["status"], r.get("metric"), *[p.get(k) for k in params],
                     *[r.get("metrics", {}).get(k) for k in extra], r.get("time_s"), r.get("error") or ""])
    return header, body


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return "" if v is None else str(v)


def write_results(out: Path, rows: list[dict[str, Any]], metric: dict[str, Any]) -> list[dict[str, Any]]:
    """Write ``results.json``, ``results.csv``, ``results.md`` and ``metric_vs_params.png``."""
    rows = sorted(rows, key=_sort_key(metric))
    slim = [{k: v for k, v in r.items() if k not in ("rows", "traceback")} for r in rows]
    (out / "results.json").write_text(json.dumps(slim, indent=2, default=str))
    header, body = results_table(rows, metric)
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows([[_fmt(v) for v in line] for line in body])
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(_fmt(v).replace("|", "\\|") for v in line) + " |" for line in body]
    (out / "results.md").write_text("\n".join(md) + "\n")
    _plot(out / "metric_vs_params.png", rows, metric)
    return slim


def _plot(path: Path, rows: list[dict[str, Any]], metric: dict[str, Any]) -> None:
    params = sorted({k for r in rows for k in r.get("params", {})})
    ok = [r for r in rows if r.get("status") == "ok" and r.get("metric") is not None]
    if not params or not ok:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(params), figsize=(4 * len(params), 3.2), squeeze=False)
    for ax, name in zip(axes[0], params):
        xs = [r["params"].get(name) for r in ok]
        ys = [r["metric"] for r in ok]
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs):
            ax.scatter(xs, ys)
            if min(xs) > 0 and max(xs) / min(xs) > 50:
                ax.set_xscale("log")
        else:
            labels = sorted({_fmt(x) for x in xs})
            ax.scatter([labels.index(_fmt(x)) for x in xs], ys)
            ax.set_xticks(range(len(labels)), [lab[:18] for lab in labels], rotation=30, ha="right", fontsize=7)
        ax.set_xlabel(name)
        ax.set_ylabel(f"{metric['name']} ({metric.get('stage', 'last')})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def clean(out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
