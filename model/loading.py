"""Get a (model, tokenizer) pair from a preset name, a local directory or a hub id, and save one.

    >>> model, tok = load_model_and_tokenizer("tiny")                   # from scratch, CPU-sized
    >>> save(model, tok, "runs/tiny0")
    >>> model, tok = load_model_and_tokenizer("runs/tiny0")             # same weights, tokenizer, template
    >>> model, tok = load_model_and_tokenizer("LiquidAI/LFM2-350M")     # needs the hub (network)
    >>> model, tok = load_model_and_tokenizer("smollm2-135m")           # a real 135M model, offline
    >>> model, tok = load_model_and_tokenizer("path/to/model.gguf")     # dequantized once, cached

Named checkpoints and ``.gguf`` files go through :mod:`lfmgym.model.pretrained` (converted once into
a cached safetensors directory). A ChatML chat template without ``{% generation %}`` markers is
swapped for its behaviour-identical training variant (:mod:`lfmgym.model.templates`), so SFT with
assistant-only loss and multi-turn GRPO work on it.

A directory written by :func:`save` holds everything a stage needs: weights, config, generation
config, tokenizer and chat template (``save_pretrained`` of both).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lfmgym.model.presets import PRESETS

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


class _CpuKernelNotice(logging.Filter):
    """Drop transformers' "causal_conv1d is falling back" notice on a machine without CUDA: the
    kernels are GPU-only, so there the reference path is the only one, and the notice would
    clutter every play/eval run. With a GPU the notice stays: it points at a missing kernel."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "causal_conv1d" not in record.getMessage():
            return True
        import torch

        return torch.cuda.is_available()


logging.getLogger("transformers.integrations.hub_kernels").addFilter(_CpuKernelNotice())

__all__ = ["load_model_and_tokenizer", "save", "resolve_dtype", "resolve_device"]

_DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16",
           "bfloat16": "bfloat16", "bf16": "bfloat16"}


def resolve_dtype(dtype: "str | torch.dtype | None") -> "torch.dtype | str | None":
    """``None``/``"auto"`` pass through; ``"bf16"``, ``"float32"``... become a ``torch.dtype``."""
    import torch

    if dtype is None or isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    try:
        return getattr(torch, _DTYPES[str(dtype).lower()])
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPES)} or 'auto'") from None


def resolve_device(device: "str | torch.device | None") -> "torch.device":
    """``None`` means CUDA when available, else CPU."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_model_and_tokenizer(
    name_or_path: str,
    *,
    dtype: "str | torch.dtype | None" = None,
    device: "str | torch.device | None" = None,
    tokenizer_texts: Iterable[str] | None = None,
    seed: int = 0,
    vocab_size: int | None = None,
    **model_kwargs: Any,
) -> "tuple[PreTrainedModel, PreTrainedTokenizerBase]":
    """Load or build a causal LM and its tokenizer.

    Args:
        name_or_path: a preset name (``tiny``, ``small``, ``lfm2-350m``, ... see
            :data:`lfmgym.model.presets.PRESETS`), a named pretrained checkpoint (``smollm2-135m``,
            see :data:`lfmgym.model.pretrained.CHECKPOINTS`), a ``.gguf`` file, a local directory
            written by ``save_pretrained``, or a hub id such as ``LiquidAI/LFM2-350M`` (network).
        dtype: weights dtype (``"bf16"``, ``"float32"``, a ``torch.dtype``, ``"auto"``); ``None`` keeps
            float32 for presets and the checkpoint's default otherwise.
        device: where to put the model; ``None`` picks CUDA when available.
        tokenizer_texts: for presets, the text to train the tokenizer on; ``None`` uses
            :func:`lfmgym.model.tokenizer.default_corpus`. Ignored for checkpoints.
        seed: for presets, the seed of both tokenizer sampling and weight init.
        vocab_size: for presets, the tokenizer's vocabulary bound (default: the preset's).
        **model_kwargs: passed to ``build_model`` (preset config overrides) or to
            ``AutoModelForCausalLM.from_pretrained``.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = resolve_dtype(dtype)
    if name_or_path in PRESETS:
        from lfmgym.model.presets import build_model
        from lfmgym.model.tokenizer import default_corpus, train_tokenizer

        texts = list(tokenizer_texts) if tokenizer_texts is not None else default_corpus(seed=seed)
        tokenizer = train_tokenizer(texts, vocab_size=vocab_size or PRESETS[name_or_path].vocab_size, seed=seed)
        model = build_model(name_or_path, tokenizer, seed=seed, **model_kwargs)
        if torch_dtype not in (None, "auto"):
            model = model.to(torch_dtype)
    else:
        from lfmgym.model.pretrained import resolve_model
        from lfmgym.model.templates import adopt_training_template

        name_or_path = resolve_model(name_or_path)
        path = Path(name_or_path)
        if path.exists() and not path.is_dir():
            raise ValueError(f"{name_or_path!r} is a file; pass a .gguf file or the checkpoint directory that "
                             "holds config.json")
        if path.is_dir() and not (path / "config.json").is_file():
            raise FileNotFoundError(f"{name_or_path!r} has no config.json: not a saved model directory")
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        adopt_training_template(tokenizer)
        kwargs = dict(model_kwargs)
        if torch_dtype is not None:
            kwargs["dtype"] = torch_dtype
        model = AutoModelForCausalLM.from_pretrained(name_or_path, **kwargs)
        if tokenizer.pad_token is None and tokenizer.eos_token is not None:
            # Batched generation and padding collators need a pad token; eos is the usual stand-in.
            tokenizer.pad_token = tokenizer.eos_token
    model = model.to(resolve_device(device))
    model.eval()
    return model, tokenizer


def save(model: "PreTrainedModel", tokenizer: "PreTrainedTokenizerBase", path: str | Path) -> Path:
    """Write model (safetensors, config, generation config) and tokenizer (with chat template) to ``path``."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
