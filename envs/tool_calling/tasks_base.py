"""What every task generator shares: a :class:`Request`, the per-task :class:`Context` (rng, tier,
store, ids already used) and the random store a stateful task starts from.

The domain modules (``tasks_units``, ``tasks_dates``, ``tasks_countries``, ``tasks_accounts``,
``tasks_orders``, ``tasks_calendar``, ``tasks_irrelevance``) each turn a :class:`Context` into
requests; :mod:`lfmgym.envs.tool_calling.tasks` assembles them into tasks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lfmgym.envs.tool_calling.store import Store

__all__ = ["Request", "Context", "Exhausted", "TITLES", "random_date", "random_store"]


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


class Exhausted(Exception):
    """No unused object left for another request (the caller draws a different request)."""


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
            raise Exhausted
        item = self.pick(left)
        self.used.add(key(item))
        return item

    @property
    def store(self) -> Store:
        if self.spec is None:
            self.spec = random_store(self.rng)
        return Store(self.spec)

    def say_date(self, iso: str) -> str:
        """A date as the user writes it: ISO on tiers 0-1, sometimes spelled out later."""
        if self.difficulty >= 2 and self.chance(0.4):
            d = dt.date.fromisoformat(iso)
            return f"{d.strftime('%B')} {d.day}, {d.year}" if self.chance(0.5) else f"{d.day} {d.strftime('%B')} {d.year}"
        return iso


_NAMES = ("Ana Lopez", "Ben Carter", "Chen Wei", "Dara Okafor", "Eli Novak", "Farah Khan", "Gus Moreno", "Hana Sato")
_ITEMS = ("lamp", "kettle", "backpack", "desk", "headphones", "blender", "chair", "umbrella")
TITLES = ("Dentist", "Team lunch", "Call mom", "Gym", "Book club", "Car service", "Yoga", "Piano lesson")


def random_date(rng: np.random.Generator, start: str = "2023-01-01", span: int = 1400) -> str:
    """An ISO date drawn uniformly among the ``span`` days from ``start``."""
    return (dt.date.fromisoformat(start) + dt.timedelta(days=int(rng.integers(span)))).isoformat()


def random_store(rng: np.random.Generator) -> dict[str, Any]:
    """The initial state of the stateful suite: 6 accounts, 4 customers' orders, 4 events."""
    accounts = {f"ACC-{n}": float(rng.integers(10, 181) * 5) for n in sorted(rng.choice(np.arange(1, 10), 6, replace=False))}
    orders, ids = [], rng.choice(np.arange(100, 1000), 16, replace=False)
    for i, name in enumerate(rng.choice(_NAMES, 4, replace=False)):
        n_orders = int(rng.integers(1, 3))
        for j in range(n_orders):
            status = "pending" if j == 0 else str(rng.choice(["shipped", "delivered"]))
            orders.append({"id": f"O-{ids[2 * i + j]}", "customer": str(name), "item": str(rng.choice(_ITEMS)), "status": status})
    base = dt.date.fromisoformat(random_date(rng, "2024-01-01", 600))
    events = []
    for k, title in enumerate(rng.choice(TITLES, 4, replace=False)):
        day = base + dt.timedelta(days=int(rng.integers(4)))
        events.append({"id": f"E-{k + 1}", "title": str(title), "date": day.isoformat()})
    return {"accounts": accounts, "orders": orders, "events": events, "next_event": len(events) + 1}
