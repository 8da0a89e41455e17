"""Parameter breakdown by block type, from a config alone (meta device: no weights, no memory).

The seed talk's point about small models: a large vocabulary makes the *embedding* most of the
parameter count, and those parameters do little of the reasoning. :func:`param_breakdown` splits a
model into embedding, conv, attention, linear attention (gated DeltaNet, Mamba...), MLP, norms and
other, and reports the embedding share and the "effective" (non-embedding) size:

    >>> b = param_breakdown("tests/data/configs/gemma-3-270m.json")
    >>> round(b["embedding_share"], 3)   # Gemma 3 270M: 62.6% embedding
    0.626

Vocabulary-sized matrices count as embedding: the input table and, when it is not tied to it, the
output head (``lm_head``, listed separately so untied models are visible).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn
    from transformers import PretrainedConfig

__all__ = ["BLOCK_TYPES", "param_breakdown", "load_config", "format_breakdown_table"]

BLOCK_TYPES: tuple[str, ...] = (
    "embedding",
    "lm_head",
    "conv",
    "attention",
    "linear_attention",
    "mlp",
    "norms",
    "other",
)

# Classified by the class names of the module that owns a parameter and its ancestors, nearest
# first, so a conv inside a gated DeltaNet counts as linear attention, not as a short conv.
_OWNER_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("linear_attention", re.compile(r"DeltaNet|LinearAttention|Mamba|SSM|Recurrent|RWKV|Retention", re.I)),
    ("conv", re.compile(r"ShortConv|Conv", re.I)),
    ("attention", re.compile(r"Attention|Attn", re.I)),
    ("mlp", re.compile(r"MLP|FeedForward|FFN|Expert|MoE|SparseMoe", re.I)),
)


def load_config(model: "str | Path | PretrainedConfig") -> tuple["PretrainedConfig", str]:
    """Resolve ``model`` to ``(config, label)``.

    ``model`` may be a config object, a preset name, a named pretrained checkpoint (``smollm2-135m``),
    a ``.gguf`` file (its metadata only: nothing is dequantized), a ``config.json`` path, a checkpoint
    directory or a hub id (hub ids need network access).
    """
    from transformers import AutoConfig, PretrainedConfig

    from lfmgym.model.presets import PRESETS, preset_config
    from lfmgym.model.pretrained import CHECKPOINTS, checkpoint_file

    if isinstance(model, PretrainedConfig):
        return model, getattr(model, "name_or_path", "") or model.model_type
    name = str(model)
    if name in PRESETS:
        return preset_config(name), name
    if name in CHECKPOINTS or name.endswith(".gguf"):
        gguf = checkpoint_file(name) if name in CHECKPOINTS else Path(name)
        if not gguf.is_file():
            raise FileNotFoundError(f"{name!r}: no such GGUF file")
        return AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name), name
    path = Path(name)
    if path.is_file():
        if path.suffix != ".json":
            raise ValueError(f"{name!r} is not a config.json file")
        return AutoConfig.from_pretrained(str(path)), path.name if path.name != "config.json" else path.parent.name
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{name!r} has no config.json")
        return AutoConfig.from_pretrained(str(path)), path.name
    if name.count("/") == 1 and not path.exists():
        return AutoConfig.from_pretrained(name), name  # a hub id: fetches only config.json
    raise FileNotFoundError(f"{name!r} is not a preset, a config file, a checkpoint directory or a hub id")


def _meta_model(config: "PretrainedConfig") -> "nn.Module":
    import torch
    from transformers import AutoModel, AutoModelForCausalLM

    with torch.device("meta"):
        try:
            return AutoModelForCausalLM.from_config(config)
        except ValueError:  # no causal-LM head registered for this config class
            return AutoModel.from_config(config)


def _classify(path: str, modules: dict[str, "nn.Module"], lm_head: "nn.Module | None") -> str:
    from torch import nn

    owner = modules[path]
    if owner is lm_head:
        return "lm_head"
    if isinstance(owner, nn.Embedding):
        return "embedding"
    if "norm" in type(owner).__name__.lower():
        return "norms"
    parts = path.split(".") if path else []
    for depth in range(len(parts), -1, -1):
        module = modules[".".join(parts[:depth])]
        if type(module).__module__.startswith("torch.nn"):
            continue  # Linear, Conv1d, ModuleList...: generic, classified by the model's own block around them
        for block, pattern in _OWNER_PATTERNS:
            if pattern.search(type(module).__name__):
                return block
    return "other"


def param_breakdown(model: "str | Path | PretrainedConfig") -> dict[str, Any]:
    """Count parameters by block type for ``model`` (preset, config file/dir, hub id or config).

    Returns a dict with:
        ``name``, ``model_type``, ``architecture``; ``total`` (unique parameters, tied weights once);
        ``by_block`` (``{block: count}`` over :data:`BLOCK_TYPES`); ``embedding`` (input embedding +
        untied output head); ``embedding_share``; ``effective`` (total minus embedding) and
        ``effective_share``; ``tied_embeddings``; ``vocab_size``, ``hidden_size``, ``num_layers`` and
        ``layer_types`` (``{type: count}``) when the config has them.
    """
    config, label = load_config(model)
    net = _meta_model(config)
    modules = dict(net.named_modules())
    lm_head = net.get_output_embeddings() if hasattr(net, "get_output_embeddings") else None
    counts = dict.fromkeys(BLOCK_TYPES, 0)
    for name, param in net.named_parameters():  # de-duplicates tied weights
        owner_path = name.rpartition(".")[0]
        counts[_classify(owner_path, modules, lm_head)] += param.numel()
    total = sum(counts.values())
    embedding = counts["embedding"] + counts["lm_head"]
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    layer_types = getattr(text_config, "layer_types", None)
    return {
        "name": label,
        "model_type": config.model_type,
        "architecture": type(net).__name__,
        "total": total,
        "by_block": counts,
        "embedding": embedding,
        "embedding_share": embedding / total if total else 0.0,
        "effective": total - embedding,
        "effective_share": (total - embedding) / total if total else 0.0,
        "tied_embeddings": counts["lm_head"] == 0 and lm_head is not None,
        "vocab_size": getattr(text_config, "vocab_size", None),
        "hidden_size": getattr(text_config, "hidden_size", None),
        "num_layers": getattr(text_config, "num_hidden_layers", None),
        "layer_types": dict(Counter(layer_types)) if layer_types else None,
    }


def _human(n: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def format_breakdown_table(breakdowns: list[dict[str, Any]]) -> str:
    """A markdown table, one column per model, one row per non-empty block type plus the totals."""
    blocks = [b for b in BLOCK_TYPES if any(x["by_block"][b] for x in breakdowns)]
    header = "| | " + " | ".join(x["name"] for x in breakdowns) + " |"
    lines = [header, "|---" * (len(breakdowns) + 1) + "|"]
    for block in blocks:
        cells = [f"{_human(x['by_block'][block])} ({x['by_block'][block] / x['total']:.1%})" for x in breakdowns]
        lines.append(f"| {block} | " + " | ".join(cells) + " |")
    lines.append("| **total** | " + " | ".join(_human(x["total"]) for x in breakdowns) + " |")
    lines.append("| embedding share | " + " | ".join(f"{x['embedding_share']:.1%}" for x in breakdowns) + " |")
    lines.append("| effective (non-embedding) | " + " | ".join(_human(x["effective"]) for x in breakdowns) + " |")
    lines.append("| vocab / hidden / layers | " + " | ".join(
        f"{x['vocab_size']} / {x['hidden_size']} / {x['num_layers']}" for x in breakdowns) + " |")
    lines.append("| layer types | " + " | ".join(
        ", ".join(f"{k}×{v}" for k, v in (x["layer_types"] or {}).items()) or "-" for x in breakdowns) + " |")
    return "\n".join(lines)
