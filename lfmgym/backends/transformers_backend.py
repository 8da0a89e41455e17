"""Generation with a Hugging Face ``transformers`` model, on CPU or GPU.

Prompts are rendered with the tokenizer's chat template (``add_generation_prompt=True``),
sorted by length, and generated in left-padded batches with the KV cache. Generation stops at
the tokenizer's end-of-sequence token and at ``<|im_end|>`` (the end of an assistant turn in
ChatML-style templates such as LFM2's). Text is decoded with the special tokens kept, so tool
call markers like ``<|tool_call_start|>`` survive, and only padding / end-of-turn / begin-of-text
markers are removed.
"""

from __future__ import annotations

import time
from typing import Any

from lfmgym.backends.base import Generation

__all__ = ["TransformersBackend", "STOP_TOKENS"]

# Tokens that end an assistant turn in the chat templates we support (ChatML, LFM2, Qwen).
STOP_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>")
# Special tokens that carry no meaning in the assistant text and are stripped after decoding.
_NOISE_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|startoftext|>", "<|im_start|>")


class TransformersBackend:
    """A :class:`~lfmgym.backends.base.GenerationBackend` over a causal LM.

    Args:
        model: a ``transformers`` causal language model (``AutoModelForCausalLM``).
        tokenizer: its tokenizer; it must have a chat template.
        device: where to run (``"cpu"``, ``"cuda"``, ...); ``None`` keeps the model where it is.
        batch_size: rows (prompt x sample) generated together; lower it when memory is short.
        chat_template_kwargs: extra keyword arguments for ``apply_chat_template`` (e.g. ``tools``).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        device: str | None = None,
        batch_size: int = 32,
        chat_template_kwargs: dict[str, Any] | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError("tokenizer: has no chat_template; set tokenizer.chat_template first")
        if device is not None:
            model = model.to(device)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = int(batch_size)
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        self.stop_token_ids = self._stop_token_ids()
        pad = tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else self.stop_token_ids[0]
        self._strip_ids = set(self.stop_token_ids) | {self.pad_token_id}
        if tokenizer.bos_token_id is not None:
            self._strip_ids.add(tokenizer.bos_token_id)
        self._noise = [t for t in {*_NOISE_TOKENS, tokenizer.pad_token, tokenizer.eos_token, tokenizer.bos_token} if t]

    @classmethod
    def from_pretrained(cls, name_or_path: str, *, device: str | None = None, batch_size: int = 32, **load_kwargs):
        """Load a model by preset name (e.g. ``tiny``), local directory or hub id.

        Loading goes through :func:`lfmgym.model.loading.load_model_and_tokenizer`, so presets
        and dtype/device rules are the same everywhere.
        """
        from lfmgym.model.loading import load_model_and_tokenizer

        model, tokenizer = load_model_and_tokenizer(name_or_path, **load_kwargs)
        if device is None:
            import torch

            device = "cuda" if torch.cuda.is_available() else None
        return cls(model, tokenizer, device=device, batch_size=batch_size)

    @property
    def device(self):
        return next(self.model.parameters()).device

    def _stop_token_ids(self) -> list[int]:
        tok = self.tokenizer
        ids: list[int] = []
        if tok.eos_token_id is not None:
            ids.append(int(tok.eos_token_id))
        gen_eos = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        for i in gen_eos if isinstance(gen_eos, (list, tuple)) else [gen_eos]:
            if i is not None:
                ids.append(int(i))
        vocab = tok.get_vocab()
        ids.extend(vocab[t] for t in STOP_TOKENS if t in vocab)
        ids = list(dict.fromkeys(ids))  # dedupe, keep order
        if not ids:
            raise ValueError("tokenizer: no end-of-sequence token (eos_token or <|im_end|>) to stop on")
        return ids

    def encode_prompt(self, messages: list[dict[str, Any]]) -> list[int]:
        """Token ids of the chat-template prompt for ``messages``, ending with the assistant header."""
        text = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False, **self.chat_template_kwargs
        )
        # The template already wrote BOS when the model wants one; don't add a second.
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, token_ids: list[int]) -> str:
        """Assistant text of generated ids: special tokens kept except padding/end-of-turn/BOS."""
        kept = [t for t in token_ids if t not in self._strip_ids]
        text = self.tokenizer.decode(kept, skip_special_tokens=False)
        for noise in self._noise:
            text = text.replace(noise, "")
        return text.strip()

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
        """``n`` completions per transcript of ``batch``; greedy when ``temperature == 0``.

        With a ``seed`` the result is reproducible for the same batch and ``batch_size``; the
        global torch RNG is left untouched (the seed applies inside a forked RNG state).
        """
        import torch

        if n < 1:
            raise ValueError(f"n: must be >= 1, got {n}")
        if temperature < 0:
            raise ValueError(f"temperature: must be >= 0, got {temperature}")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p: must be in (0, 1], got {top_p}")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens: must be >= 1, got {max_new_tokens}")
        prompts = [self.encode_prompt(m) for m in batch]
        # Greedy decoding gives the same text for every sample: generate it once, copy n times.
        greedy = temperature == 0
        per_prompt = 1 if greedy else n
        rows = [(i, prompts[i]) for i in range(len(prompts)) for _ in range(per_prompt)]
        # Sorting by length keeps padding (wasted compute) small inside each chunk.
        order = sorted(range(len(rows)), key=lambda r: len(rows[r][1]))
        results: list[Generation | None] = [None] * len(rows)

        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices, enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(int(seed))
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                gens = self._generate_chunk(
                    [rows[r][1] for r in chunk], greedy, temperature, top_p, max_new_tokens
                )
                for r, g in zip(chunk, gens):
                    results[r] = g

        out: list[list[Generation]] = [[] for _ in batch]
        for (i, _), g in zip(rows, results):
            out[i].append(g)
        if greedy and n > 1:
            out = [[Generation(g.text, list(g.token_ids), g.finished, g.latency_s) for _ in range(n) for g in gs]
                   for gs in out]
        return out

    def _generate_chunk(self, prompts: list[list[int]], greedy: bool, temperature: float, top_p: float,
                        max_new_tokens: int) -> list[Generation]:
        import torch

        width = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), width), self.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, p in enumerate(prompts):  # left padding: the prompt ends where generation starts
            input_ids[row, width - len(p):] = torch.tensor(p, dtype=torch.long)
            attention[row, width - len(p):] = 1
        sampling = {} if greedy else {"temperature": float(temperature), "top_p": float(top_p), "top_k": 0}
        t0 = time.perf_counter()
        with torch.inference_mode():
            generated = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention.to(self.device),
                do_sample=not greedy,
                max_new_tokens=int(max_new_tokens),
                eos_token_id=self.stop_token_ids,
                pad_token_id=self.pad_token_id,
                use_cache=True,
                **sampling,
            )
        latency = (time.perf_counter() - t0) / len(prompts)
        new_tokens = generated[:, width:].tolist()
        stops = set(self.stop_token_ids)
        gens = []
        for ids in new_tokens:
            cut = next((k for k, t in enumerate(ids) if t in stops), None)
            finished = cut is not None
            # Keep the stop token in token_ids (it was generated; trainers learn to emit it), like vLLM.
            kept = ids[: cut + 1] if finished else ids
            text = self.decode(ids[:cut] if finished else ids)
            gens.append(Generation(text=text, token_ids=kept, finished=finished, latency_s=latency))
        return gens

    def __repr__(self) -> str:
        name = getattr(getattr(self.model, "config", None), "_name_or_path", "") or type(self.model).__name__
        return f"TransformersBackend({name!r}, device={self.device}, batch_size={self.batch_size})"
