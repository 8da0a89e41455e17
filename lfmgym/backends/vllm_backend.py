"""Generation with an in-process vLLM engine (``pip install lfmgym[vllm]``; needs a CUDA GPU).

vLLM is imported when a :class:`VLLMBackend` is built, never at module import. Prompts are
rendered with the model's chat template and sent to ``LLM.generate`` in one call (vLLM does its
own continuous batching); special tokens are kept in the text so LFM2's tool-call markers
survive, and the end-of-turn token is stripped.
"""

from __future__ import annotations

import time
from typing import Any

from lfmgym.backends.base import BackendError, Generation

__all__ = ["VLLMBackend", "vllm_unavailable_reason"]

_NOISE_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|startoftext|>", "<|im_start|>")


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
        vocab = self.tokenizer.get_vocab()
        self.stop_token_ids = sorted({vocab[t] for t in _NOISE_TOKENS[:3] if t in vocab}
                                     | ({self.tokenizer.eos_token_id} if self.tokenizer.eos_token_id is not None else set()))
        self._noise = [t for t in {*_NOISE_TOKENS, self.tokenizer.pad_token, self.tokenizer.eos_token,
                                   self.tokenizer.bos_token} if t]

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
        from vllm import SamplingParams as VSamplingParams
        from vllm.inputs import TokensPrompt

        if n < 1:
            raise ValueError(f"n: must be >= 1, got {n}")
        if not batch:
            return []
        prompts = []
        for messages in batch:
            text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            prompts.append(TokensPrompt(prompt_token_ids=self.tokenizer(text, add_special_tokens=False)["input_ids"]))
        params = VSamplingParams(
            n=n, temperature=float(temperature), top_p=float(top_p), max_tokens=int(max_new_tokens), seed=seed,
            stop_token_ids=self.stop_token_ids, skip_special_tokens=False,
        )
        t0 = time.perf_counter()
        outputs = self.llm.generate(prompts, params, use_tqdm=False)
        latency = (time.perf_counter() - t0) / max(1, len(batch) * n)
        result = []
        for out in outputs:
            gens = []
            for c in out.outputs:
                text = c.text
                for noise in self._noise:
                    text = text.replace(noise, "")
                gens.append(Generation(text=text.strip(), token_ids=list(c.token_ids),
                                       finished=c.finish_reason == "stop", latency_s=latency))
            result.append(gens)
        return result

    def __repr__(self) -> str:
        return f"VLLMBackend({self.model_name!r})"
