"""Generation with an in-process vLLM engine (``pip install lfmgym[vllm]``; needs a CUDA GPU).

vLLM is imported when a :class:`VLLMBackend` is built, never at module import. Prompts are
rendered and outputs decoded by :class:`lfmgym.engine.ChatCodec` (the stop/noise-token table
shared with transformers) and sent to ``LLM.generate`` in one call (vLLM does its own continuous
batching), each request with its own seed; the rollout engine uses ``generate_ids`` directly.
"""

from __future__ import annotations

import time
from typing import Any

from lfmgym.backends.base import BackendError, Generation
from lfmgym.engine.chat_tokens import ChatCodec
from lfmgym.engine.generate import Sampled, row_seed

__all__ = ["VLLMBackend", "vllm_unavailable_reason"]



def vllm_unavailable_reason() -> str | None:
    """``None`` when vLLM can run here, else why not (no package, no CUDA GPU)."""
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return "the vllm package is not installed (pip install 'lfmgym[vllm]')"
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        return "vLLM needs a CUDA GPU and none is visible"
    return None


class VLLMBackend:
    """A :class:`~lfmgym.backends.base.GenerationBackend` over ``vllm.LLM``.

    Args:
        model: hub id or local directory.
        gpu_memory_utilization, max_model_len, dtype, seed: forwarded to ``vllm.LLM``.
        **llm_kwargs: any other ``vllm.LLM`` argument.
    """

    def __init__(self, model: str, *, gpu_memory_utilization: float = 0.85, max_model_len: int | None = None,
                 dtype: str = "auto", seed: int = 0, **llm_kwargs: Any):
        reason = vllm_unavailable_reason()
        if reason:
            raise BackendError(f"VLLMBackend: {reason}")
        from vllm import LLM

        kwargs = {"gpu_memory_utilization": gpu_memory_utilization, "dtype": dtype, "seed": seed, **llm_kwargs}
        if max_model_len is not None:
            kwargs["max_model_len"] = max_model_len
        self.model_name = model
        self.llm = LLM(model=model, **kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        # The one stop/noise-token table (lfmgym.engine.chat_tokens), shared with transformers.
        self.codec = ChatCodec(self.tokenizer)
        self.stop_token_ids = self.codec.stop_ids
        self.token_generator = self  # the engine plays episodes token-in/token-out through generate_ids

    def generate_ids(self, prompts, caps, *, temperature=0.0, top_p=1.0, seeds=None) -> list[Sampled]:
        """:class:`lfmgym.engine.TokenGenerator`: one ``LLM.generate`` call, a seed per request."""
        from vllm import SamplingParams as VSamplingParams
        from vllm.inputs import TokensPrompt

        if not prompts:
            return []
        seeds = list(seeds) if seeds is not None else [row_seed(i) for i in range(len(prompts))]
        params = [VSamplingParams(n=1, temperature=float(temperature), top_p=float(top_p), max_tokens=int(cap),
                                  seed=int(seed) % (2**31), stop_token_ids=self.codec.stop_ids,
                                  skip_special_tokens=False, logprobs=0)
                  for cap, seed in zip(caps, seeds)]
        t0 = time.perf_counter()
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompts], params, use_tqdm=False)
        latency = (time.perf_counter() - t0) / len(prompts)
        out = []
        for o, cap in zip(outputs, caps):
            c = o.outputs[0]
            ids, finished = self.codec.cut_at_stop(list(c.token_ids), int(cap))
            lps = None
            if c.logprobs:
                lps = [float(next(iter(d.values())).logprob) if d else float("nan") for d in c.logprobs][: len(ids)]
            out.append(Sampled(ids, finished, lps, latency))
        return out

    def generate(
        self,
        batch: list[list[dict[str, Any]]],
        *,
        n: int = 1,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int | None = None,
    ) -> list[list[Generation]]:
        """``n`` completions per transcript in one ``LLM.generate`` call."""
        if n < 1:
            raise ValueError(f"n: must be >= 1, got {n}")
        if not batch:
            return []
        rows = [(i, k) for i in range(len(batch)) for k in range(n)]
        prompts = [self.codec.encode_prompt(m) for m in batch]
        base = 0 if seed is None else int(seed)
        samples = self.generate_ids([prompts[i] for i, _ in rows], [max_new_tokens] * len(rows),
                                    temperature=temperature, top_p=top_p, seeds=[row_seed(base, i, k) for i, k in rows])
        result: list[list[Generation]] = [[] for _ in batch]
        for (i, _), s in zip(rows, samples):
            result[i].append(Generation(text=self.codec.decode(s.ids), token_ids=s.ids, finished=s.finished,
                                        latency_s=s.latency_s))
        return result

    def __repr__(self) -> str:
        return f"VLLMBackend({self.model_name!r})"
