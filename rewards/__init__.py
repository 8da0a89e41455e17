"""lfmgym.rewards: pure, picklable reward functions and metrics used by every env and stage.

Modules (each reward's docstring gives its formula):

* :mod:`~lfmgym.rewards.math` -- answer extraction and math-verify scoring (``math_reward``);
* :mod:`~lfmgym.rewards.qa` -- SQuAD exact match and token F1 with aliases;
* :mod:`~lfmgym.rewards.toolcall_ast` -- BFCL-semantics AST matching of tool calls (``match_calls``);
* :mod:`~lfmgym.rewards.format` -- parse-ok / schema-valid / answer-extracted metrics;
* :mod:`~lfmgym.rewards.ngram` -- scalar and dense n-gram repetition penalties (vectorized);
* :mod:`~lfmgym.rewards.doom_loop` -- doom-loop detection, seq-rep-n, rep/l, ``doom_loop_ratio``;
* :mod:`~lfmgym.rewards.compose` -- weighted sums that keep every component (``WeightedSum``);
* :mod:`~lfmgym.rewards.trl_adapter` -- TRL reward-function signature (``as_trl_reward``);
* :mod:`~lfmgym.rewards.hacking` -- generic reward-hacking attacks (``generic_attacks``).

The common entry points are also importable from here; submodules load on first use so that
``import lfmgym.rewards`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "math_reward": "math", "extract_math_answer": "math", "MathReward": "math",
    "normalize_answer": "qa", "exact_match": "qa", "token_f1": "qa", "QAReward": "qa",
    "match_calls": "toolcall_ast", "MatchResult": "toolcall_ast", "toolcall_reward": "toolcall_ast",
    "ToolCallReward": "toolcall_ast",
    "ngram_repetition_penalty": "ngram", "batch_ngram_penalty": "ngram", "dense_ngram_penalty": "ngram",
    "NgramRepetitionPenalty": "ngram",
    "detect_doom_loop": "doom_loop", "detect_doom_loops": "doom_loop", "detect_doom_loop_text": "doom_loop",
    "doom_loop_ratio": "doom_loop", "LoopVerdict": "doom_loop", "DoomLoopPenalty": "doom_loop",
    "WeightedSum": "compose", "ComposedReward": "compose",
    "as_trl_reward": "trl_adapter",
    "generic_attacks": "hacking",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lfmgym.rewards' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lfmgym.rewards.{module}"), name)
