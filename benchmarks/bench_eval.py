"""Eval speed: BFCL scoring on the full bundled data, and batched vs one-at-a-time generation.

    python benchmarks/bench_eval.py [--data path/to/bfcl] [--official-python /tmp/bfclenv/bin/python]
                                    [--gen-prompts 16] [--new-tokens 32] [--skip-generation]

BFCL rows (gold predictions for every entry of every AST category, rendered by the agreement
set's ``render.py``):

- ``lfmgym eval bfcl --predictions`` end to end (a subprocess: imports, load, score, table);
- in-process scoring of the same predictions, and of the agreement set;
- baseline, when ``--official-python`` names an interpreter with ``bfcl-eval`` installed (see
  ``tests/data/bfcl_agreement/build.py``): the official decoder + AST checker on the same predictions.

Generation rows (``tiny`` preset, random weights, CPU, one thread): ``TransformersBackend`` with
left-padded batches vs the baseline of one prompt per ``generate`` call.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AGREEMENT = ROOT / "tests" / "data" / "bfcl_agreement"

_OFFICIAL_SNIPPET = r"""
import json, sys, time
sys.path.insert(0, sys.argv[3])
from build import _official
verdict = _official()
data = sys.argv[1]
preds = {json.loads(l)["id"]: json.loads(l)["result"] for l in open(sys.argv[2])}
from pathlib import Path
t = time.perf_counter()
n = ok = 0
for q in sorted(Path(data).glob("BFCL_v4_*.json")):
    cat = q.stem.removeprefix("BFCL_v4_")
    a = Path(data) / "possible_answer" / q.name
    gts = {json.loads(l)["id"]: json.loads(l)["ground_truth"] for l in open(a)} if a.exists() else {}
    for line in open(q):
        e = json.loads(line)
        valid, _ = verdict(e, gts.get(e["id"], []), cat, preds[e["id"]])
        n += 1; ok += valid
print(json.dumps({"n": n, "ok": ok, "s": time.perf_counter() - t}))
"""


def _gold_predictions(data: Path, path: Path) -> int:
    sys.path.insert(0, str(AGREEMENT))
    from render import render_gold

    from lfmgym.eval.bfcl import NO_CALL, SOME_CALL, load_bfcl

    entries = load_bfcl(data)
    with open(path, "w") as fh:
        for e in entries:
            text = ("None of the functions fit." if e.category in NO_CALL
                    else f"[{e.functions[0]['name']}()]" if e.category in SOME_CALL
                    else render_gold({"function": e.functions}, e.ground_truth, e.category))
            fh.write(json.dumps({"id": e.id, "result": text}) + "\n")
    return len(entries)


def bench_bfcl(data: Path, official_python: str | None) -> list[tuple[str, int, float]]:
    from lfmgym.eval.bfcl import load_bfcl, load_predictions, score_output, score_predictions

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        preds_file = Path(tmp) / "gold.jsonl"
        n = _gold_predictions(data, preds_file)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lfmgym.cli", "eval", "bfcl", "--data", str(data), "--predictions",
                        str(preds_file), "--out", str(Path(tmp) / "out")], check=True, capture_output=True)
        rows.append(("lfmgym eval bfcl --predictions (end to end, --out)", n, time.perf_counter() - t))
        entries = load_bfcl(data)
        preds = load_predictions(preds_file)
        t = time.perf_counter()
        verdicts = score_predictions(entries, preds)
        valid = sum(v.valid for v in verdicts)
        rows.append((f"score_predictions, gold (in process; {valid}/{n} valid)", n, time.perf_counter() - t))
        by_id = {e.id: e for e in entries}
        agreement = [json.loads(x) for x in gzip.open(AGREEMENT / "agreement.jsonl.gz", "rt", encoding="utf-8")]
        t = time.perf_counter()
        for r in agreement:
            score_output(by_id[r["id"]], r["prediction"])
        rows.append(("score_output, agreement set (in process)", len(agreement), time.perf_counter() - t))
        if official_python:
            out = subprocess.run([official_python, "-c", _OFFICIAL_SNIPPET, str(data), str(preds_file), str(AGREEMENT)],
                                 check=True, capture_output=True, text=True)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((f"baseline: official bfcl-eval checker ({res['ok']}/{res['n']} valid)", res["n"], res["s"]))
    return rows


def _bundled_bfcl(tmp: Path) -> Path:
    """The bundled BFCL data as plain files (the official checker reads a folder)."""
    from lfmgym.data import list_files, read_bytes

    for rel in list_files("bfcl"):
        out = tmp / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(read_bytes(rel))
    return tmp / "bfcl"


def bench_generation(n_prompts: int, new_tokens: int) -> list[tuple[str, int, float]]:
    import torch

    from lfmgym.backends.transformers_backend import TransformersBackend
    from lfmgym.model.presets import build_model
    from lfmgym.model.tokenizer import default_corpus, train_tokenizer

    torch.set_num_threads(1)
    tok = train_tokenizer(default_corpus(n=300), vocab_size=2048)
    model = build_model("tiny", tok)
    prompts = [[{"role": "user", "content": f"What is {i} plus {i * 7}? Explain step by step."}] for i in range(n_prompts)]
    rows = []
    for label, bs in ((f"TransformersBackend, batch_size={n_prompts}", n_prompts), ("baseline: one prompt per call", 1)):
        backend = TransformersBackend(model, tok, batch_size=bs)
        backend.generate(prompts[:1], max_new_tokens=2)  # warm-up
        t = time.perf_counter()
        backend.generate(prompts, max_new_tokens=new_tokens, temperature=1.0, seed=0)
        rows.append((label, n_prompts, time.perf_counter() - t))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="a plain BFCL folder (default: the bundled data, written out)")
    ap.add_argument("--official-python", default=None, help="python with bfcl-eval (the baseline row)")
    ap.add_argument("--gen-prompts", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--skip-generation", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data) if args.data else _bundled_bfcl(Path(tmp))
        rows = bench_bfcl(data, args.official_python)
    if not args.skip_generation:
        rows += bench_generation(args.gen_prompts, args.new_tokens)
    print(f"{'what':62s} {'items':>7s} {'seconds':>9s} {'items/s':>9s}")
    for what, n, s in rows:
        print(f"{what:62s} {n:7d} {s:9.2f} {n / s:9.0f}")


if __name__ == "__main__":
    main()
