"""Procedural multi-turn tasks over the same suites as BFCL (so RL does not train on the benchmark).

A task draws one or two suites, a random initial state for each (:mod:`~lfmgym.envs.bfcl_multi_turn.worlds`),
then one *intent* per user turn: a request in words and the calls that fulfil it, computed against
a simulation of the state so far (the directory the file system is in, whether the user is
logged in, the access token a login returned, ...). The calls of every turn are executed on the
simulation as they are chosen and a task is kept only when none of them fails, so its ground truth
is a correct plan. Tiers:

====  ======  ======  ==================================================================
tier  turns   suites  extra
====  ======  ======  ==================================================================
0     1       1       one request, 1-3 calls
1     2       1
2     3       1-2
3     4       2       one turn lacks a function (held out until the next turn) or a
                      parameter (given in the next turn): it must be answered by asking
====  ======  ======  ==================================================================
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from typing import Any

import numpy as np

from lfmgym.env import Task

from lfmgym.envs.bfcl_multi_turn import intents_accounts as accounts
from lfmgym.envs.bfcl_multi_turn import intents_files as files
from lfmgym.envs.bfcl_multi_turn import intents_services as services
from lfmgym.envs.bfcl_multi_turn.plan import Intent, Plan, Rejected
from lfmgym.envs.bfcl_multi_turn.session import Session, render_call
from lfmgym.envs.bfcl_multi_turn.worlds import WORLDS

__all__ = ["generate_task", "TIERS", "INTENTS"]

TIERS = {0: (1, 1), 1: (2, 1), 2: (3, 2), 3: (4, 2)}  # tier -> (turns, max suites)


INTENTS: dict[str, tuple[Callable[[Plan], Intent], ...]] = {**files.INTENTS, **accounts.INTENTS, **services.INTENTS}
# Suites paired with a second one in multi-suite tasks (BFCL pairs the stateless math suite too).
_SUITES = tuple(INTENTS)


def _draw_turn(rng: random.Random, session: Session, suites: list[str], need_vague: bool,
               initial: dict[str, Any]) -> Intent | None:
    """One intent that applies to the simulated state, its calls run on ``session``; ``None`` when
    none applied in a few tries (the session is then unchanged)."""
    import copy

    for _ in range(12):
        suite = rng.choice(suites)
        fn = rng.choice(INTENTS[suite])
        trial = copy.deepcopy(session)
        plan = Plan(rng, trial, initial)
        try:
            intent = fn(plan)
        except (Rejected, IndexError, ValueError, KeyError):
            continue
        if need_vague and intent.vague is None:
            continue
        session.__dict__.update(trial.__dict__)
        return intent
    return None


def generate_task(rng: np.random.Generator, difficulty: int) -> Task:
    """One generated task at tier ``difficulty`` (see the module docstring); deterministic in ``rng``."""
    if difficulty not in TIERS:
        raise ValueError(f"difficulty: {difficulty!r} is not one of {tuple(TIERS)}")
    seed = int(rng.integers(2**62))
    for attempt in range(50):
        task = _try_task(random.Random(seed + attempt), difficulty)
        if task is not None:
            return task
    raise RuntimeError(f"could not generate a tier-{difficulty} task from seed {seed}")


def _try_task(rng: random.Random, difficulty: int) -> Task | None:
    n_turns, max_suites = TIERS[difficulty]
    suites = rng.sample(_SUITES, rng.randint(1, max_suites) if difficulty < 3 else 2)
    config = {name: WORLDS[name](rng) for name in suites}
    session = Session(suites, config)
    special = rng.choice(("miss_param", "miss_func")) if difficulty == 3 else None
    special_turn = rng.randint(0, n_turns - 2) if special else -1
    texts: list[str] = []
    truth: list[list[str]] = []
    missed: dict[str, list[str]] = {}
    used: set[str] = set()
    turn = 0
    while turn < n_turns:
        intent = _draw_turn(rng, session, suites, (special == "miss_param" and turn == special_turn), config)
        if intent is None:
            return None
        calls = [render_call(c) for c in intent.calls]
        names = [c.name for c in intent.calls]
        if turn == special_turn and special == "miss_param":
            texts += [intent.vague[0], intent.vague[1]]
            truth += [[], calls]
            turn += 2
        elif turn == special_turn and special == "miss_func":
            fresh = [n for n in names if n not in used]
            if not fresh:
                return None
            missed[str(turn + 1)] = [rng.choice(fresh)]
            texts += [intent.text, ""]
            truth += [[], calls]
            turn += 2
        else:
            texts.append(intent.text)
            truth.append(calls)
            turn += 1
        used.update(names)
    digest = hashlib.sha1(json.dumps([texts, truth, config], sort_keys=True, default=str).encode()).hexdigest()[:12]
    meta = {"source": "generated", "category": "generated", "turns": texts, "involved_classes": suites,
            "initial_config": config, "missed_function": missed, "long_context": False}
    return Task(id=f"bfcl_multi_turn-{difficulty}-{digest}", prompt=texts[0], answer=truth, difficulty=difficulty, meta=meta)
