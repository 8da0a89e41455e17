"""Token generators: prompt ids in, sampled ids out (the only generate loop in lfmgym).

A :class:`TokenGenerator` has a :class:`~lfmgym.engine.chat_tokens.ChatCodec` and one method::

    generate_ids(prompts, caps, *, temperature, top_p, seeds) -> list[Sampled]

``prompts[i]`` are token ids, ``caps[i]`` the most tokens row ``i`` may add, ``seeds[i]`` the
seed of row ``i``'s sampling. Each row is sampled from **its own** random stream, so a row's
tokens do not depend on which other rows share its batch: the rollout engine can batch whichever
episodes are ready, split them over processes, or run them one at a time, and still get the same
episodes for the same seeds.

:class:`HFGenerator` runs a ``transformers`` model (``model.generate`` with the KV cache, left
padding, length-sorted chunks); the vLLM backend and GRPO's vLLM path implement the same method.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

from lfmgym.engine.chat_tokens import ChatCodec

__all__ = ["Sampled", "TokenGenerator", "HFGenerator", "row_seed"]


@dataclass
class Sampled:
    """One generated turn: ids exactly as sampled (ending with the stop id when ``finished``)."""

    ids: list[int]
    finished: bool
    logprobs: list[float] | None = None
    latency_s: float = 0.0
    stopped_loop: bool = False  # ended early by a loop-stopping criterion
    tokens_saved: int = 0       # when stopped: the row's cap minus the tokens it generated


@runtime_checkable
class TokenGenerator(Protocol):
    codec: ChatCodec

    def generate_ids(self, prompts: Sequence[list[int]], caps: Sequence[int], *, temperature: float,
                     top_p: float, seeds: Sequence[int]) -> list[Sampled]: ...


def row_seed(*parts: int) -> int:
    """A 63-bit seed from integers (episode seed, turn, ...), stable across processes and runs."""
    h = 1469598103934665603
    for p in parts:
        h ^= int(p) & 0xFFFFFFFFFFFFFFFF
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h & 0x7FFFFFFFFFFFFFFF


def _seeded_sampler(seeds: Sequence[int], temperature: float, top_p: float, logprobs_out: list[list[float]]):
    """A ``LogitsProcessor`` that samples each row from its own ``torch.Generator``.

    It returns scores that are ``-inf`` except at the sampled token, so ``generate`` runs greedy
    over them (no global RNG is touched: thread-safe, and independent of the batch). The sampled
    token's log-probability under the tempered, top-p-truncated distribution is recorded.
    """
    import torch
    from transformers import LogitsProcessor

    class SeededSampling(LogitsProcessor):
        def __init__(self):
            self.generators = []
            for s in seeds:
                g = torch.Generator()
                g.manual_seed(int(s))
                self.generators.append(g)

        def __call__(self, input_ids, scores):
            logits = scores.float() / max(float(temperature), 1e-6)
            probs = torch.softmax(logits, dim=-1)
            if top_p < 1.0:
                sorted_p, idx = torch.sort(probs, dim=-1, descending=True)
                keep = sorted_p.cumsum(-1) - sorted_p < top_p  # always keeps the top token
                sorted_p = sorted_p * keep
                probs = torch.zeros_like(probs).scatter_(-1, idx, sorted_p)
                probs = probs / probs.sum(-1, keepdim=True)
            probs_cpu = probs.cpu()
            out = torch.full_like(scores, float("-inf"))
            for row in range(scores.shape[0]):
                tok = int(torch.multinomial(probs_cpu[row], 1, generator=self.generators[row]).item())
                out[row, tok] = 0.0
                logprobs_out[row].append(float(torch.log(probs_cpu[row, tok]).item()))
            return out

    return SeededSampling()


class HFGenerator:
    """A :class:`TokenGenerator` over a ``transformers`` causal LM.

    Args:
        model: the causal LM (kept where it is; eval mode is set for each call and restored).
        codec: the tokenizer's :class:`ChatCodec`.
        batch_size: rows generated together.
        synced_gpus: ``None`` lets transformers decide (it turns it on under ZeRO-3 / FSDP with
            several ranks: every rank must then make the same calls, which the engine's lockstep
            mode guarantees); ``True``/``False`` force it.
        loop_stop: a :class:`lfmgym.rewards.loop_stopping.LoopStop` (or ``None``): end a row as
            soon as its tail is a confirmed doom loop; the turn is marked ``stopped_loop`` (a doom
            loop, ``finished=False``) and the tokens it saved are counted in ``tokens_saved``.
    """

    def __init__(self, model: Any, codec: ChatCodec, *, batch_size: int = 32, synced_gpus: bool | None = None,
                 loop_stop: Any = None):
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        self.model = model
        self.codec = codec
        self.batch_size = int(batch_size)
        self.synced_gpus = synced_gpus
        self.loop_stop = loop_stop if loop_stop is not None and getattr(loop_stop, "enabled", True) else None
        self.tokens_saved = 0
        # Sub-model calls (llm_query) come from env worker threads while the engine generates:
        # one generate at a time on a model.
        self._lock = threading.RLock()

    @property
    def device(self):
        return next(self.model.parameters()).device

    def generate_ids(self, prompts, caps, *, temperature=0.0, top_p=1.0, seeds=None) -> list[Sampled]:
        if temperature < 0:
            raise ValueError(f"temperature: must be >= 0, got {temperature}")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p: must be in (0, 1], got {top_p}")
        prompts = [list(p) for p in prompts]
        caps = [max(1, int(c)) for c in caps]
        seeds = list(seeds) if seeds is not None else [row_seed(i) for i in range(len(prompts))]
        results: list[Sampled | None] = [None] * len(prompts)
        # Sorting by length keeps padding (wasted compute) small inside each chunk.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        with self._lock:
            was_training = self.model.training
            self.model.eval()
            try:
                for start in range(0, len(order), self.batch_size):
                    chunk = order[start:start + self.batch_size]
                    outs = self._chunk([prompts[i] for i in chunk], [caps[i] for i in chunk],
                                       [seeds[i] for i in chunk], temperature, top_p)
                    for i, s in zip(chunk, outs):
                        results[i] = s
            finally:
                if was_training:
                    self.model.train()
        return results  # type: ignore[return-value]

    def _chunk(self, prompts, caps, seeds, temperature, top_p) -> list[Sampled]:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), width), self.codec.pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, p in enumerate(prompts):  # left padding: the prompt ends where generation starts
            input_ids[row, width - len(p):] = torch.tensor(p, dtype=torch.long)
            attention[row, width - len(p):] = 1
        greedy = temperature == 0
        logprobs: list[list[float]] = [[] for _ in prompts]
        extra: dict[str, Any] = {}
        if self.synced_gpus is not None:
            extra["synced_gpus"] = self.synced_gpus
        if not greedy:
            extra["logits_processor"] = LogitsProcessorList([_seeded_sampler(seeds, temperature, top_p, logprobs)])
        stopper = None
        if self.loop_stop is not None:
            stopper = self.loop_stop.criterion(width, max(caps), eos_token_id=self.codec.stop_ids,
                                               tokenizer=self.codec.tokenizer)
            extra["stopping_criteria"] = StoppingCriteriaList([stopper])
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device),
                do_sample=False, max_new_tokens=max(caps), eos_token_id=self.codec.stop_ids,
                pad_token_id=self.codec.pad_id, use_cache=True,
                # Neutralise sampling defaults a checkpoint's generation_config may carry.
                temperature=None, top_p=None, top_k=None, **extra,
            )
        latency = (time.perf_counter() - t0) / len(prompts)
        stopped = dict(getattr(stopper, "stopped", {}) or {})
        saved = {row: max(0, caps[row] - n) for row, n in stopped.items()}
        self.tokens_saved += sum(saved.values())
        results = []
        for row, new in enumerate(out[:, width:].tolist()):
            ids, finished = self.codec.cut_at_stop(new, caps[row])
            lps = logprobs[row][: len(ids)] if not greedy else None
            results.append(Sampled(ids, finished, lps, latency, stopped_loop=row in stopped,
                                   tokens_saved=saved.get(row, 0)))
        return results
