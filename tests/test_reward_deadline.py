"""Rewards off the main thread keep a hard deadline (no SIGALRM there): rewards.deadline."""

from __future__ import annotations

import threading
import time

import pytest

from lfmgym.rewards.deadline import DeadlineExceeded, call_with_deadline
from lfmgym.rewards.math import DEADLINE_S, math_reward


def in_thread(fn, *args, **kwargs):
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("value", fn(*args, **kwargs)))
    thread.start()
    thread.join()
    return out["value"]


def test_a_tower_of_powers_in_a_worker_thread_is_cut_at_the_deadline():
    started = time.monotonic()
    result = in_thread(math_reward, r"The answer is \boxed{9^{9^{9}}}", "3")
    assert result["reward"] == 0.0 and result["reason"] in ("timeout", "wrong")
    assert time.monotonic() - started < DEADLINE_S + 10  # spawning the helper included


def test_worker_threads_score_like_the_main_thread():
    cases = [(r"\boxed{\frac{1}{2}}", "0.5", {}), (r"\boxed{25\%}", "0.25", {"allow_percent": True}),
             ("#### 1,234", "1234", {}), (r"\boxed{3} or \boxed{4}", "3", {})]
    for completion, gold, kwargs in cases:
        assert in_thread(math_reward, completion, gold, **kwargs) == math_reward(completion, gold, **kwargs)


def test_call_with_deadline_kills_a_stuck_call_and_recovers():
    with pytest.raises(DeadlineExceeded):
        call_with_deadline(time.sleep, 30, timeout=0.5)
    assert call_with_deadline(max, 2, 7, timeout=30) == 7
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        call_with_deadline(divmod, 1, 0, timeout=30)
