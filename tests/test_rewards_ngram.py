"""N-gram repetition penalties: TRL equivalence, bounds, dense variant, input handling."""

import pickle

import numpy as np
import pytest
import trl.rewards as trl_rewards
from hypothesis import given, settings
from hypothesis import strategies as st

from lfmgym.rewards.ngram import (
    NgramRepetitionPenalty,
    batch_ngram_penalty,
    dense_ngram_penalty,
    ngram_repetition_penalty,
)

ids_lists = st.lists(st.lists(st.integers(0, 6), max_size=40), min_size=1, max_size=12)
FAST = settings(max_examples=60, deadline=None)


def trl_penalty(seqs, n, max_penalty=-1.0):
    return trl_rewards.get_repetition_penalty_reward(ngram_size=n, max_penalty=max_penalty)(seqs)


@FAST
@given(seqs=ids_lists, n=st.integers(1, 6), max_penalty=st.floats(-5.0, 0.0))
def test_identical_to_trl_and_bounded(seqs, n, max_penalty):
    ours = batch_ngram_penalty(seqs, n=n, max_penalty=max_penalty)
    assert ours == trl_penalty(seqs, n, max_penalty)
    assert all(max_penalty <= v <= 0.0 for v in ours)


@FAST
@given(seqs=st.lists(st.lists(st.integers(-(2**62), 2**62), max_size=20), min_size=1, max_size=5), n=st.integers(1, 12))
def test_identical_to_trl_for_any_int_range_and_long_ngrams(seqs, n):
    # negative and huge ids take the rank path; n * bits > 64 takes the doubling path
    assert batch_ngram_penalty(seqs, n=n) == trl_penalty(seqs, n)


@FAST
@given(n=st.integers(1, 8), length=st.integers(0, 300))
def test_no_repetition_is_zero(n, length):
    assert ngram_repetition_penalty(list(range(length)), n=n) == 0.0


def test_pure_loop_approaches_max_penalty_and_trl_doc_example():
    assert batch_ngram_penalty([[1, 2, 3, 4], [5, 5, 5, 5, 5]], n=2) == [0.0, -0.75]
    assert ngram_repetition_penalty([7] * 1000, n=3, max_penalty=-2.0) == pytest.approx(-2.0 * (1 - 1 / 998))


def test_array_tensor_and_list_inputs_agree():
    import torch
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 50, size=(8, 64))
    arr[3, 20:] = np.tile(arr[3, :4], 11)
    expected = trl_penalty(arr.tolist(), 3)
    assert batch_ngram_penalty(arr, n=3) == expected
    assert batch_ngram_penalty(torch.tensor(arr), n=3) == expected
    assert batch_ngram_penalty([torch.tensor(r) for r in arr], n=3) == expected
    assert batch_ngram_penalty([r.astype(np.int32) for r in arr], n=3) == expected


@FAST
@given(text=st.text(max_size=200), n=st.integers(1, 5))
def test_any_string_gives_a_bounded_number(text, n):
    for unit in ("word", "char"):
        v = ngram_repetition_penalty(text, n=n, unit=unit)
        assert isinstance(v, float) and -1.0 <= v <= 0.0


def test_word_unit_is_open_r1_lowercased_words():
    # 6 words, 4 trigrams, 3 unique ("a b c" twice after lower-casing)
    assert ngram_repetition_penalty("A b c a B c", n=3) == pytest.approx(-(1 - 3 / 4))
    assert ngram_repetition_penalty("abcabc", n=3, unit="char") == pytest.approx(-(1 - 3 / 4))


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="max_penalty"):
        ngram_repetition_penalty([1, 2], max_penalty=0.5)
    with pytest.raises(ValueError, match="n must be"):
        ngram_repetition_penalty([1, 2], n=0)
    with pytest.raises(ValueError, match="unit='token'"):
        ngram_repetition_penalty("text", unit="token")
    with pytest.raises(TypeError, match="sequence 1"):
        batch_ngram_penalty([[1, 2], [1.5, 2.0]], n=2)


def brute_dense(ids, n, penalty):
    out = [0.0] * len(ids)
    seen = set()
    for i in range(len(ids) - n + 1):
        gram = tuple(ids[i : i + n])
        if gram in seen:
            for j in range(i, i + n):
                out[j] = penalty
        seen.add(gram)
    return out


@FAST
@given(ids=st.lists(st.integers(0, 3), max_size=80), n=st.integers(1, 6))
def test_dense_penalty_matches_definition(ids, n):
    got = dense_ngram_penalty(ids, n=n, penalty=-0.05)
    assert got.tolist() == brute_dense(ids, n, -0.05)


def test_dense_penalty_long_ngrams_and_first_occurrence():
    rng = np.random.default_rng(1)
    block = rng.integers(0, 65536, 50).tolist()
    ids = rng.integers(0, 65536, 30).tolist() + block + rng.integers(0, 65536, 10).tolist() + block
    dense = dense_ngram_penalty(ids, n=40, penalty=-0.05)
    assert dense[:90].tolist() == [0.0] * 90  # first occurrences are free
    assert dense[90:].tolist() == [-0.05] * 50
    assert dense.tolist() == brute_dense(ids, 40, -0.05)


def test_reward_callable_is_picklable_and_uses_ids_or_text():
    fn = pickle.loads(pickle.dumps(NgramRepetitionPenalty(n=2, max_penalty=-1.0)))
    assert fn("a b a b", completion_ids=[1, 2, 3, 4]) == 0.0
    assert fn("a b a b") == pytest.approx(-(1 - 2 / 3))
    assert fn(None) == 0.0
