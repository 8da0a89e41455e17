"""Chat transcripts <-> token ids for every backend built on a Hugging Face tokenizer.

This is the **one** table of stop and noise tokens (transformers and vLLM both read it) and the
one place that renders prompts, decodes generated ids and splices env feedback between turns.

Token-in/token-out: a multi-turn episode is never decoded and re-tokenized. Its ids are the
prompt, then each turn's generated ids exactly as sampled, then the *feedback ids* — what the
chat template puts between the end of that assistant turn and the next generation prompt (tool
results, parse errors, the next user turn, the assistant header) — and so on.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["STOP_TOKENS", "NOISE_TOKENS", "ChatCodec", "TemplateNotPrefixPreserving"]

# Tokens that end an assistant turn in the chat templates we support (ChatML, LFM2, Qwen, Llama 3).
STOP_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>")
# Special tokens that carry no meaning in assistant text and are stripped after decoding
# (tool-call markers such as <|tool_call_start|> are kept: the env parses them).
NOISE_TOKENS = STOP_TOKENS + ("<|startoftext|>", "<|im_start|>", "<|pad|>")

Messages = list[dict[str, Any]]


class TemplateNotPrefixPreserving(ValueError):
    """Rendering more messages changed the text of earlier ones: ids cannot be spliced exactly."""


class ChatCodec:
    """Prompt rendering, decoding and feedback splicing for one tokenizer.

    Args:
        tokenizer: a Hugging Face tokenizer with a chat template.
        generation_eos: extra end ids from the model's ``generation_config`` (optional).
        chat_template_kwargs: extra ``apply_chat_template`` arguments (e.g. ``tools``).
    """

    def __init__(self, tokenizer: Any, *, generation_eos: Any = None, chat_template_kwargs: dict | None = None):
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError("tokenizer: has no chat_template; set tokenizer.chat_template first")
        self.tokenizer = tokenizer
        # Env resets and sub-model calls encode from worker threads; a fast tokenizer is not safe to
        # call from two threads at once ("Already borrowed"), so every use goes through this lock.
        self._lock = threading.RLock()
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        ids: list[int] = []
        if tokenizer.eos_token_id is not None:
            ids.append(int(tokenizer.eos_token_id))
        for i in generation_eos if isinstance(generation_eos, (list, tuple)) else [generation_eos]:
            if i is not None:
                ids.append(int(i))
        vocab = tokenizer.get_vocab()
        ids.extend(vocab[t] for t in STOP_TOKENS if t in vocab)
        self.stop_ids: list[int] = list(dict.fromkeys(ids))
        if not self.stop_ids:
            raise ValueError("tokenizer: no end-of-sequence token (eos_token or <|im_end|>) to stop on")
        # The id that closes an assistant turn in the template (what a length-capped turn lacks).
        im_end = vocab.get("<|im_end|>")
        self.eos_id = int(im_end if im_end is not None else self.stop_ids[0])
        self.eos_text = tokenizer.convert_ids_to_tokens(self.eos_id)
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else self.stop_ids[0])
        self._strip_ids = set(self.stop_ids) | {self.pad_id}
        if tokenizer.bos_token_id is not None:
            self._strip_ids.add(int(tokenizer.bos_token_id))
        self._noise = [t for t in {*NOISE_TOKENS, tokenizer.pad_token, tokenizer.eos_token, tokenizer.bos_token} if t]

    # ------------------------------------------------------------------ text

    def render(self, messages: Messages, generation_prompt: bool) -> str:
        # preserve_thinking: LFM2.5-style templates drop text before "</think>" in assistant turns
        # that precede the last user message; env feedback is a user message, so without the flag
        # a generated "</think>" would rewrite a turn the policy already produced. Templates that
        # do not know the flag ignore it.
        with self._lock:
            return self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=generation_prompt, tokenize=False, preserve_thinking=True,
                **self.chat_template_kwargs,
            )

    def encode(self, text: str) -> list[int]:
        # The template already wrote BOS when the model wants one; don't add a second.
        with self._lock:
            return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode_prompt(self, messages: Messages) -> list[int]:
        """Ids of the chat-template prompt for ``messages``, ending with the assistant header."""
        return self.encode(self.render(messages, True))

    def decode(self, ids: list[int]) -> str:
        """Assistant text of generated ids: special tokens kept except end-of-turn, padding, BOS."""
        with self._lock:
            text = self.tokenizer.decode([t for t in ids if t not in self._strip_ids], skip_special_tokens=False)
        for noise in self._noise:
            text = text.replace(noise, "")
        return text.strip()

    def cut_at_stop(self, ids: list[int], cap: int) -> tuple[list[int], bool]:
        """``(ids up to and including the first stop id, finished)``, at most ``cap`` ids.

        The stop id stays in the turn: it was sampled, and trainers must learn to emit it.
        """
        stops = set(self.stop_ids)
        cut = next((k for k, t in enumerate(ids) if t in stops), None)
        if cut is not None and cut < cap:
            return list(ids[: cut + 1]), True
        return list(ids[:cap]), False

    # ------------------------------------------------------------------ feedback splicing

    def feedback_ids(self, history: Messages, feedback: Messages, finished: bool) -> list[int]:
        """Ids between the end of the last assistant turn and the next generation prompt.

        ``history`` ends with that assistant message. The text is what the chat template puts
        after the assistant's end-of-turn token, then the feedback messages, then the assistant
        header. A turn cut at the length cap has no end-of-turn token of its own: one is put at
        the start of the feedback (context, not policy output: it gets no loss).

        Raises:
            TemplateNotPrefixPreserving: the template renders the history differently once the
                feedback follows it.
        """
        before = self.render(history, False)
        after = self.render(history + feedback, True)
        if not after.startswith(before):
            raise TemplateNotPrefixPreserving(
                "the chat template is not prefix-preserving (rendering more messages changed earlier text); "
                "token-exact multi-turn episodes need one, e.g. a TRL training template (trl.chat_template_utils)"
            )
        cut = before.rfind(self.eos_text) if self.eos_text else -1
        tail = before[cut + len(self.eos_text):] if cut >= 0 else ""
        ids = self.encode(tail + after[len(before):])
        return ids if finished else [self.eos_id] + ids
