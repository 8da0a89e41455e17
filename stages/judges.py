"""LLM judges for the DPO jury, registered through the ``lfmgym_judges`` hook.

A judge is a callable ``judge(prompt_messages, completion_text) -> float`` in ``[0, 1]``; these
also offer ``score_batch(items)`` so the jury can grade a whole batch in one generation call.
Both built-ins ask a chat model to grade the reply against a rubric and read ``Score: N``
(N in 1..10) from its answer, mapped to ``(N - 1) / 9``:

- ``hf``: a local Hugging Face model (preset, directory or hub id) through
  :class:`lfmgym.backends.transformers_backend.TransformersBackend`;
- ``openai``: any OpenAI-compatible endpoint (``vllm serve``, ``lfmgym serve``, a hosted API)
  through :class:`lfmgym.backends.openai_backend.OpenAIBackend`.

A reply with no readable score gets ``fallback`` (default 0.5: no opinion), and the number of
such replies is counted in ``unparsed`` so a useless judge shows up in the jury summary.

In a pipeline config::

    dpo:
      jury:
        judges:
          - {name: openai, weight: 1.0, kwargs: {base_url: "http://localhost:8000/v1", model: judge}}
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from lfmgym import Spec, hookimpl

__all__ = ["DEFAULT_RUBRIC", "BackendJudge", "hf_judge", "openai_judge", "parse_score", "lfmgym_judges"]

DEFAULT_RUBRIC = (
    "You grade an AI assistant's final reply to a conversation.\n"
    "Score 10: correct and complete, concise, tools (when offered) called with the right arguments.\n"
    "Score 5: partly correct, or correct but needlessly long.\n"
    "Score 1: wrong, off-topic, malformed, or repeating itself in a loop.\n"
    "Answer with exactly one line: 'Score: N' where N is an integer from 1 to 10."
)

_SCORE = re.compile(r"score\s*[:=]?\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)(?![\d.])")


def parse_score(text: str, low: float = 1.0, high: float = 10.0) -> float | None:
    """The ``[0, 1]`` score in a judge's reply: ``Score: N`` first, else the last number; ``None``
    when there is none in ``[low, high]``. ``(N - low) / (high - low)``."""
    if not isinstance(text, str):
        return None
    found = _SCORE.findall(text) or _NUMBER.findall(text)
    for raw in reversed(found):
        value = float(raw)
        if low <= value <= high:
            return (value - low) / (high - low)
    return None


def _transcript(messages: Sequence[dict[str, Any]], limit: int = 6000) -> str:
    text = "\n".join(f"[{m.get('role', '?')}] {m.get('content', '')}" for m in messages)
    return text if len(text) <= limit else "..." + text[-limit:]


class BackendJudge:
    """Grade replies with any generation backend and a rubric (greedy decoding).

    Args:
        backend: a :class:`~lfmgym.backends.base.GenerationBackend`.
        rubric: the grading instructions (the judge's system message).
        max_new_tokens: tokens the judge may write.
        fallback: score of a reply with no readable ``Score: N``.
    """

    def __init__(self, backend: Any, *, rubric: str = DEFAULT_RUBRIC, max_new_tokens: int = 24, fallback: float = 0.5):
        if not 0.0 <= fallback <= 1.0:
            raise ValueError(f"fallback: must be in [0, 1], got {fallback}")
        self.backend = backend
        self.rubric = rubric
        self.max_new_tokens = int(max_new_tokens)
        self.fallback = float(fallback)
        self.unparsed = 0
        self.calls = 0

    def messages(self, prompt_messages: Sequence[dict[str, Any]], completion_text: str) -> list[dict[str, str]]:
        """The judge's own chat: the rubric, then the conversation and the reply to grade."""
        return [
            {"role": "system", "content": self.rubric},
            {"role": "user", "content": f"Conversation:\n{_transcript(prompt_messages)}\n\n"
                                        f"Reply to grade:\n{completion_text}\n\nGrade the reply."},
        ]

    def score_batch(self, items: Sequence[tuple[Sequence[dict[str, Any]], str]]) -> list[float]:
        """Scores in ``[0, 1]`` for ``(prompt_messages, completion_text)`` pairs, one call for all."""
        if not items:
            return []
        outs = self.backend.generate([self.messages(p, c) for p, c in items], n=1, temperature=0.0,
                                     max_new_tokens=self.max_new_tokens)
        scores = []
        for gens in outs:
            value = parse_score(gens[0].text)
            self.calls += 1
            if value is None:
                self.unparsed += 1
                value = self.fallback
            scores.append(float(value))
        return scores

    def __call__(self, prompt_messages: Sequence[dict[str, Any]], completion_text: str) -> float:
        return self.score_batch([(prompt_messages, completion_text)])[0]


def hf_judge(model: str, *, device: str | None = None, batch_size: int = 16, rubric: str = DEFAULT_RUBRIC,
             max_new_tokens: int = 24, fallback: float = 0.5) -> BackendJudge:
    """A judge on a local Hugging Face model (preset name, saved directory or hub id)."""
    from lfmgym.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend.from_pretrained(model, device=device, batch_size=batch_size)
    return BackendJudge(backend, rubric=rubric, max_new_tokens=max_new_tokens, fallback=fallback)


def openai_judge(base_url: str, model: str | None = None, *, api_key: str | None = None, concurrency: int = 8,
                 timeout: float = 60.0, max_retries: int = 3, rubric: str = DEFAULT_RUBRIC,
                 max_new_tokens: int = 24, fallback: float = 0.5) -> BackendJudge:
    """A judge on an OpenAI-compatible chat endpoint (``api_key`` defaults to ``$OPENAI_API_KEY``)."""
    from lfmgym.backends.openai_backend import OpenAIBackend

    backend = OpenAIBackend(base_url, model=model, api_key=api_key, concurrency=concurrency, timeout=timeout,
                            max_retries=max_retries)
    return BackendJudge(backend, rubric=rubric, max_new_tokens=max_new_tokens, fallback=fallback)


@hookimpl
def lfmgym_judges():
    return [
        Spec("hf", hf_judge, "A local Hugging Face model grading replies against a rubric", "0.1"),
        Spec("openai", openai_judge, "An OpenAI-compatible endpoint grading replies against a rubric", "0.1"),
    ]
