"""BFCL eval: gold answers score 100%, verdicts agree with the official checker, prompts match BFCL's.

The agreement set (``tests/data/bfcl_agreement/agreement.jsonl.gz``) holds perturbed predictions
over the shared BFCL data with the verdicts of the official ``bfcl-eval`` checker (see ``build.py``
there for how it was made). Measured agreement: 19,859 / 19,932 = 99.63 %. Every disagreement is
a prediction the official checker rejects although it is correct, from two known defects of the
official checker (listed in ``OFFICIAL_DEFECTS``):

* Java values it cannot read: the tree-sitter traversal drops the ``{{ put(...); }}`` body of a
  ``new HashMap<>() {{ ... }}``, keeps the quotes of ``String`` array elements, and reads untyped
  ``ArrayList`` items as their source text (``"42"`` for 42);
* parallel calls paired greedily: a valid permutation can be rejected (parallel_178).
"""

from __future__ import annotations

import gzip
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from lfmgym.eval.bfcl import (
    CATEGORIES,
    BFCLEntry,
    Verdict,
    bfcl_messages,
    decode_output,
    generate_predictions,
    load_bfcl,
    load_predictions,
    score_output,
    score_predictions,
    summarize,
)
from lfmgym.toolcalls import ToolCall, render_tool_calls

HERE = Path(__file__).resolve().parent
AGREEMENT = HERE / "data" / "bfcl_agreement"
BFCL = Path(__file__).resolve().parents[2] / "shared" / "data" / "bfcl"
sys.path.insert(0, str(AGREEMENT))
from render import gold_calls, render_gold  # noqa: E402

MIN_AGREEMENT = 0.99
MEASURED_AGREEMENT = 0.9963
OFFICIAL_DEFECTS = {
    "simple_java_1", "simple_java_35", "simple_java_36", "simple_java_65", "simple_java_67", "simple_java_68",
    "simple_java_78", "simple_java_83", "simple_java_85", "simple_java_86", "simple_java_89", "simple_java_90",
    "simple_java_91", "parallel_178",
}

pytestmark = pytest.mark.skipif(not BFCL.is_dir(), reason=f"shared BFCL data not found at {BFCL}")


@pytest.fixture(scope="module")
def entries() -> dict[str, BFCLEntry]:
    return {e.id: e for e in load_bfcl(BFCL)}


def _gold_text(e: BFCLEntry) -> str:
    if e.category == "irrelevance":
        return "None of these functions can answer the question."
    return render_gold({"function": e.functions}, e.ground_truth, e.category)


def test_loads_every_category(entries):
    counts = Counter(e.category for e in entries.values())
    assert set(counts) == set(CATEGORIES)
    assert counts["simple_python"] == 400 and counts["multiple"] == 200 and counts["irrelevance"] == 240


def test_gold_scores_100_percent_in_every_category(entries):
    verdicts = score_predictions(list(entries.values()), {i: _gold_text(e) for i, e in entries.items()})
    bad = [v for v in verdicts if not v.valid]
    assert not bad, bad[:5]
    summary = summarize(verdicts)
    assert all(row["accuracy"] == 1.0 for row in summary["categories"].values())
    assert summary["overall"] == 1.0 and summary["complete"] and summary["irrelevance"] == 1.0


def test_gold_in_lfm2_and_json_wrappers_scores_100_percent(entries):
    python_entries = [e for e in entries.values() if e.language == "python" and e.category != "irrelevance"]
    for e in python_entries:
        calls = [ToolCall(n, a) for n, a in gold_calls(e.ground_truth, {"function": e.functions})]
        lfm2 = render_tool_calls(calls, "pythonic", content="Sure.")
        as_json = render_tool_calls(calls, "json")
        assert score_output(e, lfm2).valid, (e.id, lfm2)
        assert score_output(e, as_json).valid, (e.id, as_json)
    java = [e for e in entries.values() if e.language != "python"]
    for e in java:  # Java / JavaScript source inside the LFM2 wrapper
        assert score_output(e, "<|tool_call_start|>" + _gold_text(e) + "<|tool_call_end|>").valid == \
            score_output(e, _gold_text(e)).valid


def test_agreement_with_the_official_checker(entries):
    rows = [json.loads(line) for line in gzip.open(AGREEMENT / "agreement.jsonl.gz", "rt", encoding="utf-8")]
    assert len(rows) > 19_000
    kinds = {r["kind"] for r in rows}
    for needed in ("gold", "wrong_value", "missing_param", "extra_param", "wrong_function", "reordered",
                   "type_variant", "spelling_upper", "spelling_typo", "dropped_call", "refusal"):
        assert needed in kinds
    assert Counter(r["official_valid"] for r in rows)[False] > 5_000  # the set is not all-valid
    disagreements = []
    for r in rows:
        ours = score_output(entries[r["id"]], r["prediction"])
        if ours.valid != r["official_valid"]:
            disagreements.append((r["id"], r["kind"], r["official_valid"], ours.error))
    rate = 1 - len(disagreements) / len(rows)
    assert rate >= MIN_AGREEMENT
    assert rate == pytest.approx(MEASURED_AGREEMENT, abs=5e-4)
    # Only the official checker's known defects, where it rejects a correct prediction.
    assert {d[0] for d in disagreements} <= OFFICIAL_DEFECTS, disagreements[:5]
    assert all(d[2] is False for d in disagreements)


def test_system_prompt_matches_bfcl(entries):
    rows = [json.loads(line) for line in open(AGREEMENT / "prompts.jsonl", encoding="utf-8")]
    assert {entries[r["id"]].category for r in rows} == set(CATEGORIES)
    for r in rows:
        assert bfcl_messages(entries[r["id"]]) == r["messages"], r["id"]


# --------------------------------------------------------------------------- decoding


def test_decode_bfcl_python_like_bfcl():
    calls, err = decode_output("```\n[math.factorial(number=5), f(city=Paris, n=2*3, xs=(1, 2))]\n```")
    assert err is None
    assert calls == [ToolCall("math.factorial", {"number": 5}),
                     ToolCall("f", {"city": "Paris", "n": 6, "xs": (1, 2)})]
    assert decode_output("f(a=1)")[0] == [ToolCall("f", {"a": 1})]  # brackets added, as BFCL does
    assert decode_output("I don't know.")[0] is None
    assert decode_output("[f(a=__import__('os').system('x'))]")[0] == [ToolCall("f", {"a": "__import__('os').system('x')"})]


def test_decode_java_and_javascript_keep_source_text():
    calls, err = decode_output('[Map.put(m=new HashMap<String, Object>() {{ put("a", 1); }}, k="key", n=42L)]', "java")
    assert err is None
    assert calls == [ToolCall("Map.put", {"m": 'new HashMap<String, Object>() {{ put("a", 1); }}', "k": "key", "n": "42L"})]
    calls, _ = decode_output("[fetch(url='https://x.org', opts={method: 'GET'}, big=12n)]", "javascript")
    assert calls == [ToolCall("fetch", {"url": "https://x.org", "opts": "{method: 'GET'}", "big": "12n"})]
    assert decode_output("[a(x=1), b(y=2)]", "java")[0] is None  # one statement, one call
    assert decode_output("[a(x=1]", "java")[0] is None
    calls, _ = decode_output('[f(a="x" + "y", b="q\\"r")]', "java")  # an expression keeps its quotes
    assert calls[0].arguments == {"a": '"x" + "y"', "b": 'q\\"r'}


def test_failure_kinds_say_why(entries):
    e = entries["simple_python_0"]
    name = e.functions[0]["name"]
    assert score_output(e, "[other_function(a=1)]").kind == "wrong_name"
    assert score_output(e, f"[{name}()]").kind == "missing_param"
    assert score_output(e, "no call at all").kind == "malformed"
    assert score_output(entries["irrelevance_0"], f"[{entries['irrelevance_0'].functions[0]['name']}(x=1)]").kind == \
        "no_call_expected"


def test_summary_uses_bfcl_averaging():
    def v(cat, ok, n):
        return [Verdict(f"{cat}_{i}", cat, i < ok) for i in range(n)]

    verdicts = (v("simple_python", 10, 10) + v("simple_java", 0, 10) + v("simple_javascript", 5, 10)
                + v("multiple", 4, 10) + v("parallel", 2, 10) + v("parallel_multiple", 0, 10) + v("irrelevance", 7, 10))
    s = summarize(verdicts)
    assert s["groups"]["simple"] == pytest.approx(0.5)  # unweighted over the three languages
    assert s["overall"] == pytest.approx((0.5 + 0.4 + 0.2 + 0.0) / 4)
    assert s["irrelevance"] == pytest.approx(0.7) and s["complete"]


def test_bad_input_names_the_line(tmp_path):
    p = tmp_path / "preds.jsonl"
    p.write_text('{"id": "simple_python_0", "result": "[f(a=1)]"}\nnot json\n')
    with pytest.raises(ValueError, match=r"preds.jsonl:2"):
        load_predictions(p)
    p.write_text('{"id": "simple_python_0", "result": 3}\n')
    with pytest.raises(ValueError, match="result"):
        load_predictions(p)
    with pytest.raises(FileNotFoundError, match="--data"):
        load_bfcl(tmp_path / "nope")
    with pytest.raises(ValueError, match="--categories"):
        load_bfcl(BFCL, ["simple_cobol"])


# --------------------------------------------------------------------------- CLI


def test_cli_predictions_writes_verdicts_summary_and_report(entries, tmp_path, capsys):
    from lfmgym.cli import main

    preds = tmp_path / "preds.jsonl"
    chosen = [e for e in entries.values() if e.category in ("simple_python", "irrelevance")]
    with open(preds, "w") as fh:
        for i, e in enumerate(chosen):
            text = _gold_text(e) if i % 4 else "[wrong_function(x=1)]"  # every 4th wrong
            fh.write(json.dumps({"id": e.id, "result": text}) + "\n")
    out = tmp_path / "out"
    rc = main(["eval", "bfcl", "--data", str(BFCL), "--predictions", str(preds),
               "--categories", "simple_python,irrelevance", "--out", str(out)])
    assert rc == 0
    lines = [json.loads(x) for x in (out / "verdicts.jsonl").read_text().splitlines()]
    assert len(lines) == len(chosen)
    assert set(lines[0]) == {"id", "category", "valid", "error"}
    assert sum(not x["valid"] for x in lines) == len(range(0, len(chosen), 4))
    assert all(x["error"] for x in lines if not x["valid"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["summary"]["categories"]["simple_python"]["accuracy"] == pytest.approx(0.75)
    assert (out / "report.md").is_file() and (out / "report.png").stat().st_size > 1000
    assert "simple_python" in capsys.readouterr().out


class _ScriptedBackend:
    """Answers each BFCL prompt from a table keyed by the user question (a test double)."""

    def __init__(self, answers: dict[str, str]):
        self.answers = answers
        self.calls = 0

    def generate(self, batch, *, n=1, temperature=0.0, top_p=1.0, max_new_tokens=256, seed=None):
        from lfmgym.backends.base import Generation

        self.calls += 1
        return [[Generation(self.answers[m[-1]["content"]], [1, 2], True)] for m in batch]


def test_model_mode_prompts_the_backend_and_scores(entries):
    chosen = [entries[f"simple_python_{i}"] for i in range(6)] + [entries["simple_java_2"]]
    backend = _ScriptedBackend({e.question[-1]["content"]: _gold_text(e) for e in chosen})
    generated = generate_predictions(backend, chosen, batch_size=4)
    assert backend.calls == 2
    verdicts = score_predictions(chosen, {k: v["result"] for k, v in generated.items()})
    assert all(v.valid for v in verdicts)
    assert generated["simple_python_0"]["n_tokens"] == 2


def test_report_says_why_entries_failed(entries, tmp_path, capsys):
    from lfmgym.eval.report import markdown_report, print_runs

    chosen = [entries["simple_python_0"], entries["simple_python_1"], entries["multiple_0"]]
    preds = {"simple_python_0": "[calculate_triangle_area(base=11, height=5)]",  # wrong value
             "simple_python_1": "no call at all",  # not a call
             "multiple_0": _gold_text(entries["multiple_0"])}
    run = {"kind": "bfcl", "label": "ckpt[1]", "summary": summarize(score_predictions(chosen, preds))}
    md = markdown_report([run])
    assert "## BFCL failures by kind (entries)" in md and "| wrong_value | 1 |" in md
    print_runs([run])
    out = capsys.readouterr().out
    assert "BFCL failures by kind" in out and "wrong_value" in out and "ckpt[1]" in out  # label not eaten as markup
