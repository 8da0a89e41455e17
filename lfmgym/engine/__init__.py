"""The one rollout engine (see :mod:`lfmgym.engine.engine`) and what it is made of."""

from lfmgym.engine.chat_tokens import NOISE_TOKENS, STOP_TOKENS, ChatCodec, TemplateNotPrefixPreserving
from lfmgym.engine.engine import Budgets, ExtraReward, RolloutEngine, Sampling
from lfmgym.engine.generate import HFGenerator, Sampled, TokenGenerator, row_seed
from lfmgym.engine.record import TRUNCATION_REASONS, EpisodeRecord, Turn
from lfmgym.engine.verdicts import episode_loop, turn_loop

__all__ = [
    "RolloutEngine", "Budgets", "Sampling", "ExtraReward", "EpisodeRecord", "Turn", "TRUNCATION_REASONS",
    "ChatCodec", "STOP_TOKENS", "NOISE_TOKENS", "TemplateNotPrefixPreserving",
    "HFGenerator", "TokenGenerator", "Sampled", "row_seed", "episode_loop", "turn_loop",
]
