"""A small byte-level BPE tokenizer with LFM2's special tokens and the LFM2.5 chat template.

From-scratch presets need a tokenizer whose vocabulary fits a few-million-parameter model (a
65k vocabulary would make ``tiny`` mostly embedding: the seed talk's point about Gemma 3 270M).
:func:`train_tokenizer` trains one on the text the environments generate:

- byte-level BPE (any string round-trips, no unknown token);
- digits are split one per token, so numbers are spelled digit by digit (arithmetic learns
  place value instead of memorising multi-digit chunks);
- LFM2's special tokens at LFM2's ids (``<|pad|>`` = 0, ``<|startoftext|>`` = 1, ...,
  ``<|im_start|>`` = 6, ``<|im_end|>`` = 7, tool markers 8-13) plus ``<think>`` / ``</think>``;
- the LFM2.5 chat template, read from the installed TRL package. TRL recognises that exact
  template: ``trl.chat_template_utils.add_response_schema`` attaches its tool-call parser, and the
  template already carries ``{% generation %}`` markers, so ``SFTTrainer(assistant_only_loss=True)``
  needs no patched training template.

The tool-call and think markers are *added tokens that are not special*: they stay atomic (one id
each) but survive ``decode(..., skip_special_tokens=True)``, so an environment reading decoded
completions still sees ``<|tool_call_start|>[f(x=1)]<|tool_call_end|>``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

__all__ = [
    "SPECIAL_TOKENS",
    "MARKUP_TOKENS",
    "BOS",
    "EOS",
    "PAD",
    "CHAT_TEMPLATE_FILES",
    "chat_template",
    "train_tokenizer",
    "default_corpus",
]

# In LFM2's id order: the released tokenizer has exactly these at ids 0-13.
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|pad|>",
    "<|startoftext|>",
    "<|endoftext|>",
    "<|fim_pre|>",
    "<|fim_mid|>",
    "<|fim_suf|>",
    "<|im_start|>",
    "<|im_end|>",
)
MARKUP_TOKENS: tuple[str, ...] = (
    "<|tool_list_start|>",
    "<|tool_list_end|>",
    "<|tool_call_start|>",
    "<|tool_call_end|>",
    "<|tool_response_start|>",
    "<|tool_response_end|>",
    "<think>",
    "</think>",
)
BOS, EOS, PAD = "<|startoftext|>", "<|im_end|>", "<|pad|>"

# Newest revision first; TRL's add_response_schema / get_training_chat_template recognise each of these
# by exact text, so the file is used verbatim.
CHAT_TEMPLATE_FILES: tuple[str, ...] = ("lfm2_2_5_v2.jinja", "lfm2_2_5.jinja")

# Numbers become one token per digit: the split runs before the byte-level regex.
_DIGIT_PATTERN = r"\p{N}"


def chat_template() -> str:
    """The LFM2.5 chat template text shipped with the installed TRL (``trl/chat_templates/``)."""
    import trl

    directory = Path(trl.__file__).resolve().parent / "chat_templates"
    for name in CHAT_TEMPLATE_FILES:
        path = directory / name
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError(
        f"none of {list(CHAT_TEMPLATE_FILES)} found in {directory}; install a TRL release that ships the "
        "LFM2.5 chat template (trl>=0.26)"
    )


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 2048,
    seed: int = 0,
    *,
    min_frequency: int = 2,
    max_texts: int | None = 200_000,
) -> "PreTrainedTokenizerFast":
    """Train a byte-level BPE tokenizer on ``texts`` (see the module docstring for its properties).

    Args:
        texts: training text (environment prompts, demonstrations, tool calls...). Not consumed
            lazily: it is materialised so the sample is reproducible.
        vocab_size: upper bound on the vocabulary, special tokens and the 256 byte symbols included.
            A small corpus yields fewer tokens; size the model with ``len(tokenizer)``.
        seed: chooses which ``max_texts`` texts are used when there are more; the same texts and seed
            give the identical tokenizer (BPE training itself is deterministic).
        min_frequency: a pair must occur this often to be merged.
        max_texts: cap on training texts (``None`` for no cap).

    Returns:
        a ``PreTrainedTokenizerFast`` with bos ``<|startoftext|>``, eos ``<|im_end|>``, pad ``<|pad|>``,
        left padding (batched generation) and the LFM2.5 chat template.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    reserved = len(SPECIAL_TOKENS) + len(MARKUP_TOKENS)
    if vocab_size < 256 + reserved:
        raise ValueError(f"vocab_size must be at least {256 + reserved} (bytes + special tokens), got {vocab_size}")
    corpus = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, expected str")
        if text:
            corpus.append(text)
    if not corpus:
        raise ValueError("train_tokenizer needs at least one non-empty text")
    if max_texts is not None and len(corpus) > max_texts:
        corpus = random.Random(seed).sample(corpus, max_texts)

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_DIGIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[*SPECIAL_TOKENS, *MARKUP_TOKENS],  # fixes their ids at 0..15
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer, length=len(corpus))
    # The trainer registered every reserved token as special; re-declare the markup ones as plain
    # added tokens (same ids) so skip_special_tokens keeps them in decoded text.
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in MARKUP_TOKENS])
    # Like the released LFM2 tokenizer, plain encoding starts with <|startoftext|>; the chat template
    # writes it itself and apply_chat_template encodes without special tokens.
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A",
        pair=f"{BOS} $A {BOS} $B",
        special_tokens=[(BOS, tok.token_to_id(BOS))],
    )

    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        padding_side="left",
        chat_template=chat_template(),
        clean_up_tokenization_spaces=False,
    )
    for i, token in enumerate((*SPECIAL_TOKENS, *MARKUP_TOKENS)):
        if hf.convert_tokens_to_ids(token) != i:  # guards the LFM2 id layout other code may rely on
            raise RuntimeError(f"special token {token!r} got id {hf.convert_tokens_to_ids(token)}, expected {i}")
    return hf


# ---------------------------------------------------------------------------------------------
# A built-in corpus, used when a preset is loaded without environment text.

_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Iris", "Jonas", "Kim", "Lena")
_ITEMS = ("apples", "books", "coins", "marbles", "pencils", "stickers", "cookies", "cards", "shells", "stamps")
_CITIES = ("Paris", "London", "Tokyo", "Berlin", "Madrid", "Toronto", "Sydney", "Cairo", "Lima", "Oslo")
_TOOLS = (
    ("get_weather", ("city", "unit")),
    ("search", ("query", "max_results")),
    ("calculator", ("expression",)),
    ("convert_currency", ("amount", "from_currency", "to_currency")),
    ("get_time", ("timezone",)),
    ("read_file", ("path",)),
)
_PROSE = (
    "The quick brown fox jumps over the lazy dog.",
    "Small language models run on phones, laptops and cars without a network connection.",
    "A function call names a tool and passes it arguments; the tool returns a result.",
    "Think step by step, then give the final answer on the last line.",
    "The answer is the number of items left after the trade.",
    "Search the web for recent information and cite the source you used.",
    "Read the document carefully and answer the question using only its content.",
    "Convolutions mix nearby tokens; attention lets every token look at every other token.",
    "If the tool returns an error, fix the arguments and call it again.",
    "Please respond in English with a short, precise answer.",
)


def default_corpus(n: int = 3000, seed: int = 0) -> list[str]:
    """``n`` deterministic synthetic texts in the styles the environments use.

    Word problems with numbers, chat turns, pythonic and JSON tool calls, tool results and short
    prose: enough for a usable tokenizer when no environment text is at hand. Environments'
    own demonstrations are better training text; pass those to :func:`train_tokenizer`.
    """
    rng = random.Random(seed)
    texts: list[str] = []
    for i in range(n):
        kind = i % 6
        a, b = rng.randint(2, 999), rng.randint(2, 99)
        name, other = rng.sample(_NAMES, 2)
        item = rng.choice(_ITEMS)
        if kind == 0:
            texts.append(
                f"{name} has {a} {item} and gives {b} to {other}. How many {item} does {name} have now? "
                f"{name} has {a} - {b} = {a - b} {item} left. The answer is {a - b}."
            )
        elif kind == 1:
            texts.append(
                f"Question: what is {a} * {b}? Let's compute: {a} * {b} = {a * b}. #### {a * b}\n"
                f"Then {a * b} + {b} = {a * b + b} and {a * b} / {b} = {a}."
            )
        elif kind == 2:
            fn, params = rng.choice(_TOOLS)
            args = ", ".join(f"{p}='{rng.choice(_CITIES)}'" if i2 % 2 == 0 else f"{p}={rng.randint(1, 50)}"
                             for i2, p in enumerate(params))
            texts.append(f"<|tool_call_start|>[{fn}({args})]<|tool_call_end|>")
        elif kind == 3:
            fn, params = rng.choice(_TOOLS)
            arguments = ", ".join(f'"{p}": "{rng.choice(_CITIES)}"' for p in params)
            texts.append(
                f'List of tools: [{{"name": "{fn}", "description": "Call {fn.replace("_", " ")}.", '
                f'"parameters": {{"type": "object", "properties": {{"{params[0]}": {{"type": "string"}}}}, '
                f'"required": ["{params[0]}"]}}}}]\n<tool_call>{{"name": "{fn}", "arguments": {{{arguments}}}}}</tool_call>'
            )
        elif kind == 4:
            city = rng.choice(_CITIES)
            texts.append(
                f"<|im_start|>user\nWhat is the weather in {city}?<|im_end|>\n<|im_start|>assistant\n"
                f"<|tool_call_start|>[get_weather(city='{city}')]<|tool_call_end|><|im_end|>\n"
                f'<|im_start|>tool\n{{"temperature": {rng.randint(-10, 40)}, "condition": "sunny"}}<|im_end|>\n'
                f"<|im_start|>assistant\nIt is sunny in {city}.<|im_end|>"
            )
        else:
            texts.append(" ".join(rng.sample(_PROSE, 3)))
    return texts
