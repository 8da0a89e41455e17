"""Fuzz every registered env with hostile model output: ``Env.step`` never raises.

2,000 seeded hostile messages per env and tool-call format (junk text, broken markup, calls to
the env's real tools with non-finite numbers, unhashable keys, deep nesting, floods of calls,
the other format's markup). Every step must return a finite reward and feedback; nothing may
surface as an exception of the env's own code either.
"""

from __future__ import annotations

import inspect
import math
import time

import numpy as np
import pytest

import lfmgym
from lfmgym.plugins import get_registry
from lfmgym.testing import _env_bug, hostile_action

STEPS = 2_000
ENVS = sorted(get_registry().envs)


# Small contexts and short sandbox limits, for the envs that take them (long_context and its
# variants): hostile text is what is tested here, not the size of the task.
FAST = {"context_lengths": {0: 2_000, 1: 2_000, 2: 2_000, 3: 2_000}, "cell_timeout": 2.0, "episode_timeout": 10.0}


def _kwargs(name: str) -> dict:
    factory = get_registry().get("envs", name).factory
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}
    return {k: v for k, v in FAST.items() if k in params}


@pytest.mark.parametrize("tool_format", ["pythonic", "json"])
@pytest.mark.parametrize("name", ENVS)
def test_hostile_output_never_escapes_step(name, tool_format):
    env = lfmgym.make(name, tool_format=tool_format, **_kwargs(name))
    rng = np.random.default_rng(1234)
    low, high = env.reward_range
    exceptions, bugs, episodes = [], [], 0
    # A few tasks replayed: what is fuzzed is step, and some envs take a while to generate a task.
    tasks = env.make_tasks(8, seed=0)
    started = time.monotonic()
    env.reset(seed=0, options={"task": tasks[0]})
    for step in range(STEPS):
        action = hostile_action(rng, tool_format, env.toolbox.names)
        try:
            _, reward, terminated, truncated, info = env.step(action)
        except Exception as exc:  # the contract: never; collect all to report them at once
            exceptions.append(f"{action[:80]!r}: {type(exc).__name__}: {exc}"[:300])
            env.reset(seed=step, options={"task": tasks[step % len(tasks)]})
            continue
        assert math.isfinite(reward) and low - 1e-6 <= reward <= high + 1e-6, (action[:80], reward)
        if terminated or truncated:
            bug = _env_bug(info["parse_errors"], info.get("reward_components"))
            if bug:
                bugs.append(f"{action[:80]!r}: {bug}"[:300])
            episodes += 1
            env.reset(seed=step, options={"task": tasks[step % len(tasks)]})
        else:
            assert info["new_messages"], f"no feedback for {action[:80]!r}"
    env.close()
    assert not exceptions, f"{len(exceptions)} exceptions out of step: " + " | ".join(exceptions[:3])
    assert not bugs, f"{len(bugs)} env bugs reached by hostile output: " + " | ".join(bugs[:3])
    assert episodes > 0
    assert time.monotonic() - started < 120
