"""Every process works: split episodes over the processes of ``accelerate launch`` and gather them.

Each process plays a contiguous share of the tasks (with the tasks' own seeds, so an episode is
the same whichever process plays it and whatever it is batched with) and every process gets all
records back, in task order. One process alone (no launcher) plays everything: same results.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

__all__ = ["play_split", "num_processes", "process_group_timeout", "process_state"]

# Waits that must stay on one rank (writing results, building a base model) use this timeout, not
# torch's default (30 min for NCCL/gloo), which a long eval or DPO round at GPU size outlasts.
TIMEOUT_ENV = "LFMGYM_PG_TIMEOUT_S"


def process_group_timeout() -> timedelta:
    """The process-group timeout: ``$LFMGYM_PG_TIMEOUT_S`` seconds (default 3 hours)."""
    return timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, 3 * 3600)))


def process_state():
    from accelerate import PartialState

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch

        # Several processes without a GPU (torchrun / accelerate launch --multi_gpu on a CPU box):
        # accelerate only forms a gloo process group when told it runs on the CPU.
        return PartialState(cpu=not torch.cuda.is_available(), timeout=process_group_timeout())
    return PartialState()


def num_processes() -> int:
    return process_state().num_processes


def play_split(play: Callable[[list[Any], list[int]], list[Any]], tasks: Sequence[Any],
               seeds: Sequence[int]) -> list[Any]:
    """``play(tasks, seeds) -> records`` on this process's share; all records, in task order, everywhere."""
    state = process_state()
    tasks, seeds = list(tasks), list(seeds)
    if state.num_processes == 1:
        return play(tasks, seeds)
    from accelerate.utils import gather_object

    n, p, r = len(tasks), state.num_processes, state.process_index
    lo, hi = n * r // p, n * (r + 1) // p
    mine = play(tasks[lo:hi], seeds[lo:hi]) if hi > lo else []
    for rec in mine:
        if hasattr(rec, "rank"):
            rec.rank = r
    gathered = gather_object([(lo, mine)])  # one (offset, records) per process
    out: list[Any] = [None] * n
    for offset, recs in gathered:
        out[offset:offset + len(recs)] = recs
    return out
