"""Tool-calling environment (``tool_calling``): BFCL-shaped function-calling tasks over real
stateless and stateful tools, or BFCL data files, scored by AST match, end state and final answer.

Public API (imported lazily so loading the plugin stays cheap)::

    from lfmgym.envs.tool_calling import ToolCallingEnv, load_bfcl_tasks, make_task, Store
"""

from __future__ import annotations

import importlib

__all__ = ["ToolCallingEnv", "load_bfcl_tasks", "make_task", "Store", "SHAPES", "TIER_SHAPES"]

_WHERE = {
    "ToolCallingEnv": "env",
    "load_bfcl_tasks": "bfcl",
    "make_task": "tasks",
    "SHAPES": "tasks",
    "TIER_SHAPES": "tasks",
    "Store": "store",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
