"""Vectorized building blocks for repetition metrics: padded id batches and exact n-gram keys.

A batch is stored as a right-padded matrix ``ids[B, L]`` of the narrowest unsigned dtype that
holds the largest id, plus the true ``lengths[B]``. An n-gram is identified by an exact integer
*key* (equal keys <=> equal n-grams), never a hash that could collide:

* when ``n`` ids fit in one machine word (``n * itemsize <= 8`` bytes: 4-grams of a 65k
  vocabulary), the key is those bytes read as one unaligned ``uint32``/``uint64`` -- a single pass;
* when ``n * bits <= 64`` the ids are bit-packed with shifts (also when that gives a 32-bit key
  where the word read would give a 64-bit one: 32-bit keys sort twice as fast);
* otherwise keys are built by doubling: the key of an ``a+b``-gram packs the per-row dense ranks
  of its two halves.

Per-row distinct counts then come from one row-wise sort. Converting Python lists is the other
big cost for trainer inputs, so lists go through ``array.array('Q', ...)``, which reads
non-negative ints several times faster than ``np.array``.
"""

from __future__ import annotations

import array
from typing import Any

import numpy as np

__all__ = [
    "IdBatch",
    "UNITS",
    "as_id_batch",
    "text_units",
    "ngram_keys",
    "distinct_per_row",
    "ngram_distinct_counts",
    "left_align",
]

UNITS = ("token", "word", "char")


def _narrow_dtype(bits: int) -> type:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if bits <= np.dtype(dtype).itemsize * 8:
            return dtype
    return np.uint64


class IdBatch:
    """A right-padded batch of non-negative integer ids.

    Attributes:
        ids: ``[B, L]`` array of the narrowest unsigned dtype that holds the largest id; row ``i``
            holds its ids in ``[:lengths[i]]`` then zeros. It is a view of a buffer with a few
            extra zero columns, so the last n-gram of a row can be read as one machine word.
        lengths: ``int64[B]``.
        bits: bit width of the largest id (at least 1).
    """

    __slots__ = ("ids", "lengths", "bits", "_buf")

    def __init__(self, batch_size: int, width: int, top: int, lengths: Any):
        """An all-zero batch able to hold ids up to ``top``; fill ``ids[i, :lengths[i]]``."""
        self.bits = max(1, int(top).bit_length())
        dtype = _narrow_dtype(self.bits)
        pad = 8 // np.dtype(dtype).itemsize
        self._buf = np.zeros((batch_size, width + pad), dtype=dtype)
        self.ids = self._buf[:, :width]
        self.lengths = np.asarray(lengths, dtype=np.int64)

    @classmethod
    def from_array(cls, ids: np.ndarray) -> IdBatch:
        """A batch of equal-length rows from a 2-D array of non-negative integers."""
        B, L = ids.shape
        batch = cls(B, L, int(ids.max()) if ids.size else 0, np.full(B, L, dtype=np.int64))
        batch.ids[...] = ids
        return batch

    @property
    def uniform(self) -> bool:
        """True when every row is full (no padding), which enables mask-free fast paths."""
        return bool(self.ids.shape[0] == 0 or (self.lengths == self.ids.shape[1]).all())

    def __len__(self) -> int:
        return int(self.ids.shape[0])


def text_units(text: str, unit: str) -> list[str] | np.ndarray:
    """Split ``text`` into comparison units.

    ``"word"``: lower-cased whitespace-separated words (the open-r1 repetition-penalty
    convention, so ``Hello`` and ``hello`` repeat). ``"char"``: Unicode code points, returned
    directly as a ``uint32`` array.
    """
    if unit == "char":
        return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    if unit == "word":
        return text.lower().split()
    raise ValueError(f"unit must be 'word' or 'char' for text, got {unit!r}")


def _row_array(seq: Any) -> np.ndarray:
    """One sequence of ids as a 1-D unsigned array, or ``int64`` if it holds negatives."""
    if isinstance(seq, np.ndarray):
        arr = seq
    elif hasattr(seq, "detach") and hasattr(seq, "cpu"):  # a torch tensor, without importing torch
        arr = seq.detach().cpu().numpy()
    else:
        try:
            # Fast path: 'Q' conversion is a tight C loop; it fails on negatives and non-ints.
            return np.frombuffer(array.array("Q", seq), dtype=np.uint64)
        except (OverflowError, TypeError):
            arr = np.asarray(list(seq))
    if arr.ndim != 1:
        raise ValueError(f"each sequence must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.uint64)
    if arr.dtype == bool:
        return arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"token ids must be integers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.signedinteger):
        return arr.astype(np.int64) if arr.min() < 0 else arr.astype(np.uint64)
    return arr


def _densify(rows: list[np.ndarray]) -> list[np.ndarray]:
    """Map arbitrary integers (negatives included) to dense non-negative ranks, keeping equality."""
    flat = np.concatenate([r.astype(np.int64) for r in rows]) if rows else np.zeros(0, np.int64)
    _, inverse = np.unique(flat, return_inverse=True)
    inverse = inverse.astype(np.uint64)
    out, pos = [], 0
    for r in rows:
        out.append(inverse[pos : pos + len(r)])
        pos += len(r)
    return out


def as_id_batch(seqs: Any, unit: str = "token") -> IdBatch:
    """Build an :class:`IdBatch` from token-id sequences or texts.

    Args:
        seqs: a 2-D array/tensor (one row per sequence), or a sequence whose items are id
            lists/arrays/tensors (``unit="token"``) or strings (``unit="word"``/``"char"``).
        unit: ``"token"`` for ids, ``"word"`` or ``"char"`` for texts (see :func:`text_units`).

    Raises:
        ValueError / TypeError: naming the offending row, for ids that are not integers or a
            string given where ids were expected.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    if hasattr(seqs, "detach") and hasattr(seqs, "cpu"):
        seqs = seqs.detach().cpu().numpy()
    if isinstance(seqs, np.ndarray) and seqs.ndim == 2 and unit == "token":
        if seqs.dtype == bool:
            seqs = seqs.astype(np.uint8)
        if not np.issubdtype(seqs.dtype, np.integer):
            raise TypeError(f"token ids must be integers, got dtype {seqs.dtype}")
        if np.issubdtype(seqs.dtype, np.signedinteger) and seqs.size and seqs.min() < 0:
            rows = _densify(list(seqs))
            seqs = np.stack(rows) if rows else np.zeros((0, seqs.shape[1]), np.uint64)
        return IdBatch.from_array(seqs)

    rows: list[np.ndarray] = []
    if unit == "token":
        for i, seq in enumerate(seqs):
            if isinstance(seq, str):
                raise TypeError(f"sequence {i} is a string; token ids expected (use unit='word' or 'char' for text)")
            try:
                rows.append(_row_array(seq))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"sequence {i}: {exc}") from None
        if any(r.dtype == np.int64 for r in rows):
            rows = _densify(rows)
    elif unit == "char":
        for i, text in enumerate(seqs):
            if not isinstance(text, str):
                raise TypeError(f"sequence {i}: unit='char' needs a string, got {type(text).__name__}")
            rows.append(text_units(text, "char"))
    else:  # word: one vocabulary shared by the batch so equal words get equal ids
        vocab: dict[str, int] = {}
        for i, text in enumerate(seqs):
            if not isinstance(text, str):
                raise TypeError(f"sequence {i}: unit='word' needs a string, got {type(text).__name__}")
            words = text_units(text, "word")
            rows.append(np.fromiter((vocab.setdefault(w, len(vocab)) for w in words), dtype=np.uint64, count=len(words)))

    return _pack_rows(rows)


def _pack_rows(rows: list[np.ndarray]) -> IdBatch:
    """Right-pad 1-D unsigned rows into an :class:`IdBatch` with a few whole-batch operations."""
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    width = int(lengths.max()) if len(rows) else 0
    nonempty = [r for r in rows if len(r)]
    flat = np.concatenate(nonempty) if nonempty else np.zeros(0, dtype=np.uint64)
    batch = IdBatch(len(rows), width, int(flat.max()) if flat.size else 0, lengths)
    if flat.size == len(rows) * width:
        batch.ids[...] = flat.reshape(len(rows), width)
    else:  # row-major mask order is exactly the concatenation order
        batch.ids[np.arange(width)[None, :] < lengths[:, None]] = flat
    return batch


def _row_ranks(keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense per-row ranks of ``keys`` (``uint64``, same shape) and the largest rank + 1.

    Ranks only need to be consistent *within* a row (n-grams are compared inside one sequence),
    and row-wise sorting is much faster than one global ``np.unique``.
    """
    B, W = keys.shape
    if W == 0 or B == 0:
        return np.zeros((B, W), dtype=np.uint64), 1
    order = np.argsort(keys, axis=1, kind="stable")
    sorted_keys = np.take_along_axis(keys, order, axis=1)
    new_group = np.zeros((B, W), dtype=np.uint64)
    new_group[:, 1:] = sorted_keys[:, 1:] != sorted_keys[:, :-1]
    group = np.cumsum(new_group, axis=1, dtype=np.uint64)
    ranks = np.empty_like(group)
    np.put_along_axis(ranks, order, group, axis=1)
    return ranks, int(group[:, -1].max()) + 1


def _keys(ids: np.ndarray, bits: int, n: int, memo: dict[int, np.ndarray]) -> np.ndarray:
    """Keys (``uint64[B, L - n + 1]``) of the n-grams of ``uint64`` ``ids``; may share memory."""
    if n in memo:
        return memo[n]
    L = ids.shape[1]
    width = L - n + 1
    if n * bits <= 64:
        out = ids[:, :width]
        if n > 1:
            out = out << np.uint64(bits * (n - 1))
            for j in range(1, n):
                shift = bits * (n - 1 - j)
                out |= (ids[:, j : j + width] << np.uint64(shift)) if shift else ids[:, j : j + width]
    else:
        a = n // 2
        b = n - a
        ra, na = _row_ranks(_keys(ids, bits, a, memo))
        if b == a:
            rb, nb = ra, na
        else:
            rb, nb = _row_ranks(_keys(ids, bits, b, memo))
        # Ranks are smaller than the row width, so a packed pair always fits in 64 bits.
        shift = max(1, (nb - 1).bit_length())
        out = (ra[:, :width] << np.uint64(shift)) | rb[:, a : a + width]
    memo[n] = out
    return out


def ngram_keys(batch: IdBatch, n: int) -> np.ndarray:
    """Exact keys of every n-gram start: a fresh ``uint32``/``uint64`` array ``[B, L - n + 1]``.

    Column ``j`` of row ``i`` identifies ``ids[i, j:j+n]`` within row ``i``; only columns
    ``j < lengths[i] - n + 1`` are real n-grams (the rest overlap the padding). Keys are
    comparable within a row only.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    B, L = batch.ids.shape
    width = L - n + 1
    if width <= 0 or B == 0:
        return np.zeros((B, max(width, 0)), dtype=np.uint64)
    item = batch.ids.dtype.itemsize
    if n * item <= 8 and not (n * item > 4 and n * batch.bits <= 32):
        # n consecutive ids are n*item contiguous bytes: read them as one (unaligned) word.
        word = 4 if n * item <= 4 else 8
        view = np.ndarray((B, width), dtype=f"<u{word}", buffer=batch._buf, offset=0,
                          strides=(batch._buf.strides[0], item))
        if n * item == word:
            return view.copy()
        return view & np.array((1 << (8 * n * item)) - 1, dtype=f"<u{word}")
    out = _keys(batch.ids.astype(np.uint64), batch.bits, n, {})[:, :width]
    if n * batch.bits <= 32:  # 32-bit keys sort about twice as fast
        return out.astype(np.uint32)
    return np.array(out, copy=True)


def distinct_per_row(keys: np.ndarray, counts: np.ndarray | None = None, *, inplace: bool = False) -> np.ndarray:
    """Number of distinct keys among the first ``counts[i]`` columns of each row (``int64[B]``).

    ``counts=None`` means every column counts. Works by one row-wise sort (in place when
    ``inplace``); invalid columns are set to the dtype's maximum so they sort last (a real key
    equal to it is harmless: equal values are indistinguishable after sorting).
    """
    B, W = keys.shape
    if W == 0:
        return np.zeros(B, dtype=np.int64)
    s = keys if inplace else keys.copy()
    if counts is not None:
        s[np.arange(W)[None, :] >= counts[:, None]] = np.iinfo(s.dtype).max
    s.sort(axis=1)
    change = s[:, 1:] != s[:, :-1]
    if counts is None:
        return change.sum(axis=1, dtype=np.int64) + 1
    change &= np.arange(W - 1)[None, :] < (counts - 1)[:, None]
    return change.sum(axis=1, dtype=np.int64) + (counts > 0)


def ngram_distinct_counts(batch: IdBatch, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(distinct, total)`` n-gram counts per row, both ``int64[B]``; ``total = max(len - n + 1, 0)``."""
    total = np.maximum(batch.lengths - n + 1, 0)
    keys = ngram_keys(batch, n)
    if keys.shape[1] == 0:
        return np.zeros(len(batch), dtype=np.int64), total
    distinct = distinct_per_row(keys, None if batch.uniform else total, inplace=True)
    return distinct, total


def left_align(batch: IdBatch) -> np.ndarray:
    """The ids moved so that every row *ends* at the last column (left padding with zeros).

    Periodicity is judged on the tail, so aligned tails turn a per-row search into column slices.
    """
    if batch.uniform:
        return batch.ids
    B, L = batch.ids.shape
    shift = L - batch.lengths  # how far each row moves right
    cols = np.arange(L)[None, :] - shift[:, None]
    out = np.take_along_axis(batch.ids, np.clip(cols, 0, max(L - 1, 0)), axis=1)
    out[cols < 0] = 0
    return out
