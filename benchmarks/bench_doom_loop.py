"""Doom-loop detection on the repo's labeled sets: precision, recall and recall per kind.

    python benchmarks/bench_doom_loop.py [--split test|dev|all] [--sweep]

Sets (``tests/data/doom_loops``, see ``make_labeled.py`` and ``generate.py`` there):

* ``texts.jsonl`` -- generations as text, judged as ``lfmgym loops`` judges them (the text unit):
  cut-at-cap loops (mid-word too), digit runs, 1-3 word loops, counters, long periods, sampled
  loops; lists, tables, agendas, CSV, code, counting as negatives. ``dev`` rows were used to
  choose the rules, ``test`` rows were not (disjoint word pools and seeds); the ``test`` rows with
  a ``template`` (shown as ``kind/template``) come from templates written after the rules were
  fixed and were never tuned on.
* ``episodes.jsonl`` -- multi-turn episodes (``episode_loop_verdicts``), same two splits.
* ``generated.jsonl`` + ``handwritten.jsonl`` -- token-id completions (ids 0-9 are digits) and
  older hand-written texts: reported as ``tokens`` (no split; all were available while tuning).

Gates (the issue's): core precision and recall >= 0.95 (every kind but counters), counter recall
>= 0.8 with no list flagged, and the same precision/recall on episodes. ``--sweep`` scores other
tolerances and long periods on the chosen split. Exit code 1 when a gate fails.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "doom_loops"
LISTS = {"mult_table", "agenda", "csv", "code", "enumeration", "counting", "template_list", "fibonacci", "squares",
         "html_table", "log_lines", "matrix"}


def read(name: str) -> list[dict]:
    return [json.loads(l) for l in (DATA / name).read_text(encoding="utf-8").splitlines()]


def judge_texts(rows: list[dict], **rules) -> list:
    from lfmgym.rewards.doom_loop import detect_doom_loops

    return detect_doom_loops([r["text"] for r in rows], [r["finished"] for r in rows], unit="text", metrics=False, **rules)


def judge_tokens() -> tuple[list[dict], list]:
    from lfmgym.rewards.doom_loop import detect_doom_loop, detect_doom_loops

    rows = read("generated.jsonl")
    verdicts = detect_doom_loops([r["token_ids"] for r in rows], [r["finished"] for r in rows], metrics=False,
                                 digits={i: str(i) for i in range(10)})
    hand = read("handwritten.jsonl")
    verdicts += [detect_doom_loop(h["text"], h["finished"], unit=h["unit"], metrics=False) for h in hand]
    rows = rows + [{"kind": "handwritten", **h} for h in hand]
    return rows, verdicts


def prf(pairs) -> tuple[int, int, int, float, float]:
    pairs = list(pairs)
    tp = sum(v.loop and r["label"] for r, v in pairs)
    fp = sum(v.loop and not r["label"] for r, v in pairs)
    fn = sum(not v.loop and r["label"] for r, v in pairs)
    return tp, fp, fn, tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("test", "dev", "all"), default="test")
    ap.add_argument("--sweep", action="store_true", help="also score other tolerance / long_period values")
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table

    from lfmgym.rewards.episode_loops import episode_loop_verdicts

    console = Console()
    pick = (lambda r: True) if args.split == "all" else (lambda r: r["split"] == args.split)
    texts = [r for r in read("texts.jsonl") if pick(r)]
    episodes = [r for r in read("episodes.jsonl") if pick(r)]
    t0 = time.perf_counter()
    tv = judge_texts(texts)
    t_text = time.perf_counter() - t0
    t0 = time.perf_counter()
    ev = episode_loop_verdicts([r["messages"] for r in episodes], [r["finished"] for r in episodes])
    t_ep = time.perf_counter() - t0
    token_rows, token_verdicts = judge_tokens()

    table = Table(title=f"doom loops by labeled kind ({args.split} split; tokens: all)")
    for col in ("set", "kind", "label", "n", "flagged", "correct", "verdict kinds"):
        table.add_column(col)
    for name, rows, verdicts in (("texts", texts, tv), ("episodes", episodes, ev), ("tokens", token_rows, token_verdicts)):
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            groups[(r["kind"] + (f"/{r['template']}" if r.get("template") else ""), r["label"])].append(i)
        for (kind, label), idx in sorted(groups.items(), key=lambda kv: (not kv[0][1], kv[0][0])):
            flagged = sum(verdicts[i].loop for i in idx)
            correct = sum(verdicts[i].loop == rows[i]["label"] for i in idx)
            seen = defaultdict(int)
            for i in idx:
                if verdicts[i].loop:
                    seen[verdicts[i].kind] += 1
            style = "" if correct == len(idx) else "[yellow]"
            table.add_row(name, kind, "loop" if label else "not a loop", str(len(idx)), str(flagged),
                          f"{style}{correct}/{len(idx)}", ", ".join(f"{k} {n}" for k, n in sorted(seen.items())))
    console.print(table)

    core = [(r, v) for r, v in zip(texts, tv) if r["kind"] != "counter"]
    counters = [(r, v) for r, v in zip(texts, tv) if r["kind"] == "counter"]
    lists_flagged = sum(v.loop for r, v in zip(texts, tv) if r["kind"] in LISTS)
    summary = Table(title="gates")
    for col in ("set", "n", "TP", "FP", "FN", "precision", "recall", "gate"):
        summary.add_column(col)
    ok = True
    for name, pairs, need_p, need_r in (("texts: core kinds", core, 0.95, 0.95), ("texts: counters", counters, None, 0.8),
                                         ("episodes", list(zip(episodes, ev)), 0.95, 0.95),
                                         ("tokens (tuning set)", list(zip(token_rows, token_verdicts)), None, None)):
        tp, fp, fn, p, r = prf(pairs)
        passed = (need_p is None or p >= need_p) and (need_r is None or r >= need_r)
        if name == "texts: counters":
            passed &= lists_flagged == 0
        ok &= passed
        gate = "" if need_p is None and need_r is None else ("[green]pass" if passed else "[red]FAIL")
        if name == "texts: counters":
            gate += f" (lists flagged: {lists_flagged})"
        summary.add_row(name, str(len(pairs)), str(tp), str(fp), str(fn), f"{p:.3f}", f"{r:.3f}", gate)
    console.print(summary)
    console.print(f"{len(texts)} texts in {t_text:.2f} s, {len(episodes)} episodes in {t_ep:.2f} s")

    if args.sweep:
        sweep = Table(title=f"rule sweep on texts ({args.split})")
        for col in ("tolerance", "long_period", "core P", "core R", "counter R"):
            sweep.add_column(col)
        for tol in (0.0, 0.05, 0.1, 0.2):
            for lp in (0, 16, 24, 32):
                v = judge_texts(texts, tolerance=tol, long_period=lp)
                _, _, _, p, r = prf((row, x) for row, x in zip(texts, v) if row["kind"] != "counter")
                _, _, _, _, rc = prf((row, x) for row, x in zip(texts, v) if row["kind"] == "counter")
                mark = " (default)" if (tol, lp) == (0.1, 24) else ""
                sweep.add_row(f"{tol}{mark}", str(lp), f"{p:.3f}", f"{r:.3f}", f"{rc:.3f}")
        console.print(sweep)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
