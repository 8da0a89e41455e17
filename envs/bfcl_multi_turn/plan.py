"""What the task generator's intents are built from: a :class:`Plan` (the simulated state a
task is generated against, running each call as an intent chooses it) and the :class:`Intent` an
intent function returns."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from lfmgym.envs.bfcl_multi_turn.session import Call, Session, render_call

__all__ = ["Intent", "Plan", "Rejected"]


@dataclass
class Intent:
    """One user request: its text, the calls that fulfil it, and optionally a vague version
    (text missing a detail) with the follow-up that gives the detail."""

    text: str
    calls: list[Call]
    vague: tuple[str, str] | None = None


class Plan:
    """The simulation a task is generated against: calls run on it as intents choose them."""

    def __init__(self, rng: random.Random, session: Session, initial: dict[str, Any] | None = None):
        self.rng, self.session = rng, session
        self.initial = initial or {}  # the task's initial_config: what existed before this task
        self.calls: list[Call] = []

    def call(self, function: str, /, **kwargs: Any) -> Any:
        call = Call(function, (), kwargs)
        result = self.session.invoke(call)
        if isinstance(result, dict) and (result.get("error") or result.get("booking_status") is False):
            raise Rejected(f"{render_call(call)} -> {result}")
        self.calls.append(call)
        return result

    def suite(self, name: str):
        return self.session.instances[name]


class Rejected(Exception):
    """The drawn intent does not apply to the simulated state."""
