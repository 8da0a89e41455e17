"""Filler for BFCL's ``multi_turn_long_context`` category.

In that category every suite is loaded with a lot of extra, irrelevant content (files padded
with text, directories with many extra files, long watch lists, transaction histories, booking
records, car metadata) so the model has to find what matters in long tool outputs. BFCL ships
fixed filler tables; lfmgym generates its own filler deterministically from fixed seeds. The
checker runs the model's calls and the ground truth through the same filler, so verdicts do not
depend on what the filler says, only on it being the same for both.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

__all__ = ["FILES_READ_AT_THE_END", "file_padding", "padding_files", "watch_list_padding", "moving_average_padding",
           "order_metadata", "transaction_padding", "sector_padding", "credit_card_padding", "booking_padding",
           "car_metadata", "intermediary_cities", "weather_report", "parking_brake_manual"]

# Files whose last lines the long-context questions ask about (``tail``): they are not padded,
# so their end stays what the question expects.
FILES_READ_AT_THE_END = ("log.txt", "report.txt", "report.csv", "DataSet1.csv", "file1.txt", "finance_report.txt",
                         "config.py", "Q4_summary.doc", "file3.txt")

_WORDS = ("system", "update", "record", "status", "pending", "archive", "note", "review", "batch", "cache",
          "sync", "entry", "draft", "index", "backup", "metric", "report", "queue", "token", "session")


def _rng(tag: str) -> random.Random:
    return random.Random(f"lfmgym-bfcl-long-context-{tag}")


def _sentence(rng: random.Random, n: int = 8) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n)).capitalize() + "."


def _code(rng: random.Random, size: int) -> str:
    return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(size))


_FILLER_SENTENCES = (
    "Quarterly revenue rose on stronger demand in the services segment while operating costs stayed flat",
    "management expects margins to hold through the next fiscal period as supplier contracts renew at similar terms",
    "capital spending focused on warehouse automation and a second distribution center in the northern region",
    "cash reserves remain sufficient to cover planned investments without new borrowing",
    "the board approved a modest dividend increase and an extension of the share repurchase program",
    "customer retention improved after the loyalty program relaunch and churn fell for a third straight quarter",
    "foreign exchange movements reduced reported sales slightly but had little effect on net income",
    "inventory turnover improved as slower product lines were discontinued and stock levels were rebalanced",
    "headcount grew mainly in engineering and customer support to serve the expanding subscriber base",
    "risks include rising interest rates, tighter credit conditions and delays in regulatory approvals abroad",
)


@lru_cache(maxsize=None)
def file_padding() -> str:
    """Text appended, on the same line, to every file not in :data:`FILES_READ_AT_THE_END` (like
    BFCL's filler, one long line without a line break)."""
    rng = _rng("file")
    return " " + " ".join(rng.choice(_FILLER_SENTENCES).capitalize() + "." for _ in range(24))


@lru_cache(maxsize=None)
def padding_files() -> tuple[str, ...]:
    """Names of the empty files added to every innermost directory (image files, as in BFCL)."""
    rng = _rng("files")
    return tuple(f"image_{rng.randint(10**17, 10**19)}.jpg" for _ in range(30))


@lru_cache(maxsize=None)
def watch_list_padding() -> tuple[str, ...]:
    rng = _rng("watch")
    return tuple(_code(rng, rng.randint(1, 5)) for _ in range(500))


@lru_cache(maxsize=None)
def moving_average_padding(window: int) -> tuple[float, ...]:
    rng = _rng(f"ma{window}")
    return tuple(round(rng.uniform(10, 3000), 2) for _ in range(300))


def order_metadata(symbol: str) -> dict[str, str]:
    rng = _rng("order")
    return {f"note_{i}": f"{symbol}: {_sentence(rng, 20)}" for i in range(20)}


@lru_cache(maxsize=None)
def transaction_padding() -> tuple[dict[str, Any], ...]:
    rng = _rng("transactions")
    return tuple({"type": rng.choice(("deposit", "withdrawal")), "amount": round(rng.uniform(100, 10000), 2),
                  "timestamp": f"202{rng.randint(3, 4)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} "
                               f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"}
                 for _ in range(200))


@lru_cache(maxsize=None)
def sector_padding(sector: str) -> tuple[str, ...]:
    rng = _rng(f"sector-{sector}")
    return tuple(_code(rng, rng.randint(2, 4)) for _ in range(300))


def credit_card_padding() -> dict[str, dict[str, Any]]:
    rng = _rng("cards")
    cards = {}
    for _ in range(100):
        cards[str(rng.randint(100000000000, 999999999999))] = {
            "card_number": "".join(str(rng.randint(0, 9)) for _ in range(16)),
            "expiration_date": f"{rng.randint(1, 12):02d}/{rng.randint(2025, 2032)}",
            "cardholder_name": f"{rng.choice(('Alex', 'Sam', 'Jordan', 'Taylor', 'Morgan'))} "
                               f"{rng.choice(('Lee', 'Kim', 'Smith', 'Garcia', 'Brown'))}",
            "card_verification_number": rng.randint(100, 999),
            "balance": float(rng.randint(1000, 99999)),
        }
    return cards


def booking_padding() -> dict[str, dict[str, Any]]:
    rng = _rng("bookings")
    airports = ("SFO", "LAX", "JFK", "ORD", "BOS", "RMS", "SBK", "MPC", "SVP", "SHD")
    records = {}
    for _ in range(100):
        src, dst = rng.sample(airports, 2)
        records[str(rng.randint(1000000, 9999999))] = {
            "card_id": str(rng.randint(100000000000, 999999999999)),
            "travel_date": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "travel_from": src, "travel_to": dst,
            "travel_class": rng.choice(("economy", "business", "first")),
            "travel_cost": float(rng.randint(100, 3000)),
            "transaction_id": str(rng.randint(10000000, 99999999)),
        }
    return records


@lru_cache(maxsize=None)
def _car_metadata() -> tuple[tuple[str, str], ...]:
    rng = _rng("car")
    return tuple((f"section_{i}", " ".join(_sentence(rng, 12) for _ in range(5))) for i in range(40))


def car_metadata() -> dict[str, str]:
    return dict(_car_metadata())


@lru_cache(maxsize=None)
def intermediary_cities() -> tuple[str, ...]:
    rng = _rng("cities")
    first = ("Green", "River", "Stone", "Oak", "Pine", "Maple", "Silver", "Sun", "Shadow", "Cedar")
    second = ("ville", "port", "field", "dale", "wood", "ridge", "haven", " Springs", " Hills", " Valley")
    return tuple(rng.choice(first) + rng.choice(second) for _ in range(600))


def weather_report() -> dict[str, Any]:
    rng = _rng("weather")
    return {f"forecast_day_{i}": _sentence(rng, 15) for i in range(60)}


@lru_cache(maxsize=None)
def parking_brake_manual() -> str:
    rng = _rng("brake")
    return " ".join(_sentence(rng, 14) for _ in range(80))
