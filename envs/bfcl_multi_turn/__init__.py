"""Multi-turn stateful tool use (``bfcl_multi_turn``): BFCL's multi-turn API suites as an lfmgym
environment, with BFCL's multi-turn checker, its entries as tasks and a procedural generator.

Public API (imported lazily so loading the plugin stays cheap)::

    from lfmgym.envs.bfcl_multi_turn import BfclMultiTurnEnv, Session, check_entry, load_tasks, generate_task
"""

from __future__ import annotations

import importlib

__all__ = ["BfclMultiTurnEnv", "Session", "check_entry", "Verdict", "load_tasks", "load_entries", "generate_task",
           "SUITES", "CATEGORIES"]

_WHERE = {
    "BfclMultiTurnEnv": "env",
    "Session": "session",
    "check_entry": "checker",
    "Verdict": "checker",
    "load_tasks": "bfcl_data",
    "load_entries": "bfcl_data",
    "CATEGORIES": "bfcl_data",
    "generate_task": "generator",
    "SUITES": "apis",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
