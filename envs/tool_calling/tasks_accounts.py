"""Bank account requests over the stateful store (``get_balance``, ``transfer``) and the chain
that reads a balance then moves all of it."""

from __future__ import annotations

from collections.abc import Callable

from lfmgym.envs.tool_calling.tasks_base import Context, Request

__all__ = ["REQUESTS", "req_get_balance", "req_transfer", "chain_empty_account"]


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


REQUESTS: dict[str, Callable[[Context], Request]] = {
    "get_balance": req_get_balance,
    "transfer": req_transfer,
}
