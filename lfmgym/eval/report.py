"""Evaluation reports: ``results.json`` per run, markdown tables and a plot comparing runs.

A *run* is the JSON an eval writes (``kind`` = ``"envs"`` or ``"bfcl"``, a ``label``, the
metrics). :func:`write_report` renders one or several runs of the same kind -- e.g. the
checkpoints of a training run side by side -- as ``report.md`` and ``report.png``;
``lfmgym report DIR...`` redraws both from saved ``results.json`` files.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

__all__ = ["save_run", "load_run", "markdown_report", "plot_runs", "write_report", "print_runs", "bfcl_failures",
           "ENV_METRICS"]

RESULTS_FILE = "results.json"
# Columns of the env tables (missing metrics print as "-").
ENV_METRICS = ("success", "pass@1", "pass@k", "parse_rate", "tool_error_rate", "doom_loop_greedy",
               "doom_loop_sampled", "doom_loop_episode", "mean_tokens", "latency_s", "loop_tokens_saved", "n")
PLOT_ENV_METRICS = ("success", "pass@k", "parse_rate", "doom_loop_sampled")
# BFCL rows in the leaderboard's order (groups in bold); rows no run has are left out.
BFCL_COLUMNS = ("overall", "single_turn", "non_live", "simple", "simple_python", "simple_java", "simple_javascript",
                "multiple", "parallel", "parallel_multiple", "live", "live_simple", "live_multiple", "live_parallel",
                "live_parallel_multiple", "multi_turn", "multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param",
                "multi_turn_long_context", "irrelevance_detection", "irrelevance", "live_irrelevance",
                "relevance_detection", "live_relevance")
BFCL_GROUPS = ("overall", "single_turn", "non_live", "simple", "live", "multi_turn", "irrelevance_detection",
               "relevance_detection")


def save_run(result: dict[str, Any], out_dir: str | Path, label: str) -> Path:
    """Write ``result`` (with ``label`` and a timestamp) to ``out_dir/results.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = {**result, "label": label, "created": result.get("created") or time.strftime("%Y-%m-%dT%H:%M:%S")}
    path = out / RESULTS_FILE
    path.write_text(json.dumps(result, indent=2, default=_jsonable) + "\n")
    return path


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return str(obj)


def load_run(path: str | Path) -> dict[str, Any]:
    """A run from a results directory or a ``results.json`` / ``summary.json`` file."""
    p = Path(path)
    if p.is_dir():
        candidates = [p / RESULTS_FILE, p / "summary.json"]
        p = next((c for c in candidates if c.is_file()), candidates[0])
    if not p.is_file():
        raise FileNotFoundError(f"{path}: no {RESULTS_FILE} here (run `lfmgym eval ... --out {path}` first)")
    try:
        run = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(run, dict) or run.get("kind") not in ("envs", "bfcl"):
        raise ValueError(f"{p}: not an lfmgym eval result (missing kind 'envs' or 'bfcl')")
    run.setdefault("label", p.parent.name)
    return run


# --------------------------------------------------------------------------- values


def _pass_k(row: dict[str, Any]) -> float | None:
    ks = [int(k.split("@")[1]) for k in row if k.startswith("pass@") and k != "pass@1"]
    return row[f"pass@{max(ks)}"] if ks else row.get("pass@1")


def env_value(row: dict[str, Any], metric: str) -> Any:
    return _pass_k(row) if metric == "pass@k" else row.get(metric)


def bfcl_value(run: dict[str, Any], column: str) -> float | None:
    s = run.get("summary", run)
    if column in s.get("categories", {}):
        return s["categories"][column]["accuracy"]
    if column in ("overall", "single_turn"):
        return s.get(column)
    return s.get("groups", {}).get(column)


def _bfcl_rows(runs: list[dict[str, Any]]) -> list[str]:
    return [c for c in BFCL_COLUMNS if any(bfcl_value(r, c) is not None for r in runs)]


def bfcl_failures(run: dict[str, Any]) -> dict[str, int]:
    """``{error kind: entries}`` over all categories of a BFCL run."""
    out: dict[str, int] = {}
    for row in run.get("summary", run).get("categories", {}).values():
        for kind, count in (row.get("errors") or {}).items():
            out[kind] = out.get(kind, 0) + int(count)
    return out


def _fmt(v: Any, metric: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if metric in ("n", "loop_tokens_saved"):
        return str(int(v))
    if metric in ("mean_tokens", "mean_chars"):
        return f"{v:.1f}"
    if metric == "latency_s":
        return f"{v:.3f}"
    if isinstance(v, float):
        return f"{100 * v:.1f}"  # rates as percentages
    return str(v)


def _env_names(runs: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for r in runs:
        names += [n for n in r["envs"] if n not in names]
    return names


# --------------------------------------------------------------------------- tables


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _kind(runs: list[dict[str, Any]]) -> str:
    kinds = {r["kind"] for r in runs}
    if len(kinds) != 1:
        raise ValueError(f"cannot compare runs of different kinds {sorted(kinds)} in one report")
    return kinds.pop()


def table_rows(runs: list[dict[str, Any]]) -> list[tuple[str, list[str], list[list[str]]]]:
    """``(title, header, rows)`` of each table in the report (also used for the console)."""
    kind = _kind(runs)
    if kind == "bfcl":
        # Categories down, runs across: fits a terminal and reads like BFCL's table.
        header = ["category"] + [r["label"] for r in runs]
        rows = [[f"**{c}**" if c in BFCL_GROUPS else c] + [_fmt(bfcl_value(r, c)) for r in runs]
                for c in _bfcl_rows(runs)]
        modes = {r.get("summary", r).get("mode", "official") for r in runs}
        tables = [(f"BFCL accuracy (%, {'/'.join(sorted(modes))} verdicts)", header, rows)]
        # The other verdict mode, where it gives other numbers (rows named in summary.json).
        for r in runs:
            other = r.get("summary", r).get("other_mode")
            if not other:
                continue
            this = r.get("summary", r).get("mode", "official")
            both = [[c, _fmt(bfcl_value(r, c)), _fmt(other["categories"].get(c, other["groups"].get(c)
                                                                            if c not in ("overall", "single_turn")
                                                                            else other.get(c)))]
                    for c in _bfcl_rows([r])]
            tables.append((f"{r['label']}: {this} vs {other['mode']} verdicts ({len(other['differ'])} rows differ: "
                           f"{', '.join(other['differ'][:5])}{' ...' if len(other['differ']) > 5 else ''})",
                           ["category", this, other["mode"]], both))
        # Why entries failed: the checker's error kinds summed over categories, so a report says
        # *why* a model fails (wrong values? missing parameters? no call at all?), not only how often.
        failures = [bfcl_failures(r) for r in runs]
        kinds = sorted({k for f in failures for k in f}, key=lambda k: (-sum(f.get(k, 0) for f in failures), k))
        if kinds:
            tables.append(("BFCL failures by kind (entries)", ["failure kind"] + [r["label"] for r in runs],
                           [[k] + [str(f.get(k, 0)) for f in failures] for k in kinds]))
        return tables
    tables = []
    if len(runs) == 1:
        run = runs[0]
        # Metrics down, envs across: fits a terminal however many metrics there are.
        header = ["metric"] + list(run["envs"]) + ["overall"]
        rows = [[m] + [_fmt(env_value(row, m), m) for row in run["envs"].values()]
                + [_fmt(env_value(run["overall"], m), m)] for m in ENV_METRICS]
        tables.append((f"{run['label']} (rates in %)", header, rows))
        # Episodes the engine or the env cut, by reason (turn limit, a hung step, a spent budget, ...).
        reasons = sorted({k for row in run["envs"].values() for k in (row.get("truncated") or {})})
        if reasons:
            tables.append(("episodes truncated, by reason (greedy + sampled)", ["reason"] + list(run["envs"]),
                           [[k] + [str((row.get("truncated") or {}).get(k, 0)) for row in run["envs"].values()]
                            for k in reasons]))
        return tables
    names = _env_names(runs)
    for metric in ("success", "pass@k", "parse_rate", "doom_loop_greedy", "doom_loop_sampled"):
        header = ["run"] + names + ["overall"]
        rows = [[r["label"]] + [_fmt(env_value(r["envs"][n], metric) if n in r["envs"] else None, metric)
                                for n in names] + [_fmt(env_value(r["overall"], metric), metric)] for r in runs]
        tables.append((f"{metric} (%)", header, rows))
    return tables


def markdown_report(runs: list[dict[str, Any]]) -> str:
    """The markdown tables of one or several runs."""
    parts = [f"# Evaluation: {', '.join(r['label'] for r in runs)}", ""]
    for title, header, rows in table_rows(runs):
        parts += [f"## {title}", "", _md_table(header, rows), ""]
    cfgs = [(r["label"], r.get("config")) for r in runs if r.get("config")]
    if cfgs:
        parts += ["## Settings", ""] + [f"- {label}: `{json.dumps(cfg, sort_keys=True)}`" for label, cfg in cfgs] + [""]
    return "\n".join(parts)


def print_runs(runs: list[dict[str, Any]]) -> None:
    """Print the report tables with rich."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    for title, header, rows in table_rows(runs):
        # Run labels are user text (paths, --label): escape them so '[...]' is not read as markup.
        table = Table(title=escape(title))
        for col in header:
            table.add_column(escape(col), justify="left" if col in ("run", "metric", "category", "failure kind") else "right")
        for r in rows:
            table.add_row(*[escape(c.replace("**", "")) for c in r])
        console.print(table)


# --------------------------------------------------------------------------- plot


def plot_runs(runs: list[dict[str, Any]], path: str | Path) -> Path:
    """Grouped bars, one bar per run: env metrics per env (+ overall), or BFCL accuracy per category."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kind = _kind(runs)
    if kind == "bfcl":
        panels = [("BFCL accuracy", _bfcl_rows(runs), lambda r, c: bfcl_value(r, c))]
    else:
        names = _env_names(runs) + ["overall"]

        def getter(metric):
            return lambda r, n: env_value(r["overall"] if n == "overall" else r["envs"].get(n, {}), metric)

        panels = [(m, names, getter(m)) for m in PLOT_ENV_METRICS]
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(6, 1.2 * len(panels[0][1]) * max(1, len(runs)) / 2 + 3),
                                                     3.2 * len(panels)), squeeze=False)
    width = 0.8 / len(runs)
    for ax, (title, groups, get) in zip(axes[:, 0], panels):
        for i, run in enumerate(runs):
            vals = [get(run, g) for g in groups]
            xs = [j + (i - (len(runs) - 1) / 2) * width for j in range(len(groups))]
            ax.bar(xs, [0 if v is None else v for v in vals], width, label=run["label"])
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups, rotation=20, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_report(runs: list[dict[str, Any]], out_dir: str | Path, stem: str = "report") -> dict[str, Path]:
    """Write ``<stem>.md``, ``<stem>.png`` and ``<stem>.json`` (the runs) to ``out_dir``."""
    if not runs:
        raise ValueError("write_report: no runs")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = out / f"{stem}.md"
    md.write_text(markdown_report(runs))
    js = out / f"{stem}.json"
    js.write_text(json.dumps({"runs": runs}, indent=2, default=_jsonable) + "\n")
    png = plot_runs(runs, out / f"{stem}.png")
    return {"markdown": md, "json": js, "plot": png}
