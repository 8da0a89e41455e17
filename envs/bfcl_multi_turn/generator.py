"""Procedural multi-turn tasks over the same suites as BFCL (so RL does not train on the benchmark).

A task draws one or two suites, a random initial state for each (:mod:`~lfmgym.envs.bfcl_multi_turn.worlds`),
then one *intent* per user turn: a request in words and the calls that fulfil it, computed against
a simulation of the state so far (the directory the file system is in, whether the user is
logged in, the access token a login returned, ...). The calls of every turn are executed on the
simulation as they are chosen and a task is kept only when none of them fails, so its ground truth
is a correct plan. Tiers:

====  ======  ======  ==================================================================
tier  turns   suites  extra
====  ======  ======  ==================================================================
0     1       1       one request, 1-3 calls
1     2       1
2     3       1-2
3     4       2       one turn lacks a function (held out until the next turn) or a
                      parameter (given in the next turn): it must be answered by asking
====  ======  ======  ==================================================================
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from lfmgym.env import Task

from lfmgym.envs.bfcl_multi_turn.apis.filesystem import Directory, File
from lfmgym.envs.bfcl_multi_turn.apis.travel import CITY_AIRPORTS, ROUTES
from lfmgym.envs.bfcl_multi_turn.apis.vehicle import CITY_ZIPCODES, ZIP_DISTANCES
from lfmgym.envs.bfcl_multi_turn.session import Call, Session, render_call
from lfmgym.envs.bfcl_multi_turn.worlds import PEOPLE, WORDS, WORLDS

__all__ = ["generate_task", "TIERS", "INTENTS"]

TIERS = {0: (1, 1), 1: (2, 1), 2: (3, 2), 3: (4, 2)}  # tier -> (turns, max suites)


@dataclass
class Intent:
    """One user request: its text, the calls that fulfil it, and optionally a vague version
    (text missing a detail) with the follow-up that gives the detail."""

    text: str
    calls: list[Call]
    vague: tuple[str, str] | None = None


class _Plan:
    """The simulation a task is generated against: calls run on it as intents choose them."""

    def __init__(self, rng: random.Random, session: Session):
        self.rng, self.session = rng, session
        self.calls: list[Call] = []

    def call(self, function: str, /, **kwargs: Any) -> Any:
        call = Call(function, (), kwargs)
        result = self.session.invoke(call)
        if isinstance(result, dict) and (result.get("error") or result.get("booking_status") is False):
            raise _Rejected(f"{render_call(call)} -> {result}")
        self.calls.append(call)
        return result

    def suite(self, name: str):
        return self.session.instances[name]


class _Rejected(Exception):
    """The drawn intent does not apply to the simulated state."""


# ------------------------------------------------------------------ file system


def _fs_path(directory: Directory) -> list[Directory]:
    path = []
    while directory is not None:
        path.append(directory)
        directory = directory.parent
    return path[::-1]


def _fs_dirs(fs) -> list[Directory]:
    out, stack = [], [fs.root]
    while stack:
        d = stack.pop()
        out.append(d)
        stack += [c for c in d.contents.values() if isinstance(c, Directory)]
    return out


def _fs_goto(p: _Plan, target: Directory) -> str:
    """cd calls from the current directory to ``target``; returns how the request names it."""
    fs = p.suite("GorillaFileSystem")
    here, there = _fs_path(fs._current_dir), _fs_path(target)
    common = 0
    while common < min(len(here), len(there)) and here[common] is there[common]:
        common += 1
    for _ in range(len(here) - common):
        p.call("cd", folder="..")
    for d in there[common:]:
        p.call("cd", folder=d.name)
    return "the current folder" if target is here[-1] else f"the '{target.name}' folder"


def _fs_pick_dir(p: _Plan, with_files: int = 0) -> Directory:
    fs = p.suite("GorillaFileSystem")
    names = {}
    for d in _fs_dirs(fs):
        names.setdefault(d.name, []).append(d)
    options = [d for d in _fs_dirs(fs) if len(names[d.name]) == 1
               and sum(isinstance(c, File) for c in d.contents.values()) >= with_files]
    if not options:
        raise _Rejected("no suitable folder")
    return p.rng.choice(options)


def _fs_file(p: _Plan, d: Directory) -> str:
    return p.rng.choice([n for n, c in d.contents.items() if isinstance(c, File)])


def _fs_new_name(p: _Plan, d: Directory, ext: str = ".txt") -> str:
    for _ in range(20):
        name = f"{p.rng.choice(WORDS)}_{p.rng.randint(1, 99)}{ext}"
        if name not in d.contents:
            return name
    raise _Rejected("no free name")


def fs_make_dir(p: _Plan) -> Intent:
    d = _fs_pick_dir(p)
    name = f"{p.rng.choice(WORDS)}_{p.rng.choice(('old', 'new', '2024', 'team'))}"
    if name in d.contents:
        raise _Rejected("exists")
    where = _fs_goto(p, d)
    p.call("mkdir", dir_name=name)
    return Intent(f"Create a folder named '{name}' in {where}.", p.calls,
                  (f"Create a new folder in {where}.", f"Call the folder '{name}'."))


def fs_write_file(p: _Plan) -> Intent:
    d = _fs_pick_dir(p)
    name, text = _fs_new_name(p, d), f"{p.rng.choice(WORDS).capitalize()} checked on {p.rng.randint(1, 28)} May."
    where = _fs_goto(p, d)
    p.call("touch", file_name=name)
    p.call("echo", content=text, file_name=name)
    return Intent(f"In {where}, create a file '{name}' and write '{text}' into it.", p.calls,
                  (f"In {where}, create a file '{name}' and write a short note into it.", f"The note is: '{text}'"))


def fs_read(p: _Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    where = _fs_goto(p, d)
    p.call("cat", file_name=name)
    return Intent(f"Show me what is in '{name}' in {where}.", p.calls)


def fs_count(p: _Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    mode, unit = p.rng.choice((("l", "lines"), ("w", "words"), ("c", "characters")))
    where = _fs_goto(p, d)
    p.call("wc", file_name=name, mode=mode)
    return Intent(f"How many {unit} does '{name}' in {where} have?", p.calls)


def fs_grep(p: _Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    words = [w for w in WORDS if w in d.contents[name].content]
    if not words:
        raise _Rejected("no word")
    word = p.rng.choice(words)
    where = _fs_goto(p, d)
    p.call("grep", file_name=name, pattern=word)
    return Intent(f"Find the lines of '{name}' in {where} that mention '{word}'.", p.calls,
                  (f"Find the lines of '{name}' in {where} that mention a keyword.", f"The keyword is '{word}'."))


def fs_copy(p: _Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    copy_name = _fs_new_name(p, d, "." + name.rsplit(".", 1)[-1])
    where = _fs_goto(p, d)
    p.call("cp", source=name, destination=copy_name)
    return Intent(f"Make a copy of '{name}' in {where} and call it '{copy_name}'.", p.calls,
                  (f"Make a copy of '{name}' in {where}.", f"Name the copy '{copy_name}'."))


def fs_archive(p: _Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    folder = f"{p.rng.choice(('archive', 'old', 'done', 'backup'))}_{p.rng.randint(1, 9)}"
    if folder in d.contents:
        raise _Rejected("exists")
    where = _fs_goto(p, d)
    p.call("mkdir", dir_name=folder)
    p.call("mv", source=name, destination=folder)
    return Intent(f"In {where}, create a folder '{folder}' and move '{name}' into it.", p.calls)


def fs_sort(p: _Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    where = _fs_goto(p, d)
    p.call("sort", file_name=name)
    return Intent(f"Sort the lines of '{name}' in {where} alphabetically and show them.", p.calls)


def fs_tail(p: _Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name, n = _fs_file(p, d), p.rng.randint(1, 3)
    where = _fs_goto(p, d)
    p.call("tail", file_name=name, lines=n)
    return Intent(f"Show the last {n} line{'s' * (n > 1)} of '{name}' in {where}.", p.calls)


def fs_remove(p: _Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=1)
    name = _fs_file(p, d)
    where = _fs_goto(p, d)
    p.call("rm", file_name=name)
    return Intent(f"Delete '{name}' from {where}.", p.calls)


def fs_diff(p: _Plan) -> Intent:
    d = _fs_pick_dir(p, with_files=2)
    a, b = p.rng.sample([n for n, c in d.contents.items() if isinstance(c, File)], 2)
    where = _fs_goto(p, d)
    p.call("diff", file_name1=a, file_name2=b)
    return Intent(f"Compare '{a}' and '{b}' in {where} line by line.", p.calls)


# ------------------------------------------------------------------ posting / messaging / tickets


def _tw_login(p: _Plan) -> str:
    tw = p.suite("TwitterAPI")
    if tw.authenticated:
        return ""
    p.call("authenticate_twitter", username=tw.username, password=tw.password)
    return f" My username is {tw.username} and my password is {tw.password}."


def tw_post(p: _Plan) -> Intent:
    login = _tw_login(p)
    w = p.rng.choice(WORDS)
    content, tags = f"Finished the {w} today!", [f"#{w}", p.rng.choice(("#work", "#progress", "#team"))]
    p.call("post_tweet", content=content, tags=tags)
    return Intent(f"Post a tweet saying '{content}' with the tags {' and '.join(tags)}.{login}", p.calls,
                  (f"Post a tweet with the tags {' and '.join(tags)}.{login}", f"The tweet should say '{content}'."))


def tw_post_mention(p: _Plan) -> Intent:
    login = _tw_login(p)
    friend = "@" + p.rng.choice(PEOPLE)
    content = f"Great {p.rng.choice(WORDS)} session with {friend}."
    p.call("post_tweet", content=content, tags=[], mentions=[friend])
    return Intent(f"Tweet '{content}' and mention {friend} in it (no tags).{login}", p.calls)


def tw_comment(p: _Plan) -> Intent:
    tw = p.suite("TwitterAPI")
    if not tw.tweets:
        raise _Rejected("no tweet")
    login = _tw_login(p)
    tweet_id = p.rng.choice(list(tw.tweets))
    text = p.rng.choice(("Nice work!", "Thanks for sharing.", "Looking forward to it."))
    p.call("comment", tweet_id=tweet_id, comment_content=text)
    return Intent(f"Comment '{text}' on tweet {tweet_id}.{login}", p.calls)


def tw_follow(p: _Plan) -> Intent:
    tw = p.suite("TwitterAPI")
    options = [u for u in PEOPLE if u not in tw.following_list]
    login = _tw_login(p)
    user = p.rng.choice(options)
    p.call("follow_user", username_to_follow=user)
    return Intent(f"Follow {user} on Twitter.{login}", p.calls)


def _msg_login(p: _Plan) -> str:
    msg = p.suite("MessageAPI")
    if msg.current_user:
        return ""
    user_id = "USR001"
    p.call("message_login", user_id=user_id)
    return f" Log in as {user_id} first."


def msg_send(p: _Plan) -> Intent:
    msg = p.suite("MessageAPI")
    login = _msg_login(p)
    name = p.rng.choice([n for n, i in msg.user_map.items() if i != msg.current_user])
    text = f"The {p.rng.choice(WORDS)} is ready."
    receiver = p.call("get_user_id", user=name)["user_id"]
    p.call("send_message", receiver_id=receiver, message=text)
    return Intent(f"Send '{text}' to {name} (look up {name}'s user id).{login}", p.calls,
                  (f"Send a message to {name} (look up {name}'s user id).{login}", f"The message is '{text}'."))


def msg_add_contact(p: _Plan) -> Intent:
    msg = p.suite("MessageAPI")
    name = p.rng.choice([n for n in ("Hana", "Igor", "Jade", "Kofi", "Lena") if n not in msg.user_map])
    p.call("add_contact", user_name=name)
    return Intent(f"Add {name} to my messaging contacts.", p.calls)


def msg_search(p: _Plan) -> Intent:
    login = _msg_login(p)
    word = p.rng.choice(WORDS)
    p.call("search_messages", keyword=word)
    return Intent(f"Search my messages for '{word}'.{login}", p.calls)


def _ticket_login(p: _Plan) -> str:
    t = p.suite("TicketAPI")
    if t.current_user:
        return ""
    user = t.ticket_queue[0]["created_by"] if t.ticket_queue else p.rng.choice(PEOPLE)
    password = f"{user}-{p.rng.randint(100, 999)}"
    p.call("ticket_login", username=user, password=password)
    return f" Log in to the ticket system as {user} with password {password}."


def tk_create(p: _Plan) -> Intent:
    login = _ticket_login(p)
    w = p.rng.choice(WORDS)
    title, desc, prio = f"{w.capitalize()} is blocked", f"The {w} cannot be finished without access.", p.rng.randint(1, 5)
    p.call("create_ticket", title=title, description=desc, priority=prio)
    return Intent(f"Open a ticket titled '{title}' with the description '{desc}' and priority {prio}.{login}", p.calls,
                  (f"Open a ticket titled '{title}' with the description '{desc}'.{login}", f"Give it priority {prio}."))


def _ticket(p: _Plan, status_not: str) -> dict:
    options = [t for t in p.suite("TicketAPI").ticket_queue if t["status"] != status_not]
    if not options:
        raise _Rejected("no ticket")
    return p.rng.choice(options)


def tk_close(p: _Plan) -> Intent:
    ticket = _ticket(p, "Closed")
    p.call("close_ticket", ticket_id=ticket["id"])
    return Intent(f"Close ticket {ticket['id']}.", p.calls)


def tk_resolve(p: _Plan) -> Intent:
    ticket = _ticket(p, "Resolved")
    text = p.rng.choice(("Restarted the service.", "Granted the missing access.", "Replaced the faulty cable."))
    p.call("resolve_ticket", ticket_id=ticket["id"], resolution=text)
    return Intent(f"Mark ticket {ticket['id']} as resolved with the resolution '{text}'.", p.calls,
                  (f"Mark ticket {ticket['id']} as resolved.", f"The resolution is '{text}'."))


def tk_priority(p: _Plan) -> Intent:
    ticket = _ticket(p, "Closed")
    prio = p.rng.choice([x for x in range(1, 6) if x != ticket.get("priority")])
    p.call("edit_ticket", ticket_id=ticket["id"], updates={"priority": prio})
    return Intent(f"Change the priority of ticket {ticket['id']} to {prio}.", p.calls)


# ------------------------------------------------------------------ trading / travel / vehicle / math

_COMPANIES = {"Apple": "AAPL", "Google": "GOOG", "Tesla": "TSLA", "Microsoft": "MSFT", "Nvidia": "NVDA",
              "Zeta Corp": "ZETA", "Alpha Tech": "ALPH", "Omega Industries": "OMEG", "Neptune Systems": "NEPT"}


def _trade_login(p: _Plan) -> str:
    if p.suite("TradingBot").authenticated:
        return ""
    user = p.rng.choice(PEOPLE)
    password = f"{p.rng.choice(WORDS)}{p.rng.randint(10, 99)}"
    p.call("trading_login", username=user, password=password)
    return f" My trading login is {user} / {password}."


def tr_price(p: _Plan) -> Intent:
    company = p.rng.choice(list(_COMPANIES))
    symbol = p.call("get_symbol_by_name", name=company)["symbol"]
    p.call("get_stock_info", symbol=symbol)
    return Intent(f"What is {company}'s stock doing right now? Look up its symbol first.", p.calls)


def tr_buy(p: _Plan) -> Intent:
    login = _trade_login(p)
    company = p.rng.choice(list(_COMPANIES))
    symbol = p.call("get_symbol_by_name", name=company)["symbol"]
    price = p.call("get_stock_info", symbol=symbol)["price"]
    amount = p.rng.randint(1, 5)
    p.call("place_order", order_type="Buy", symbol=symbol, price=price, amount=amount)
    return Intent(f"Buy {amount} shares of {company} at its current price.{login}", p.calls,
                  (f"Buy some shares of {company} at its current price.{login}", f"Buy {amount} shares."))


def tr_watch(p: _Plan) -> Intent:
    company = p.rng.choice(list(_COMPANIES))
    symbol = p.call("get_symbol_by_name", name=company)["symbol"]
    p.call("add_to_watchlist", stock=symbol)
    return Intent(f"Add {company} to my watchlist.", p.calls)


def tr_fund(p: _Plan) -> Intent:
    login = _trade_login(p)
    amount = float(p.rng.randint(1, 40) * 50)
    p.call("fund_account", amount=amount)
    return Intent(f"Deposit ${amount:.0f} into my trading account.{login}", p.calls,
                  (f"Deposit some money into my trading account.{login}", f"Deposit ${amount:.0f}."))


def _travel_login(p: _Plan) -> str:
    t = p.suite("TravelAPI")
    if t.access_token:
        return t.access_token
    p.call("authenticate_travel", client_id=f"client_{p.rng.randint(100, 999)}", client_secret="s3cr3t",
           refresh_token="refresh_01", grant_type="read_write", user_first_name=t.user_first_name,
           user_last_name=t.user_last_name)
    return t.access_token


def _route(p: _Plan) -> tuple[str, str, str, str]:
    by_code = {code: city for city, code in CITY_AIRPORTS.items()}
    pairs = [(a, b) for a, b in ROUTES if a in by_code and b in by_code]
    a, b = p.rng.choice(pairs)
    return by_code[a], by_code[b], a, b


def tv_cost(p: _Plan) -> Intent:
    city_a, city_b, _, _ = _route(p)
    date, cls = f"2024-{p.rng.randint(1, 12):02d}-{p.rng.randint(1, 28):02d}", p.rng.choice(("economy", "business", "first"))
    a = p.call("get_nearest_airport_by_city", location=city_a)["nearest_airport"]
    b = p.call("get_nearest_airport_by_city", location=city_b)["nearest_airport"]
    p.call("get_flight_cost", travel_from=a, travel_to=b, travel_date=date, travel_class=cls)
    return Intent(f"How much is a {cls} flight from {city_a} to {city_b} on {date}? Find the nearest airports first.", p.calls)


def tv_book(p: _Plan) -> Intent:
    t = p.suite("TravelAPI")
    had_token = bool(t.access_token)
    token = _travel_login(p)
    city_a, city_b, a, b = _route(p)
    date = f"2024-{p.rng.randint(1, 12):02d}-{p.rng.randint(1, 28):02d}"
    card = next(iter(t.credit_card_list))
    p.call("book_flight", access_token=token, card_id=card, travel_date=date, travel_from=a, travel_to=b,
           travel_class="economy")
    login = "" if had_token else (f" Log me in first (client id {p.calls[0].kwargs['client_id']}, secret s3cr3t, "
                                  "refresh token refresh_01, grant type read_write, name "
                                  f"{t.user_first_name} {t.user_last_name}).")
    return Intent(f"Book an economy flight from {a} to {b} on {date} with my card {card}.{login}", p.calls)


def tv_exchange(p: _Plan) -> Intent:
    cur, value = p.rng.choice(("EUR", "JPY", "GBP", "CAD", "INR")), float(p.rng.randint(1, 40) * 25)
    p.call("compute_exchange_rate", base_currency="USD", target_currency=cur, value=value)
    return Intent(f"How much is {value:.0f} USD in {cur}?", p.calls,
                  (f"How much is {value:.0f} US dollars in another currency?", f"I mean {cur}."))


def vh_start(p: _Plan) -> Intent:
    car = p.suite("VehicleControlAPI")
    if car.engine_state == "running":
        raise _Rejected("running")
    unlocked = [d for d, s in car.doorStatus.items() if s == "unlocked"]
    if unlocked:
        p.call("lockDoors", unlock=False, door=unlocked)
    p.call("pressBrakePedal", pedalPosition=1.0)
    p.call("startEngine", ignitionMode="START")
    return Intent("Start the car's engine. Lock any unlocked doors and press the brake fully first.", p.calls)


def vh_fuel(p: _Plan) -> Intent:
    car = p.suite("VehicleControlAPI")
    room = int(50 - car.fuelLevel)
    if room < 5:
        raise _Rejected("full")
    amount = float(p.rng.randint(5, room))
    p.call("fillFuelTank", fuelAmount=amount)
    return Intent(f"Put {amount:.0f} gallons of fuel in the tank.", p.calls,
                  ("Put some fuel in the tank.", f"Add {amount:.0f} gallons."))


def vh_lights(p: _Plan) -> Intent:
    mode = p.rng.choice(("on", "off"))
    p.call("setHeadlights", mode=mode)
    return Intent(f"Turn the headlights {mode}.", p.calls)


def vh_climate(p: _Plan) -> Intent:
    temp, fan = float(p.rng.randint(18, 26)), p.rng.choice((20, 40, 60, 80))
    p.call("adjustClimateControl", temperature=temp, unit="celsius", fanSpeed=fan)
    return Intent(f"Set the AC to {temp:.0f} degrees Celsius with the fan at {fan}.", p.calls,
                  (f"Set the AC with the fan at {fan}.", f"Make it {temp:.0f} degrees Celsius."))


def vh_distance(p: _Plan) -> Intent:
    by_zip = {z: c for c, z in CITY_ZIPCODES.items()}
    pairs = [(a, b) for a, b in ZIP_DISTANCES if a in by_zip and b in by_zip]
    a, b = p.rng.choice(pairs)
    za = p.call("get_zipcode_based_on_city", city=by_zip[a])["zipcode"]
    zb = p.call("get_zipcode_based_on_city", city=by_zip[b])["zipcode"]
    p.call("estimate_distance", cityA=za, cityB=zb)
    return Intent(f"How far is {by_zip[a]} from {by_zip[b]}? Get both zip codes first.", p.calls)


def vh_navigate(p: _Plan) -> Intent:
    place = f"{p.rng.randint(10, 999)} {p.rng.choice(('Oak', 'Pine', 'Lake', 'Hill'))} Street, {p.rng.choice(list(CITY_ZIPCODES))}"
    p.call("set_navigation", destination=place)
    return Intent(f"Navigate to {place}.", p.calls, ("Start the navigation.", f"The destination is {place}."))


def mt_mean(p: _Plan) -> Intent:
    numbers = [float(p.rng.randint(1, 100)) for _ in range(p.rng.randint(3, 6))]
    p.call("mean", numbers=numbers)
    return Intent(f"What is the average of {', '.join(f'{x:g}' for x in numbers)}?", p.calls)


def mt_percentage(p: _Plan) -> Intent:
    part, whole = float(p.rng.randint(1, 50)), float(p.rng.randint(51, 400))
    p.call("percentage", part=part, whole=whole)
    return Intent(f"What percentage of {whole:g} is {part:g}?", p.calls)


def mt_std(p: _Plan) -> Intent:
    numbers = [float(p.rng.randint(1, 50)) for _ in range(p.rng.randint(3, 6))]
    p.call("standard_deviation", numbers=numbers)
    return Intent(f"Compute the standard deviation of {', '.join(f'{x:g}' for x in numbers)}.", p.calls)


def mt_convert(p: _Plan) -> Intent:
    value = float(p.rng.randint(1, 500))
    unit_in, unit_out = p.rng.sample(["km", "m", "cm", "mm"], 2)
    p.call("si_unit_conversion", value=value, unit_in=unit_in, unit_out=unit_out)
    return Intent(f"Convert {value:g} {unit_in} to {unit_out}.", p.calls)


INTENTS: dict[str, tuple[Callable[[_Plan], Intent], ...]] = {
    "GorillaFileSystem": (fs_make_dir, fs_write_file, fs_read, fs_count, fs_grep, fs_copy, fs_archive, fs_sort,
                          fs_tail, fs_remove, fs_diff),
    "TwitterAPI": (tw_post, tw_post_mention, tw_comment, tw_follow),
    "MessageAPI": (msg_send, msg_add_contact, msg_search),
    "TicketAPI": (tk_create, tk_close, tk_resolve, tk_priority),
    "TradingBot": (tr_price, tr_buy, tr_watch, tr_fund),
    "TravelAPI": (tv_cost, tv_book, tv_exchange),
    "VehicleControlAPI": (vh_start, vh_fuel, vh_lights, vh_climate, vh_distance, vh_navigate),
    "MathAPI": (mt_mean, mt_percentage, mt_std, mt_convert),
}
# Suites paired with a second one in multi-suite tasks (BFCL pairs the stateless math suite too).
_SUITES = tuple(INTENTS)


def _draw_turn(rng: random.Random, session: Session, suites: list[str], need_vague: bool) -> Intent | None:
    """One intent that applies to the simulated state, its calls run on ``session``; ``None`` when
    none applied in a few tries (the session is then unchanged)."""
    import copy

    for _ in range(12):
        suite = rng.choice(suites)
        fn = rng.choice(INTENTS[suite])
        trial = copy.deepcopy(session)
        plan = _Plan(rng, trial)
        try:
            intent = fn(plan)
        except (_Rejected, IndexError, ValueError, KeyError):
            continue
        if need_vague and intent.vague is None:
            continue
        session.__dict__.update(trial.__dict__)
        return intent
    return None


def generate_task(rng: np.random.Generator, difficulty: int) -> Task:
    """One generated task at tier ``difficulty`` (see the module docstring); deterministic in ``rng``."""
    if difficulty not in TIERS:
        raise ValueError(f"difficulty: {difficulty!r} is not one of {tuple(TIERS)}")
    seed = int(rng.integers(2**62))
    for attempt in range(50):
        task = _try_task(random.Random(seed + attempt), difficulty)
        if task is not None:
            return task
    raise RuntimeError(f"could not generate a tier-{difficulty} task from seed {seed}")


def _try_task(rng: random.Random, difficulty: int) -> Task | None:
    n_turns, max_suites = TIERS[difficulty]
    suites = rng.sample(_SUITES, rng.randint(1, max_suites) if difficulty < 3 else 2)
    config = {name: WORLDS[name](rng) for name in suites}
    session = Session(suites, config)
    special = rng.choice(("miss_param", "miss_func")) if difficulty == 3 else None
    special_turn = rng.randint(0, n_turns - 2) if special else -1
    texts: list[str] = []
    truth: list[list[str]] = []
    missed: dict[str, list[str]] = {}
    used: set[str] = set()
    turn = 0
    while turn < n_turns:
        intent = _draw_turn(rng, session, suites, need_vague=(special == "miss_param" and turn == special_turn))
        if intent is None:
            return None
        calls = [render_call(c) for c in intent.calls]
        names = [c.name for c in intent.calls]
        if turn == special_turn and special == "miss_param":
            texts += [intent.vague[0], intent.vague[1]]
            truth += [[], calls]
            turn += 2
        elif turn == special_turn and special == "miss_func":
            fresh = [n for n in names if n not in used]
            if not fresh:
                return None
            missed[str(turn + 1)] = [rng.choice(fresh)]
            texts += [intent.text, ""]
            truth += [[], calls]
            turn += 2
        else:
            texts.append(intent.text)
            truth.append(calls)
            turn += 1
        used.update(names)
    digest = hashlib.sha1(json.dumps([texts, truth, config], sort_keys=True, default=str).encode()).hexdigest()[:12]
    meta = {"source": "generated", "category": "generated", "turns": texts, "involved_classes": suites,
            "initial_config": config, "missed_function": missed, "long_context": False}
    return Task(id=f"bfcl_multi_turn-{difficulty}-{digest}", prompt=texts[0], answer=truth, difficulty=difficulty, meta=meta)
