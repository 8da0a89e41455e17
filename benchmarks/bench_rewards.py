"""N-gram repetition penalty vs TRL, and doom-loop detection, on 1,024 completions x 2,048 tokens.

    python benchmarks/bench_rewards.py [--batch 1024] [--length 2048] [--repeats 3]

The batch mixes natural text (Zipf-distributed ids over a 65,536-token vocabulary, LFM2's size)
with loops of period 1..50 that start anywhere. The baseline is
``trl.rewards.get_repetition_penalty_reward`` (a Python set of n-gram tuples per completion),
run in the same process on the same Python lists. Targets: identical values, >= 10x faster, and
doom-loop detection of the whole batch <= 1 s. Each time is the best of ``--repeats`` runs; the
machine's load average is printed because it is shared.

Exit code 1 when our values differ from TRL's.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def make_batch(batch: int, length: int, seed: int = 0) -> tuple[list[list[int]], list[bool]]:
    rng = np.random.default_rng(seed)
    seqs, finished = [], []
    for i in range(batch):
        ids = rng.zipf(1.2, size=length * 2)
        ids = ids[ids < 65536][:length]
        if i % 2 == 1:  # a loop of period 1..50 from a random point to the cap
            p = int(rng.integers(1, 51))
            start = int(rng.integers(0, length - 3 * p))
            unit = ids[start : start + p]
            ids = np.concatenate([ids[:start], np.tile(unit, length // p + 1)])[:length]
        seqs.append(ids.astype(int).tolist())
        finished.append(bool(i % 4 == 0))
    return seqs, finished


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--length", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ngram", type=int, nargs="+", default=[3, 2, 4])
    args = ap.parse_args()

    from rich.console import Console
    from rich.table import Table
    from trl.rewards import get_repetition_penalty_reward

    from lfmgym.rewards.doom_loop import detect_doom_loops
    from lfmgym.rewards.ngram import batch_ngram_penalty

    seqs, finished = make_batch(args.batch, args.length)
    array = np.asarray(seqs, dtype=np.int64)
    tokens = args.batch * args.length
    load = os.getloadavg()[0]
    console = Console()
    ok = True

    table = Table(title=f"{args.batch} completions x {args.length} tokens ({tokens:,} tokens), best of {args.repeats}, "
                        f"load average {load:.1f} on {os.cpu_count()} CPUs\n"
                        "baseline: trl.rewards.get_repetition_penalty_reward on the same Python lists")
    for col in ("what", "seconds", "speed-up vs TRL", "values"):
        table.add_column(col)
    for n in args.ngram:
        trl_fn = get_repetition_penalty_reward(ngram_size=n, max_penalty=-1.0)
        t_trl, ref = best_of(lambda: trl_fn(seqs), args.repeats)
        t_list, ours = best_of(lambda: batch_ngram_penalty(seqs, n=n, max_penalty=-1.0), args.repeats)
        t_arr, ours_arr = best_of(lambda: batch_ngram_penalty(array, n=n, max_penalty=-1.0), args.repeats)
        same = ours == ref and ours_arr == ref
        ok &= same
        verdict = "identical" if same else "[red]DIFFERENT[/red]"
        table.add_row(f"n={n}: TRL (baseline)", f"{t_trl:.3f}", "1.0x", "")
        table.add_row(f"n={n}: ours, from Python lists", f"{t_list:.3f}", f"{t_trl / t_list:.1f}x", verdict)
        table.add_row(f"n={n}: ours, from a token-id array", f"{t_arr:.3f}", f"{t_trl / t_arr:.1f}x", verdict)
    t_loop, verdicts = best_of(lambda: detect_doom_loops(seqs, finished), args.repeats)
    t_fast, _ = best_of(lambda: detect_doom_loops(seqs, finished, metrics=False), args.repeats)
    n_loops = sum(v.loop for v in verdicts)
    target = "[green]<= 1 s[/green]" if t_loop <= 1.0 else "[red]> 1 s[/red]"
    table.add_row("doom loops + seq-rep-n + rep/l", f"{t_loop:.3f}", "", f"{target}; {n_loops} loops")
    table.add_row("doom loops, verdicts only", f"{t_fast:.3f}", "", "")
    console.print(table)
    if not ok:
        console.print("[red]our penalties differ from TRL's[/red]")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
