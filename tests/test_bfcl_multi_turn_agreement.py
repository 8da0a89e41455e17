"""The perturbation generator of the BFCL multi-turn agreement benchmark and lfmgym's side of it.

The official checker is not needed (``benchmarks/bench_bfcl_multi_turn_agreement.py`` runs it);
these tests check that the generated predictions are what they claim to be, that lfmgym's checker
judges them as BFCL's rules say, and the two BFCL behaviours the benchmark found lfmgym missing.
"""

from __future__ import annotations

import random

import pytest

from lfmgym.envs.bfcl_multi_turn.bfcl_data import load_entries
from lfmgym.envs.bfcl_multi_turn.checker import check_entry
from lfmgym.envs.bfcl_multi_turn.session import Call, Session
from lfmgym.eval.bfcl_multi_turn import decode_step
from lfmgym.eval.bfcl_multi_turn_agreement import (
    FORMATS,
    KINDS,
    Prediction,
    agreement_table,
    as_result,
    build_predictions,
    lfmgym_verdicts,
    perturb,
)


@pytest.fixture(scope="module")
def base():
    return {e["id"]: e for e in load_entries("multi_turn_base")[:12]}


def _calls(result):
    return [[c.name for step in turn for c in decode_step(step) or []] for turn in result]


def test_predictions_are_seeded_and_cover_every_kind_and_format(base):
    rows = build_predictions(base.values(), seed=3)
    assert [r.to_dict() for r in rows] == [r.to_dict() for r in build_predictions(base.values(), seed=3)]
    assert [r.to_dict() for r in rows] != [r.to_dict() for r in build_predictions(base.values(), seed=4)]
    assert {r.kind for r in rows} == set(KINDS)
    assert {r.format for r in rows} == set(FORMATS)
    gold = [r for r in rows if r.kind == "gold"]
    assert len(gold) == len(base) * len(FORMATS)
    assert all(r.target and all("." in t and not t.startswith("?") for t in r.target) for r in rows)


def test_every_format_carries_the_same_calls(base):
    entry = next(iter(base.values()))
    names = [[Call.of(c).name for c in turn] for turn in entry["ground_truth"]]
    for fmt in FORMATS:
        assert _calls(as_result(entry["ground_truth"], fmt)) == names
    with pytest.raises(ValueError, match="step format"):
        as_result(entry["ground_truth"], "yaml")


def test_each_kind_does_the_damage_it_names(base):
    rng = random.Random(0)
    for entry in base.values():
        gt = entry["ground_truth"]
        n = sum(map(len, gt))
        dropped, _ = perturb(entry, "drop", rng)
        assert sum(map(len, dropped)) == n - 1
        for kind in ("dup", "extra"):
            grown, target = perturb(entry, kind, rng)
            assert sum(map(len, grown)) == n + 1 and len(target) == 1
        wrong, target = perturb(entry, "wrong_function", rng)
        assert len(target) == 2 and target[0] != target[1]
        assert sorted(c for t in wrong for c in t) != sorted(c for t in gt for c in t)
        for kind in ("arg", "arg_type"):
            made = perturb(entry, kind, rng)
            if made is not None:  # None: the chosen call has no argument
                assert made[0] != gt and sum(map(len, made[0])) == n
        swapped = perturb(entry, "swap", rng)
        if swapped is not None:
            assert swapped[0] != gt and sorted(map(tuple, swapped[0])) == sorted(map(tuple, gt))
    with pytest.raises(ValueError, match="unknown perturbation kind"):
        perturb(next(iter(base.values())), "shuffle", rng)


def test_lfmgym_verdicts_follow_bfcl_rules(base):
    rows = build_predictions(base.values(), seed=0)
    verdicts = lfmgym_verdicts(rows, base)
    by_kind = {}
    for row, v in zip(rows, verdicts):
        by_kind.setdefault((row.kind, row.format), []).append(v.valid)
    # Decoded call strings run as they are: the gold passes. BFCL's text decoder keeps keyword
    # arguments only, so a gold with a positional argument fails in text form, in BFCL too.
    assert all(by_kind["gold", "decoded"]) and all(by_kind["gold", "split"])
    positional = [e["id"] for e in base.values() if any(Call.of(c).args for t in e["ground_truth"] for c in t)]
    text = {r.id: v.valid for r, v in zip(rows, verdicts) if r.kind == "gold" and r.format == "text"}
    assert [i for i, ok in text.items() if not ok] == positional
    for kind in ("drop", "swap", "wrong_function"):
        failed = [not ok for (k, _), oks in by_kind.items() if k == kind for ok in oks]
        assert sum(failed) >= 0.9 * len(failed), kind


def test_agreement_table_groups_differences_by_function():
    rows = [Prediction("multi_turn_base_0", "gold", "decoded", [], ["GorillaFileSystem.cd"]),
            Prediction("multi_turn_base_1", "drop", "text", [], ["GorillaFileSystem.rm"]),
            Prediction("multi_turn_long_context_2", "arg", "split", [], ["TwitterAPI.post_tweet"])]
    table = agreement_table(rows, [True, True, False], [True, False, False])
    assert table["overall"] == {"n": 3, "agree": 2, "agreement": 2 / 3}
    assert table["kind"]["drop"]["agreement"] == 0.0 and table["category"]["multi_turn_long_context"]["agree"] == 1
    assert table["api"]["GorillaFileSystem"] == {"n": 2, "agree": 1, "agreement": 0.5}
    assert table["differences"] == {"GorillaFileSystem.rm": {"n": 1, "ours_valid": 1, "official_valid": 0,
                                                             "ids": ["multi_turn_base_1:drop:text"]}}
    with pytest.raises(ValueError, match="same length"):
        agreement_table(rows, [True], [True])


def test_long_context_ground_truth_removes_bfcls_padding_files():
    # The benchmark's finding: this entry's ground truth rm's the padding images by name, then the
    # emptied folder; with other filler the rm calls failed and a dropped rm went unnoticed.
    entry = {e["id"]: e for e in load_entries("multi_turn_long_context")}["multi_turn_long_context_38"]
    session = Session(entry["involved_classes"], entry["initial_config"], long_context=True)
    results = session.execute(entry["ground_truth"][0])
    assert not [r for r in results if "error" in r]
    dropped = [entry["ground_truth"][0][:5] + entry["ground_truth"][0][6:], entry["ground_truth"][1]]
    verdict = check_entry([[t] for t in dropped], entry["ground_truth"], entry["involved_classes"],
                          entry["initial_config"], long_context=True)
    assert verdict.error_type == "multi_turn:instance_state_mismatch"


def test_logarithm_is_shown_at_the_calls_precision_like_bfcl():
    import mpmath

    dps = mpmath.mp.dps
    session = Session(["MathAPI"], {}, False)
    assert session.execute(["logarithm(value=20, base=10, precision=2)"]) == ["{'result': mpf('1.3027')}"]
    assert mpmath.mp.dps == dps  # the global precision is left alone
