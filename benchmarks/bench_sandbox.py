"""Round-trip of a trivial cell: persistent sandbox worker vs a fresh sandbox per cell.

Baseline (same run): start a new bubblewrap sandbox, run the cell, close it, every time.
Goal: persistent median <= 10 ms and >= 5x faster than the baseline.
Also reports injecting a 1M-character ``context`` and one host-function round trip.

Whole-sandbox memory: a sandbox with ``memory_mb=512`` whose cell forks ``--children`` processes
of 200 MiB each; a 10 ms sampler sums the PSS of every process of the sandbox. Goal: the peak
stays at 512 MiB with the cgroup where the kernel allows one, and within 25% of it with the
watchdog alone (it polls; the children touch 200 MiB in a few milliseconds each).

    python benchmarks/bench_sandbox.py [--cells 200] [--fresh 20] [--children 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from rich.console import Console
from rich.table import Table

from lfmgym.sandbox import Sandbox, limits
from lfmgym.sandbox import sandbox as sandbox_module

CELL = "x = 1 + 1"


def timed(fn, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


CHILDREN = """
import os, time
kids = []
for i in range({n}):
    pid = os.fork()
    if pid == 0:
        try:
            block = bytearray(200 << 20)
            block[::4096] = b"1" * len(block[::4096])
            time.sleep(1.5)
        finally:
            os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
"""


def memory_peak(children: int, allow_cgroups: bool) -> tuple[str, float, str | None]:
    """(mechanism, peak MiB of the whole sandbox, the cell's limit) for one run."""
    import functools
    import threading
    import warnings

    original = sandbox_module.MemoryGuard
    sandbox_module.MemoryGuard = functools.partial(limits.MemoryGuard, allow_cgroups=allow_cgroups)
    try:
        with warnings.catch_warnings():  # the watchdog-only run warns that it has no cgroup
            warnings.simplefilter("ignore")
            box = Sandbox(cell_timeout=30.0, episode_timeout=60.0, memory_mb=512)
            box.start()
        with box:
            box.start()
            peak, done = [0], threading.Event()

            def sample() -> None:
                while not done.wait(0.01):
                    peak[0] = max(peak[0], limits.tree_memory(box._proc.pid))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            result = box.run(CHILDREN.format(n=children))
            done.set()
            sampler.join()
            return box._guard.mechanism, peak[0] / (1 << 20), result.limit
    finally:
        sandbox_module.MemoryGuard = original


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=200, help="cells timed in the persistent worker")
    parser.add_argument("--fresh", type=int, default=20, help="fresh sandboxes timed for the baseline")
    parser.add_argument("--children", type=int, default=6, help="200 MiB children in the memory test (0: skip)")
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
    if args.children:
        memory = Table(title=f"memory_mb=512, {args.children} children x 200 MiB: peak of the whole sandbox")
        for column in ("mechanism", "peak MiB (sum of PSS)", "cell limit"):
            memory.add_column(column)
        for allow in (True, False):
            mechanism, peak, limit = memory_peak(args.children, allow)
            memory.add_row(mechanism, f"{peak:.0f}", str(limit))
            allowance = 1.02 if mechanism.startswith("cgroup") else 1.25  # the watchdog polls
            goal = goal and peak <= 512 * allowance and limit == "memory"
        console.print(memory)
        console.print(f"memory goal (peak <= 512 MiB with a cgroup, <= 640 MiB by the watchdog alone, limit "
                      f"reported): {'MET' if goal else 'NOT MET'}")
    return 0 if goal else 1


if __name__ == "__main__":
    sys.exit(main())
