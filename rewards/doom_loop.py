"""Doom-loop detection: a completion that stopped without an ending while repeating itself.

Definition (used for metrics, penalties, the stopping criterion and ``lfmgym loops``)::

    loop  <=>  finished is not True  and  the tail is a loop

The tail is a loop with period ``p`` (the smallest that works) in any of these ways; the verdict's
``kind`` says which:

* **exact** -- ``x[t] == x[t - p]`` over the last ``c`` units, with ``p <= max_period`` (default
  **256**) and ``c >= max(min_coverage, min_repeats * p)`` (defaults **64** units, **3** repeats):
  short exact runs are normal formatting (``----``, ``0 0 0 0`` rows, ``...``), a sentence said
  twice can be a quote. Kinds ``periodic``, or ``short`` (``p <= 3`` units: ``the the``,
  ``very,``, emoji, newlines) or ``digits`` (the period is digits and number punctuation:
  ``1212``, ``0.3333``);
* **long** -- two full copies are enough once ``p >= long_period`` (default **24**): at the
  demo's 96-token turn cap a 40-token sentence said twice (and cut) is a loop;
* **cut** -- exact except for the last ``cut_units`` (default **2**) units: the last period cut
  mid-word or mid-token by the cap (in token units a cap never cuts a token, but a re-tokenized
  text can end in a different token; in word units the last word is half a word);
* **approximate** -- a sampled loop whose copies differ by a unit now and then: at least
  ``max(min_coverage, min_repeats * p)`` units, every place of the period has a strict majority
  value across the copies (a slot that varies in every copy is a list, not a slip), and at most
  ``tolerance`` (default **0.1**, one unit in ten) of the units differ from that majority;
* **counter** -- periodic once every number is replaced by a placeholder, with the numbers at
  each place of the period constant or increasing by exactly one per copy, at least one
  increasing (``Step 17: check again. Step 18: check again.``, ``"id": "call_19"`` ..
  ``"call_20"``), and one period holding at least 3 non-digit tokens or 2 words with letters (so
  counting ``1, 2, 3, ...`` stays a sequence). Multiplication tables (``7 x 3 = 21``: a second
  number grows by 7), dated agendas (the weekday changes), CSV rows and lists (some value
  changes) are not counters. Token ids need ``digits`` (see :func:`digit_token_map`); without it
  the token unit has no counter rule.

Units: token ids; ``"word"`` (lower-cased whitespace words); ``"char"``; and ``"text"`` (the
default for strings): the word rules, then for rows without a verdict the exact rule on
characters (digit runs and emoji with no space, newlines, short loops cut mid-word), with
``4 x`` the periods and ``2 x min_coverage`` characters unless the period has no letter and no
space between other characters (digits, emoji, CJK, newlines: about one token per character, so
``min_coverage`` characters).

``finished=True`` (EOS seen) is never a loop, whatever the tail; ``finished=None`` (unknown, e.g.
a text dump) judges the tail alone -- then legitimately periodic text (an identity matrix written
out) looks like a loop too, so pass the flag when known.

Metrics from "Neural Text Generation with Unlikelihood Training" (Welleck et al., 2019), over the
whole completion:

* ``seq_rep[n] = 1 - #unique n-grams / #n-grams`` for n = 1..4;
* ``rep_l[l] = (1/|x|) * #{t : x[t] in x[t-l : t]}`` for l = 16, 32, 128 (share of units that
  repeat one of the previous ``l``).

Everything is vectorized over the batch (row-wise sorts and column slices on tail-aligned rows;
the near and counter rules check only the rows a vectorized probe lets through): 1,024 x 2,048
tokens take well under a second (``benchmarks/bench_rewards.py``); precision and recall per kind
on the labeled sets in ``tests/data/doom_loops`` come from ``benchmarks/bench_doom_loop.py``.
Not seen: sampled loops whose copies gain or lose a unit (the approximate rule compares aligned
copies), and loops shorter than the coverage rules (under 64 units with a period under 24).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lfmgym.rewards._arrays import IdBatch, _row_ranks, as_id_batch, left_align, ngram_distinct_counts, text_units
from lfmgym.rewards._loop_tail import (
    APPROX,
    COUNTER,
    CUT,
    EXACT,
    counter_tails,
    exact_tails,
    near_tails,
    normalize_tokens,
    normalize_words,
)

__all__ = [
    "DEFAULT_MAX_PERIOD",
    "DEFAULT_MIN_COVERAGE",
    "DEFAULT_MIN_REPEATS",
    "DEFAULT_LONG_PERIOD",
    "DEFAULT_TOLERANCE",
    "DEFAULT_CUT_UNITS",
    "KINDS",
    "SEQ_REP_NS",
    "REP_LS",
    "LoopVerdict",
    "detect_doom_loop",
    "detect_doom_loops",
    "detect_doom_loop_text",
    "digit_token_map",
    "doom_loop_ratio",
    "DoomLoopPenalty",
]

DEFAULT_MAX_PERIOD = 256
DEFAULT_MIN_COVERAGE = 64
DEFAULT_MIN_REPEATS = 3
DEFAULT_LONG_PERIOD = 24
DEFAULT_TOLERANCE = 0.1
DEFAULT_CUT_UNITS = 2
SEQ_REP_NS = (1, 2, 3, 4)
REP_LS = (16, 32, 128)
KINDS = ("none", "periodic", "long", "cut", "approximate", "short", "digits", "counter")
# Context a counter's period must hold besides its numbers: non-digit tokens / words with a letter.
COUNTER_CONTEXT = {"token": 3, "word": 2}
# The text unit's character pass: periods and the long rule scale by CHAR_SCALE; coverage doubles
# unless the period has no letter and no whitespace (digits, emoji, CJK: ~1 token per character).
CHAR_SCALE = 4
_NUMERIC = re.compile(r"^[\d.,:;+\-/%\s]*\d[\d.,:;+\-/%\s]*$")
_LETTER = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class LoopVerdict:
    """The doom-loop verdict for one completion.

    Attributes:
        loop: the completion is a doom loop (a looping tail and not finished).
        period: the smallest period of the looping tail in ``unit`` units, or ``None`` when the
            tail does not loop (reported even for a finished completion, where ``loop`` stays
            False).
        start: index (in ``unit`` units) where the looping tail starts, or ``None``.
        seq_rep: ``{n: seq-rep-n}`` for n = 1..4.
        rep_l: ``{l: rep/l}`` for l = 16, 32, 128.
        length: number of units judged.
        finished: the finished flag it was judged with.
        kind: which rule saw the loop (one of :data:`KINDS`); ``"none"`` when ``loop`` is False.
        unit: the unit of ``period``, ``start`` and ``length`` (``"token"``, ``"word"``,
            ``"char"``; the text unit reports ``"word"`` or, for a loop only characters show,
            ``"char"``).
    """

    loop: bool
    period: int | None
    start: int | None
    seq_rep: dict[int, float] = field(default_factory=dict)
    rep_l: dict[int, float] = field(default_factory=dict)
    length: int = 0
    finished: bool | None = None
    kind: str = "none"
    unit: str = "token"

    def to_dict(self) -> dict[str, Any]:
        """A flat JSON-friendly dict (``seq_rep_4``, ``rep_128``, ...)."""
        out: dict[str, Any] = {"loop": self.loop, "kind": self.kind, "period": self.period, "start": self.start,
                               "length": self.length, "unit": self.unit, "finished": self.finished}
        out.update({f"seq_rep_{n}": v for n, v in self.seq_rep.items()})
        out.update({f"rep_{l}": v for l, v in self.rep_l.items()})
        return out


def _check(max_period: int, min_coverage: int, min_repeats: int, long_period: int = DEFAULT_LONG_PERIOD,
           tolerance: float = DEFAULT_TOLERANCE, cut_units: int = DEFAULT_CUT_UNITS) -> None:
    if max_period < 1:
        raise ValueError(f"max_period must be >= 1, got {max_period}")
    if min_coverage < 2:
        raise ValueError(f"min_coverage must be >= 2, got {min_coverage}")
    if min_repeats < 2:
        raise ValueError(f"min_repeats must be >= 2 (one copy is not a repetition), got {min_repeats}")
    if long_period < 0:
        raise ValueError(f"long_period must be >= 0 (0 turns the two-copy rule off), got {long_period}")
    if not 0.0 <= tolerance < 0.5:
        raise ValueError(f"tolerance must be in [0, 0.5), got {tolerance}")
    if cut_units < 0:
        raise ValueError(f"cut_units must be >= 0, got {cut_units}")


def digit_token_map(tokenizer: Any) -> dict[int, str]:
    """``{token id: digits}`` for every token of ``tokenizer`` that is only ASCII digits (after
    the byte-level space marker ``Ġ``/``▁`` is dropped): what the counter rule needs on ids."""
    vocab = tokenizer.get_vocab()
    out = {}
    for tok, i in vocab.items():
        text = tok.lstrip("Ġ▁ ")
        if text and text.isascii() and text.isdigit():
            out[int(i)] = text
    return out


def _rep_metrics(batch: IdBatch, ls: Sequence[int]) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """``seq-rep-1`` and ``rep/l`` for each row, from one sort of ``(unit, position)`` pairs."""
    B, L = batch.ids.shape
    lengths = batch.lengths
    safe_len = np.maximum(lengths, 1)
    if L == 0:
        zeros = np.zeros(B)
        return zeros, {l: zeros for l in ls}
    pos_bits = max(1, (L - 1).bit_length())
    ids, bits = batch.ids, batch.bits
    if bits + pos_bits > 64:  # giant ids: rank them first (ranks < L)
        ids, n_ranks = _row_ranks(ids.astype(np.uint64))
        bits = max(1, (n_ranks - 1).bit_length())
    kind = np.uint32 if bits + pos_bits <= 32 else np.uint64  # 32-bit keys sort twice as fast
    keys = (ids.astype(kind) << kind(pos_bits)) | np.arange(L, dtype=kind)[None, :]
    if not batch.uniform:
        keys[np.arange(L)[None, :] >= lengths[:, None]] = np.iinfo(kind).max
    keys.sort(axis=1)
    unit = keys >> kind(pos_bits)
    pos = (keys & kind((1 << pos_bits) - 1)).astype(np.int32)
    same = unit[:, 1:] == unit[:, :-1]
    if not batch.uniform:
        same &= np.arange(L - 1)[None, :] < (lengths - 1)[:, None]
    gap = pos[:, 1:] - pos[:, :-1]  # distance to the previous occurrence of the same unit
    seq_rep_1 = same.sum(axis=1) / safe_len
    rep = {l: (same & (gap <= l)).sum(axis=1) / safe_len for l in ls}
    return seq_rep_1, rep


def _distinct_by_suffix(batch: IdBatch) -> dict[int, np.ndarray] | None:
    """Distinct 1..4-gram counts per row from ONE sort of 4-gram keys, or None if not applicable.

    Each row is prefixed with three copies of a sentinel id ``S`` that occurs nowhere in the
    batch, and the 4-gram starting at every padded position ``q = 0 .. len-1`` is read as one
    little-endian word, so its last ``k`` units are the key's high bits. Sorting those keys groups
    equal ``k``-suffixes together for every ``k`` at once, and the ``k``-suffixes cover every real
    ``k``-gram of the row exactly once, plus ``min(k-1, len)`` suffixes containing ``S`` -- all
    distinct from each other and from real ones -- which are subtracted. Needs ids of at most two
    bytes (and one unused id); otherwise the caller sorts each n separately.
    """
    item = batch.ids.dtype.itemsize
    if item > 2 or len(batch) == 0:
        return None
    counts = np.bincount(batch.ids.ravel(), minlength=1 << (8 * item))
    counts[0] -= int((batch.ids.shape[1] - batch.lengths).sum())  # right padding is not an id
    free = np.flatnonzero(counts == 0)
    if free.size == 0:
        return None
    B, L = batch.ids.shape
    padded = np.zeros((B, L + 3 + 4), dtype=batch.ids.dtype)
    padded[:, :3] = free[0]
    padded[:, 3 : 3 + L] = batch.ids
    word = 4 * item
    keys = np.ndarray((B, L), dtype=f"<u{word}", buffer=padded, offset=0, strides=(padded.strides[0], item)).copy()
    lengths = batch.lengths
    if not batch.uniform:
        keys[np.arange(L)[None, :] >= lengths[:, None]] = np.iinfo(keys.dtype).max
    keys.sort(axis=1)
    valid_pairs = None if batch.uniform else np.arange(L - 1)[None, :] < (lengths - 1)[:, None]
    out = {}
    bits = 8 * item
    for k in (1, 2, 3, 4):
        suffix = keys >> keys.dtype.type(bits * (4 - k)) if k < 4 else keys
        change = suffix[:, 1:] != suffix[:, :-1]
        if valid_pairs is not None:
            change &= valid_pairs
        distinct = change.sum(axis=1, dtype=np.int64) + (lengths > 0)
        out[k] = distinct - np.minimum(k - 1, lengths)
    return out


def _finished_list(finished: Any, B: int) -> list[bool | None]:
    if finished is None or isinstance(finished, (bool, np.bool_)):
        return [None if finished is None else bool(finished)] * B
    flags = list(finished)
    if len(flags) != B:
        raise ValueError(f"finished has {len(flags)} flags for {B} completions")
    return [None if f is None else bool(f) for f in flags]


@dataclass(frozen=True)
class _Rules:
    max_period: int
    min_coverage: int
    min_repeats: int
    long_period: int
    tolerance: float
    cut_units: int

    def chars(self) -> _Rules:
        """The text unit's character pass: the exact rule only (characters are cut natively; long
        periods cut mid-word are the word pass's cut rule)."""
        return _Rules(self.max_period * CHAR_SCALE, self.min_coverage, self.min_repeats, 0, 0.0, 0)


def _sparse(period: str) -> bool:
    """A period with letters, or with spaces between other non-numeric characters, is ~4
    characters a token; digits, emoji, CJK and whitespace runs are about one."""
    if _LETTER.search(period):
        return True
    return not period.isspace() and not _NUMERIC.match(period) and any(ch.isspace() for ch in period)


def _tail_chars(text: str, words: int) -> int:
    """Characters from the start of the last ``words`` words of ``text`` to its end."""
    spans = [m.start() for m in _WORD.finditer(text)]
    return len(text) - spans[len(spans) - words] if 0 < words <= len(spans) else 0


def _search(batch: IdBatch, rules: _Rules, normalize: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Period, covered length and rule code (``EXACT``/``CUT``/``APPROX``/``COUNTER``) per row.

    ``normalize(i)`` gives row ``i`` with its numbers as placeholders (or None) for the counter
    rule, asked only for rows no other rule flagged.
    """
    tails, lengths = left_align(batch), batch.lengths
    r = rules
    period, covered = exact_tails(tails, lengths, r.max_period, r.min_coverage, r.min_repeats, r.long_period)
    code = np.where(period > 0, EXACT, 0).astype(np.int8)
    if r.tolerance > 0 or r.cut_units > 0:
        p2, c2, k2, _ = near_tails(tails, lengths, period == 0, r.max_period, r.min_coverage, r.min_repeats,
                                   r.long_period, r.tolerance, r.cut_units)
        hit = (period == 0) & (p2 > 0)
        period, covered, code = np.where(hit, p2, period), np.where(hit, c2, covered), np.where(hit, k2, code)
    if normalize is not None:
        open_idx = np.flatnonzero(period == 0).tolist()
        norms = [normalize(i) for i in open_idx]
        found = counter_tails(norms, r.max_period, r.min_coverage, r.min_repeats, r.long_period, r.tolerance,
                              r.cut_units, normalize.min_context, _align)
        for i, res in zip(open_idx, found):
            if res is not None:
                period[i], covered[i], code[i] = res[0], int(lengths[i]) - res[1], COUNTER
    return period, covered, code.astype(np.int8)


def _align(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    batch = as_id_batch(rows, "token")
    return left_align(batch), batch.lengths


class _WordNumbers:
    """Word rows with numbers as placeholders, for the counter rule."""

    min_context = COUNTER_CONTEXT["word"]

    def __init__(self, texts: Sequence[str]):
        self.texts, self.vocab = texts, {}

    def __call__(self, i: int):
        return normalize_words(text_units(self.texts[i], "word"), self.vocab)


class _TokenNumbers:
    """Token rows with digit-token runs as one placeholder, for the counter rule."""

    min_context = COUNTER_CONTEXT["token"]

    def __init__(self, batch: IdBatch, digits: Mapping[int, str]):
        self.batch, self.digits = batch, dict(digits)
        self.placeholder = max(int(batch.ids.max()) if batch.ids.size else 0, max(self.digits, default=0)) + 1

    def __call__(self, i: int):
        row = self.batch.ids[i, : int(self.batch.lengths[i])]
        return normalize_tokens(row, self.digits, self.placeholder)


def _kind(code: int, p: int, c: int, units: Sequence[Any] | None, unit: str, rules: _Rules,
          digits: Mapping[int, str] | None) -> str:
    """The verdict's kind from the rule that fired and the looping period's content."""
    if code == COUNTER:
        return "counter"
    if code == APPROX:
        return "approximate"
    if units is not None:
        period = units[len(units) - p:]
        if unit == "char":
            text = "".join(period)
            if _NUMERIC.match(text):
                return "digits"
            if len(text.split()) <= 3 and (len(text.split()) < 3 or p <= 24):
                return "short"
        elif unit == "word":
            if all(_NUMERIC.match(w) for w in period):
                return "digits"
        elif digits and all(int(t) in digits for t in period):
            return "digits"
    if unit != "char" and p <= 3:
        return "short"
    if code == CUT:
        return "cut"
    if unit == "char" and units is not None and len(units) > p and not units[-1].isspace() \
            and not units[len(units) - p].isspace():
        return "cut"  # the text stops inside a word that the previous copy goes on with
    if c < rules.min_repeats * p:
        return "long"
    return "periodic"


def detect_doom_loops(
    completions: Any,
    finished: bool | Sequence[bool | None] | None = None,
    *,
    unit: str = "auto",
    max_period: int = DEFAULT_MAX_PERIOD,
    min_coverage: int = DEFAULT_MIN_COVERAGE,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    long_period: int = DEFAULT_LONG_PERIOD,
    tolerance: float = DEFAULT_TOLERANCE,
    cut_units: int = DEFAULT_CUT_UNITS,
    digits: Mapping[int, str] | None = None,
    metrics: bool = True,
) -> list[LoopVerdict]:
    """Judge a batch of completions at once (see the module docstring for the definition).

    Args:
        completions: token-id sequences (lists, arrays, tensors; or a 2-D array) or strings.
        finished: one flag for all, or one per completion; ``True`` = ended with EOS,
            ``False`` = hit the length cap, ``None`` = unknown (judge the tail alone).
        unit: ``"token"`` for ids; ``"text"``, ``"word"`` or ``"char"`` for strings; ``"auto"``
            picks text for strings and token otherwise.
        max_period, min_coverage, min_repeats: the thresholds ``P``, ``K``, ``R``.
        long_period: periods from here on need only two full copies (0: off).
        tolerance: share of units of an approximate loop that may differ from the majority of
            their place in the period (0: exact loops only).
        cut_units: units at the very end allowed to break the period (a cut last copy).
        digits: ``{token id: its digits}`` (:func:`digit_token_map`) for the counter rule on ids.
        metrics: also compute seq-rep-n and rep/l (skip for speed when only the verdict matters).
    """
    _check(max_period, min_coverage, min_repeats, long_period, tolerance, cut_units)
    rules = _Rules(max_period, min_coverage, min_repeats, long_period, tolerance, cut_units)
    if unit == "auto":
        first = completions[0] if len(completions) else None
        unit = "text" if isinstance(first, str) else "token"
    base_unit = "word" if unit == "text" else unit
    batch = as_id_batch(completions, base_unit)
    B = len(batch)
    flags = _finished_list(finished, B)
    if B == 0:
        return []
    if base_unit == "word":
        normalize: Any = _WordNumbers(completions)
    elif base_unit == "token" and digits:
        normalize = _TokenNumbers(batch, digits)
    else:
        normalize = None
    if unit == "text":
        # Words are 1-10 tokens (``the`` vs ``request_id=17)]<|tool_call_end|>``): the word rules
        # run with R copies as their only coverage rule, then the tail must cover min_coverage
        # words or CHAR_SCALE * min_coverage characters.
        period, covered, code = _search(batch, replace(rules, min_coverage=2), normalize)
        for i in np.flatnonzero((period > 0) & (covered < min_coverage)).tolist():
            if _tail_chars(completions[i], int(covered[i])) < CHAR_SCALE * min_coverage:
                period[i] = covered[i] = code[i] = 0
    else:
        period, covered, code = _search(batch, rules, normalize)
    units_of: list[str] = [base_unit] * B
    kinds: list[str] = ["none"] * B
    lengths = batch.lengths.tolist()
    starts: list[int | None] = [None] * B
    periods: list[int | None] = [None] * B
    for i in np.flatnonzero(period > 0).tolist():
        if base_unit == "word":
            units: Any = text_units(completions[i], "word")
        elif base_unit == "char":
            units = completions[i]
        else:  # only the period's ids matter, and only to see digits
            units = batch.ids[i, lengths[i] - int(period[i]): lengths[i]].tolist() if digits else None
        kinds[i] = _kind(int(code[i]), int(period[i]), int(covered[i]), units, base_unit, rules, digits)
        periods[i], starts[i] = int(period[i]), lengths[i] - int(covered[i])
    if unit == "text":
        open_idx = [i for i in range(B) if periods[i] is None]
        if open_idx:
            texts = [completions[i] for i in open_idx]
            cbatch = as_id_batch(texts, "char")
            cr = rules.chars()
            cp, cc, ccode = _search(cbatch, cr)
            for k in np.flatnonzero(cp > 0).tolist():
                i, p, c = open_idx[k], int(cp[k]), int(cc[k])
                text = texts[k]
                if _sparse(text[len(text) - p:]) and c < 2 * min_coverage:
                    continue  # ~4 characters a token: twice the coverage
                units_of[i] = "char"
                kinds[i] = _kind(int(ccode[k]), p, c, text, "char", cr, None)
                periods[i], starts[i] = p, len(text) - c
                lengths[i] = len(text)
    seq_rep: dict[int, np.ndarray] = {}
    rep: dict[int, np.ndarray] = {}
    if metrics:
        seq_rep[1], rep = _rep_metrics(batch, REP_LS)
        distinct = _distinct_by_suffix(batch)
        for n in SEQ_REP_NS[1:]:
            total = np.maximum(batch.lengths - n + 1, 0)
            if distinct is None:
                distinct_n, _ = ngram_distinct_counts(batch, n)
            else:
                distinct_n = distinct[n]
            seq_rep[n] = np.where(total > 0, 1.0 - distinct_n / np.maximum(total, 1), 0.0)
    out = []
    for i in range(B):
        loop = periods[i] is not None and flags[i] is not True
        out.append(LoopVerdict(
            loop=loop,
            period=periods[i],
            start=starts[i],
            seq_rep={n: float(v[i]) for n, v in seq_rep.items()},
            rep_l={l: float(v[i]) for l, v in rep.items()},
            length=lengths[i],
            finished=flags[i],
            kind=kinds[i] if loop else "none",
            unit=units_of[i],
        ))
    return out


def detect_doom_loop(
    token_ids: Any,
    finished: bool | None = None,
    *,
    unit: str = "auto",
    metrics: bool = True,
    **rules: Any,
) -> LoopVerdict:
    """Judge one completion: token ids (or a string, split by ``unit``) and its finished flag.

    ``finished=None`` judges the tail alone. ``rules`` are the thresholds of
    :func:`detect_doom_loops` (``max_period``, ``min_coverage``, ..., ``digits``).
    """
    return detect_doom_loops([token_ids], [finished], unit=unit, metrics=metrics, **rules)[0]


def detect_doom_loop_text(
    text: str,
    finished: bool | None = None,
    *,
    unit: str = "text",
    tokenizer: Any = None,
    **rules: Any,
) -> LoopVerdict:
    """Judge a text when no token ids are at hand.

    With a ``tokenizer`` (anything with ``encode(text, add_special_tokens=False)``, e.g. a
    transformers tokenizer) the text is tokenized (and, for a transformers tokenizer, its digit
    tokens feed the counter rule); otherwise it is judged in ``unit`` units (``"text"``: words,
    then characters; ``"word"``; ``"char"``) and the thresholds count those units.
    """
    if tokenizer is not None:
        ids = tokenizer.encode(text, add_special_tokens=False)
        if "digits" not in rules and hasattr(tokenizer, "get_vocab"):
            rules["digits"] = digit_token_map(tokenizer)
        return detect_doom_loop(ids, finished, unit="token", **rules)
    return detect_doom_loop(text, finished, unit=unit, **rules)


def doom_loop_ratio(items: Iterable[Any], finished: Any = None, **kwargs: Any) -> float:
    """Share of completions that are doom loops.

    ``items`` are :class:`LoopVerdict` objects, dicts with a ``"loop"`` key, bools, or raw
    completions (token-id sequences or strings, judged with :func:`detect_doom_loops` using
    ``finished`` and ``kwargs``). An empty input gives 0.0. Report it separately for greedy and
    sampled decoding: the two fail differently.
    """
    items = list(items)
    if not items:
        return 0.0
    flags: list[bool] = []
    raw: list[Any] = []
    for it in items:
        if isinstance(it, LoopVerdict):
            flags.append(it.loop)
        elif isinstance(it, dict) and "loop" in it:
            flags.append(bool(it["loop"]))
        elif isinstance(it, (bool, np.bool_)):
            flags.append(bool(it))
        else:
            raw.append(it)
    if raw and flags:
        raise TypeError("doom_loop_ratio: mix of verdicts and raw completions; pass one kind")
    if raw:
        flags = [v.loop for v in detect_doom_loops(raw, finished, metrics=False, **kwargs)]
    return sum(flags) / len(flags)


class DoomLoopPenalty:
    """Reward callable: ``penalty`` if the completion is a doom loop, else 0.

    Uses ``completion_ids`` when given, else the completion in the text unit; ``finished`` (a task or
    trainer field) is the EOS flag, ``None`` judging the tail alone. Picklable.
    """

    def __init__(self, penalty: float = -1.0, **thresholds: Any):
        if penalty > 0:
            raise ValueError(f"penalty must be <= 0, got {penalty}")
        _check(thresholds.get("max_period", DEFAULT_MAX_PERIOD), thresholds.get("min_coverage", DEFAULT_MIN_COVERAGE),
               thresholds.get("min_repeats", DEFAULT_MIN_REPEATS), thresholds.get("long_period", DEFAULT_LONG_PERIOD),
               thresholds.get("tolerance", DEFAULT_TOLERANCE), thresholds.get("cut_units", DEFAULT_CUT_UNITS))
        self.penalty = float(penalty)
        self.thresholds = thresholds
        self.__name__ = "doom_loop"

    def __call__(self, completion: str = "", completion_ids: Any = None, finished: bool | None = None, **fields: Any) -> float:
        if completion_ids is not None:
            verdict = detect_doom_loop(completion_ids, finished, unit="token", metrics=False, **self.thresholds)
        else:
            verdict = detect_doom_loop(str(completion or ""), finished, unit="text", metrics=False, **self.thresholds)
        return self.penalty if verdict.loop else 0.0
