"""Doom-loop detection: a completion that hit the length cap while repeating itself verbatim.

Definition (used for metrics, penalties and ``lfmgym loops``)::

    loop  <=>  finished is not True  and  the tail is periodic

The tail is *periodic* with period ``p`` when the last ``c`` units satisfy ``x[t] == x[t - p]``
for every ``t`` after the first period, with

* ``p <= max_period`` (default **256**): repeated sentences and whole paragraphs of a small model
  are 5-200 tokens; longer cycles with 3 repeats would need 768+ tokens of tail anyway;
* coverage ``c >= min_coverage`` (default **64** units): short exact runs are normal formatting
  (``----``, ``0 0 0 0`` matrix rows, ``...``); 64 units of exact periodicity at the very end of a
  cap-hit completion is beyond any of them;
* ``c >= min_repeats * p`` (default **3** repeats): a sentence said twice can be a legitimate
  restatement or quote; three verbatim consecutive copies with no ending is a loop.

The reported ``period`` is the smallest such ``p`` (the fundamental cycle) and ``start`` the
index where the periodic tail begins. ``finished=True`` (EOS seen) is never a loop, whatever the
tail; ``finished=None`` (unknown, e.g. a text dump) judges the tail alone -- then legitimately
periodic text (an identity matrix written out) looks like a loop too, so pass the flag when known.

Metrics from "Neural Text Generation with Unlikelihood Training" (Welleck et al., 2019), over the
whole completion:

* ``seq_rep[n] = 1 - #unique n-grams / #n-grams`` for n = 1..4;
* ``rep_l[l] = (1/|x|) * #{t : x[t] in x[t-l : t]}`` for l = 16, 32, 128 (share of units that
  repeat one of the previous ``l``).

Everything is vectorized over the batch (row-wise sorts and column slices on tail-aligned rows):
1,024 x 2,048 tokens take a few hundred milliseconds (``benchmarks/bench_rewards.py``); precision
and recall on the labeled set in ``tests/data/doom_loops`` come from ``benchmarks/bench_doom_loop.py``.
Known blind spot: sampled loops whose repeats differ by a token now and then are not exactly
periodic and are not flagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lfmgym.rewards._arrays import IdBatch, _row_ranks, as_id_batch, left_align, ngram_distinct_counts

__all__ = [
    "DEFAULT_MAX_PERIOD",
    "DEFAULT_MIN_COVERAGE",
    "DEFAULT_MIN_REPEATS",
    "SEQ_REP_NS",
    "REP_LS",
    "LoopVerdict",
    "detect_doom_loop",
    "detect_doom_loops",
    "detect_doom_loop_text",
    "doom_loop_ratio",
    "DoomLoopPenalty",
]

DEFAULT_MAX_PERIOD = 256
DEFAULT_MIN_COVERAGE = 64
DEFAULT_MIN_REPEATS = 3
SEQ_REP_NS = (1, 2, 3, 4)
REP_LS = (16, 32, 128)


@dataclass(frozen=True)
class LoopVerdict:
    """The doom-loop verdict for one completion.

    Attributes:
        loop: the completion is a doom loop (periodic tail and not finished).
        period: the smallest period of the periodic tail, or ``None`` when the tail is not
            periodic (reported even for a finished completion, where ``loop`` stays False).
        start: index (in units) where the periodic tail starts, or ``None``.
        seq_rep: ``{n: seq-rep-n}`` for n = 1..4.
        rep_l: ``{l: rep/l}`` for l = 16, 32, 128.
        length: number of units judged.
        finished: the finished flag it was judged with.
    """

    loop: bool
    period: int | None
    start: int | None
    seq_rep: dict[int, float] = field(default_factory=dict)
    rep_l: dict[int, float] = field(default_factory=dict)
    length: int = 0
    finished: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """A flat JSON-friendly dict (``seq_rep_4``, ``rep_128``, ...)."""
        out: dict[str, Any] = {"loop": self.loop, "period": self.period, "start": self.start,
                               "length": self.length, "finished": self.finished}
        out.update({f"seq_rep_{n}": v for n, v in self.seq_rep.items()})
        out.update({f"rep_{l}": v for l, v in self.rep_l.items()})
        return out


def _check(max_period: int, min_coverage: int, min_repeats: int) -> None:
    if max_period < 1:
        raise ValueError(f"max_period must be >= 1, got {max_period}")
    if min_coverage < 2:
        raise ValueError(f"min_coverage must be >= 2, got {min_coverage}")
    if min_repeats < 2:
        raise ValueError(f"min_repeats must be >= 2 (one copy is not a repetition), got {min_repeats}")


def _periodic_tails(tails: np.ndarray, lengths: np.ndarray, max_period: int, min_coverage: int,
                    min_repeats: int) -> tuple[np.ndarray, np.ndarray]:
    """Smallest tail period (0 = none) and covered length per row of tail-aligned ``tails``.

    A probe of the last few units at every lag (one ``[B, P]`` comparison) leaves only the rows
    that can have period ``p``; those are checked on the last ``need = max(K, R*p) - p`` lag-``p``
    matches, and the full run is measured only for rows that pass. This keeps 256 periods cheap.
    """
    B, L = tails.shape
    period = np.zeros(B, dtype=np.int64)
    covered = np.zeros(B, dtype=np.int64)
    open_rows = np.ones(B, dtype=bool)
    top_p = min(max_period, L - 1)
    if top_p < 1:
        return period, covered
    # Cheap necessary condition for every (row, p) at once: the last PROBE units match at lag p.
    # It must not exceed the fewest matches any period needs, so it never rejects a true loop.
    fewest = min(max(min_coverage, min_repeats * p) - p for p in range(1, top_p + 1))
    probe = max(1, min(4, fewest, L - top_p))
    lagged = np.ones((B, top_p), dtype=bool)
    for k in range(probe):
        last = tails[:, L - 1 - k]
        # column p-1 holds x[L-1-k-p] for p = 1..top_p
        lagged &= tails[:, L - 1 - k - top_p: L - 1 - k][:, ::-1] == last[:, None]
    for p in range(1, top_p + 1):
        need = max(min_coverage, min_repeats * p) - p
        if need + p > L:
            break  # need + p never shrinks as p grows: no row is long enough any more
        rows = np.flatnonzero(open_rows & lagged[:, p - 1] & (lengths >= need + p))
        if rows.size == 0:
            continue
        ok_rows = rows[(tails[rows, L - need:] == tails[rows, L - need - p: L - p]).all(axis=1)]
        for r in ok_rows.tolist():
            row = tails[r, L - int(lengths[r]):]
            mismatch = np.flatnonzero(row[p:] != row[:-p])
            run = len(row) - p - (int(mismatch[-1]) + 1 if mismatch.size else 0)
            period[r] = p
            covered[r] = run + p
            open_rows[r] = False
    return period, covered


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


def detect_doom_loops(
    completions: Any,
    finished: bool | Sequence[bool | None] | None = None,
    *,
    unit: str = "auto",
    max_period: int = DEFAULT_MAX_PERIOD,
    min_coverage: int = DEFAULT_MIN_COVERAGE,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    metrics: bool = True,
) -> list[LoopVerdict]:
    """Judge a batch of completions at once (see the module docstring for the definition).

    Args:
        completions: token-id sequences (lists, arrays, tensors; or a 2-D array) or strings.
        finished: one flag for all, or one per completion; ``True`` = ended with EOS,
            ``False`` = hit the length cap, ``None`` = unknown (judge the periodic tail alone).
        unit: ``"token"`` for ids; ``"word"`` or ``"char"`` for strings; ``"auto"`` picks word
            for strings and token otherwise.
        max_period, min_coverage, min_repeats: the thresholds ``P``, ``K``, ``R``.
        metrics: also compute seq-rep-n and rep/l (skip for speed when only the verdict matters).
    """
    _check(max_period, min_coverage, min_repeats)
    if unit == "auto":
        first = completions[0] if len(completions) else None
        unit = "word" if isinstance(first, str) else "token"
    batch = as_id_batch(completions, unit)
    B = len(batch)
    flags = _finished_list(finished, B)
    if B == 0:
        return []
    period, covered = _periodic_tails(left_align(batch), batch.lengths, max_period, min_coverage, min_repeats)
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
    lengths = batch.lengths.tolist()
    period_l, covered_l = period.tolist(), covered.tolist()
    for i in range(B):
        periodic = period_l[i] > 0
        out.append(LoopVerdict(
            loop=periodic and flags[i] is not True,
            period=period_l[i] if periodic else None,
            start=lengths[i] - covered_l[i] if periodic else None,
            seq_rep={n: float(v[i]) for n, v in seq_rep.items()},
            rep_l={l: float(v[i]) for l, v in rep.items()},
            length=lengths[i],
            finished=flags[i],
        ))
    return out


def detect_doom_loop(
    token_ids: Any,
    finished: bool | None = None,
    *,
    unit: str = "auto",
    max_period: int = DEFAULT_MAX_PERIOD,
    min_coverage: int = DEFAULT_MIN_COVERAGE,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    metrics: bool = True,
) -> LoopVerdict:
    """Judge one completion: token ids (or a string, split by ``unit``) and its finished flag.

    ``finished=None`` judges the periodic tail alone. See :func:`detect_doom_loops`.
    """
    return detect_doom_loops([token_ids], [finished], unit=unit, max_period=max_period,
                             min_coverage=min_coverage, min_repeats=min_repeats, metrics=metrics)[0]


def detect_doom_loop_text(
    text: str,
    finished: bool | None = None,
    *,
    unit: str = "word",
    tokenizer: Any = None,
    **thresholds: Any,
) -> LoopVerdict:
    """Judge a text when no token ids are at hand.

    With a ``tokenizer`` (anything with ``encode(text, add_special_tokens=False)``, e.g. a
    transformers tokenizer) the text is tokenized; otherwise it is split into ``unit`` units
    (``"word"``: lower-cased whitespace words, ``"char"``: code points) and the thresholds count
    those units.
    """
    if tokenizer is not None:
        ids = tokenizer.encode(text, add_special_tokens=False)
        return detect_doom_loop(ids, finished, unit="token", **thresholds)
    return detect_doom_loop(text, finished, unit=unit, **thresholds)


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

    Uses ``completion_ids`` when given, else the completion's words; ``finished`` (a task or
    trainer field) is the EOS flag, ``None`` judging the tail alone. Picklable.
    """

    def __init__(self, penalty: float = -1.0, **thresholds: Any):
        if penalty > 0:
            raise ValueError(f"penalty must be <= 0, got {penalty}")
        _check(thresholds.get("max_period", DEFAULT_MAX_PERIOD), thresholds.get("min_coverage", DEFAULT_MIN_COVERAGE),
               thresholds.get("min_repeats", DEFAULT_MIN_REPEATS))
        self.penalty = float(penalty)
        self.thresholds = thresholds
        self.__name__ = "doom_loop"

    def __call__(self, completion: str = "", completion_ids: Any = None, finished: bool | None = None, **fields: Any) -> float:
        if completion_ids is not None:
            verdict = detect_doom_loop(completion_ids, finished, unit="token", metrics=False, **self.thresholds)
        else:
            verdict = detect_doom_loop(str(completion or ""), finished, unit="word", metrics=False, **self.thresholds)
        return self.penalty if verdict.loop else 0.0
