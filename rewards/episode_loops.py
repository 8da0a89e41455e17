"""Doom loops across turns: an agent episode that repeats itself until the turn limit.

Definition (for ``doom_loop_episode`` in eval tables, the GRPO penalty, the DPO jury, the env's
``stop_on_loop`` option and ``lfmgym loops --messages-field``)::

    loop  <=>  finished is not True  and  (the turns end in a cycle  or  a turn is a text loop)

Each assistant turn gets a *signature*: for a turn with tool calls, its calls (name and
arguments, parsed from LFM2 pythonic ``<|tool_call_start|>[f(a=1)]<|tool_call_end|>`` or JSON
``<tool_call>{...}</tool_call>`` content; call ids and the prose around the calls are ignored)
together with the results of the ``tool`` messages that follow; for a turn without calls, its
text with whitespace collapsed. The episode *ends in a cycle* when the signatures of its last
turns repeat with a period of ``q <= max_cycle`` (default **4**) turns, covering at least
``min_repeats`` (default **3**) turns for ``q = 1`` and two full cycles for ``q >= 2``. Kinds:

* ``repeated_call`` -- the cycle has tool calls: the same call (or calls, ``A B A B``) with the
  same results, again and again;
* ``repeated_message`` -- the same assistant message every turn, whatever the feedback;
* ``turn_loop`` -- an assistant message is itself a doom loop
  (:func:`lfmgym.rewards.doom_loop.detect_doom_loops`, judged on its tail: a turn's EOS flag is
  not in the messages);
* ``none``.

What is *not* a loop: the same tool with new arguments (pagination, other cities), the same call
whose result changes (polling a job), a call tried twice, and anything in an episode that
finished with a final answer (``finished=True``: the model got out). ``finished=None`` judges the
pattern alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lfmgym.toolcalls import parse_tool_calls

__all__ = ["EPISODE_KINDS", "EpisodeLoopVerdict", "episode_loop_verdict", "episode_loop_verdicts", "turn_signatures"]

EPISODE_KINDS = ("none", "repeated_call", "repeated_message", "turn_loop")
DEFAULT_MAX_CYCLE = 4
DEFAULT_MIN_REPEATS = 3


@dataclass(frozen=True)
class EpisodeLoopVerdict:
    """The loop verdict of one episode.

    Attributes:
        loop: the episode is a doom loop.
        kind: one of :data:`EPISODE_KINDS` (``"none"`` when ``loop`` is False).
        turn: index (0-based, among assistant turns) where the loop starts, or ``None``.
        cycle: turns per cycle for the cross-turn kinds, or ``None``.
        turns: number of assistant turns in the episode.
        finished: the finished flag it was judged with.
    """

    loop: bool
    kind: str = "none"
    turn: int | None = None
    cycle: int | None = None
    turns: int = 0
    finished: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"loop": self.loop, "kind": self.kind, "turn": self.turn, "cycle": self.cycle,
                "turns": self.turns, "finished": self.finished}


def _calls(text: str) -> list[tuple[str, str]] | None:
    """The calls of an assistant message as ``(name, canonical arguments)``, or None if none parse."""
    for fmt in ("pythonic", "json"):
        parsed = parse_tool_calls(text, fmt)  # type: ignore[arg-type]
        if parsed.ok and parsed.calls:
            return [(c.name, json.dumps(c.arguments, sort_keys=True, default=str)) for c in parsed.calls]
    return None


def _check_messages(messages: Any, where: str) -> list[dict]:
    if not isinstance(messages, (list, tuple)):
        raise TypeError(f"{where}: messages must be a list of {{'role', 'content'}} dicts, got {type(messages).__name__}")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m:
            raise TypeError(f"{where}: message {i} must be a dict with a 'role', got {m!r:.80}")
    return list(messages)


def turn_signatures(messages: Sequence[dict]) -> tuple[list[tuple], list[bool], list[str]]:
    """Per assistant turn: its signature, whether it has calls, and its text."""
    sigs: list[tuple] = []
    has_calls: list[bool] = []
    texts: list[str] = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        text = m.get("content") or ""
        text = text if isinstance(text, str) else json.dumps(text, sort_keys=True, default=str)
        calls = _calls(text)
        if calls is None:
            sigs.append(("text", " ".join(text.split())))
        else:
            results = []
            for later in messages[i + 1:]:
                if later["role"] == "assistant":
                    break
                if later["role"] == "tool":
                    results.append(str(later.get("content") or ""))
            sigs.append(("calls", tuple(calls), tuple(results)))
        has_calls.append(calls is not None)
        texts.append(text)
    return sigs, has_calls, texts


def _tail_cycle(sigs: list[tuple], max_cycle: int, min_repeats: int) -> tuple[int, int] | None:
    """``(cycle, first turn)`` of the shortest cycle the signatures end in, or None."""
    n = len(sigs)
    for q in range(1, max_cycle + 1):
        run = 0
        for t in range(n - 1, q - 1, -1):
            if sigs[t] != sigs[t - q]:
                break
            run += 1
        covered = run + q
        if run and covered >= (min_repeats if q == 1 else max(2 * q, min_repeats)):
            return q, n - covered
    return None


def episode_loop_verdicts(
    episodes: Sequence[Sequence[dict]],
    finished: bool | Sequence[bool | None] | None = None,
    *,
    max_cycle: int = DEFAULT_MAX_CYCLE,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    turn_text: bool = True,
    **text_rules: Any,
) -> list[EpisodeLoopVerdict]:
    """Judge many episodes at once (their messages' text loops in one batch).

    Args:
        episodes: one chat message list per episode.
        finished: one flag for all or one per episode; ``True`` = ended with a final answer.
        max_cycle, min_repeats: the cycle rule (see the module docstring).
        turn_text: also flag a turn that is a text doom loop (``turn_loop``).
        text_rules: thresholds for :func:`lfmgym.rewards.doom_loop.detect_doom_loops`.
    """
    from lfmgym.rewards.doom_loop import detect_doom_loops

    if max_cycle < 1 or min_repeats < 2:
        raise ValueError(f"need max_cycle >= 1 and min_repeats >= 2, got {max_cycle} and {min_repeats}")
    if finished is None or isinstance(finished, bool):
        flags = [finished] * len(episodes)
    else:
        flags = list(finished)
        if len(flags) != len(episodes):
            raise ValueError(f"finished has {len(flags)} flags for {len(episodes)} episodes")
    parsed = [turn_signatures(_check_messages(msgs, f"episode {i}")) for i, msgs in enumerate(episodes)]
    text_loop: dict[tuple[int, int], bool] = {}
    if turn_text:
        keys = [(e, t) for e, (_, _, texts) in enumerate(parsed) if flags[e] is not True
                for t, text in enumerate(texts) if text.strip()]
        verdicts = detect_doom_loops([parsed[e][2][t] for e, t in keys], None, unit="text", metrics=False,
                                     **text_rules) if keys else []
        text_loop = {k: v.loop for k, v in zip(keys, verdicts)}
    out = []
    for e, (sigs, has_calls, texts) in enumerate(parsed):
        n, flag = len(sigs), flags[e]
        if flag is True:
            out.append(EpisodeLoopVerdict(False, turns=n, finished=flag))
            continue
        cycle = _tail_cycle(sigs, max_cycle, min_repeats)
        if cycle is not None:
            q, first = cycle
            kind = "repeated_call" if any(has_calls[first:]) else "repeated_message"
            out.append(EpisodeLoopVerdict(True, kind, first, q, n, flag))
            continue
        looped = next((t for t in range(n) if text_loop.get((e, t))), None)
        if looped is not None:
            out.append(EpisodeLoopVerdict(True, "turn_loop", looped, None, n, flag))
        else:
            out.append(EpisodeLoopVerdict(False, turns=n, finished=flag))
    return out


def episode_loop_verdict(messages: Sequence[dict], finished: bool | None = None, **rules: Any) -> EpisodeLoopVerdict:
    """Judge one episode from its chat messages (see the module docstring and
    :func:`episode_loop_verdicts` for ``rules``)."""
    return episode_loop_verdicts([messages], [finished], **rules)[0]
