"""Date requests (``days_between``, ``add_days``, ``day_of_week``) and the chain that adds days
then asks for the weekday."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from lfmgym.envs.tool_calling import catalog
from lfmgym.envs.tool_calling.tasks_base import Context, Request, random_date

__all__ = ["REQUESTS", "req_days_between", "req_add_days", "req_day_of_week", "chain_weekday_after"]


def _two_dates(ctx: Context) -> tuple[str, str]:
    start = random_date(ctx.rng)
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
    d = ctx.fresh([random_date(ctx.rng)])
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
    d = ctx.fresh([random_date(ctx.rng)])
    r = catalog.day_of_week(d)
    sd = ctx.say_date(d)
    sentence = ctx.pick((
        f"What day of the week is {sd}?",
        f"Which weekday is {sd}?",
        f"On what day of the week does {sd} fall?",
    ))
    return Request(sentence, [("day_of_week", {"date": d})], f"{d} is a {r}.", [r])


def chain_weekday_after(ctx: Context) -> Request:
    d = ctx.fresh([random_date(ctx.rng)])
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


REQUESTS: dict[str, Callable[[Context], Request]] = {
    "days_between": req_days_between,
    "add_days": req_add_days,
    "day_of_week": req_day_of_week,
}
