"""Order requests over the stateful store (``list_orders``, ``cancel_order``) and the chain that
finds a customer's pending order then cancels it."""

from __future__ import annotations

from collections.abc import Callable

from lfmgym.envs.tool_calling.tasks_base import Context, Request

__all__ = ["REQUESTS", "req_list_orders", "req_cancel_order", "chain_cancel_pending"]


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


REQUESTS: dict[str, Callable[[Context], Request]] = {
    "list_orders": req_list_orders,
    "cancel_order": req_cancel_order,
}
