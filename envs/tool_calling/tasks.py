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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lfmgym.env import Task
from lfmgym.envs.tool_calling import catalog
from lfmgym.envs.tool_calling.store import STORE_TOOLS, Store

__all__ = ["SHAPES", "TIER_SHAPES", "TOOLS", "ALIASES", "make_task", "store_tool", "stateless_tool"]

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


# --------------------------------------------------------------------------- context


@dataclass
class Request:
    """One sentence of the user turn and the call(s) that serve it.

    ``calls`` run in order; a chain (multi-step) has one call per turn. ``final`` is how the
    demonstration reports the result, ``expect``/``forbid`` what the final answer must/must not
    contain.
    """

    sentence: str
    calls: list[tuple[str, dict[str, Any]]]
    final: str
    expect: list[str] = field(default_factory=list)
    forbid: list[str] = field(default_factory=list)
    exact: bool = False  # the final answer must be exactly ``expect[0]`` (SQuAD-normalized)


class Context:
    """Per-task generation state: the rng, the tier, a lazily drawn store, ids already used."""

    def __init__(self, rng: np.random.Generator, difficulty: int):
        self.rng = rng
        self.difficulty = difficulty
        self.spec: dict[str, Any] | None = None
        self.used: set[str] = set()

    def pick(self, items):
        items = list(items)
        return items[int(self.rng.integers(len(items)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def fresh(self, items, key=lambda x: x):
        """Pick an item whose key is not used yet by another request of this task, and mark it."""
        left = [x for x in items if key(x) not in self.used]
        if not left:
            raise _Exhausted
        item = self.pick(left)
        self.used.add(key(item))
        return item

    @property
    def store(self) -> Store:
        if self.spec is None:
            self.spec = _random_store(self.rng)
        return Store(self.spec)

    def say_date(self, iso: str) -> str:
        """A date as the user writes it: ISO on tiers 0-1, sometimes spelled out later."""
        if self.difficulty >= 2 and self.chance(0.4):
            d = dt.date.fromisoformat(iso)
            return f"{d.strftime('%B')} {d.day}, {d.year}" if self.chance(0.5) else f"{d.day} {d.strftime('%B')} {d.year}"
        return iso


class _Exhausted(Exception):
    """No unused object left for another request (the caller draws a different request)."""


_NAMES = ("Ana Lopez", "Ben Carter", "Chen Wei", "Dara Okafor", "Eli Novak", "Farah Khan", "Gus Moreno", "Hana Sato")
_ITEMS = ("lamp", "kettle", "backpack", "desk", "headphones", "blender", "chair", "umbrella")
_TITLES = ("Dentist", "Team lunch", "Call mom", "Gym", "Book club", "Car service", "Yoga", "Piano lesson")


def _random_date(rng: np.random.Generator, start: str = "2023-01-01", span: int = 1400) -> str:
    return (dt.date.fromisoformat(start) + dt.timedelta(days=int(rng.integers(span)))).isoformat()


def _random_store(rng: np.random.Generator) -> dict[str, Any]:
    accounts = {f"ACC-{n}": float(rng.integers(10, 181) * 5) for n in sorted(rng.choice(np.arange(1, 10), 6, replace=False))}
    orders, ids = [], rng.choice(np.arange(100, 1000), 16, replace=False)
    for i, name in enumerate(rng.choice(_NAMES, 4, replace=False)):
        n_orders = int(rng.integers(1, 3))
        for j in range(n_orders):
            status = "pending" if j == 0 else str(rng.choice(["shipped", "delivered"]))
            orders.append({"id": f"O-{ids[2 * i + j]}", "customer": str(name), "item": str(rng.choice(_ITEMS)), "status": status})
    base = dt.date.fromisoformat(_random_date(rng, "2024-01-01", 600))
    events = []
    for k, title in enumerate(rng.choice(_TITLES, 4, replace=False)):
        day = base + dt.timedelta(days=int(rng.integers(4)))
        events.append({"id": f"E-{k + 1}", "title": str(title), "date": day.isoformat()})
    return {"accounts": accounts, "orders": orders, "events": events, "next_event": len(events) + 1}


# --------------------------------------------------------------------------- requests (one call)

_UNIT_WORDS = {
    "km": ("km", "kilometers", "kilometres"),
    "mi": ("mi", "miles"),
    "m": ("m", "meters", "metres"),
    "ft": ("ft", "feet"),
    "kg": ("kg", "kilograms", "kilos"),
    "lb": ("lb", "pounds", "lbs"),
    "C": ("degrees Celsius", "°C", "Celsius"),
    "F": ("degrees Fahrenheit", "°F", "Fahrenheit"),
}
_UNIT_PAIRS = (("km", "mi"), ("mi", "km"), ("m", "ft"), ("ft", "m"), ("kg", "lb"), ("lb", "kg"), ("C", "F"), ("F", "C"))


def _amount(ctx: Context, low: int = 1, high: int = 500) -> float | int:
    v = int(ctx.rng.integers(low, high))
    return v + 0.5 if ctx.chance(0.2) else v


def req_convert_units(ctx: Context) -> Request:
    a, b = ctx.fresh(_UNIT_PAIRS)
    v = _amount(ctx, -40, 120) if a in "CF" else _amount(ctx)
    wa, wb = ctx.pick(_UNIT_WORDS[a]), ctx.pick(_UNIT_WORDS[b])
    r = catalog.convert_units(v, a, b)
    sentence = ctx.pick((
        f"Convert {v} {wa} to {wb}.",
        f"How many {wb} is {v} {wa}?",
        f"What is {v} {wa} in {wb}?",
        f"{v} {wa} in {wb}, please.",
        f"I have {v} {wa}. How much is that in {wb}?",
    ))
    return Request(sentence, [("convert_units", {"value": v, "from_unit": a, "to_unit": b})], f"{v} {a} is {r} {b}.", [str(r)])


def _two_dates(ctx: Context) -> tuple[str, str]:
    start = _random_date(ctx.rng)
    end = (dt.date.fromisoformat(start) + dt.timedelta(days=int(ctx.rng.integers(2, 400)))).isoformat()
    return start, end


def req_days_between(ctx: Context) -> Request:
    s, e = _two_dates(ctx)
    ctx.fresh([s])
    n = catalog.days_between(s, e)
    ss, se = ctx.say_date(s), ctx.say_date(e)
    sentence = ctx.pick((
        f"How many days are there from {ss} to {se}?",
        f"Count the days between {ss} and {se}.",
        f"How long is it from {ss} until {se}, in days?",
    ))
    return Request(sentence, [("days_between", {"start": s, "end": e})], f"{n} days.", [str(n)])


def req_add_days(ctx: Context) -> Request:
    d = ctx.fresh([_random_date(ctx.rng)])
    n = int(ctx.rng.integers(1, 200))
    r = catalog.add_days(d, n)
    sd = ctx.say_date(d)
    sentence = ctx.pick((
        f"What date is {n} days after {sd}?",
        f"Add {n} days to {sd}.",
        f"Which date comes {n} days after {sd}?",
    ))
    return Request(sentence, [("add_days", {"date": d, "days": n})], f"{n} days after {d} is {r}.", [r])


def req_day_of_week(ctx: Context) -> Request:
    d = ctx.fresh([_random_date(ctx.rng)])
    r = catalog.day_of_week(d)
    sd = ctx.say_date(d)
    sentence = ctx.pick((
        f"What day of the week is {sd}?",
        f"Which weekday is {sd}?",
        f"On what day of the week does {sd} fall?",
    ))
    return Request(sentence, [("day_of_week", {"date": d})], f"{d} is a {r}.", [r])


def _country(ctx: Context) -> str:
    return ctx.fresh(catalog.countries().values(), key=lambda r: r["country"])["country"]


def req_get_capital(ctx: Context) -> Request:
    c = _country(ctx)
    r = catalog.get_capital(c)
    sentence = ctx.pick((
        f"What is the capital of {c}?",
        f"Name the capital city of {c}.",
        f"Which city is the capital of {c}?",
        f"{c}: what is its capital?",
    ))
    return Request(sentence, [("get_capital", {"country": c})], f"The capital of {c} is {r}.", [r])


def req_get_currency(ctx: Context) -> Request:
    c = _country(ctx)
    r = catalog.get_currency(c)
    sentence = ctx.pick((
        f"What currency does {c} use?",
        f"Which currency is used in {c}?",
        f"Tell me the currency code of {c}.",
    ))
    return Request(sentence, [("get_currency", {"country": c})], f"{c} uses {r}.", [r])


def req_get_population(ctx: Context) -> Request:
    c = _country(ctx)
    r = catalog.get_population(c)
    sentence = ctx.pick((
        f"What is the population of {c}?",
        f"How many people live in {c}?",
        f"Look up how populous {c} is.",
    ))
    return Request(sentence, [("get_population", {"country": c})], f"{c} has about {r} million people.", [str(r)])


_CURRENCY_WORDS = {"USD": "US dollars", "EUR": "euros", "GBP": "British pounds", "JPY": "Japanese yen"}


def req_convert_currency(ctx: Context) -> Request:
    codes = sorted(catalog.rates())
    a = ctx.fresh(codes)
    b = ctx.pick([c for c in codes if c != a])
    amount = int(ctx.rng.integers(1, 100)) * 10
    r = catalog.convert_currency(amount, a, b)
    wa = _CURRENCY_WORDS[a] if a in _CURRENCY_WORDS and ctx.difficulty >= 2 and ctx.chance(0.5) else a
    sentence = ctx.pick((
        f"Convert {amount} {wa} to {b}.",
        f"How much is {amount} {wa} in {b}?",
        f"What are {amount} {wa} worth in {b}?",
    ))
    call = ("convert_currency", {"amount": amount, "from_currency": a, "to_currency": b})
    return Request(sentence, [call], f"{amount} {a} is {r} {b}.", [str(r)])


def _account(ctx: Context) -> str:
    return ctx.fresh(sorted(ctx.store.accounts))


def req_get_balance(ctx: Context) -> Request:
    acc = _account(ctx)
    r = ctx.store.get_balance(acc)
    sentence = ctx.pick((
        f"What is the balance of {acc}?",
        f"How much money is in account {acc}?",
        f"Check the balance on {acc}.",
    ))
    return Request(sentence, [("get_balance", {"account": acc})], f"{acc} has {r} dollars.", [str(r)])


def req_transfer(ctx: Context) -> Request:
    src, dst = _account(ctx), _account(ctx)
    amount = int(ctx.rng.integers(1, int(ctx.store.accounts[src]) // 5 + 1)) * 5
    sentence = ctx.pick((
        f"Transfer ${amount} from {src} to {dst}.",
        f"Move {amount} dollars from {src} into {dst}.",
        f"Send {amount} from account {src} to account {dst}.",
    ))
    call = ("transfer", {"from_account": src, "to_account": dst, "amount": amount})
    return Request(sentence, [call], f"Moved {amount} from {src} to {dst}.")


def _pending(ctx: Context) -> dict:
    return ctx.fresh([o for o in ctx.store.orders if o["status"] == "pending"], key=lambda o: o["customer"])


def req_cancel_order(ctx: Context) -> Request:
    oid = _pending(ctx)["id"]
    sentence = ctx.pick((
        f"Cancel order {oid}.",
        f"Please cancel my order {oid}.",
        f"I no longer want order {oid}; cancel it.",
    ))
    return Request(sentence, [("cancel_order", {"order_id": oid})], f"Order {oid} is cancelled.")


def req_list_orders(ctx: Context) -> Request:
    who = _pending(ctx)["customer"]
    orders = ctx.store.list_orders(who)
    ids = [o["id"] for o in orders]
    sentence = ctx.pick((
        f"Which orders does {who} have?",
        f"List the orders of {who}.",
        f"Show me {who}'s orders.",
    ))
    final = f"{who} has " + ", ".join(f"{o['id']} ({o['status']})" for o in orders) + "."
    return Request(sentence, [("list_orders", {"customer": who})], final, ids)


def _event_date(ctx: Context) -> str:
    return ctx.fresh(sorted({e["date"] for e in ctx.store.events}))


def req_add_event(ctx: Context) -> Request:
    day = ctx.fresh([_random_date(ctx.rng, "2024-01-01", 600)])
    title = ctx.pick(_TITLES)
    sd = ctx.say_date(day)
    sentence = ctx.pick((
        f"Add '{title}' to my calendar on {sd}.",
        f"Schedule '{title}' for {sd}.",
        f"Put an event called '{title}' on {sd}.",
    ))
    return Request(sentence, [("add_event", {"title": title, "date": day})], f"Added '{title}' on {day}.")


def req_list_events(ctx: Context) -> Request:
    day = _event_date(ctx)
    titles = [e["title"] for e in ctx.store.list_events(day)]
    sd = ctx.say_date(day)
    sentence = ctx.pick((
        f"What is on my calendar on {sd}?",
        f"List my events for {sd}.",
        f"Do I have anything planned on {sd}?",
    ))
    return Request(sentence, [("list_events", {"date": day})], f"On {day}: " + ", ".join(titles) + ".", titles)


def req_delete_event(ctx: Context) -> Request:
    event = ctx.fresh(ctx.store.events, key=lambda e: e["date"])
    sentence = ctx.pick((
        f"Delete event {event['id']}.",
        f"Remove {event['id']} from my calendar.",
    ))
    return Request(sentence, [("delete_event", {"event_id": event["id"]})], f"Deleted {event['id']}.")


SINGLE: dict[str, Callable[[Context], Request]] = {
    "convert_units": req_convert_units,
    "days_between": req_days_between,
    "add_days": req_add_days,
    "day_of_week": req_day_of_week,
    "get_capital": req_get_capital,
    "get_currency": req_get_currency,
    "get_population": req_get_population,
    "convert_currency": req_convert_currency,
    "get_balance": req_get_balance,
    "transfer": req_transfer,
    "list_orders": req_list_orders,
    "cancel_order": req_cancel_order,
    "add_event": req_add_event,
    "list_events": req_list_events,
    "delete_event": req_delete_event,
}

# --------------------------------------------------------------------------- chains (multi-step)


def chain_currency_trip(ctx: Context) -> Request:
    c = _country(ctx)
    cur = catalog.get_currency(c)
    src = ctx.pick([x for x in ("USD", "EUR", "GBP") if x != cur])
    amount = int(ctx.rng.integers(1, 50)) * 10
    r = catalog.convert_currency(amount, src, cur)
    sentence = ctx.pick((
        f"How much is {amount} {src} in the currency of {c}?",
        f"I'm going to {c}. What are my {amount} {src} worth in the local currency?",
        f"Convert {amount} {src} into the money used in {c}.",
    ))
    calls = [("get_currency", {"country": c}), ("convert_currency", {"amount": amount, "from_currency": src, "to_currency": cur})]
    return Request(sentence, calls, f"{amount} {src} is {r} {cur}.", [str(r)])


def chain_weekday_after(ctx: Context) -> Request:
    d = ctx.fresh([_random_date(ctx.rng)])
    n = int(ctx.rng.integers(1, 120))
    later = catalog.add_days(d, n)
    r = catalog.day_of_week(later)
    sd = ctx.say_date(d)
    sentence = ctx.pick((
        f"What day of the week will it be {n} days after {sd}?",
        f"Which weekday falls {n} days after {sd}?",
    ))
    calls = [("add_days", {"date": d, "days": n}), ("day_of_week", {"date": later})]
    return Request(sentence, calls, f"{later} is a {r}.", [r])


def chain_cancel_pending(ctx: Context) -> Request:
    order = _pending(ctx)
    who = order["customer"]
    sentence = ctx.pick((
        f"Cancel the pending order of {who}.",
        f"{who} wants to cancel their pending order. Please do it.",
        f"Find {who}'s pending order and cancel it.",
    ))
    calls = [("list_orders", {"customer": who}), ("cancel_order", {"order_id": order["id"]})]
    return Request(sentence, calls, f"Cancelled {order['id']}.")


def chain_empty_account(ctx: Context) -> Request:
    src, dst = _account(ctx), _account(ctx)
    balance = ctx.store.get_balance(src)
    sentence = ctx.pick((
        f"Move all the money in {src} to {dst}.",
        f"Empty account {src} into {dst}.",
        f"Transfer the whole balance of {src} to {dst}.",
    ))
    calls = [("get_balance", {"account": src}), ("transfer", {"from_account": src, "to_account": dst, "amount": balance})]
    return Request(sentence, calls, f"Moved {balance} from {src} to {dst}.")


def chain_delete_named_event(ctx: Context) -> Request:
    event = ctx.fresh(ctx.store.events, key=lambda e: e["date"])
    sd = ctx.say_date(event["date"])
    sentence = ctx.pick((
        f"Remove '{event['title']}' from my calendar on {sd}.",
        f"Delete my '{event['title']}' event on {sd}.",
    ))
    calls = [("list_events", {"date": event["date"]}), ("delete_event", {"event_id": event["id"]})]
    return Request(sentence, calls, f"Deleted '{event['title']}'.")


CHAINS: tuple[Callable[[Context], Request], ...] = (
    chain_currency_trip,
    chain_weekday_after,
    chain_cancel_pending,
    chain_empty_account,
    chain_delete_named_event,
)

# --------------------------------------------------------------------------- irrelevance

_WORDS = ("cat", "zebra", "apple", "river", "moon", "pencil", "garden", "sky", "elephant", "kite", "bridge", "ocean",
          "lamp", "tiger", "violin", "desk", "mountain", "owl", "banana", "rocket")


def req_choice(ctx: Context) -> Request:
    """A question any tool is useless for, answered from the prompt itself: which of two options.

    The final answer must be exactly the right option (SQuAD-normalized, so "42." is fine): a reply
    that copies the question back, lists candidates, or declines earns nothing."""
    kind = int(ctx.rng.integers(4))
    if kind < 2:
        a, b = (int(x) for x in ctx.rng.choice(np.arange(1, 1000), 2, replace=False))
        larger = kind == 0
        right, wrong = (max(a, b), min(a, b)) if larger else (min(a, b), max(a, b))
        word = ctx.pick(("larger", "bigger", "greater")) if larger else ctx.pick(("smaller", "lower"))
        sentence = ctx.pick((f"Which is {word}, {a} or {b}?", f"Which number is {word}: {a} or {b}?", f"Of {a} and {b}, which is {word}?"))
        return Request(sentence, [], f"{right}.", [str(right)], [str(wrong)], exact=True)
    while True:
        a, b = (str(w) for w in ctx.rng.choice(_WORDS, 2, replace=False))
        if a not in b and b not in a and (kind == 3 or len(a) != len(b)):
            break
    if kind == 2:
        right, wrong = (a, b) if len(a) > len(b) else (b, a)
        sentence = ctx.pick((f"Which word is longer, '{a}' or '{b}'?", f"Which has more letters: '{a}' or '{b}'?"))
    else:
        right, wrong = (a, b) if a < b else (b, a)
        sentence = ctx.pick((f"Which comes first in alphabetical order: '{a}' or '{b}'?", f"Sort '{a}' and '{b}' alphabetically: which is first?"))
    return Request(sentence, [], f"{right}.", [right], [wrong], exact=True)


# --------------------------------------------------------------------------- assembly


def _single(ctx: Context) -> Request:
    for _ in range(20):
        try:
            return SINGLE[ctx.pick(SINGLE)](ctx)
        except _Exhausted:
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
        except _Exhausted:  # e.g. three transfers wanted but the accounts ran out: draw again
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
