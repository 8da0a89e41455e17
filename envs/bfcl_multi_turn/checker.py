"""BFCL's multi-turn verdict, computed with lfmgym's suites.

BFCL runs the model's calls and the ground truth's calls turn by turn on two separate sets of
suites loaded from the entry's ``initial_config``. After each turn whose ground truth has calls:

1. the model must have made at least one call in that turn (``empty_turn_model_response``);
2. every suite's public state must equal the ground truth's (``instance_state_mismatch``);
3. every result the ground truth's calls of this turn produced must appear among the results of
   all the model's calls so far, as a multiset and in any order (``execution_response_mismatch``).

Turns whose ground truth is empty (a missing function or parameter: the model should ask or say
it cannot) are not checked themselves, but any call the model makes there still runs, so a
wrong action shows up in the next checked turn's state. An entry is valid when every checked turn
passes; a transcript with fewer turns than the entry (the model was stopped) is invalid
(``force_terminated``). BFCL stops at the first failing turn; :func:`check_entry` also reports
each turn on its own (``turns``) for partial credit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lfmgym.toolcalls import ToolCall

from lfmgym.envs.bfcl_multi_turn.session import Call, Session

__all__ = ["Verdict", "check_entry", "is_long_context"]

# A step: the calls of one model message. A turn: its steps. A transcript: its turns.
Step = Sequence[Call | ToolCall | str]


@dataclass
class Verdict:
    """The checker's answer for one entry.

    Attributes:
        valid: BFCL's verdict.
        error_type: ``multi_turn:<kind>`` of the first failure (``None`` when valid).
        error: a readable reason.
        failed_turn: index of the first failing turn (``None`` when valid).
        turns: per turn, ``True``/``False`` when its ground truth has calls and the turn was
            checked on its own, ``None`` for turns with nothing to check.
        details: the state differences or missing results of the first failure.
    """

    valid: bool
    error_type: str | None = None
    error: str = ""
    failed_turn: int | None = None
    turns: list[bool | None] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def turn_accuracy(self) -> float:
        """Fraction of checked turns that passed (1.0 when no turn has anything to check)."""
        checked = [t for t in self.turns if t is not None]
        return sum(checked) / len(checked) if checked else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "error_type": self.error_type, "error": self.error,
                "failed_turn": self.failed_turn, "turns": self.turns, "turn_accuracy": self.turn_accuracy}


def is_long_context(entry_id: str) -> bool:
    """BFCL loads the suites with long-context filler for these categories."""
    category = entry_id.rsplit("_", 1)[0]
    return "long_context" in category or "composite" in category


def _missing_results(expected: list[str], produced: list[str]) -> list[str]:
    pool = list(produced)
    missing = []
    for item in expected:
        try:
            pool.remove(item)
        except ValueError:
            missing.append(item)
    return missing


def check_entry(model_turns: Sequence[Sequence[Step]], ground_truth: Sequence[Sequence[str]],
                involved_classes: Sequence[str], initial_config: dict[str, Any] | None,
                long_context: bool = False) -> Verdict:
    """Check a transcript of calls against an entry's ground truth (see the module docstring).

    Args:
        model_turns: per turn, the model's steps, each a list of calls (empty steps are ignored).
        ground_truth: per turn, BFCL's ground-truth call strings.
        involved_classes, initial_config: from the entry.
        long_context: load the suites with long-context filler.
    """
    model_turns = [[list(step) for step in turn if step] for turn in model_turns]
    model, gold = Session(involved_classes, initial_config, long_context), Session(involved_classes, initial_config, long_context)
    verdict = Verdict(valid=True)
    if len(model_turns) != len(ground_truth):
        verdict = Verdict(False, "multi_turn:force_terminated",
                          f"the transcript has {len(model_turns)} turns, the entry {len(ground_truth)}")
    first: tuple[str, str, int, dict] | None = None
    produced: list[str] = []
    for index, gold_calls in enumerate(ground_truth):
        steps = model_turns[index] if index < len(model_turns) else []
        for step in steps:
            produced += model.execute(step)
        expected = gold.execute(gold_calls)
        if not gold_calls:
            verdict.turns.append(None)
            continue
        failure = None
        if not steps:
            failure = ("multi_turn:empty_turn_model_response", f"no call in turn {index}", {})
        elif diff := model.differences(gold):
            failure = ("multi_turn:instance_state_mismatch",
                       f"the state after turn {index} differs from the ground truth's ({_summary(diff)})",
                       {"differences": diff})
        elif missing := _missing_results(expected, produced):
            failure = ("multi_turn:execution_response_mismatch",
                       f"results of turn {index}'s ground-truth calls missing from the model's results",
                       {"missing_items": missing})
        verdict.turns.append(failure is None)
        if failure is not None and first is None:
            first = (failure[0], failure[1], index, failure[2])
    if verdict.valid and first is not None:
        verdict.valid, verdict.error_type, verdict.error, verdict.failed_turn, verdict.details = (
            False, first[0], first[1], first[2], first[3])
    return verdict


def _summary(diff: dict[str, dict[str, Any]]) -> str:
    return "; ".join(f"{cls}: {', '.join(attrs)}" for cls, attrs in diff.items())
