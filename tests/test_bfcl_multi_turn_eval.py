"""lfmgym.eval.bfcl_multi_turn: BFCL result files, playing entries, the summary's weighting."""

from __future__ import annotations

import json

import pytest

from lfmgym.envs.bfcl_multi_turn.bfcl_data import load_entries
from lfmgym.eval import bfcl_multi_turn as mt


def _keywords(call: str):
    """A ground-truth call as a model writes it (``sort('a')`` -> ``sort(file_name='a')``)."""
    from lfmgym.envs.bfcl_multi_turn.apis import SUITES
    from lfmgym.envs.bfcl_multi_turn.env import keyword_call
    from lfmgym.envs.bfcl_multi_turn.session import Session

    return keyword_call(call, Session(list(SUITES)))


def _fc(call: str) -> dict:
    tc = _keywords(call)
    return {tc.name: json.dumps(tc.arguments)}


def _raw(calls: list[str]) -> str:
    from lfmgym.envs.bfcl_multi_turn.session import render_call

    return "[" + ", ".join(render_call(_keywords(c)) for c in calls) + "]"


def test_result_files_in_every_step_format_score_like_the_ground_truth(tmp_path):
    entries = load_entries("multi_turn_miss_param")[:6] + load_entries("multi_turn_long_context")[:3]
    rows = []
    for k, e in enumerate(entries):
        style = k % 3
        turns = []
        for gold in e["ground_truth"]:
            if style == 0:
                turns.append([gold] if gold else [])  # decoded call strings
            elif style == 1:
                turns.append([[_fc(c)] for c in gold] + ["Which file do you mean?"])  # function calling + text
            else:
                turns.append([_raw(gold)] if gold else ["I need the file name."])  # raw text
        rows.append({"id": e["id"], "result": turns})
    path = tmp_path / "BFCL_v4_multi_turn_result.json"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    results = mt.load_predictions(tmp_path)
    verdicts = mt.score_results(results, ["multi_turn_miss_param", "multi_turn_long_context"], limit=6)
    by_id = {v.id: v for v in verdicts}
    assert all(by_id[e["id"]].valid for e in entries)
    missing = [v for v in verdicts if v.id not in results]
    assert missing and all(v.error_type == "multi_turn:missing_result" for v in missing)


def test_a_call_in_the_turn_that_lacks_a_parameter_fails_later():
    entry = load_entries("multi_turn_miss_param")[0]
    turns = [[g] if g else [] for g in entry["ground_truth"]]
    gap = [i for i, g in enumerate(entry["ground_truth"]) if not g][0]
    turns[gap] = [["cd(folder='..')", "mv(source='report_final.pdf', destination='temp')"]]
    (v,) = mt.score_results({entry["id"]: turns}, ["multi_turn_miss_param"], limit=1)
    assert not v.valid and v.failed_turn == gap + 1 and v.error_type == "multi_turn:instance_state_mismatch"


def test_malformed_files_name_the_line(tmp_path):
    bad = tmp_path / "r.jsonl"
    bad.write_text('{"id": "multi_turn_base_0", "result": []}\n{oops\n')
    with pytest.raises(ValueError, match="r.jsonl:2"):
        mt.load_predictions(bad)
    bad.write_text('{"id": "multi_turn_base_0"}\n')
    with pytest.raises(ValueError, match="missing field 'result'"):
        mt.load_predictions(bad)
    with pytest.raises(FileNotFoundError):
        mt.load_predictions(tmp_path / "nope.json")
    (v,) = mt.score_results({"multi_turn_base_0": "not turns"}, ["multi_turn_base"], limit=1)
    assert v.error_type == "multi_turn:inference_error"


def test_raw_text_decodes_like_bfcl_and_decoded_strings_run_like_bfcl():
    # Raw model text: keyword arguments only (BFCL's decoder drops positional ones).
    assert [c.kwargs for c in mt.decode_step("[sort('a.txt'), cd(folder='x')]")] == [{}, {"folder": "x"}]
    assert mt.decode_step("I cannot do that.") is None
    assert mt.decode_step("<|tool_call_start|>[ls(a=True)]<|tool_call_end|>")[0].kwargs == {"a": True}
    assert mt.decode_step("```\n[cd(folder=docs)]\n```")[0].kwargs == {"folder": "docs"}  # a bare name is text
    (edit,) = mt.decode_step("[edit_ticket(ticket_id=1, updates={'priority': 3})]")
    assert edit.kwargs["updates"] == {"priority": 3}
    (nested,) = mt.decode_step("[cat(file_name=echo(content='a.txt'))]")  # BFCL runs a nested call
    assert nested.kwargs["file_name"].name == "echo"
    # Decoded call strings: positional arguments bind by position, as BFCL's eval does.
    assert mt.decode_step(["sort('a.txt')"])[0].args == ("a.txt",)
    assert mt.decode_step([{"cd": '{"folder": "x"}'}])[0].kwargs == {"folder": "x"}


def test_categories_and_summary_weighting():
    from lfmgym.eval.bfcl import summarize as single_turn_summary

    assert mt.split_categories(["simple_python", "multi_turn_*"]) == (list(mt.CATEGORIES), ["simple_python"])
    with pytest.raises(ValueError, match="not a multi-turn category"):
        mt.split_categories(["multi_turn_composite"])
    verdicts = [mt.MultiTurnVerdict(f"multi_turn_base_{i}", "multi_turn_base", i < 3, turn_accuracy=1.0 if i < 3 else 0.5)
                for i in range(4)]
    summary = mt.summarize(verdicts)
    assert summary["categories"]["multi_turn_base"]["accuracy"] == 0.75
    assert summary["categories"]["multi_turn_base"]["turn_accuracy"] == pytest.approx(0.875)
    assert summary["multi_turn"] == pytest.approx(0.75 / 4) and not summary["complete"]
    merged = mt.add_to_summary(single_turn_summary([]), verdicts)
    assert merged["groups"]["multi_turn"] == pytest.approx(0.75 / 4)
    assert merged["overall"] == pytest.approx(0.3 * 0.75 / 4)


def test_play_runs_entries_through_the_engine_and_round_trips(tmp_path):
    from lfmgym.rollout import OraclePolicy, RandomPolicy

    from lfmgym.envs.bfcl_multi_turn.env import BfclMultiTurnEnv

    cats = ["multi_turn_base", "multi_turn_miss_func"]
    results, verdicts = mt.play(OraclePolicy(BfclMultiTurnEnv()), cats, limit=2)
    assert len(verdicts) == 4 and all(v.valid for v in verdicts)
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(json.dumps({"id": k, "result": v}) for k, v in results.items()))
    again = mt.score_results(mt.load_predictions(path), cats, limit=2)
    assert [v.valid for v in again] == [True] * 4
    _, junk = mt.play(RandomPolicy(0), cats, limit=2)
    assert not any(v.valid for v in junk)


def test_agreement_with_official_score_files(tmp_path):
    entries = load_entries("multi_turn_base")[:4]
    results = {e["id"]: [[g] if g else [] for g in e["ground_truth"]] for e in entries}
    results[entries[1]["id"]] = [[] for _ in entries[1]["ground_truth"]]  # does nothing: fails
    verdicts = mt.score_results(results, ["multi_turn_base"], limit=4)
    # BFCL's score file: a header, then the failed entries only. Say it failed entries 1 and 2.
    rows = [{"accuracy": 0.5, "correct_count": 2, "total_count": 4}] + [
        {"id": entries[i]["id"], "valid": False, "error": {}} for i in (1, 2)]
    score = tmp_path / "BFCL_v4_multi_turn_base_score.json"
    score.write_text("\n".join(json.dumps(r) for r in rows))
    official = mt.load_official_verdicts(tmp_path, results)
    assert official == {e["id"]: i not in (1, 2) for i, e in enumerate(entries)}
    report = mt.compare_with_official(verdicts, official, results)
    assert report["n"] == 4 and report["agreement"] == 0.75
    (diff,) = report["differences"]
    assert diff["id"] == entries[2]["id"] and diff["ours"] and not diff["official"]
    assert all(f.split(".")[0] in entries[2]["involved_classes"] for f in diff["functions"])
    assert sum(report["by_function"].values()) == len(diff["functions"])


def test_eval_bfcl_cli_scores_multi_turn_results_with_the_leaderboard_weight(tmp_path):
    from lfmgym.cli import main

    chosen = mt.select("multi_turn_base", 3, 0)
    rows = [{"id": e["id"], "result": [[g] if g else [] for g in e["ground_truth"]]} for e in chosen]
    rows[0]["result"] = [[] for _ in rows[0]["result"]]  # one entry does nothing
    preds = tmp_path / "BFCL_v4_multi_turn_base_result.json"
    preds.write_text("\n".join(json.dumps(r) for r in rows))
    out = tmp_path / "out"
    assert main(["eval", "bfcl", "--predictions", str(tmp_path), "--categories", "multi_turn_base", "--limit", "3",
                 "--out", str(out), "--no-progress"]) == 0
    run = json.loads((out / "summary.json").read_text())
    summary = run["summary"]
    assert summary["categories"]["multi_turn_base"]["accuracy"] == pytest.approx(2 / 3)
    assert summary["groups"]["multi_turn"] == pytest.approx(2 / 3 / 4)  # the other three categories count 0
    assert summary["overall"] == pytest.approx(0.3 * 2 / 3 / 4)
    lines = [json.loads(line) for line in (out / "verdicts.jsonl").read_text().splitlines()]
    assert sorted(v["id"] for v in lines) == sorted(e["id"] for e in chosen)
