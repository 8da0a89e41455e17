"""The episode-level verdicts every consumer shares: the doom-loop verdict of a record.

Success is :meth:`lfmgym.Env.success` (the env's own definition, honoured by eval and training
alike); the loop verdict is here so eval tables, the DPO jury and GRPO logs count the same loops.
"""

from __future__ import annotations

from typing import Any

__all__ = ["turn_loop", "episode_loop"]


def turn_loop(ids: list[int] | None, finished: bool, text: str = "") -> tuple[bool, str]:
    """One assistant turn's verdict ``(loop, kind)``: on its token ids, or its text when ids are unknown."""
    from lfmgym.rewards.doom_loop import detect_doom_loop

    if ids:
        v = detect_doom_loop([int(t) for t in ids], finished, unit="token", metrics=False)
        if v.loop or not text:
            return bool(v.loop), str(v.kind)
    if text:  # also on the words: counter loops ("Step 17: ... Step 18: ...") differ in their digit tokens
        v = detect_doom_loop(text, finished, metrics=False)
        return bool(v.loop), str(v.kind)
    return False, "none"


def episode_loop(record: Any) -> tuple[bool, bool, str]:
    """An episode's verdicts ``(turn_loop, episode_loop, kind)``.

    ``turn_loop``: an assistant turn is a doom loop (or was stopped as one while generating).
    ``episode_loop``: that, or a loop across turns (the same call with the same result again, the
    same message again) from the episode detector.
    """
    for t in record.turns:
        if getattr(t, "stopped_loop", False):
            return True, True, "stopped"
        loop, kind = turn_loop(t.ids, t.finished, t.text)
        if loop:
            return True, True, kind
    try:
        from lfmgym.rewards.episode_loops import episode_loop_verdict
    except ImportError:
        return False, False, "none"
    v = episode_loop_verdict(record.messages, finished=bool(record.terminated))
    return False, bool(v.loop), str(v.kind)
