"""The API suites of BFCL's multi-turn categories, written for lfmgym.

``SUITES`` maps each BFCL class name (the keys of an entry's ``initial_config`` and
``involved_classes``) to its suite class. Each suite documents the state the checker compares.
"""

from __future__ import annotations

from lfmgym.envs.bfcl_multi_turn.apis.base import Suite
from lfmgym.envs.bfcl_multi_turn.apis.filesystem import GorillaFileSystem
from lfmgym.envs.bfcl_multi_turn.apis.math_api import MathAPI
from lfmgym.envs.bfcl_multi_turn.apis.messaging import MessageAPI
from lfmgym.envs.bfcl_multi_turn.apis.posting import TwitterAPI
from lfmgym.envs.bfcl_multi_turn.apis.tickets import TicketAPI
from lfmgym.envs.bfcl_multi_turn.apis.trading import TradingBot
from lfmgym.envs.bfcl_multi_turn.apis.travel import TravelAPI
from lfmgym.envs.bfcl_multi_turn.apis.vehicle import VehicleControlAPI

__all__ = ["SUITES", "Suite", "GorillaFileSystem", "MathAPI", "MessageAPI", "TwitterAPI", "TicketAPI", "TradingBot",
           "TravelAPI", "VehicleControlAPI"]

SUITES: dict[str, type[Suite]] = {cls.name: cls for cls in (GorillaFileSystem, MathAPI, MessageAPI, TwitterAPI,
                                                            TicketAPI, TradingBot, TravelAPI, VehicleControlAPI)}
