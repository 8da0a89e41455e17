"""Round-trip of a trivial cell: persistent sandbox worker vs a fresh sandbox per cell.

Baseline (same run): start a new bubblewrap sandbox, run the cell, close it, every time.
Goal: persistent median <= 10 ms and >= 5x faster than the baseline.
Also reports injecting a 1M-character ``context`` and one host-function round trip.

    python benchmarks/bench_sandbox.py [--cells 200] [--fresh 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from rich.console import Console
from rich.table import Table

from lfmgym.sandbox import Sandbox

CELL = "x = 1 + 1"


def timed(fn, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=200, help="cells timed in the persistent worker")
    parser.add_argument("--fresh", type=int, default=20, help="fresh sandboxes timed for the baseline")
    args = parser.parse_args(argv)

    with Sandbox(host_functions={"llm_query": lambda prompt: prompt[::-1]}) as box:
        box.run(CELL)  # warm up
        persistent = timed(lambda: box.run(CELL), args.cells)
        context = "abcdefghij" * 100_000
        inject = timed(lambda: box.set_variable("context", context), 10)
        host_call = timed(lambda: box.run("llm_query('ping')"), args.cells // 2)

    def fresh_cell() -> None:
        with Sandbox() as fresh:
            fresh.run(CELL)

    fresh_cell()  # warm up the page cache
    fresh = timed(fresh_cell, args.fresh)

    persistent_ms = statistics.median(persistent) * 1e3
    fresh_ms = statistics.median(fresh) * 1e3
    speedup = fresh_ms / persistent_ms
    table = Table(title=f"sandbox round trip of `{CELL}` (median)")
    for column in ("mode", "n", "median ms", "p90 ms"):
        table.add_column(column, justify="right" if column != "mode" else "left")

    def row(name: str, samples: list[float]) -> None:
        ordered = sorted(samples)
        p90 = ordered[int(0.9 * (len(ordered) - 1))]
        table.add_row(name, str(len(samples)), f"{statistics.median(samples) * 1e3:.2f}", f"{p90 * 1e3:.2f}")

    row("persistent worker", persistent)
    row("fresh sandbox per cell (baseline)", fresh)
    row("cell calling a host function", host_call)
    row("inject 1M-char context", inject)
    console = Console()
    console.print(table)
    goal = persistent_ms <= 10 and speedup >= 5
    console.print(
        f"speedup {speedup:.1f}x; goal (<= 10 ms and >= 5x): {'MET' if goal else 'NOT MET'}",
    )
    return 0 if goal else 1


if __name__ == "__main__":
    sys.exit(main())
