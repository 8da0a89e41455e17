"""Doom-loop detection: definition against a brute-force reference, metrics, labeled set."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lfmgym.rewards.doom_loop import (
    DoomLoopPenalty,
    LoopVerdict,
    detect_doom_loop,
    detect_doom_loop_text,
    detect_doom_loops,
    doom_loop_ratio,
)

DATA = Path(__file__).parent / "data" / "doom_loops"
FAST = settings(max_examples=60, deadline=None)


def brute_tail(seq, max_period, min_coverage, min_repeats, long_period=0):
    """The exact rule, literally: smallest p whose trailing lag-p run covers >= max(K, R*p), or
    two copies (2p) of a primitive block once p >= long_period."""
    for p in range(1, max_period + 1):
        run = 0
        for t in range(len(seq) - 1, p - 1, -1):
            if seq[t] != seq[t - p]:
                break
            run += 1
        covered = run + p
        need = max(min_coverage, min_repeats * p)
        unit = seq[len(seq) - p:]
        primitive = not any(p % d == 0 and unit == unit[d:] + unit[:d] for d in range(1, p))
        if long_period and p >= long_period and primitive:
            need = min(need, 2 * p)  # two copies of a block that is not itself a shorter repetition
        if run > 0 and covered <= len(seq) and covered >= need:
            return p, len(seq) - covered
    return None, None


def smallest_period(unit):
    for p in range(1, len(unit) + 1):
        if len(unit) % p == 0 and unit[:p] * (len(unit) // p) == unit:
            return p
    return len(unit)


@FAST
@given(seqs=st.lists(st.lists(st.integers(0, 2), max_size=40), min_size=1, max_size=8),
       max_period=st.integers(1, 10), min_coverage=st.integers(2, 12), min_repeats=st.integers(2, 4),
       long_period=st.integers(0, 6))
def test_vectorized_exact_rule_matches_brute_force(seqs, max_period, min_coverage, min_repeats, long_period):
    seqs = seqs + [[0] * 8, [1, 0] * 6]  # blocks that are shorter repetitions: never long loops
    verdicts = detect_doom_loops(seqs, None, max_period=max_period, min_coverage=min_coverage, min_repeats=min_repeats,
                                 long_period=long_period, tolerance=0.0, cut_units=0)
    for seq, v in zip(seqs, verdicts):
        assert (v.period, v.start) == brute_tail(seq, max_period, min_coverage, min_repeats, long_period)
        assert v.loop == (v.period is not None)


@FAST
@given(seqs=st.lists(st.lists(st.integers(0, 3), max_size=60), min_size=1, max_size=8))
def test_every_exact_loop_is_still_found_with_the_near_rules_on(seqs):
    """The cut and approximate rules only add loops: an exact verdict never disappears."""
    exact = detect_doom_loops(seqs, None, min_coverage=8, tolerance=0.0, cut_units=0, metrics=False)
    near = detect_doom_loops(seqs, None, min_coverage=8, metrics=False)
    for e, n in zip(exact, near):
        assert not e.loop or (n.loop and n.period == e.period)


@FAST
@given(unit=st.lists(st.integers(0, 1000), min_size=1, max_size=50), prefix=st.lists(st.integers(2000, 3000), max_size=100),
       cap=st.integers(300, 600))
def test_a_pure_loop_is_detected_with_its_period(unit, prefix, cap):
    seq = (prefix + unit * cap)[: len(prefix) + 3 * len(unit) + 64 + (cap % 50)]
    v = detect_doom_loop(seq, finished=False)
    assert v.loop and v.period == smallest_period(unit)
    assert v.start <= len(prefix)
    assert not detect_doom_loop(seq, finished=True).loop  # EOS seen: never a doom loop


@FAST
@given(n=st.integers(0, 2000))
def test_no_repetition_is_never_a_loop(n):
    v = detect_doom_loop(list(range(n)), finished=False)
    assert not v.loop and v.period is None
    assert all(x == 0.0 for x in v.seq_rep.values()) and all(x == 0.0 for x in v.rep_l.values())


def brute_metrics(seq):
    seq_rep = {}
    for n in (1, 2, 3, 4):
        grams = [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]
        seq_rep[n] = 1.0 - len(set(grams)) / len(grams) if grams else 0.0
    rep = {l: (sum(seq[t] in seq[max(0, t - l) : t] for t in range(len(seq))) / len(seq) if seq else 0.0) for l in (16, 32, 128)}
    return seq_rep, rep


@FAST
@given(seqs=st.lists(st.lists(st.integers(0, 5), max_size=150), min_size=1, max_size=6))
def test_seq_rep_and_rep_l_match_their_definitions(seqs):
    for seq, v in zip(seqs, detect_doom_loops(seqs, False)):
        seq_rep, rep = brute_metrics(seq)
        assert v.seq_rep == pytest.approx(seq_rep, abs=1e-12)
        assert v.rep_l == pytest.approx(rep, abs=1e-12)
        assert v.rep_l[16] <= v.rep_l[32] <= v.rep_l[128] <= 1.0


@pytest.mark.parametrize("alphabet", [5, 256, 3000, 70000])
def test_seq_rep_on_every_id_width_and_without_a_free_sentinel(alphabet):
    # 256: every one-byte id is used, so the one-sort path has no sentinel and falls back
    rng = np.random.default_rng(alphabet)
    seqs = [rng.integers(0, alphabet, int(rng.integers(0, 400))).tolist() for _ in range(6)]
    seqs.append(list(range(256)) * 2)
    for seq, v in zip(seqs, detect_doom_loops(seqs, False)):
        seq_rep, _ = brute_metrics(seq)
        assert v.seq_rep == pytest.approx(seq_rep, abs=1e-12)


def test_batch_equals_one_at_a_time_with_ragged_lengths():
    rng = np.random.default_rng(3)
    seqs = [rng.integers(0, 4, int(rng.integers(0, 300))).tolist() for _ in range(20)]
    seqs += [[9] * 200, [1, 2, 3] * 70, []]
    flags = [None, True, False] * 7 + [False, None]
    batch = detect_doom_loops(seqs, flags)
    assert batch == [detect_doom_loop(s, f) for s, f in zip(seqs, flags)]


@FAST
@given(text=st.text(max_size=300), finished=st.sampled_from([None, True, False]))
def test_any_text_gives_a_verdict(text, finished):
    for unit in ("word", "char"):
        v = detect_doom_loop_text(text, finished, unit=unit)
        assert isinstance(v, LoopVerdict) and isinstance(v.loop, bool)
        assert 0.0 <= v.seq_rep[4] <= 1.0


def test_text_helper_uses_a_tokenizer_when_given():
    class Chars:  # anything with encode(text, add_special_tokens=False)
        def encode(self, text, add_special_tokens=False):
            return [ord(c) for c in text]

    assert detect_doom_loop_text("ab" * 100, False, tokenizer=Chars()).period == 2
    assert detect_doom_loop_text("ab " * 100, False).period == 1  # words: "ab" repeated


def test_doom_loop_ratio_accepts_verdicts_dicts_bools_and_raw_completions():
    loop, normal = [5] * 100, list(range(100))
    verdicts = detect_doom_loops([loop, normal], False)
    assert doom_loop_ratio(verdicts) == 0.5
    assert doom_loop_ratio([v.to_dict() for v in verdicts]) == 0.5
    assert doom_loop_ratio([True, False, False, False]) == 0.25
    assert doom_loop_ratio([loop, normal, loop], finished=False) == pytest.approx(2 / 3)
    assert doom_loop_ratio([loop], finished=True) == 0.0
    assert doom_loop_ratio([]) == 0.0
    with pytest.raises(TypeError, match="mix"):
        doom_loop_ratio([True, loop])


def test_verdict_dict_and_penalty_callable():
    d = detect_doom_loop([1, 2] * 50, None).to_dict()
    assert d["loop"] and d["period"] == 2 and d["start"] == 0 and "seq_rep_4" in d and "rep_128" in d
    penalty = DoomLoopPenalty(-0.5)
    assert penalty("", completion_ids=[3] * 100, finished=False) == -0.5
    assert penalty("word " * 100) == -0.5
    assert penalty("a normal answer. The answer is 4.", finished=True) == 0.0
    with pytest.raises(ValueError, match="min_repeats"):
        detect_doom_loop([1, 2], min_repeats=1)


def load_labeled():
    rows = [json.loads(l) for l in (DATA / "generated.jsonl").read_text().splitlines()]
    hand = [json.loads(l) for l in (DATA / "handwritten.jsonl").read_text(encoding="utf-8").splitlines()]
    return rows, hand


DIGITS = {i: str(i) for i in range(10)}  # generated.jsonl's convention: ids 0-9 are the digits


def test_labeled_token_set_every_category():
    rows, hand = load_labeled()
    verdicts = detect_doom_loops([r["token_ids"] for r in rows], [r["finished"] for r in rows], metrics=False,
                                 digits=DIGITS)
    for r, v in zip(rows, verdicts):
        assert v.loop == r["label"], r["id"]
        if r["label"] and r["period"] is not None and r["kind"] != "noisy_loop":
            assert v.period == r["period"], r["id"]
    assert {v.kind for r, v in zip(rows, verdicts) if r["kind"] == "step_counter"} == {"counter"}
    assert {v.kind for r, v in zip(rows, verdicts) if r["kind"] == "noisy_loop"} <= {"approximate", "long", "periodic"}
    periods = {r["period"] for r in rows if r["kind"] == "loop"}
    assert periods == set(range(1, 51))
    for h in hand:
        v = detect_doom_loop(h["text"], h["finished"], unit=h["unit"], metrics=False)
        assert v.loop == h["label"], h["id"]
        assert detect_doom_loop(h["text"], h["finished"], metrics=False).loop == h["label"], h["id"]


def test_counters_need_digits_on_ids():
    rows, _ = load_labeled()
    steps = [r for r in rows if r["kind"] == "step_counter"]
    assert not any(v.loop for v in detect_doom_loops([r["token_ids"] for r in steps], False, metrics=False))


def text_split(split):
    return [r for r in (json.loads(l) for l in (DATA / "texts.jsonl").read_text(encoding="utf-8").splitlines())
            if r["split"] == split]


@pytest.mark.parametrize("split", ["dev", "test"])
def test_text_set_gates(split):
    """The issue's gates on each split: core precision and recall >= 0.95, counters >= 0.8, and
    no list, table, agenda, CSV or code flagged."""
    rows = text_split(split)
    verdicts = detect_doom_loops([r["text"] for r in rows], [r["finished"] for r in rows], metrics=False)
    core = [(r, v) for r, v in zip(rows, verdicts) if r["kind"] != "counter"]
    tp = sum(v.loop and r["label"] for r, v in core)
    fp = sum(v.loop and not r["label"] for r, v in core)
    fn = sum(not v.loop and r["label"] for r, v in core)
    assert tp / (tp + fp) >= 0.95 and tp / (tp + fn) >= 0.95, (tp, fp, fn)
    counters = [v.loop for r, v in zip(rows, verdicts) if r["kind"] == "counter"]
    assert sum(counters) / len(counters) >= 0.8
    lists = {"mult_table", "agenda", "csv", "code", "enumeration", "counting", "template_list", "fibonacci", "squares",
             "html_table", "log_lines", "matrix"}
    assert not [r["id"] for r, v in zip(rows, verdicts) if r["kind"] in lists and v.loop]


@pytest.mark.parametrize("text, kind", [
    ("Let me check. " + "Wait, let me recheck the sum of the two values. " * 9 + "Wait, let me rech", "cut"),
    ("The value is 0." + "3" * 90, "digits"),
    ("x = " + "12" * 45, "digits"),
    ("Answer:" + "\n" * 100, "short"),
    ("lol " + "😂" * 80, "short"),
    ("I think " + "the " * 70, "short"),
    ("Plan: " + " ".join(f"Step {k}: check again." for k in range(17, 60)) + " Step 60: che", "counter"),
    ("".join(f'{{"id": "call_{k}", "name": "search", "arguments": {{"q": "weather"}}}}\n' for k in range(19, 40)), "counter"),
    ("Intro. " + " ".join(f"w{i}" for i in range(40)) + " " + " ".join(f"w{i}" for i in range(40)) + " w0 w1", "long"),
])
def test_loops_models_make_have_their_kind(text, kind):
    v = detect_doom_loop(text, False, metrics=False)
    assert v.loop and v.kind == kind, v
    assert not detect_doom_loop(text, True, metrics=False).loop


@pytest.mark.parametrize("text", [
    "\n".join(f"7 x {k} = {7 * k}" for k in range(1, 80)),
    ", ".join(str(k) for k in range(1, 300)),
    "".join(f"- {d} {k} Mar: standup\n" for k, d in zip(range(1, 90), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] * 13)),
    "".join(f"2024-03-{k % 28 + 1:02d},item{k % 7},{k * 37 % 50},{k * 13 % 999}.5\n" for k in range(120)),
    "".join(f"The capital of {c} is {p}. " for c, p in [("France", "Paris"), ("Spain", "Madrid"), ("Italy", "Rome"),
                                                        ("Peru", "Lima"), ("Chile", "Santiago"), ("Japan", "Tokyo"),
                                                        ("Egypt", "Cairo"), ("Kenya", "Nairobi"), ("Cuba", "Havana"),
                                                        ("Norway", "Oslo"), ("Greece", "Athens"), ("Nepal", "Kathmandu")]),
    "".join(f"{k}. Buy {w}\n" for k, w in enumerate(["milk", "eggs", "rice", "tea", "salt", "oats"] * 12, start=1)),
])
def test_lists_with_varying_values_are_not_loops(text):
    assert not detect_doom_loop(text, False, metrics=False).loop


def test_sampled_loop_tolerance_is_bounded():
    rng = np.random.default_rng(0)
    unit = list(rng.integers(100, 30000, 20))
    clean = list(rng.integers(100, 30000, 60)) + unit * 15
    for every, expect in ((40, True), (3, False)):  # a slip every other copy vs one in every 3 units
        seq = list(clean)
        for pos in range(70, len(seq) - every, every):
            seq[pos + int(rng.integers(0, every))] = int(rng.integers(30000, 40000))
        assert detect_doom_loop(seq, False, metrics=False).loop is expect
    slot = [u if i != 5 else None for i, u in enumerate(unit)]  # one place varies in every copy: a list
    listing = list(rng.integers(100, 30000, 60))
    for k in range(15):
        listing += [30000 + k if u is None else u for u in slot]
    assert not detect_doom_loop(listing, False, metrics=False).loop


def test_token_counter_with_a_digit_map():
    step = [50, 51]  # "Step", " "
    body = [60, 61, 62, 63, 64]
    seq = [70, 71, 72]
    for k in range(8, 40):
        seq += step + [int(c) for c in str(k)] + [52] + body
    assert detect_doom_loop(seq, False, digits=DIGITS, metrics=False).kind == "counter"
    assert not detect_doom_loop(seq, False, metrics=False).loop


def test_text_batches_equal_one_at_a_time():
    rows = text_split("dev")[::7]
    batch = detect_doom_loops([r["text"] for r in rows], [r["finished"] for r in rows], metrics=False)
    assert batch == [detect_doom_loop(r["text"], r["finished"], metrics=False) for r in rows]
