"""The tail rules behind :mod:`lfmgym.rewards.doom_loop`, on tail-aligned id rows.

Three searches, each giving per row the smallest period ``p``, the covered tail length ``c``
and a kind code:

* :func:`exact_tails` -- ``x[t] == x[t - p]`` over the whole covered tail (vectorized probe);
* :func:`near_tails` -- for rows without an exact tail: a tail that is exact except for its last
  ``cut_units`` units (a last period cut mid-word or mid-token), or one whose copies agree with
  their consensus except for a few scattered units (a sampled loop);
* :func:`counter_tails` -- for rows still open: the tail is periodic once every number is
  replaced by one placeholder, and the numbers at each place of the period stay equal or go up by
  exactly one per copy, at least one going up (``Step 17: check again. Step 18: check again.``).

Coverage needed for period ``p`` (:func:`coverage_needed`): ``max(K, R*p)`` units, or two full
copies (``2p``) once ``p >= long_period`` so that at a 96-token cap a 40-token sentence said twice
is seen. The approximate rule always needs ``max(K, R*p)``: with fewer than three copies a slot
that varies in every copy (a list) cannot be told from a sampled slip.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

EXACT, CUT, APPROX, COUNTER = 1, 2, 3, 4


def coverage_needed(p: int, min_coverage: int, min_repeats: int, long_period: int) -> int:
    """Units a periodic tail of period ``p`` must cover to be a loop."""
    need = max(min_coverage, min_repeats * p)
    if long_period and p >= long_period:
        need = min(need, 2 * p)
    return need


def primitive(unit: np.ndarray) -> bool:
    """``unit`` is not a repetition of a shorter block (24 copies of one token is period 1, not 24)."""
    p = len(unit)
    return not any(p % d == 0 and (unit[d:] == unit[:-d]).all() for d in range(1, p // 2 + 1))


def exact_tails(tails: np.ndarray, lengths: np.ndarray, max_period: int, min_coverage: int,
                min_repeats: int, long_period: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Smallest exact tail period (0 = none) and covered length per row of tail-aligned ``tails``.

    A probe of the last few units at every lag (one ``[B, P]`` comparison) leaves only the rows
    that can have period ``p``; those are checked on the last ``need - p`` lag-``p`` matches, and
    the full run is measured only for rows that pass.
    """
    B, L = tails.shape
    period = np.zeros(B, dtype=np.int64)
    covered = np.zeros(B, dtype=np.int64)
    open_rows = np.ones(B, dtype=bool)
    top_p = min(max_period, L - 1)
    if top_p < 1:
        return period, covered
    needs = [coverage_needed(p, min_coverage, min_repeats, long_period) for p in range(1, top_p + 1)]
    # Cheap necessary condition for every (row, p): the last PROBE units match at lag p. It must
    # not exceed the fewest matches any period needs, so it never rejects a true loop.
    fewest = min(n - p for p, n in enumerate(needs, start=1))
    probe = max(1, min(4, fewest, L - top_p))
    lagged = np.ones((B, top_p), dtype=bool)
    for k in range(probe):
        last = tails[:, L - 1 - k]
        lagged &= tails[:, L - 1 - k - top_p: L - 1 - k][:, ::-1] == last[:, None]
    for p in range(1, top_p + 1):
        need = needs[p - 1] - p
        if need + p > L:
            if 2 * p > L:
                break  # no coverage rule is met by fewer than two copies
            continue
        rows = np.flatnonzero(open_rows & lagged[:, p - 1] & (lengths >= need + p))
        if rows.size == 0:
            continue
        ok_rows = rows[(tails[rows, L - need:] == tails[rows, L - need - p: L - p]).all(axis=1)]
        for r in ok_rows.tolist():
            row = tails[r, L - int(lengths[r]):]
            mismatch = np.flatnonzero(row[p:] != row[:-p])
            run = len(row) - p - (int(mismatch[-1]) + 1 if mismatch.size else 0)
            if run + p < max(min_coverage, min_repeats * p) and not primitive(row[len(row) - p:]):
                continue  # two copies only count for a long period, not a short one said 2p/d times
            period[r] = p
            covered[r] = run + p
            open_rows[r] = False
    return period, covered


def _column_modes(grid: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``grid`` (``[copies, p]``): how many cells hold the most common value, and
    how many cells are real (not ``pad``)."""
    m, p = grid.shape
    srt = np.sort(grid, axis=0).T.ravel()  # column after column
    col = np.repeat(np.arange(p), m)
    start = np.ones(srt.size, dtype=bool)
    start[1:] = (srt[1:] != srt[:-1]) | (col[1:] != col[:-1])
    first = np.flatnonzero(start)
    runs = np.diff(np.append(first, srt.size))
    runs[srt[first] == pad] = 0
    modes = np.zeros(p, dtype=np.int64)
    np.maximum.at(modes, col[first], runs)
    sizes = (grid != pad).sum(axis=0)
    return modes, sizes


def _near_check(row: np.ndarray, p: int, need_cut: int, need_approx: int, tolerance: float,
                cut_units: int) -> tuple[int, int, int] | None:
    """``(covered, CUT | APPROX, junk)`` when ``row``'s tail is nearly periodic with period ``p``;
    ``junk`` is the number of cut units at the very end (0 for APPROX)."""
    n = len(row)
    rev = (row[p:] != row[:-p])[::-1]  # lag-p mismatches, last comparison first
    for j in range(1, min(cut_units, len(rev) - 1) + 1):
        if not rev[j - 1]:
            continue
        rest = np.flatnonzero(rev[j:])
        run = int(rest[0]) if rest.size else len(rev) - j
        if run + p >= need_cut and (run + p >= need_approx or primitive(row[n - j - p: n - j])):
            return run + p + j, CUT, j
    if tolerance <= 0 or len(rev) + p < need_approx:
        return None
    # The covered tail: the suffix maximizing matches minus (1/2tol) x mismatches, i.e. the
    # longest stretch whose mismatch density stays under 2*tol (a slip breaks two comparisons).
    score = np.arange(1, len(rev) + 1) - np.cumsum(rev) / (2 * tolerance)
    s = int(np.argmax(score)) + 1
    c = s + p
    if c < need_approx or score[s - 1] <= 0:
        return None
    seg = row[n - c:].astype(np.int64)
    m = -(-c // p)
    grid = np.full(m * p, -1, dtype=np.int64)
    grid[:c] = seg
    modes, sizes = _column_modes(grid.reshape(m, p), -1)
    if (2 * modes <= sizes).any():  # a place of the period with no majority value: a list
        return None
    if (sizes - modes).sum() > tolerance * c:
        return None
    return c, APPROX, 0


def near_tails(tails: np.ndarray, lengths: np.ndarray, open_rows: np.ndarray, max_period: int,
               min_coverage: int, min_repeats: int, long_period: int, tolerance: float, cut_units: int,
               window: int = 16, max_checks: int = 24) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cut and approximate tails for the ``open_rows`` (see the module docstring).

    A probe counts lag-``p`` matches among the last ``window`` units of every open row at every
    lag at once; only ``(row, p)`` pairs with at most ``max(cut_units, 2) + 1`` misses there (fewer
    for short windows) are checked one by one, at most ``max_checks`` per row. Returns period,
    covered, kind and the number of cut units at the end (``junk``), per row.
    """
    B, L = tails.shape
    period = np.zeros(B, dtype=np.int64)
    covered = np.zeros(B, dtype=np.int64)
    kind = np.zeros(B, dtype=np.int8)
    junk = np.zeros(B, dtype=np.int64)
    rows_idx = np.flatnonzero(open_rows & (lengths >= 2 * 1 + 2))
    W = min(window, L - 1)
    top_p = min(max_period, L // 2)
    if rows_idx.size == 0 or top_p < 1 or W < 1:
        return period, covered, kind, junk
    # Left padding so every lag of the probe exists whatever the batch width (padding never
    # makes a pair accepted: each candidate is checked on its own row).
    sub = np.concatenate([np.zeros((rows_idx.size, top_p + W), dtype=tails.dtype), tails[rows_idx]], axis=1)
    Lp = sub.shape[1]
    # Probe window per period: no longer than the lag comparisons the shortest accepted tail has,
    # so a row is probed the same way whatever batch it is in.
    needs = [min(coverage_needed(p, min_coverage, min_repeats, long_period), max(min_coverage, min_repeats * p)) - p
             for p in range(1, top_p + 1)]
    width = np.minimum(np.asarray(needs), W)
    slack = np.minimum(max(cut_units, 2) + 1, np.maximum(1, width // 4))
    count = np.zeros((rows_idx.size, top_p), dtype=np.uint8)
    cand = np.zeros((rows_idx.size, top_p), dtype=bool)
    for k in range(W):
        count += sub[:, Lp - 1 - k - top_p: Lp - 1 - k][:, ::-1] == sub[:, Lp - 1 - k][:, None]
        at = np.flatnonzero(width == k + 1)
        if at.size:
            cand[:, at] = count[:, at] >= (width[at] - slack[at])[None, :]
    sub_len = lengths[rows_idx]
    checks = np.zeros(rows_idx.size, dtype=np.int64)
    done = np.zeros(rows_idx.size, dtype=bool)
    for p in range(1, top_p + 1):
        need_cut = coverage_needed(p, min_coverage, min_repeats, long_period)
        need_approx = max(min_coverage, min_repeats * p)
        if 2 * p > L:
            break
        col = np.flatnonzero(cand[:, p - 1] & ~done & (sub_len >= min(need_cut, need_approx) + 1)
                             & (checks < max_checks))
        for i in col.tolist():
            checks[i] += 1
            r = int(rows_idx[i])
            res = _near_check(tails[r, L - int(lengths[r]):], p, need_cut, need_approx, tolerance, cut_units)
            if res is not None:
                period[r], covered[r], kind[r], junk[r] = p, res[0], res[1], res[2]
                done[i] = True
    return period, covered, kind, junk


# ---------------------------------------------------------------------------------- counters

_NUMBER = re.compile(r"\d+")
_LETTER = re.compile(r"[^\W\d_]")


class Normalized:
    """One row with every number replaced by a placeholder unit.

    Attributes:
        ids: the normalized unit ids (equal units <=> equal shapes).
        values: per normalized unit, the tuple of numbers it held (empty for none).
        origin: per normalized unit, the index of its first unit in the original row.
        context: per normalized unit, whether it counts as "saying something" (not a number, and
            for words: holding a letter).
    """

    __slots__ = ("ids", "values", "origin", "context")

    def __init__(self, ids, values, origin, context):
        self.ids, self.values, self.origin, self.context = ids, values, origin, context


def normalize_words(words: Sequence[str], vocab: dict[str, int]) -> Normalized | None:
    """Words -> shapes (``call_19`` -> ``call_#``) with their numbers; None without numbers."""
    if not any(_NUMBER.search(w) for w in words):
        return None
    ids, values, context = [], [], []
    for w in words:
        nums = _NUMBER.findall(w)
        shape = _NUMBER.sub("#", w) if nums else w
        ids.append(vocab.setdefault(shape, len(vocab)))
        values.append(tuple(int(x) for x in nums))
        context.append(bool(_LETTER.search(shape.replace("#", ""))))
    return Normalized(np.asarray(ids, dtype=np.int64), values, np.arange(len(words)), np.asarray(context))


def normalize_tokens(row: np.ndarray, digits: dict[int, str], placeholder: int) -> Normalized | None:
    """Token ids -> each maximal run of digit tokens collapsed to ``placeholder``, with its value."""
    is_digit = np.fromiter((int(t) in digits for t in row.tolist()), dtype=bool, count=len(row))
    if not is_digit.any():
        return None
    starts = is_digit & ~np.concatenate([[False], is_digit[:-1]])
    keep = ~is_digit | starts
    origin = np.flatnonzero(keep)
    ids = row[origin].astype(np.int64)
    ids[starts[origin]] = placeholder
    values: list[tuple[int, ...]] = []
    for pos in origin.tolist():
        if not is_digit[pos]:
            values.append(())
            continue
        end = pos
        while end < len(row) and is_digit[end]:
            end += 1
        text = "".join(digits[int(t)] for t in row[pos:end].tolist())
        values.append((int(text),) if len(text) <= 18 else (-1,))
    return Normalized(ids, values, origin, ~starts[origin])


def counter_ok(norm: Normalized, p: int, covered: int, min_context: int) -> bool:
    """The numbers at each place of the period are constant or +1 per copy, at least one +1, and
    one period holds at least ``min_context`` context units (plain counting is a sequence)."""
    n = len(norm.ids)
    first = n - covered
    if int(norm.context[n - p:].sum()) < min_context:
        return False
    rising = False
    for j in range(p):
        pos = list(range(first + j, n, p))
        seqs = [norm.values[q] for q in pos]
        if not seqs[0]:
            if any(seqs):
                return False
            continue
        if len(seqs) < 3 or any(len(v) != len(seqs[0]) for v in seqs):
            return False
        arr = np.asarray(seqs, dtype=np.int64)
        steps = np.diff(arr, axis=0)
        for e in range(arr.shape[1]):
            if (steps[:, e] == 1).all():
                rising = True
            elif not (steps[:, e] == 0).all():
                return False
    return rising


def counter_tails(rows: list[Normalized | None], max_period: int, min_coverage: int, min_repeats: int,
                  long_period: int, tolerance: float, cut_units: int, min_context: int,
                  align: Callable[[list[np.ndarray]], tuple[np.ndarray, np.ndarray]]) -> list[tuple[int, int] | None]:
    """``(period, start in original units)`` of a counter loop per row, or None."""
    idx = [i for i, r in enumerate(rows) if r is not None]
    out: list[tuple[int, int] | None] = [None] * len(rows)
    if not idx:
        return out
    tails, lengths = align([rows[i].ids for i in idx])  # type: ignore[union-attr]
    period, covered = exact_tails(tails, lengths, max_period, min_coverage, min_repeats, long_period)
    p2, c2, _, junk = near_tails(tails, lengths, period == 0, max_period, min_coverage, min_repeats, long_period,
                                 0.0, cut_units)
    period = np.where(period > 0, period, p2)
    covered = np.where(covered > 0, covered, c2)
    for k, i in enumerate(idx):
        p, c, j = int(period[k]), int(covered[k]), int(junk[k])
        norm = rows[i]
        if not p:
            continue
        if j == 0 and norm.values[-1]:  # type: ignore[union-attr]
            j = 1  # a number at the very end may be cut by the cap (59, 6|0): not compared
        clean = Normalized(norm.ids[:len(norm.ids) - j], norm.values[:len(norm.values) - j],  # type: ignore[union-attr]
                           norm.origin, norm.context[:len(norm.ids) - j])  # type: ignore[union-attr]
        if counter_ok(clean, p, c - j, min_context):
            out[i] = (p, int(norm.origin[len(norm.ids) - c]))  # type: ignore[union-attr]
    return out
