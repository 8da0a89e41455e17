"""The one episode record: what every consumer of rollouts (eval, DPO, GRPO) reads.

Token-level when the policy is a token generator: the prompt ids, each turn's generated ids
exactly as sampled and the feedback ids between turns, so a trainer gets exactly what was
sampled; text-level (``prompt_ids is None``) for text policies (an OpenAI endpoint, an oracle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lfmgym.env import Task

__all__ = ["Turn", "EpisodeRecord", "TRUNCATION_REASONS"]

# Why an episode ended without a final answer (``EpisodeRecord.truncation_reason``).
TRUNCATION_REASONS = (
    "max_turns",          # the env's turn limit
    "loop",               # the env ended a loop across turns
    "step_timeout",       # one env step ran past the per-step wall-clock limit
    "episode_timeout",    # the episode ran past its wall-clock limit
    "token_budget",       # the episode's generated tokens reached its budget
    "completion_length",  # no room left in the trainer's completion length (GRPO)
    "template",           # the chat template rewrote history: no token-exact next turn
)


@dataclass
class Turn:
    """One assistant turn: what the policy wrote and what the env answered.

    Attributes:
        text: the decoded assistant text the env stepped on.
        ids: generated ids exactly as sampled (``None`` from a text-only policy).
        finished: the turn ended on end-of-turn (``False``: cut at the length cap).
        logprobs: per-token log-probabilities of ``ids`` when the generator returns them.
        feedback_ids: ids after this turn up to the next generation prompt (env feedback).
        stopped_loop: generation was stopped early because the turn was a confirmed loop.
        tokens_saved: when stopped, the turn's token cap minus the tokens it generated.
    """

    text: str
    ids: list[int] | None = None
    finished: bool = True
    logprobs: list[float] | None = None
    feedback_ids: list[int] = field(default_factory=list)
    latency_s: float = 0.0
    step_s: float = 0.0
    stopped_loop: bool = False
    tokens_saved: int = 0


@dataclass
class EpisodeRecord:
    """Everything about one finished episode.

    Attributes:
        env_name, task: what was played.
        messages: the full transcript (system, user, assistant, tool, ...).
        prompt_ids: ids of the opening (token-level policies).
        turns: the assistant turns, in order.
        reward: the episode's total reward (:meth:`lfmgym.Env.total_reward` of ``components``).
        components: every reward component and metric.
        terminated / truncated: final answer / cut (``truncation_reason`` says why).
        success: :meth:`lfmgym.Env.success` of the components.
        doom_loop: an assistant turn is a doom loop; ``episode_loop``: that or a loop across
            turns; ``loop_kind`` names it (:func:`lfmgym.engine.episode_loop`).
        seed: the episode's sampling seed.
        wall_s: the episode's wall-clock time, reset to end.
    """

    env_name: str
    task: Task
    messages: list[dict[str, Any]]
    prompt_ids: list[int] | None = None
    turns: list[Turn] = field(default_factory=list)
    reward: float = 0.0
    components: dict[str, float] = field(default_factory=dict)
    terminated: bool = False
    truncated: bool = False
    truncation_reason: str | None = None
    success: bool = False
    doom_loop: bool = False
    episode_loop: bool = False
    loop_kind: str = "none"
    info: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    wall_s: float = 0.0
    rank: int = 0  # the process that played it (accelerate launch)

    # ------------------------------------------------------------------ derived views

    @property
    def done(self) -> bool:
        return self.terminated or self.truncated

    @property
    def generations(self) -> list[Turn]:
        """The assistant turns (old name, kept for readers of ``record.generations``)."""
        return self.turns

    @property
    def completion_ids(self) -> list[int]:
        """Generated and feedback ids after the prompt, in order (token-level records)."""
        out: list[int] = []
        for t in self.turns:
            out += list(t.ids or []) + list(t.feedback_ids)
        return out

    @property
    def env_mask(self) -> list[int]:
        """1 on ids the policy generated, 0 on feedback ids (aligned with :attr:`completion_ids`)."""
        out: list[int] = []
        for t in self.turns:
            out += [1] * len(t.ids or []) + [0] * len(t.feedback_ids)
        return out

    @property
    def completion_logprobs(self) -> list[float] | None:
        """Per-token logprobs aligned with :attr:`completion_ids` (0 on feedback); ``None`` when unknown."""
        if not self.turns or any(t.logprobs is None for t in self.turns):
            return None
        out: list[float] = []
        for t in self.turns:
            out += list(t.logprobs) + [0.0] * len(t.feedback_ids)
        return out

    @property
    def assistant_ids(self) -> list[int]:
        return [i for t in self.turns for i in (t.ids or [])]

    @property
    def completion_text(self) -> str:
        return "\n".join(t.text for t in self.turns)

    @property
    def generated_tokens(self) -> int | None:
        if any(t.ids is None for t in self.turns):
            return None
        return sum(len(t.ids) for t in self.turns)

    @property
    def length_capped(self) -> bool:
        """True when any turn hit the generation length cap (no end-of-turn)."""
        return any(not t.finished for t in self.turns)

    @property
    def loop_tokens_saved(self) -> int:
        """Tokens not generated because turns were stopped as loops (the caps minus what they generated)."""
        return sum(int(t.tokens_saved) for t in self.turns)

    @property
    def latency_s(self) -> float:
        return sum(t.latency_s for t in self.turns)

    def to_dict(self) -> dict[str, Any]:
        """The ``episodes.jsonl`` line: transcript, tokens, rewards, loop verdict, how it ended."""
        return {
            "env": self.env_name,
            "task_id": self.task.id,
            "difficulty": self.task.difficulty,
            "seed": self.seed,
            "messages": self.messages,
            "reward": self.reward,
            "components": self.components,
            "success": self.success,
            "terminated": self.terminated,
            "truncated": self.truncated,
            "truncation_reason": self.truncation_reason,
            "doom_loop": self.doom_loop,
            "episode_loop": self.episode_loop,
            "loop_kind": self.loop_kind,
            "turns": len(self.turns),
            "finished": [t.finished for t in self.turns],
            "generated_tokens": self.generated_tokens,
            "loop_tokens_saved": self.loop_tokens_saved,
            "prompt_tokens": None if self.prompt_ids is None else len(self.prompt_ids),
            "feedback_tokens": sum(len(t.feedback_ids) for t in self.turns),
            "wall_s": round(self.wall_s, 4),
            "rank": self.rank,
        }
