"""Stop a doom loop while it is generated: a transformers ``StoppingCriteria``.

A looping turn runs to the token cap; the verdict is already certain long before. The criterion
looks at the tokens generated after ``prompt_length`` every ``check_every`` steps and ends a row
as soon as its tail is a doom loop by :func:`lfmgym.rewards.doom_loop.detect_doom_loops` (the
tail alone: the row has not finished). A stopped row is a doom loop by definition -- record it as
one (``finished=False``) with the tokens it saved::

    stop = LoopStop(check_every=8).criterion(prompt_length=ids.shape[1], max_new_tokens=256,
                                             eos_token_id=tok.eos_token_id, tokenizer=tok)
    out = model.generate(ids, max_new_tokens=256, stopping_criteria=StoppingCriteriaList([stop]))
    stop.stopped      # {row: generated tokens when stopped}
    stop.tokens_saved # sum over stopped rows of max_new_tokens - generated

Rows that already ended with EOS (then padded by ``generate``) are never judged. Cost: one
vectorized detector call on the open rows' last ``3 * max_period + min_coverage + 16`` tokens
every ``check_every`` tokens (a stop comes at most ``check_every - 1`` tokens late). ``benchmarks/bench_loop_stopping.py`` measures tokens and wall
time saved on a looping model and whether any verdict changes (a row stopped here would have
looped to the cap as well when the model cannot leave its loop; one that escapes later would
have finished, which the benchmark counts). Off by default: ``LoopStop(enabled=False)`` is what
a config without ``stop_on_loop`` gets.

vLLM has no per-request stopping hook of this kind; there the same detector can run on the
streamed token ids of each request and abort it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lfmgym.rewards.doom_loop import (
    DEFAULT_CUT_UNITS,
    DEFAULT_LONG_PERIOD,
    DEFAULT_MAX_PERIOD,
    DEFAULT_MIN_COVERAGE,
    DEFAULT_MIN_REPEATS,
    DEFAULT_TOLERANCE,
    detect_doom_loops,
    digit_token_map,
)

try:  # transformers is a dependency of every stage, but keep the settings importable without it
    from transformers import StoppingCriteria
except ImportError:  # pragma: no cover
    StoppingCriteria = object  # type: ignore[misc,assignment]

__all__ = ["LoopStop", "LoopStoppingCriteria"]


@dataclass(frozen=True)
class LoopStop:
    """Settings of the stopping criterion (a config section maps onto these fields).

    Attributes:
        enabled: build a criterion at all (off by default: training sees the whole cap unless asked).
        check_every: generated tokens between two checks.
        max_period, min_coverage, min_repeats, long_period, tolerance, cut_units: the doom-loop
            rules (:func:`lfmgym.rewards.doom_loop.detect_doom_loops`), in tokens.
    """

    enabled: bool = False
    check_every: int = 8
    max_period: int = DEFAULT_MAX_PERIOD
    min_coverage: int = DEFAULT_MIN_COVERAGE
    min_repeats: int = DEFAULT_MIN_REPEATS
    long_period: int = DEFAULT_LONG_PERIOD
    tolerance: float = DEFAULT_TOLERANCE
    cut_units: int = DEFAULT_CUT_UNITS

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any] | None) -> LoopStop:
        """From a config dict; unknown keys are an error naming them."""
        settings = dict(settings or {})
        unknown = sorted(set(settings) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"stop_on_loop: unknown setting(s) {unknown}; known: {sorted(cls.__dataclass_fields__)}")
        return cls(**settings)

    def rules(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("enabled")
        out.pop("check_every")
        return out

    def criterion(self, prompt_length: int, max_new_tokens: int | None = None, *, eos_token_id: Any = None,
                  tokenizer: Any = None) -> LoopStoppingCriteria:
        """A fresh criterion for one ``generate`` call (it keeps per-row state)."""
        return LoopStoppingCriteria(prompt_length, max_new_tokens, eos_token_id=eos_token_id,
                                    check_every=self.check_every, tokenizer=tokenizer, **self.rules())


class LoopStoppingCriteria(StoppingCriteria):
    """Ends each row of a batched ``generate`` once its generated tail is a doom loop.

    Args:
        prompt_length: columns of ``input_ids`` that are the prompt (left-padded batches share it).
        max_new_tokens: the cap, to count the tokens a stop saved (``None``: not counted).
        eos_token_id: id or ids that end a row; a row that produced one is finished, never judged.
        check_every: generated tokens between checks (at least 1).
        tokenizer: optional; its digit tokens enable the counter rule (``Step 17: ...``).
        rules: doom-loop thresholds, in tokens.

    Attributes:
        stopped: ``{row: generated tokens when stopped}``.
        kinds: ``{row: kind of the loop}``.
        checks: detector calls made.
    """

    def __init__(self, prompt_length: int, max_new_tokens: int | None = None, *, eos_token_id: Any = None,
                 check_every: int = 8, tokenizer: Any = None, **rules: Any):
        if prompt_length < 0:
            raise ValueError(f"prompt_length must be >= 0, got {prompt_length}")
        if check_every < 1:
            raise ValueError(f"check_every must be >= 1, got {check_every}")
        detect_doom_loops([[1, 2, 3]], None, metrics=False, **rules)  # bad thresholds fail here, not mid-generation
        self.prompt_length = int(prompt_length)
        self.max_new_tokens = max_new_tokens
        self.check_every = int(check_every)
        if eos_token_id is None:
            self.eos = np.zeros(0, dtype=np.int64)
        else:
            self.eos = np.atleast_1d(np.asarray(eos_token_id, dtype=np.int64))
        self.rules = dict(rules)
        # Confirming a loop never needs more than three copies of the longest period (or the
        # coverage rule): judge only that tail of each row, so a check costs the same at any length.
        self.window = 3 * int(self.rules.get("max_period", DEFAULT_MAX_PERIOD)) \
            + int(self.rules.get("min_coverage", DEFAULT_MIN_COVERAGE)) + 16
        if tokenizer is not None and "digits" not in self.rules and hasattr(tokenizer, "get_vocab"):
            self.rules["digits"] = digit_token_map(tokenizer)
        self.stopped: dict[int, int] = {}
        self.kinds: dict[int, str] = {}
        self.checks = 0
        self._last = 0

    @property
    def tokens_saved(self) -> int | None:
        """Tokens not generated thanks to the stops (``None`` without ``max_new_tokens``)."""
        if self.max_new_tokens is None:
            return None
        return int(sum(self.max_new_tokens - n for n in self.stopped.values()))

    def __call__(self, input_ids: Any, scores: Any = None, **kwargs: Any) -> Any:
        import torch

        B, total = input_ids.shape
        n = total - self.prompt_length
        done = torch.zeros(B, dtype=torch.bool, device=input_ids.device)
        if self.stopped:
            done[list(self.stopped)] = True
        if n <= 0 or n - self._last < self.check_every:
            return done
        self._last = n
        gen = input_ids[:, self.prompt_length:].detach().cpu().numpy()
        rows = [r for r in range(B) if r not in self.stopped]
        if self.eos.size:
            rows = [r for r in rows if not np.isin(gen[r], self.eos).any()]
        if not rows:
            return done
        self.checks += 1
        tails = gen[rows, -self.window:]
        for r, v in zip(rows, detect_doom_loops(tails, None, unit="token", metrics=False, **self.rules)):
            if v.loop:
                self.stopped[r] = n
                self.kinds[r] = v.kind
                done[r] = True
        return done
