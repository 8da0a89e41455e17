"""Stateless tools: unit conversion, dates and lookups in small bundled tables.

Every tool is a typed function with a short Google-style docstring (the schema a model reads
comes from :func:`transformers.utils.get_json_schema`). Descriptions are kept brief on purpose:
a tiny model sees 1-4 of them in a ~512-token context; for the same reason tools carry no return
annotation (``get_json_schema`` would add a ``return`` entry to every schema in the prompt).

Tools are strict about what their docstring promises (unit codes, ISO dates, country names from
the table): anything else raises ``ValueError`` with the accepted values, which the environment
turns into an error tool message the model can recover from.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from importlib import resources

__all__ = [
    "UNITS",
    "convert_units",
    "days_between",
    "add_days",
    "day_of_week",
    "get_capital",
    "get_currency",
    "get_population",
    "convert_currency",
    "countries",
    "rates",
    "number",
    "parse_date",
]

# unit code -> (dimension, factor to the dimension's base unit); temperatures are special-cased.
UNITS: dict[str, tuple[str, float]] = {
    "km": ("length", 1000.0),
    "mi": ("length", 1609.344),
    "m": ("length", 1.0),
    "ft": ("length", 0.3048),
    "kg": ("mass", 1.0),
    "lb": ("mass", 0.45359237),
    "C": ("temperature", 1.0),
    "F": ("temperature", 1.0),
}


def number(x: float) -> float | int:
    """Round to 2 decimals and drop a zero fraction, so results read as ``12`` or ``7.46``."""
    x = round(float(x), 2)
    return int(x) if x.is_integer() else x


@lru_cache(maxsize=1)
def countries() -> dict[str, dict]:
    """The bundled country table, keyed by lower-case country name."""
    rows = json.loads(resources.files(__package__).joinpath("countries.json").read_text("utf-8"))["countries"]
    return {r["country"].lower(): r for r in rows}


@lru_cache(maxsize=1)
def rates() -> dict[str, float]:
    """The bundled exchange rates: units of each currency per 1 USD."""
    return json.loads(resources.files(__package__).joinpath("rates.json").read_text("utf-8"))["per_usd"]


def _country(country: str) -> dict:
    row = countries().get(country.strip().lower())
    if row is None:
        raise ValueError(f"unknown country {country!r}")
    return row


def parse_date(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{field} must be a date YYYY-MM-DD, got {text!r}") from None


def convert_units(value: float, from_unit: str, to_unit: str):
    """Convert a measurement between units.

    Args:
        value: Amount to convert.
        from_unit: Unit code: km, mi, m, ft, kg, lb, C or F.
        to_unit: Target unit code.
    """
    for u in (from_unit, to_unit):
        if u not in UNITS:
            raise ValueError(f"unknown unit {u!r}; use one of {', '.join(UNITS)}")
    dim_a, fa = UNITS[from_unit]
    dim_b, fb = UNITS[to_unit]
    if dim_a != dim_b:
        raise ValueError(f"cannot convert {dim_a} ({from_unit}) to {dim_b} ({to_unit})")
    if dim_a == "temperature":
        celsius = value if from_unit == "C" else (value - 32) * 5 / 9
        return number(celsius if to_unit == "C" else celsius * 9 / 5 + 32)
    return number(value * fa / fb)


def days_between(start: str, end: str):
    """Days from one date to another.

    Args:
        start: Start date, YYYY-MM-DD.
        end: End date, YYYY-MM-DD.
    """
    return (parse_date(end, "end") - parse_date(start, "start")).days


def add_days(date: str, days: int):
    """Date a number of days after a date.

    Args:
        date: Date, YYYY-MM-DD.
        days: Days to add.
    """
    return (parse_date(date, "date") + dt.timedelta(days=days)).isoformat()


def day_of_week(date: str):
    """Weekday of a date.

    Args:
        date: Date, YYYY-MM-DD.
    """
    return parse_date(date, "date").strftime("%A")


def get_capital(country: str):
    """Capital city of a country.

    Args:
        country: Country name.
    """
    return _country(country)["capital"]


def get_currency(country: str):
    """Currency code of a country.

    Args:
        country: Country name.
    """
    return _country(country)["currency"]


def get_population(country: str):
    """Population of a country in millions.

    Args:
        country: Country name.
    """
    return _country(country)["population_millions"]


def convert_currency(amount: float, from_currency: str, to_currency: str):
    """Convert money between currencies.

    Args:
        amount: Amount of money.
        from_currency: Currency code, e.g. USD.
        to_currency: Target currency code.
    """
    table = rates()
    for code in (from_currency, to_currency):
        if code not in table:
            raise ValueError(f"unknown currency code {code!r}")
    return number(amount / table[from_currency] * table[to_currency])
