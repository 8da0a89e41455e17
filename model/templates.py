"""Training-compatible chat templates: TRL's patches first, then a ChatML one for the ChatML family.

Assistant-only SFT loss and multi-turn GRPO need a chat template that marks assistant text with
``{% generation %}`` and renders earlier messages the same whatever follows (prefix preserving).
TRL's :func:`trl.chat_template_utils.get_training_chat_template` knows the templates of the model
families it ships (Qwen, Llama 3, Gemma, LFM2...), recognised by exact text, and refuses others.

Many small chat models (SmolLM2, the Qwen2-style instruct models' plain variants, ...) use ChatML:
``<|im_start|>{role}\\n{content}<|im_end|>\\n`` per message and ``<|im_start|>assistant\\n`` as the
generation prompt, often with a default system message. :func:`training_chat_template` extends
TRL's helper by *behaviour* rather than by text: when TRL has no patch, it builds the ChatML
template with generation markers (and the model's own default system message), and uses it only
if it renders every probe conversation byte-identically to the model's template. Inference output
is therefore unchanged; only the assistant masks appear.

    >>> tokenizer.chat_template = training_chat_template(tokenizer) or tokenizer.chat_template
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["training_chat_template", "chatml_training_template", "adopt_training_template", "native_tool_format"]

_PROBE = "\x00probe\x00"


def chatml_training_template(default_system: str = "") -> str:
    """ChatML with ``{% generation %}`` around each assistant reply and its ``<|im_end|>``.

    ``default_system`` is rendered before the first message when that message is not a system one
    (the whole ``<|im_start|>system...<|im_end|>\\n`` block, as the model's template writes it).
    """
    default = ""
    if default_system:
        default = ("{%- if loop.first and messages[0]['role'] != 'system' %}{{ " + json.dumps(default_system)
                   + " }}{%- endif %}")
    return (
        "{%- for message in messages %}" + default
        + "{%- if message['role'] == 'assistant' %}"
        "{{- '<|im_start|>assistant\\n' }}{%- generation %}{{- message['content'] + '<|im_end|>' }}{%- endgeneration %}"
        "{{- '\\n' }}"
        "{%- else %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
        "{%- endif %}{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
    )


def _probes() -> list[tuple[list[dict], bool]]:
    sys_ = {"role": "system", "content": "S" + _PROBE}
    user = {"role": "user", "content": "U" + _PROBE}
    asst = {"role": "assistant", "content": "A" + _PROBE}
    tool = {"role": "tool", "content": "T" + _PROBE}
    convs = [[user], [user, asst], [sys_, user], [sys_, user, asst], [sys_, user, asst, tool, asst, user],
             [user, asst, user, asst]]
    return [(c, g) for c in convs for g in (False, True)]


def _render(tokenizer: "PreTrainedTokenizerBase", messages: list[dict], generation_prompt: bool,
            template: str | None = None) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt,
                                         chat_template=template)


def _chatml_equivalent(tokenizer: "PreTrainedTokenizerBase") -> str | None:
    """The ChatML training template when it renders exactly like the tokenizer's template, else ``None``."""
    from jinja2 import TemplateError

    user = {"role": "user", "content": "U" + _PROBE}
    try:
        text = _render(tokenizer, [user], False)
        block = "<|im_start|>user\n" + user["content"] + "<|im_end|>\n"
        if not text.endswith(block):
            return None
        candidate = chatml_training_template(text[: -len(block)])
        for messages, gen in _probes():
            if _render(tokenizer, messages, gen) != _render(tokenizer, messages, gen, candidate):
                return None
    except (TemplateError, TypeError, ValueError, KeyError):
        return None
    return candidate


def training_chat_template(tokenizer: "PreTrainedTokenizerBase") -> str | None:
    """A training-compatible template for ``tokenizer``, or ``None`` when its own one already is.

    Raises:
        ValueError: neither TRL nor the ChatML equivalence knows how to patch the template.
    """
    from trl.chat_template_utils import get_training_chat_template

    if tokenizer.chat_template is None:
        raise ValueError("tokenizer has no chat_template")
    try:
        return get_training_chat_template(tokenizer)
    except ValueError as trl_error:
        chatml = _chatml_equivalent(tokenizer)
        if chatml is None:
            raise ValueError(f"{trl_error} (lfmgym: it does not render like ChatML either, so there is no "
                             "behaviour-preserving patch; set tokenizer.chat_template to one with "
                             "{% generation %} markers)") from None
        return chatml


def adopt_training_template(tokenizer: "PreTrainedTokenizerBase") -> bool:
    """Switch ``tokenizer`` to its ChatML training template when TRL has none for it.

    Only the behaviour-preserving case is applied (renders identically, adds assistant masks), so
    a checkpoint loaded for evaluation generates exactly as before. Templates TRL patches itself
    (their training variants may render differently, e.g. Qwen3's think tags) are left for TRL.
    Returns whether the template changed.
    """
    from trl.chat_template_utils import get_training_chat_template

    if tokenizer.chat_template is None or not isinstance(tokenizer.chat_template, str):
        return False
    try:
        get_training_chat_template(tokenizer)
        return False
    except ValueError:
        pass
    except Exception:  # a template that cannot even render TRL's probes: leave it to the caller
        return False
    chatml = _chatml_equivalent(tokenizer)
    if chatml is None:
        return False
    tokenizer.chat_template = chatml
    return True


# Tool-call markers a chat template writes around calls, and the lfmgym tool format they carry.
_TOOL_CALL_MARKERS = {"<|tool_call_start|>": "pythonic", "<tool_call>": "json"}


def native_tool_format(chat_template: str | None) -> str:
    """The tool-call format a model with ``chat_template`` was trained to write.

    LFM2 templates wrap pythonic calls in ``<|tool_call_start|>``; Hermes/Qwen-style ones wrap JSON
    in ``<tool_call>``. A template with neither (ChatML models such as SmolLM2, which have no tool
    support: the env's system message carries the schemas) gets ``json``, the format such models
    saw most in pretraining; the pythonic list syntax is an LFM2 convention.
    """
    template = chat_template if isinstance(chat_template, str) else ""
    for marker, fmt in _TOOL_CALL_MARKERS.items():
        if marker in template:
            return fmt
    return "json"
