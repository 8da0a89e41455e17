"""Procedural tool-calling tasks in BFCL's shapes, with paraphrased requests and distractor tools.

A task is built from *requests*: one sentence of the user turn plus the call(s) that serve it.
Shapes (and the difficulty tier that produces them):

======  ====================  =================================================================
tier    shape                 what the model must do
======  ====================  =================================================================
0       ``simple``            one call; the only tool shown is the right one
1       ``multiple``          one call; pick the right tool among 2-3 similar ones
1       ``irrelevance``       no tool fits: answer in plain text without calling
2       ``parallel``          2-3 calls of one tool in a single turn (one distractor at most)
2       ``parallel_multiple`` 2-3 calls of 2 different tools in a single turn
3       ``multi_step``        a call whose result feeds the next call, over two turns
======  ====================  =================================================================

From tier 1 on, each tool is shown under a random alias half of the time (``get_capital`` may be
``capital_city``) so names cannot be memorised; from tier 2 on, dates may be written out
("March 5, 2024") while the tools still take ``YYYY-MM-DD``.

The gold calls are stored in BFCL ``possible_answer`` form as ``Task.answer``:
``[{tool_name: {param: [accepted values]}}, ...]``. ``Task.meta`` holds what the demonstration
and the scorer need: ``shape``, ``tools`` (``[catalog key, shown name]`` pairs), ``turns`` (the
canonical calls of each assistant turn), ``final`` (the demonstration's closing text),
``expect``/``forbid`` (strings the final answer must / must not contain), ``exact`` (the final
answer must be exactly ``expect[0]``: irrelevance questions) and ``store`` (the initial state of
the stateful suite, ``None`` for stateless tasks).

This module holds the shapes and tiers, the tool tables (families of look-alikes, aliases) and
:func:`make_task`; the requests of each tool domain live beside it: ``tasks_units``,
``tasks_dates``, ``tasks_countries`` (lookups and money), ``tasks_accounts``, ``tasks_orders``,
``tasks_calendar`` and ``tasks_irrelevance``, over the shared ``tasks_base``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from lfmgym.env import Task
from lfmgym.envs.tool_calling import (
    catalog,
    tasks_accounts,
    tasks_calendar,
    tasks_countries,
    tasks_dates,
    tasks_orders,
    tasks_units,
)
from lfmgym.envs.tool_calling.store import STORE_TOOLS
from lfmgym.envs.tool_calling.tasks_base import Context, Exhausted, Request
from lfmgym.envs.tool_calling.tasks_irrelevance import req_choice

__all__ = ["SHAPES", "TIER_SHAPES", "TOOLS", "ALIASES", "make_task", "store_tool", "stateless_tool", "possible_answer"]

SHAPES: tuple[str, ...] = ("simple", "multiple", "irrelevance", "parallel", "parallel_multiple", "multi_step")
TIER_SHAPES: dict[int, tuple[str, ...]] = {
    0: ("simple",),
    1: ("multiple", "irrelevance"),
    2: ("parallel", "parallel_multiple"),
    3: ("multi_step",),
}

STATELESS: dict[str, Callable] = {
    fn.__name__: fn
    for fn in (
        catalog.convert_units,
        catalog.days_between,
        catalog.add_days,
        catalog.day_of_week,
        catalog.get_capital,
        catalog.get_currency,
        catalog.get_population,
        catalog.convert_currency,
    )
}
TOOLS: tuple[str, ...] = tuple(STATELESS) + STORE_TOOLS

# Families of look-alike tools: distractors for "multiple" come from the same family first.
FAMILIES: tuple[tuple[str, ...], ...] = (
    ("convert_units", "convert_currency"),
    ("days_between", "add_days", "day_of_week"),
    ("get_capital", "get_currency", "get_population"),
    ("get_balance", "transfer", "convert_currency"),
    ("list_orders", "cancel_order"),
    ("add_event", "list_events", "delete_event"),
)

ALIASES: dict[str, tuple[str, ...]] = {
    "convert_units": ("unit_convert", "convert_measure"),
    "days_between": ("count_days", "date_diff"),
    "add_days": ("shift_date", "date_plus"),
    "day_of_week": ("weekday_of", "get_weekday"),
    "get_capital": ("capital_city", "lookup_capital"),
    "get_currency": ("currency_of", "lookup_currency"),
    "get_population": ("population_of", "lookup_population"),
    "convert_currency": ("exchange", "fx_convert"),
    "get_balance": ("account_balance", "check_balance"),
    "transfer": ("move_money", "send_funds"),
    "list_orders": ("find_orders", "orders_of"),
    "cancel_order": ("void_order", "order_cancel"),
    "add_event": ("create_event", "schedule_event"),
    "list_events": ("events_on", "get_events"),
    "delete_event": ("remove_event", "drop_event"),
}


def stateless_tool(key: str) -> Callable | None:
    return STATELESS.get(key)


def store_tool(key: str) -> bool:
    return key in STORE_TOOLS


# --------------------------------------------------------------------------- requests of every domain

# One request per tool; the order is part of the seeded draw (``ctx.pick(SINGLE)``).
SINGLE: dict[str, Callable[[Context], Request]] = {
    **tasks_units.REQUESTS,
    **tasks_dates.REQUESTS,
    **tasks_countries.REQUESTS,
    **tasks_accounts.REQUESTS,
    **tasks_orders.REQUESTS,
    **tasks_calendar.REQUESTS,
}

# Multi-step chains: a call whose result feeds the next one.
CHAINS: tuple[Callable[[Context], Request], ...] = (
    tasks_countries.chain_currency_trip,
    tasks_dates.chain_weekday_after,
    tasks_orders.chain_cancel_pending,
    tasks_accounts.chain_empty_account,
    tasks_calendar.chain_delete_named_event,
)

# --------------------------------------------------------------------------- assembly


def _single(ctx: Context) -> Request:
    for _ in range(20):
        try:
            return SINGLE[ctx.pick(SINGLE)](ctx)
        except Exhausted:
            continue
    raise RuntimeError("could not draw a request (every candidate is exhausted)")


def _requests(ctx: Context, shape: str) -> list[Request]:
    if shape in ("simple", "multiple"):
        return [_single(ctx)]
    if shape == "irrelevance":
        return [req_choice(ctx)]
    if shape == "multi_step":
        return [ctx.pick(CHAINS)(ctx)]
    n = 2 if ctx.chance(0.8) else 3  # three calls rarely: a tiny model's context is ~512 tokens
    if shape == "parallel":
        key = ctx.pick(SINGLE)
        return [SINGLE[key](ctx) for _ in range(n)]
    first, second = (str(k) for k in ctx.rng.choice(list(SINGLE), 2, replace=False))
    keys = [first, second] + [ctx.pick((first, second))] * (n - 2)
    return [SINGLE[k](ctx) for k in keys]


def _distractors(ctx: Context, needed: list[str], k: int) -> list[str]:
    """``k`` tools not needed by the task, look-alikes (same family) first."""
    out: list[str] = []
    family = [t for fam in FAMILIES if set(fam) & set(needed) for t in fam if t not in needed]
    others = [t for t in TOOLS if t not in needed and t not in family]
    for _ in range(k):
        pool = [t for t in family if t not in out] if family and ctx.chance(0.7) else []
        pool = pool or [t for t in others + family if t not in out]
        if pool:
            out.append(ctx.pick(pool))
    return out


def _shown_tools(ctx: Context, shape: str, needed: list[str], n_calls: int) -> list[str]:
    """The needed tools plus distractors, shuffled: at most 3 tools, and no distractor beside
    three calls (the prompt must fit a tiny model's ~512-token context)."""
    extra = {
        "simple": 0,
        "multiple": int(ctx.rng.integers(1, 3)),
        "irrelevance": 2,
        "parallel": int(ctx.rng.integers(0, 2)),
        "parallel_multiple": 0,  # two different tools are already a choice
        "multi_step": int(ctx.rng.integers(0, 2)),
    }[shape]
    extra = min(extra, 3 - len(needed)) if n_calls < 3 else 0
    tools = needed + _distractors(ctx, needed, extra)
    return [tools[int(i)] for i in ctx.rng.permutation(len(tools))]


def _names(ctx: Context, tools: list[str]) -> dict[str, str]:
    if ctx.difficulty < 1:
        return {t: t for t in tools}
    return {t: ctx.pick(ALIASES[t]) if ctx.chance(0.5) else t for t in tools}


def _join(ctx: Context, sentences: list[str]) -> str:
    if len(sentences) == 1:
        return sentences[0]
    style = int(ctx.rng.integers(3))
    if style == 0:
        return " ".join(sentences)
    if style == 1:
        return " Also: ".join(sentences)
    return "Please do these: " + " ".join(f"{i + 1}) {s}" for i, s in enumerate(sentences))


def possible_answer(calls: list[dict[str, Any]]) -> list[dict[str, dict[str, list]]]:
    """BFCL ``possible_answer`` form of canonical calls: each value is the only accepted one."""
    return [{c["name"]: {k: [v] for k, v in c["arguments"].items()}} for c in calls]


def make_task(rng: np.random.Generator, difficulty: int, shape: str | None = None) -> Task:
    """Generate one task; ``shape`` defaults to one drawn among the tier's shapes."""
    if difficulty not in TIER_SHAPES:
        raise ValueError(f"difficulty: {difficulty!r} is not one of {sorted(TIER_SHAPES)}")
    if shape is None:
        shape = str(rng.choice(TIER_SHAPES[difficulty]))
    elif shape not in SHAPES:
        raise ValueError(f"shape: {shape!r} is not one of {SHAPES}")
    ctx = Context(rng, difficulty)
    for _ in range(20):
        try:
            requests = _requests(ctx, shape)
            break
        except Exhausted:  # e.g. three transfers wanted but the accounts ran out: draw again
            ctx.used.clear()
    else:
        raise RuntimeError(f"could not draw requests for shape {shape!r}")

    needed = list(dict.fromkeys(key for r in requests for key, _ in r.calls))
    n_calls = sum(len(r.calls) for r in requests)
    tools = _shown_tools(ctx, shape, needed, n_calls) if needed else _distractors(ctx, [], 2)
    names = _names(ctx, tools)
    if shape == "multi_step":
        turns = [[{"name": names[k], "arguments": a}] for k, a in requests[0].calls]
    elif needed:
        turns = [[{"name": names[k], "arguments": a} for r in requests for k, a in r.calls]]
    else:
        turns = []
    flat = [c for turn in turns for c in turn]
    prompt = _join(ctx, [r.sentence for r in requests])
    meta = {
        "shape": shape,
        "source": "generated",
        "tools": [[t, names[t]] for t in tools],
        "turns": turns,
        "final": " ".join(r.final for r in requests),
        "expect": [e for r in requests for e in r.expect],
        "forbid": [f for r in requests for f in r.forbid],
        "exact": any(r.exact for r in requests),
        # Store tools shown only as distractors still need a store behind them.
        "store": ctx.store.spec() if any(store_tool(t) for t in tools) else None,
    }
    digest = hashlib.sha1(json.dumps([prompt, flat, meta["tools"], meta["store"]], sort_keys=True).encode()).hexdigest()[:10]
    return Task(id=f"tool_calling-{shape}-{digest}", prompt=prompt, answer=possible_answer(flat), difficulty=difficulty, meta=meta)
