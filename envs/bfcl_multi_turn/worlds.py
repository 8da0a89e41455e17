"""Random initial states for the suites (``initial_config`` entries) for generated tasks."""

from __future__ import annotations

import random
from typing import Any

__all__ = ["WORLDS", "PEOPLE", "WORDS"]

PEOPLE = ("alex", "maria", "chen", "fatima", "jonas", "priya", "sam", "lucia", "omar", "nina")
WORDS = ("budget", "draft", "summary", "meeting", "invoice", "review", "plan", "status", "notes", "update",
         "deadline", "client", "backup", "report", "schedule")
_DIRS = ("documents", "projects", "archive", "reports", "notes", "photos", "logs", "drafts", "finance", "research")
_FILE_STEMS = ("summary", "notes", "plan", "report", "todo", "ideas", "invoice", "minutes", "draft", "results")
_EXTS = (".txt", ".md", ".csv", ".log")
_LINES = ("The {w} is due on Friday.", "Remember to check the {w} with the team.", "{W} approved by finance.",
          "Next step: send the {w} to the client.", "The {w} needs one more review.", "No changes to the {w} this week.",
          "Call Dana about the {w}.", "Move the {w} to the shared drive.")


def _text(rng: random.Random, lines: int) -> str:
    out = []
    for _ in range(lines):
        w = rng.choice(WORDS)
        out.append(rng.choice(_LINES).format(w=w, W=w.capitalize()))
    return "\n".join(out)


def _files(rng: random.Random, n: int) -> dict[str, Any]:
    files: dict[str, Any] = {}
    while len(files) < n:
        name = rng.choice(_FILE_STEMS) + ("_" + str(rng.randint(1, 9)) if rng.random() < 0.4 else "") + rng.choice(_EXTS)
        files[name] = {"type": "file", "content": _text(rng, rng.randint(1, 5))}
    return files


def file_system(rng: random.Random) -> dict[str, Any]:
    top = rng.choice(PEOPLE)
    contents = _files(rng, rng.randint(0, 2))
    for d in rng.sample(_DIRS, rng.randint(2, 3)):
        sub = _files(rng, rng.randint(1, 3))
        if rng.random() < 0.4:
            sub[rng.choice([x for x in _DIRS if x != d])] = {"type": "directory", "contents": _files(rng, rng.randint(0, 2))}
        contents[d] = {"type": "directory", "contents": sub}
    return {"root": {top: {"type": "directory", "contents": contents}}}


def twitter(rng: random.Random) -> dict[str, Any]:
    user = rng.choice(PEOPLE) + "_" + rng.choice(("dev", "writes", "pm", "ops", "art"))
    tweets = {}
    for i in range(rng.randint(0, 3)):
        w = rng.choice(WORDS)
        tweets[str(i)] = {"id": i, "username": user, "content": f"Working on the {w} today.", "tags": [f"#{w}"],
                          "mentions": []}
    return {"username": user, "password": f"{rng.choice(WORDS)}{rng.randint(100, 999)}!",
            "authenticated": rng.random() < 0.3, "tweets": tweets, "comments": {}, "retweets": {},
            "following_list": rng.sample(list(PEOPLE), 2), "tweet_counter": len(tweets)}


def messaging(rng: random.Random) -> dict[str, Any]:
    names = ["Alice", "Bob", "Catherine", "Daniel", "Eve", "Farah", "Gustav"][: rng.randint(4, 7)]
    user_map = {n: f"USR{i + 1:03d}" for i, n in enumerate(names)}
    inbox = [{rng.choice(list(user_map.values())[1:]): f"Can you send the {rng.choice(WORDS)}?"}
             for _ in range(rng.randint(1, 3))]
    return {"user_count": len(names), "user_map": user_map, "inbox": inbox,
            "message_count": len(inbox), "current_user": None, "random_seed": rng.randint(1, 10**6)}


def tickets(rng: random.Random) -> dict[str, Any]:
    user = rng.choice(PEOPLE)
    queue = []
    ticket_id = rng.randint(1, 500)
    for _ in range(rng.randint(1, 3)):
        w = rng.choice(WORDS)
        queue.append({"id": ticket_id, "title": f"{w.capitalize()} issue", "description": f"Problem with the {w}.",
                      "status": rng.choice(("Open", "Open", "In Progress")), "priority": rng.randint(1, 5),
                      "created_by": user})
        ticket_id += rng.randint(1, 20)
    return {"ticket_queue": queue, "ticket_counter": ticket_id, "current_user": None}


def trading(rng: random.Random) -> dict[str, Any]:
    counter = rng.randint(20000, 90000)
    return {"account_info": {"account_id": rng.randint(10000, 99999), "balance": float(rng.randint(5, 200) * 100),
                             "binding_card": rng.randint(10**15, 10**16 - 1)},
            "authenticated": False, "market_status": rng.choice(("Open", "Closed")),
            "orders": {str(counter - 1): {"id": counter - 1, "order_type": "Buy", "symbol": rng.choice(("AAPL", "MSFT", "NVDA")),
                                          "price": float(rng.randint(100, 400)), "amount": rng.randint(1, 20),
                                          "status": "Pending"}},
            "order_counter": counter, "watch_list": ["NVDA"], "transaction_history": [],
            "random_seed": rng.randint(1, 10**6)}


def travel(rng: random.Random) -> dict[str, Any]:
    first, last = rng.choice(("Ana", "Ben", "Carla", "Dev", "Elif")), rng.choice(("Ortiz", "Nguyen", "Kowalski", "Mensah"))
    card_id = str(rng.randint(10**11, 10**12 - 1))
    return {"credit_card_list": {card_id: {"card_number": str(rng.randint(10**15, 10**16 - 1)), "expiration_date": "12/2030",
                                           "cardholder_name": f"{first} {last}", "card_verification_number": rng.randint(100, 999),
                                           "balance": float(rng.randint(20, 100) * 100)}},
            "booking_record": {}, "user_first_name": first, "user_last_name": last, "random_seed": rng.randint(1, 10**6)}


def vehicle(rng: random.Random) -> dict[str, Any]:
    return {"fuelLevel": float(rng.randint(2, 30)), "batteryVoltage": 12.6, "engineState": "stopped",
            "doorStatus": {d: rng.choice(("locked", "unlocked")) for d in ("driver", "passenger", "rear_left", "rear_right")},
            "acTemperature": float(rng.randint(18, 26)), "fanSpeed": rng.choice((30, 50, 70)),
            "random_seed": rng.randint(1, 10**6)}


WORLDS = {"GorillaFileSystem": file_system, "TwitterAPI": twitter, "MessageAPI": messaging, "TicketAPI": tickets,
          "TradingBot": trading, "TravelAPI": travel, "VehicleControlAPI": vehicle, "MathAPI": lambda rng: {}}
