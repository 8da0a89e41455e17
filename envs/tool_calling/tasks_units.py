"""Unit conversion requests (the ``convert_units`` tool of :mod:`~lfmgym.envs.tool_calling.catalog`)."""

from __future__ import annotations

from collections.abc import Callable

from lfmgym.envs.tool_calling import catalog
from lfmgym.envs.tool_calling.tasks_base import Context, Request

__all__ = ["REQUESTS", "req_convert_units"]

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
    """A quantity as users give one: a whole number, a half now and then."""
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


REQUESTS: dict[str, Callable[[Context], Request]] = {"convert_units": req_convert_units}
