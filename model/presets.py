"""Model presets: LFM2 hybrid shapes, from a few million parameters to the published checkpoints.

Every preset is a transformers ``Lfm2Config``: a stack of gated short-convolution blocks with a few
grouped-query-attention blocks mixed in (the hybrid of the LFM2 report), each followed by a SwiGLU
MLP. ``tiny`` and ``small`` are our own shapes for training from scratch on a CPU; ``lfm2-350m``,
``lfm2-700m`` and ``lfm2-1.2b`` reproduce the published configs (random init: use them to profile,
to size GPU runs, or to check that code scales; load real weights with
:func:`lfmgym.model.loading.load_model_and_tokenizer` and a hub id or local path).

    >>> from lfmgym.model.presets import preset_config
    >>> cfg = preset_config("tiny", vocab_size=2048)
    >>> cfg.layer_types[:3]
    ['conv', 'conv', 'full_attention']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch/transformers stay out of module import time (fast `lfmgym --help`)
    from transformers import Lfm2Config, Lfm2ForCausalLM, PreTrainedTokenizerBase

__all__ = ["Preset", "PRESETS", "preset_config", "build_model", "layer_pattern"]

# The published LFM2 checkpoints put attention at these 6 of their 16 blocks; the rest are short convs.
LFM2_ATTENTION_LAYERS = (2, 5, 8, 10, 12, 14)


def layer_pattern(num_layers: int, attention_layers: tuple[int, ...]) -> list[str]:
    """The ``layer_types`` list: ``"full_attention"`` at ``attention_layers``, ``"conv"`` elsewhere."""
    bad = [i for i in attention_layers if not 0 <= i < num_layers]
    if bad:
        raise ValueError(f"attention_layers {bad} out of range for num_layers={num_layers}")
    return ["full_attention" if i in attention_layers else "conv" for i in range(num_layers)]


@dataclass(frozen=True)
class Preset:
    """A named model shape.

    Attributes:
        name: the preset name used on the command line (``--model tiny``).
        description: one line for listings.
        config: keyword arguments for ``transformers.Lfm2Config`` (without ``vocab_size``).
        vocab_size: the vocabulary used when the caller does not pass one (published presets keep
            LFM2's 65,536; from-scratch presets follow the tokenizer built for them).
        published: True for shapes copied from a released checkpoint.
    """

    name: str
    description: str
    config: dict[str, Any] = field(default_factory=dict)
    vocab_size: int = 65536
    published: bool = False


def _published(hidden: int, ff_dim: int, heads: int) -> dict[str, Any]:
    # Values shared by the released LFM2 dense checkpoints (their config.json files).
    return {
        "hidden_size": hidden,
        "intermediate_size": ff_dim,  # "block_ff_dim"; the MLP auto-adjusts it to 2/3, rounded to 256
        "num_hidden_layers": 16,
        "num_attention_heads": heads,
        "num_key_value_heads": 8,
        "layer_types": layer_pattern(16, LFM2_ATTENTION_LAYERS),
        "max_position_embeddings": 128_000,
        "block_multiple_of": 256,
        "block_ffn_dim_multiplier": 1.0,
        "block_auto_adjust_ff_dim": True,
        "conv_L_cache": 3,
        "conv_bias": False,
        "norm_eps": 1e-5,
        "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0},
        "tie_word_embeddings": True,
    }


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            name="tiny",
            description="~5M params, 6 blocks (4 conv + 2 GQA), d=256: trains on 2 CPU cores in minutes",
            config={
                "hidden_size": 256,
                "intermediate_size": 1024,  # auto-adjusted to 704 (2/3, rounded up to 64)
                "num_hidden_layers": 6,
                "num_attention_heads": 4,
                "num_key_value_heads": 2,
                "layer_types": layer_pattern(6, (2, 5)),
                "max_position_embeddings": 4096,
                "block_multiple_of": 64,
                "block_ffn_dim_multiplier": 1.0,
                "block_auto_adjust_ff_dim": True,
                "conv_L_cache": 3,
                "conv_bias": False,
                "norm_eps": 1e-5,
                "rope_parameters": {"rope_type": "default", "rope_theta": 10_000.0},
                "tie_word_embeddings": True,
            },
            vocab_size=2048,
        ),
        Preset(
            name="small",
            description="~38M params, 10 blocks (7 conv + 3 GQA), d=512: a stronger CPU/GPU baseline",
            config={
                "hidden_size": 512,
                "intermediate_size": 2304,  # auto-adjusted to 1536
                "num_hidden_layers": 10,
                "num_attention_heads": 8,
                "num_key_value_heads": 4,
                "layer_types": layer_pattern(10, (2, 5, 8)),
                "max_position_embeddings": 8192,
                "block_multiple_of": 128,
                "block_ffn_dim_multiplier": 1.0,
                "block_auto_adjust_ff_dim": True,
                "conv_L_cache": 3,
                "conv_bias": False,
                "norm_eps": 1e-5,
                "rope_parameters": {"rope_type": "default", "rope_theta": 100_000.0},
                "tie_word_embeddings": True,
            },
            vocab_size=8192,
        ),
        Preset(
            name="lfm2-350m",
            description="published LFM2-350M shape (354M params), random init",
            config=_published(hidden=1024, ff_dim=6656, heads=16),
            published=True,
        ),
        Preset(
            name="lfm2-700m",
            description="published LFM2-700M shape (742M params), random init",
            config=_published(hidden=1536, ff_dim=10240, heads=24),
            published=True,
        ),
        Preset(
            name="lfm2-1.2b",
            description="published LFM2-1.2B shape (1.17B params), random init",
            config=_published(hidden=2048, ff_dim=12288, heads=32),
            published=True,
        ),
    )
}


def _get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown model preset {name!r}; choose one of {sorted(PRESETS)}") from None


def preset_config(name: str, vocab_size: int | None = None, **overrides: Any) -> "Lfm2Config":
    """The ``Lfm2Config`` of preset ``name``.

    Args:
        name: a key of :data:`PRESETS`.
        vocab_size: vocabulary size; defaults to the preset's (pass ``len(tokenizer)``).
        **overrides: any ``Lfm2Config`` field, e.g. ``num_hidden_layers=4``. Changing
            ``num_hidden_layers`` without ``layer_types`` keeps the preset's conv/attention ratio.
    """
    from transformers import Lfm2Config

    preset = _get_preset(name)
    kwargs = dict(preset.config)
    if "num_hidden_layers" in overrides and "layer_types" not in overrides:
        n = int(overrides["num_hidden_layers"])
        ratio = preset.config["layer_types"].count("full_attention") / len(preset.config["layer_types"])
        # Spread the attention blocks evenly, last one at the top (as in the published stacks).
        n_attn = max(1, round(n * ratio))
        attn = tuple(sorted({n - 1 - round(i * n / n_attn) for i in range(n_attn)}))
        kwargs["layer_types"] = layer_pattern(n, attn)
    kwargs.update(overrides)
    kwargs["vocab_size"] = int(vocab_size if vocab_size is not None else preset.vocab_size)
    if kwargs["vocab_size"] <= 0:
        raise ValueError(f"vocab_size must be positive, got {kwargs['vocab_size']}")
    if kwargs["hidden_size"] % kwargs["num_attention_heads"]:
        raise ValueError(
            f"hidden_size={kwargs['hidden_size']} is not divisible by num_attention_heads={kwargs['num_attention_heads']}"
        )
    if len(kwargs["layer_types"]) != kwargs["num_hidden_layers"]:
        raise ValueError(
            f"layer_types has {len(kwargs['layer_types'])} entries but num_hidden_layers={kwargs['num_hidden_layers']}"
        )
    return Lfm2Config(**kwargs)


def build_model(
    name: str, tokenizer: "PreTrainedTokenizerBase", seed: int = 0, **overrides: Any
) -> "Lfm2ForCausalLM":
    """A randomly initialised ``Lfm2ForCausalLM`` of preset ``name``, sized for ``tokenizer``.

    The vocabulary is ``len(tokenizer)`` and the pad/bos/eos ids (in the config and the generation
    config) are the tokenizer's, so ``generate`` stops at ``<|im_end|>`` like the released models.
    The same ``seed`` gives the same weights.
    """
    import torch
    from transformers import Lfm2ForCausalLM

    ids = {
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    missing = [k for k, v in ids.items() if v is None]
    if missing:
        raise ValueError(f"tokenizer has no {', '.join(missing)}: set its pad/bos/eos tokens first")
    config = preset_config(name, vocab_size=len(tokenizer), **ids, **overrides)
    # Seed a private generator state so building a model does not disturb the caller's RNG stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Lfm2ForCausalLM(config)
    for key, value in ids.items():
        setattr(model.generation_config, key, value)
    return model
