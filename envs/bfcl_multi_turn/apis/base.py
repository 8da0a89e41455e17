"""The common shape of the multi-turn API suites.

A suite is a plain Python object whose public methods are the functions a model may call and
whose public attributes are its state. Two suites of one class are equal when every public
attribute is equal: that is the state BFCL's multi-turn checker compares after each turn. Private
attributes (``_current_dir``, ``_random``, ...) are working state the checker ignores.
"""

from __future__ import annotations

import copy
import inspect
import random
from collections.abc import Callable
from typing import Any, ClassVar

__all__ = ["Suite"]


class Suite:
    """Base class of an API suite.

    Class attributes:
        name: the BFCL class name (``initial_config`` and ``involved_classes`` key).
        doc_file: the suite's function-document file under ``bfcl/multi_turn_func_doc/``.
        stateless: the suite ignores ``initial_config`` (BFCL's MathAPI).
        defaults: the state a scenario starts from before ``initial_config`` overrides it.
    """

    name: ClassVar[str] = ""
    doc_file: ClassVar[str] = ""
    stateless: ClassVar[bool] = False
    defaults: ClassVar[dict[str, Any]] = {}

    def _load_scenario(self, scenario: dict[str, Any], long_context: bool = False) -> None:
        """Set the state from ``scenario`` (an ``initial_config`` entry); absent keys take
        :attr:`defaults`. ``scenario`` is copied, so the caller's dict is never mutated."""
        scenario = copy.deepcopy(scenario or {})
        for key, value in copy.deepcopy(self.defaults).items():
            setattr(self, key, scenario.get(key, value))

    def _seeded(self, scenario: dict[str, Any], seed: int) -> random.Random:
        return random.Random(scenario.get("random_seed", seed) if scenario else seed)

    def _state(self) -> dict[str, Any]:
        """The public attributes: what two instances are compared on."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._state() == other._state()

    __hash__ = None  # mutable state

    @classmethod
    def function_names(cls) -> list[str]:
        """The callable API: public methods, in definition order."""
        return [n for n, v in vars(cls).items() if not n.startswith("_") and inspect.isfunction(v)]

    def _functions(self) -> dict[str, Callable[..., Any]]:
        return {n: getattr(self, n) for n in self.function_names()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._state()!r})"
