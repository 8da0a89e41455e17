"""The sweep's results, the same whichever engine ran it: ``results.json`` (rows + summary),
``results.csv``, ``results.md`` and ``metric_vs_params.png`` in the sweep directory.

A row: ``{"id", "params", "status": ok | pruned | failed, "metric", "metrics", "reports", "error",
"time_s", "cpu_s"}`` (wall and CPU seconds of the trial's run), plus ``continued`` (``["t001@4", ...]``:
the trials and GRPO steps a population-based trial continued from) where there is one. Finished trials come first, best metric first; then pruned ones (their metric is the
last intermediate value), then failures.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

__all__ = ["write_results", "results_table", "summary", "sort_rows"]

_STATUS_ORDER = {"ok": 0, "pruned": 1, "failed": 2}


def sort_rows(rows: list[dict[str, Any]], metric: dict[str, Any]) -> list[dict[str, Any]]:
    sign = -1 if metric.get("mode", "max") == "max" else 1

    def key(row):
        m = row.get("metric")
        return (_STATUS_ORDER.get(row.get("status"), 3), m is None, sign * (m or 0.0), row["id"])

    return sorted(rows, key=key)


def summary(rows: list[dict[str, Any]], metric: dict[str, Any]) -> dict[str, Any]:
    """Trials by status, compute spent (trial seconds and intermediate reports), the best trial."""
    ok = sort_rows([r for r in rows if r["status"] == "ok" and r.get("metric") is not None], metric)
    return {
        "trials": len(rows),
        **{status: sum(r["status"] == status for r in rows) for status in _STATUS_ORDER},
        "trial_seconds": round(sum(float(r.get("time_s") or 0.0) for r in rows), 2),
        "trial_cpu_seconds": round(sum(float(r.get("cpu_s") or 0.0) for r in rows), 2),
        "reports": sum(int(r.get("reports") or 0) for r in rows),
        "best": {"id": ok[0]["id"], "metric": ok[0]["metric"], "params": ok[0]["params"]} if ok else None,
    }


def results_table(rows: list[dict[str, Any]], metric: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    params = sorted({k for r in rows for k in r.get("params", {})})
    extra = sorted({k for r in rows for k in r.get("metrics", {})})
    if metric.get("stage", "last") == "last" and metric.get("env", "mean") == "mean":
        extra = [k for k in extra if k != metric["name"]]  # the same number as the metric column
    continued = any(r.get("continued") for r in rows)
    header = ["trial", "status", metric["name"], *params, *extra, "reports", "time_s", "cpu_s",
              *(["continued from"] if continued else []), "error"]
    body = []
    for r in rows:
        p = r.get("params", {})
        body.append([r["id"], r["status"], r.get("metric"), *[p.get(k) for k in params],
                     *[r.get("metrics", {}).get(k) for k in extra], r.get("reports"), r.get("time_s"), r.get("cpu_s"),
                     *([" ".join(r.get("continued") or [])] if continued else []), r.get("error") or ""])
    return header, body


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return "" if v is None else str(v)


def write_results(out: Path, rows: list[dict[str, Any]], metric: dict[str, Any]) -> list[dict[str, Any]]:
    """Write the result files of ``rows`` into ``out``; returns the rows sorted."""
    out = Path(out)
    rows = sort_rows([{k: v for k, v in r.items() if k != "traceback"} for r in rows], metric)
    info = summary(rows, metric)
    (out / "results.json").write_text(json.dumps({"metric": metric, "summary": info, "trials": rows}, indent=2,
                                                 default=str))
    header, body = results_table(rows, metric)
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows([[_fmt(v) for v in line] for line in body])
    md = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(_fmt(v).replace("|", "\\|") for v in line) + " |" for line in body]
    best = info["best"]
    md += ["", f"{info['trials']} trials: {info['ok']} finished, {info['pruned']} pruned, {info['failed']} failed; "
               f"{info['trial_seconds']:.1f} trial-seconds ({info['trial_cpu_seconds']:.1f} CPU), "
               f"{info['reports']} intermediate reports; best "
               + (f"{metric['name']} {best['metric']:.4g} ({best['id']})" if best else "none")]
    (out / "results.md").write_text("\n".join(md) + "\n")
    _plot(out / "metric_vs_params.png", rows, metric)
    return rows


def _plot(path: Path, rows: list[dict[str, Any]], metric: dict[str, Any]) -> None:
    """The metric against each parameter; pruned trials (their last intermediate value) hollow."""
    params = sorted({k for r in rows for k in r.get("params", {})})
    shown = [r for r in rows if r.get("status") in ("ok", "pruned") and r.get("metric") is not None]
    if not params or not shown:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(params), figsize=(4 * len(params), 3.2), squeeze=False)
    for ax, name in zip(axes[0], params):
        xs_all = [r["params"].get(name) for r in shown]
        numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs_all)
        labels = sorted({_fmt(x) for x in xs_all})
        for status, style in (("ok", {"color": "C0"}), ("pruned", {"facecolors": "none", "edgecolors": "C1"})):
            sel = [r for r in shown if r["status"] == status]
            if not sel:
                continue
            xs = [r["params"].get(name) for r in sel]
            if not numeric:
                xs = [labels.index(_fmt(x)) for x in xs]
            ax.scatter(xs, [r["metric"] for r in sel], label=status, **style)
        if numeric and min(xs_all) > 0 and max(xs_all) / min(xs_all) > 50:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(range(len(labels)), [lab[:18] for lab in labels], rotation=30, ha="right", fontsize=7)
        ax.set_xlabel(name)
        ax.set_ylabel(f"{metric['name']} ({metric.get('stage', 'last')})")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
