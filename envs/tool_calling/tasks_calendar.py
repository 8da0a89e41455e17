"""Calendar requests over the stateful store (``add_event``, ``list_events``, ``delete_event``)
and the chain that lists a day's events then deletes one by its title."""

from __future__ import annotations

from collections.abc import Callable

from lfmgym.envs.tool_calling.tasks_base import TITLES, Context, Request, random_date

__all__ = ["REQUESTS", "req_add_event", "req_list_events", "req_delete_event", "chain_delete_named_event"]


def _event_date(ctx: Context) -> str:
    return ctx.fresh(sorted({e["date"] for e in ctx.store.events}))


def req_add_event(ctx: Context) -> Request:
    day = ctx.fresh([random_date(ctx.rng, "2024-01-01", 600)])
    title = ctx.pick(TITLES)
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


def chain_delete_named_event(ctx: Context) -> Request:
    event = ctx.fresh(ctx.store.events, key=lambda e: e["date"])
    sd = ctx.say_date(event["date"])
    sentence = ctx.pick((
        f"Remove '{event['title']}' from my calendar on {sd}.",
        f"Delete my '{event['title']}' event on {sd}.",
    ))
    calls = [("list_events", {"date": event["date"]}), ("delete_event", {"event_id": event["id"]})]
    return Request(sentence, calls, f"Deleted '{event['title']}'.")


REQUESTS: dict[str, Callable[[Context], Request]] = {
    "add_event": req_add_event,
    "list_events": req_list_events,
    "delete_event": req_delete_event,
}
