"""Precision and recall of doom-loop detection on the labeled set in tests/data/doom_loops/.

    python benchmarks/bench_doom_loop.py [--sweep]

The set has generated token-id completions (``generated.jsonl``: loops of period 1..50, late
loops, long periods, sampled "noisy" loops; natural text, tables, counting, step counters,
repeated lines that end) and hand-written texts (``handwritten.jsonl``, judged in word or
character units). Prints a per-category table and overall precision / recall / F1 for the
default thresholds; ``--sweep`` also scores other values of min_coverage (K) and min_repeats (R)
to show why the defaults were chosen.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "doom_loops"


def load() -> list[dict]:
    rows = []
    for line in (DATA / "generated.jsonl").read_text().splitlines():
        r = json.loads(line)
        rows.append({"source": "generated", "kind": r["kind"], "seq": r["token_ids"], "unit": "token",
                     "finished": r["finished"], "label": r["label"]})
    for line in (DATA / "handwritten.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        rows.append({"source": "handwritten", "kind": r["id"], "seq": r["text"], "unit": r["unit"],
                     "finished": r["finished"], "label": r["label"]})
    return rows


def predict(rows: list[dict], **thresholds) -> list[bool]:
    from lfmgym.rewards.doom_loop import detect_doom_loops

    out: list[bool | None] = [None] * len(rows)
    by_unit: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_unit[r["unit"]].append(i)
    for unit, idx in by_unit.items():
        verdicts = detect_doom_loops([rows[i]["seq"] for i in idx], [rows[i]["finished"] for i in idx],
                                     unit=unit, metrics=False, **thresholds)
        for i, v in zip(idx, verdicts):
            out[i] = v.loop
    return out  # type: ignore[return-value]


def scores(rows: list[dict], pred: list[bool]) -> tuple[int, int, int, int]:
    tp = sum(p and r["label"] for p, r in zip(pred, rows))
    fp = sum(p and not r["label"] for p, r in zip(pred, rows))
    fn = sum(not p and r["label"] for p, r in zip(pred, rows))
    tn = len(rows) - tp - fp - fn
    return tp, fp, fn, tn


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", action="store_true", help="also score other K and R values")
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    from lfmgym.rewards.doom_loop import DEFAULT_MAX_PERIOD, DEFAULT_MIN_COVERAGE, DEFAULT_MIN_REPEATS

    console = Console()
    rows = load()
    pred = predict(rows)

    table = Table(title=f"doom-loop detection by category (P={DEFAULT_MAX_PERIOD}, K={DEFAULT_MIN_COVERAGE}, "
                        f"R={DEFAULT_MIN_REPEATS})")
    for col in ("source", "category", "label", "n", "flagged", "correct"):
        table.add_column(col)
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[(r["source"], r["kind"], r["label"])].append(i)
    for (source, kind, label), idx in sorted(groups.items(), key=lambda kv: (kv[0][0], not kv[0][2], kv[0][1])):
        flagged = sum(pred[i] for i in idx)
        correct = sum(pred[i] == rows[i]["label"] for i in idx)
        style = "" if correct == len(idx) else "[yellow]"
        table.add_row(source, kind, "loop" if label else "not a loop", str(len(idx)), str(flagged), f"{style}{correct}/{len(idx)}")
    console.print(table)

    summary = Table(title="precision / recall")
    for col in ("set", "n", "TP", "FP", "FN", "precision", "recall", "F1"):
        summary.add_column(col)
    for name, subset in (("generated", "generated"), ("handwritten", "handwritten"), ("all", None)):
        idx = [i for i, r in enumerate(rows) if subset is None or r["source"] == subset]
        tp, fp, fn, _ = scores([rows[i] for i in idx], [pred[i] for i in idx])
        p, r, f = prf(tp, fp, fn)
        summary.add_row(name, str(len(idx)), str(tp), str(fp), str(fn), f"{p:.3f}", f"{r:.3f}", f"{f:.3f}")
    console.print(summary)

    if args.sweep:
        sweep = Table(title="threshold sweep (all rows)")
        for col in ("K (min_coverage)", "R (min_repeats)", "precision", "recall", "F1"):
            sweep.add_column(col)
        for k in (16, 32, 64, 128):
            for r in (2, 3, 4):
                tp, fp, fn, _ = scores(rows, predict(rows, min_coverage=k, min_repeats=r))
                p, rc, f = prf(tp, fp, fn)
                mark = " (default)" if (k, r) == (DEFAULT_MIN_COVERAGE, DEFAULT_MIN_REPEATS) else ""
                sweep.add_row(f"{k}{mark}", str(r), f"{p:.3f}", f"{rc:.3f}", f"{f:.3f}")
        console.print(sweep)


if __name__ == "__main__":
    main()
