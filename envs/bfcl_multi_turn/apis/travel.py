"""``TravelAPI``: flights, credit cards, bookings, insurance and budget (BFCL's travel suite).

State compared by the checker: ``credit_card_list``, ``booking_record``, ``access_token``,
``token_type``, ``token_expires_in``, ``token_scope``, ``user_first_name``, ``user_last_name``,
``budget_limit``, ``long_context``. Tokens, card ids, booking, transaction and insurance ids are
drawn from a generator seeded by ``random_seed`` (141053 by default). The traveler's age is
computed on a fixed day (:data:`TODAY`) so verdicts do not change with the calendar.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

from lfmgym.envs.bfcl_multi_turn.apis import long_context as lc
from lfmgym.envs.bfcl_multi_turn.apis.base import Suite

__all__ = ["TravelAPI", "ROUTES", "AIRPORTS", "CITY_AIRPORTS", "TODAY"]

TODAY = date(2025, 1, 1)

_FROM_SFO = dict(LAX=200, JFK=500, ORD=400, BOS=450, RMS=300, SBK=350, MPC=370, SVP=320, SHD=330, SSV=340, OKD=360,
                 WLB=310, CRH=380, ATV=390, PHV=420, GFD=430, CIA=700)
_FROM_LAX = dict(SFO=100, JFK=600, ORD=500, BOS=550, RMS=310, SBK=320, MPC=330, SVP=340, SHD=350, SSV=360, OKD=370,
                 WLB=380, CRH=390, ATV=400, PHV=410, GFD=420, HND=430)
_FROM_JFK = dict(ORD=300, BOS=250, RMS=450, SBK=460, MPC=470, SVP=480, SHD=490, SSV=500, OKD=510, WLB=520, CRH=530,
                 ATV=540, PHV=550, GFD=560, LAX=570, HND=800, PVG=950, PEK=1000)
_FROM_ORD = dict(LAX=180, BOS=200, RMS=350, SBK=360, MPC=370, SVP=380, SHD=390, SSV=400, OKD=410, WLB=420, CRH=430,
                 ATV=440, PHV=450, GFD=460)
_FROM_BOS = dict(RMS=400, SBK=410, MPC=420, SVP=430, SHD=440, SSV=450, OKD=460, WLB=470, CRH=480, ATV=490, PHV=500,
                 GFD=510)
_FROM_RMS = dict(BOS=200, JFK=210, SBK=220, MPC=230, SVP=240, SHD=250, SSV=260, OKD=270, WLB=280, CRH=290, ATV=300,
                 PHV=310, GFD=320, LAX=330)
# The regional chain: each airport to every later one, base fares rising by 10 from a start fare.
_CHAIN = ("SBK", "MPC", "SVP", "SHD", "SSV", "OKD", "WLB", "CRH", "ATV", "PHV", "GFD")
_CHAIN_START = {"SBK": 200, "MPC": 210, "SVP": 230, "SHD": 220, "SSV": 240, "OKD": 230, "WLB": 250, "CRH": 240,
                "ATV": 230, "PHV": 220}
_EXTRA = {("CRH", "SFO"): 270, ("CRH", "RMS"): 280, ("CRH", "HKG"): 290, ("CRH", "JFK"): 300, ("LHR", "CDG"): 100,
          ("OKD", "LAX"): 220}


def _routes() -> dict[tuple[str, str], int]:
    routes: dict[tuple[str, str], int] = {}
    for origin, table in (("SFO", _FROM_SFO), ("LAX", _FROM_LAX), ("JFK", _FROM_JFK), ("ORD", _FROM_ORD),
                          ("BOS", _FROM_BOS), ("RMS", _FROM_RMS)):
        routes.update({(origin, dest): fare for dest, fare in table.items()})
    for i, origin in enumerate(_CHAIN[:-1]):
        for j, dest in enumerate(_CHAIN[i + 1:]):
            routes[(origin, dest)] = _CHAIN_START[origin] + 10 * j
    routes.update(_EXTRA)
    return routes


ROUTES: dict[tuple[str, str], int] = _routes()
AIRPORTS = ["RMS", "SBK", "MPC", "SVP", "SHD", "CDG", "LHR", "SSV", "OKD", "WLB", "PEK", "HND", "HKG", "CIA", "CRH",
            "ATV", "PHV", "GFD", "SFO", "LAX", "JFK", "ORD", "BOS"]
CITY_AIRPORTS = {"Rivermist": "RMS", "Stonebrook": "SBK", "Maplecrest": "MPC", "Silverpine": "SVP",
                 "Shadowridge": "SHD", "London": "LHR", "Paris": "CDG", "Sunset Valley": "SSV", "Oakendale": "OKD",
                 "Willowbend": "WLB", "Crescent Hollow": "CRH", "Autumnville": "ATV", "Pinehaven": "PHV",
                 "Greenfield": "GFD", "San Francisco": "SFO", "Los Angeles": "LAX", "New York": "JFK",
                 "Chicago": "ORD", "Boston": "BOS", "Beijing": "PEK", "Hong Kong": "HKG", "Rome": "CIA",
                 "Tokyo": "HND"}
_CLASS_FACTOR = {"economy": 1, "business": 2, "first": 5}
_RATES = {("USD", "RMB"): 7, ("USD", "EUR"): 0.8, ("USD", "JPY"): 110, ("USD", "GBP"): 0.7, ("USD", "CAD"): 1.3,
          ("USD", "AUD"): 1.4, ("USD", "INR"): 70, ("USD", "RUB"): 60, ("USD", "BRL"): 3.8, ("USD", "MXN"): 20}


def flight_cost(travel_from: str, travel_to: str, travel_date: str, travel_class: str) -> float:
    """The fare: base fare x class factor x 2 when the date's digits sum to an even number.

    Raises:
        ValueError: unknown route or class.
    """
    if (travel_from, travel_to) not in ROUTES:
        raise ValueError("No available route for the given airports.")
    if travel_class not in _CLASS_FACTOR:
        raise ValueError("Invalid travel class. Options are: economy, business, first.")
    even = sum(int(c) for c in travel_date if c.isdigit()) % 2 == 0
    return float(ROUTES[(travel_from, travel_to)] * _CLASS_FACTOR[travel_class] * (2 if even else 1))


class TravelAPI(Suite):
    name = "TravelAPI"
    doc_file = "travel_booking.json"
    defaults = {"credit_card_list": {}, "booking_record": {}, "access_token": None, "token_type": None,
                "token_expires_in": None, "token_scope": None, "user_first_name": None, "user_last_name": None,
                "budget_limit": None}

    def _load_scenario(self, scenario: dict[str, Any], long_context: bool = False) -> None:
        super()._load_scenario(scenario, long_context)
        self._random = self._seeded(scenario, 141053)
        self.long_context = long_context
        if long_context:
            for key, card in lc.credit_card_padding().items():
                self.credit_card_list.setdefault(key, card)
            for key, record in lc.booking_padding().items():
                self.booking_record.setdefault(key, record)

    def _token_error(self, access_token: str) -> str | None:
        if self.token_expires_in == 0:
            return "Token expired"
        if access_token != self.access_token:
            return "Invalid access token"
        return None

    def authenticate_travel(self, client_id: str, client_secret: str, refresh_token: str, grant_type: str,
                            user_first_name: str, user_last_name: str) -> dict[str, Any]:
        self.token_expires_in = 2
        self.access_token = str(self._random.randint(100000, 999999))
        self.token_type = "Bearer"
        self.token_scope = grant_type
        self.user_first_name = user_first_name
        self.user_last_name = user_last_name
        return {"expires_in": 2, "access_token": self.access_token, "token_type": "Bearer", "scope": grant_type}

    def travel_get_login_status(self) -> dict[str, bool]:
        return {"status": self.token_expires_in not in (None, 0)}

    def get_budget_fiscal_year(self, lastModifiedAfter: str | None = None, includeRemoved: str | None = None) -> dict[str, str]:
        return {"budget_fiscal_year": "2018"}

    def register_credit_card(self, access_token: str, card_number: str, expiration_date: str, cardholder_name: str,
                             card_verification_number: int) -> dict[str, Any]:
        if self.token_expires_in is None:
            return {"error": "Token not initialized"}
        if error := self._token_error(access_token):
            return {"error": error}
        if card_number in self.credit_card_list:
            return {"error": "Card already registered"}
        card_id = str(self._random.randint(100000000000, 999999999999))
        self.credit_card_list[card_id] = {"card_number": card_number, "expiration_date": expiration_date,
                                          "cardholder_name": cardholder_name,
                                          "card_verification_number": card_verification_number,
                                          "balance": self._random.randint(10000, 99999)}
        return {"card_id": card_id}

    def get_flight_cost(self, travel_from: str, travel_to: str, travel_date: str, travel_class: str) -> dict[str, Any]:
        cost = flight_cost(travel_from, travel_to, travel_date, travel_class)
        if not self.long_context:
            return {"travel_cost_list": [cost]}
        factor = cost / ROUTES[(travel_from, travel_to)]
        return {"travel_cost_list": [float(base * factor) for base in ROUTES.values()]}

    def get_credit_card_balance(self, access_token: str, card_id: str) -> dict[str, Any]:
        if error := self._token_error(access_token):
            return {"error": error}
        if card_id not in self.credit_card_list:
            return {"error": f"Card not registered. Here are a list of card_id's: {list(self.credit_card_list)}"}
        return {"card_balance": self.credit_card_list[card_id]["balance"]}

    def book_flight(self, access_token: str, card_id: str, travel_date: str, travel_from: str, travel_to: str,
                    travel_class: str) -> dict[str, Any]:
        def fail(error: str) -> dict[str, Any]:
            return {"booking_status": False, "error": error}

        if error := self._token_error(access_token):
            return fail(error)
        if card_id not in self.credit_card_list:
            return fail("Card not registered")
        card = self.credit_card_list[card_id]
        if "balance" not in card:
            return fail("Balance not found")
        for code, role in ((travel_from, "departure"), (travel_to, "destination")):
            if code not in AIRPORTS:
                return fail(f"Invalid {role} airport code: {code}")
        try:
            datetime.strptime(travel_date, "%Y-%m-%d")
        except ValueError:
            return fail("Invalid date format. Use YYYY-MM-DD.")
        if travel_class not in _CLASS_FACTOR:
            return fail(f"Invalid travel class. Must be one of {set(_CLASS_FACTOR)}")
        try:
            cost = flight_cost(travel_from, travel_to, travel_date, travel_class)
        except ValueError as exc:
            return fail(str(exc))
        if card["balance"] < cost:
            return fail("Insufficient funds")
        if self.budget_limit is not None and card["balance"] < self.budget_limit:
            return fail("Balance is less than budget limit")
        card["balance"] -= cost
        booking_id = str(self._random.randint(1000000, 9999999))
        transaction_id = str(self._random.randint(10000000, 99999999))
        self.booking_record[booking_id] = {"card_id": card_id, "travel_date": travel_date, "travel_from": travel_from,
                                           "travel_to": travel_to, "travel_class": travel_class, "travel_cost": cost,
                                           "transaction_id": transaction_id}
        return {"booking_id": booking_id, "transaction_id": transaction_id, "booking_status": True,
                "booking_history": self.booking_record if self.long_context else {}}

    def retrieve_invoice(self, access_token: str, booking_id: str | None = None, insurance_id: str | None = None) -> dict[str, Any]:
        if error := self._token_error(access_token):
            return {"error": error}
        if booking_id not in self.booking_record:
            return {"error": "Booking not found"}
        record = self.booking_record[booking_id]
        keys = ("travel_date", "travel_from", "travel_to", "travel_class", "travel_cost", "transaction_id")
        return {"invoice": {"booking_id": booking_id, **{k: record[k] for k in keys}}}

    def get_booking_history(self, access_token: str) -> dict[str, Any]:
        if error := self._token_error(access_token):
            return {"error": error}
        return {"booking_history": copy.deepcopy(self.booking_record)}

    def list_all_airports(self) -> list[str]:
        return list(AIRPORTS)

    def cancel_booking(self, access_token: str, booking_id: str) -> dict[str, Any]:
        if error := self._token_error(access_token):
            return {"cancel_status": False, "error": error}
        if booking_id not in self.booking_record:
            return {"cancel_status": False, "error": "Booking not found"}
        record = self.booking_record[booking_id]
        self.credit_card_list[record["card_id"]]["balance"] += record["travel_cost"]
        del self.booking_record[booking_id]
        return {"cancel_status": True}

    def compute_exchange_rate(self, base_currency: str, target_currency: str, value: float) -> dict[str, float]:
        for (a, b), rate in _RATES.items():
            if (base_currency, target_currency) == (a, b):
                return {"exchanged_value": float(value * rate)}
            if (base_currency, target_currency) == (b, a):
                return {"exchanged_value": round(value / rate, 2)}
        raise ValueError("No available exchange rate for the given currencies.")

    def verify_traveler_information(self, first_name: str, last_name: str, date_of_birth: str,
                                    passport_number: str) -> dict[str, Any]:
        def fail(reason: str) -> dict[str, Any]:
            return {"verification_status": False, "verification_failure": reason}

        if self.user_first_name != first_name or self.user_last_name != last_name:
            return fail("Cannot book flight information for another user."
                        f"Expected {self.user_first_name} {self.user_last_name}, got {first_name} {last_name}")
        try:
            born = datetime.strptime(date_of_birth, "%Y-%m-%d")
        except ValueError:
            return fail("Invalid date of birth format. Please use YYYY-MM-DD.")
        age = TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))
        if age < 18:
            return fail("Traveler must be at least 18 years old.")
        if not passport_number.startswith("US"):
            return fail("Passport must be issued by the United States.")
        return {"verification_status": True}

    def set_budget_limit(self, access_token: str, budget_limit: float) -> dict[str, Any]:
        if error := self._token_error(access_token):
            return {"error": error}
        self.budget_limit = float(budget_limit)
        return {"budget_limit": self.budget_limit}

    def get_nearest_airport_by_city(self, location: str) -> dict[str, str]:
        return {"nearest_airport": CITY_AIRPORTS.get(location, "Unknown")}

    def purchase_insurance(self, access_token: str, insurance_type: str, booking_id: str, insurance_cost: float,
                           card_id: str) -> dict[str, Any]:
        def fail(error: str) -> dict[str, Any]:
            return {"insurance_status": False, "error": error}

        if error := self._token_error(access_token):
            return fail(error)
        if self.budget_limit is not None and self.budget_limit < insurance_cost:
            return fail("Exceeded budget limit")
        if booking_id not in self.booking_record:
            return fail("Booking not found")
        if card_id not in self.credit_card_list:
            return fail("Credit card not registered")
        self.credit_card_list[card_id]["balance"] -= insurance_cost
        return {"insurance_id": str(self._random.randint(100000000, 999999999)), "insurance_status": True}

    def contact_customer_support(self, booking_id: str, message: str) -> dict[str, str]:
        if booking_id not in self.booking_record:
            return {"error": "Booking not found"}
        return {"customer_support_message": "Thank you for contacting customer support. Your message has been "
                                            "received and we will get back to you shortly."}

    def get_all_credit_cards(self) -> dict[str, Any]:
        return {"credit_card_list": self.credit_card_list}
