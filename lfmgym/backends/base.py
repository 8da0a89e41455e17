"""The generation-backend interface shared by rollouts, eval and DPO.

A backend turns chat transcripts into assistant text. Every backend (transformers, vLLM, an
OpenAI-compatible endpoint) implements :meth:`GenerationBackend.generate`, which takes a whole
batch at once so batching, paged attention or request concurrency can do their job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["Generation", "GenerationBackend", "SamplingParams", "BackendError"]


class BackendError(RuntimeError):
    """A backend cannot serve: a request failed for good, or the engine cannot run here.

    The message is meant for the user (the CLI prints it as one line, without a traceback).
    """

Messages = list[dict[str, Any]]


@dataclass
class Generation:
    """One sampled completion.

    Attributes:
        text: the assistant text (special tokens that carry meaning, such as tool-call markers,
            kept; the end-of-turn token removed).
        token_ids: generated token ids when the backend knows them (doom-loop detection uses them).
        finished: ``True`` when generation stopped on end-of-sequence / end-of-turn, ``False`` when
            it hit ``max_new_tokens`` (a length-capped completion).
        latency_s: wall time of the call that produced it, divided among the batch.
    """

    text: str
    token_ids: list[int] | None = None
    finished: bool = True
    latency_s: float = 0.0


@dataclass
class SamplingParams:
    """Decoding settings; ``temperature == 0`` means greedy."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    seed: int | None = None


@runtime_checkable
class GenerationBackend(Protocol):
    """Anything with this ``generate`` method is a backend."""

    def generate(
        self,
        batch: list[Messages],
        *,
        n: int = 1,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int | None = None,
    ) -> list[list[Generation]]:
        """Return ``n`` generations for each transcript of ``batch`` (outer list aligned with it)."""
        ...
