"""Country lookups (``get_capital``, ``get_currency``, ``get_population``) over the bundled table,
money conversion (``convert_currency``) at the bundled rates, and the chain that looks up a
country's currency then converts into it."""

from __future__ import annotations

from collections.abc import Callable

from lfmgym.envs.tool_calling import catalog
from lfmgym.envs.tool_calling.tasks_base import Context, Request

__all__ = ["REQUESTS", "req_get_capital", "req_get_currency", "req_get_population", "req_convert_currency",
           "chain_currency_trip"]


def _country(ctx: Context) -> str:
    return ctx.fresh(catalog.countries().values(), key=lambda r: r["country"])["country"]


def _lookup(ctx: Context, tool: str, sentences: tuple[str, ...], final: str) -> Request:
    """A request for one country lookup: ``sentences`` and ``final`` are templates over the
    country ``{c}`` and the tool's result ``{r}``."""
    c = _country(ctx)
    r = getattr(catalog, tool)(c)
    sentence = ctx.pick(s.format(c=c) for s in sentences)
    return Request(sentence, [(tool, {"country": c})], final.format(c=c, r=r), [str(r)])


def req_get_capital(ctx: Context) -> Request:
    return _lookup(ctx, "get_capital", (
        "What is the capital of {c}?",
        "Name the capital city of {c}.",
        "Which city is the capital of {c}?",
        "{c}: what is its capital?",
    ), "The capital of {c} is {r}.")


def req_get_currency(ctx: Context) -> Request:
    return _lookup(ctx, "get_currency", (
        "What currency does {c} use?",
        "Which currency is used in {c}?",
        "Tell me the currency code of {c}.",
    ), "{c} uses {r}.")


def req_get_population(ctx: Context) -> Request:
    return _lookup(ctx, "get_population", (
        "What is the population of {c}?",
        "How many people live in {c}?",
        "Look up how populous {c} is.",
    ), "{c} has about {r} million people.")


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


REQUESTS: dict[str, Callable[[Context], Request]] = {
    "get_capital": req_get_capital,
    "get_currency": req_get_currency,
    "get_population": req_get_population,
    "convert_currency": req_convert_currency,
}
