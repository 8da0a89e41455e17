"""The stateful tool suite: a small in-memory back office (bank accounts, orders, a calendar).

A :class:`Store` is built fresh for every episode from the task's ``meta["store"]`` spec, its
bound methods are the tools, and the reward compares its final :meth:`Store.snapshot` with the
snapshot reached by replaying the gold calls on another fresh store. Methods raise
``ValueError`` on bad input (unknown ids, overdrafts); the environment turns that into an error
tool message. Tool methods carry no return annotation: it would add a ``return`` entry to every
schema in a small model's prompt.
"""

from __future__ import annotations

import copy
from typing import Any

from lfmgym.envs.tool_calling.catalog import number, parse_date

__all__ = ["Store", "STORE_TOOLS"]

# The methods exposed as tools (everything else on Store is plumbing).
STORE_TOOLS: tuple[str, ...] = (
    "get_balance",
    "transfer",
    "list_orders",
    "cancel_order",
    "add_event",
    "list_events",
    "delete_event",
)


class Store:
    """Accounts ``{id: balance}``, orders ``[{id, customer, item, status}]`` and calendar events
    ``[{id, title, date}]``. ``spec`` is the JSON-able initial state (see :meth:`spec`)."""

    def __init__(self, spec: dict[str, Any] | None = None):
        spec = copy.deepcopy(spec or {})
        self.accounts: dict[str, float] = {k: float(v) for k, v in spec.get("accounts", {}).items()}
        self.orders: list[dict[str, str]] = list(spec.get("orders", []))
        self.events: list[dict[str, str]] = list(spec.get("events", []))
        self.next_event = int(spec.get("next_event", len(self.events) + 1))

    def spec(self) -> dict[str, Any]:
        return {
            "accounts": dict(self.accounts),
            "orders": copy.deepcopy(self.orders),
            "events": copy.deepcopy(self.events),
            "next_event": self.next_event,
        }

    def snapshot(self) -> dict[str, Any]:
        """The state the reward compares: strings case-folded, so 'dentist' == 'Dentist'."""

        def fold(v: Any) -> Any:
            return v.strip().casefold() if isinstance(v, str) else v

        return {
            "accounts": {k: round(v, 2) for k, v in sorted(self.accounts.items())},
            "orders": sorted((o["id"], o["status"]) for o in self.orders),
            "events": sorted(tuple(fold(e[k]) for k in ("title", "date")) for e in self.events),
        }

    def tools(self, names: dict[str, str] | None = None) -> list[tuple[str, Any]]:
        """``(exposed name, bound method)`` pairs; ``names`` maps method -> exposed name."""
        names = names or {t: t for t in STORE_TOOLS}
        return [(shown, getattr(self, method)) for method, shown in names.items()]

    # ------------------------------------------------------------------ tools

    def _account(self, account: str) -> str:
        if account not in self.accounts:
            raise ValueError(f"unknown account {account!r}")
        return account

    def get_balance(self, account: str):
        """Balance of a bank account.

        Args:
            account: Account id, e.g. ACC-1.
        """
        return number(self.accounts[self._account(account)])

    def transfer(self, from_account: str, to_account: str, amount: float):
        """Move money between accounts.

        Args:
            from_account: Account to pay from.
            to_account: Account to pay into.
            amount: Amount in dollars.
        """
        src, dst = self._account(from_account), self._account(to_account)
        if src == dst:
            raise ValueError("from_account and to_account are the same")
        if not amount > 0:
            raise ValueError(f"amount must be positive, got {amount}")
        if amount > self.accounts[src] + 1e-9:
            raise ValueError(f"insufficient funds in {src} (balance {number(self.accounts[src])})")
        self.accounts[src] -= amount
        self.accounts[dst] += amount
        return f"moved {number(amount)} from {src} to {dst}"

    def list_orders(self, customer: str):
        """A customer's orders and their status.

        Args:
            customer: Customer full name.
        """
        who = customer.strip().casefold()
        return [{k: o[k] for k in ("id", "item", "status")} for o in self.orders if o["customer"].casefold() == who]

    def cancel_order(self, order_id: str):
        """Cancel a pending order.

        Args:
            order_id: Order id, e.g. O-123.
        """
        for o in self.orders:
            if o["id"] == order_id:
                if o["status"] != "pending":
                    raise ValueError(f"order {order_id} is {o['status']}; only pending orders can be cancelled")
                o["status"] = "cancelled"
                return f"order {order_id} cancelled"
        raise ValueError(f"unknown order {order_id!r}")

    def add_event(self, title: str, date: str):
        """Add a calendar event.

        Args:
            title: Event title.
            date: Date, YYYY-MM-DD.
        """
        event_id = f"E-{self.next_event}"
        self.next_event += 1
        self.events.append({"id": event_id, "title": title, "date": parse_date(date, "date").isoformat()})
        return f"added {event_id}"

    def list_events(self, date: str):
        """Calendar events on a date.

        Args:
            date: Date, YYYY-MM-DD.
        """
        day = date.strip()
        return [{"id": e["id"], "title": e["title"]} for e in self.events if e["date"] == day]

    def delete_event(self, event_id: str):
        """Delete a calendar event.

        Args:
            event_id: Event id, e.g. E-2.
        """
        for i, e in enumerate(self.events):
            if e["id"] == event_id:
                del self.events[i]
                return f"deleted {event_id}"
        raise ValueError(f"unknown event {event_id!r}")
