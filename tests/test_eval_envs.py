"""Environment eval: pass@k, success, parse/tool-error/doom-loop rates, reports, and the CLI end to end."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from lfmgym.backends.base import Generation
from lfmgym.eval.envs import evaluate_envs
from lfmgym.eval.metrics import mean_pass_at_k, pass_at_k
from lfmgym.eval.report import load_run, markdown_report, save_run, write_report
from lfmgym.plugins import make_env

GSM8K = "gsm8k"  # the GSM8K test split bundled with lfmgym


# --------------------------------------------------------------------------- pass@k


def test_pass_at_k_matches_the_combinatorial_definition():
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 20)
        c = rng.randint(0, n)
        k = rng.randint(1, n)
        expected = 1 - math.comb(n - c, k) / math.comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 0, 5) == 0.0 and pass_at_k(5, 1, 5) == 1.0
    assert mean_pass_at_k([(4, 0), (4, 4)], 2) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="k <= n"):
        pass_at_k(3, 1, 4)


def test_env_success_default_rule():
    math_env = make_env("math")
    assert math_env.success({"correct": 1.0, "repetition": -0.5})  # repetition does not count
    assert not math_env.success({"correct": 0.0})
    tool_env = make_env("tool_calling")
    assert tool_env.success({"calls": 1.0, "outcome": 1.0, "unknown_tool": 0.0, "invalid_args": 0.0, "malformed": 0.0})
    assert not tool_env.success({"calls": 1.0, "outcome": 0.0})


# --------------------------------------------------------------------------- scripted backends


class OracleBackend:
    """Plays each env's demonstration (keyed by the user turn); when sampling, every
    ``wrong_every``-th sample is a length-capped loop instead (a test double)."""

    def __init__(self, envs: list[str], n: int, seed: int, wrong_every: int = 0):
        self.gold: dict[str, list[str]] = {}
        for name in envs:
            env = make_env(name)
            for task in env.make_tasks(n, seed=seed):
                demo = env.demonstrate(task)
                self.gold[demo[1]["content"]] = [m["content"] for m in demo if m["role"] == "assistant"]
        self.wrong_every = wrong_every
        self.sampled = 0

    def generate(self, batch, *, n=1, temperature=0.0, top_p=1.0, max_new_tokens=256, seed=None):
        out = []
        for messages in batch:
            turn = sum(m["role"] == "assistant" for m in messages)
            gold = self.gold[messages[1]["content"]]
            text = gold[min(turn, len(gold) - 1)]
            gens = []
            for _ in range(n):
                if temperature > 0 and self.wrong_every:
                    self.sampled += 1
                    if self.sampled % self.wrong_every == 0:
                        gens.append(Generation("la " * 100, [5, 6] * 100, finished=False, latency_s=0.01))
                        continue
                gens.append(Generation(text, list(range(len(text.split()))) + [0], finished=True, latency_s=0.01))
            out.append(gens)
        return out


def test_oracle_backend_gets_full_marks():
    backend = OracleBackend(["math", "tool_calling"], n=6, seed=123)
    result = evaluate_envs(backend, ["math", "tool_calling"], n=6, samples=3, temperature=0.8, seed=123)
    for name in ("math", "tool_calling"):
        row = result["envs"][name]
        assert row["n"] == 6 and row["success"] == 1.0 and row["pass@1"] == 1.0 and row["pass@3"] == 1.0
        assert row["parse_rate"] == 1.0 and row["doom_loop_greedy"] == 0.0 and row["doom_loop_sampled"] == 0.0
        assert row["mean_tokens"] > 0 and row["latency_s"] >= 0
    assert result["envs"]["tool_calling"]["tool_error_rate"] == 0.0
    assert result["overall"]["success"] == 1.0 and result["overall"]["n"] == 12


def test_sampled_failures_show_in_pass_at_k_and_doom_loops():
    backend = OracleBackend(["math"], n=8, seed=5, wrong_every=2)  # every 2nd sample loops
    row = evaluate_envs(backend, ["math"], n=8, samples=4, temperature=1.0, seed=5)["envs"]["math"]
    assert row["success"] == 1.0 and row["doom_loop_greedy"] == 0.0  # greedy is untouched
    assert row["pass@1"] == pytest.approx(0.5)  # 2 of 4 samples right on every task
    assert row["pass@4"] == 1.0
    assert row["doom_loop_sampled"] == pytest.approx(0.5)


def test_greedy_only_when_temperature_is_zero():
    backend = OracleBackend(["math"], n=3, seed=1)
    row = evaluate_envs(backend, ["math"], n=3, samples=4, temperature=0.0, seed=1)["envs"]["math"]
    assert "pass@1" not in row and row["doom_loop_sampled"] is None


def test_bad_arguments():
    backend = OracleBackend(["math"], n=1, seed=0)
    with pytest.raises(ValueError, match="n:"):
        evaluate_envs(backend, ["math"], n=0)
    with pytest.raises(ValueError, match="envs"):
        evaluate_envs(backend, [], n=1)


# --------------------------------------------------------------------------- reports


def _run(label: str, success: float) -> dict:
    row = {"n": 4, "success": success, "pass@1": success, "pass@4": min(1.0, success + 0.2), "parse_rate": 1.0,
           "tool_error_rate": None, "doom_loop_greedy": 0.0, "doom_loop_sampled": 0.25, "mean_tokens": 12.0,
           "latency_s": 0.1}
    return {"kind": "envs", "label": label, "envs": {"math": row, "tool_calling": dict(row)}, "overall": dict(row),
            "config": {"n": 4}}


def test_report_compares_runs_and_redraws_from_disk(tmp_path, capsys):
    from lfmgym.cli import main

    for i, s in enumerate([0.25, 0.5, 0.75]):
        run = _run(f"ckpt{i}", s)
        save_run(run, tmp_path / f"ckpt{i}", run["label"])
    md = markdown_report([load_run(tmp_path / f"ckpt{i}") for i in range(3)])
    assert "| ckpt0 | 25.0 | 25.0 | 25.0 |" in md and "ckpt2" in md
    rc = main(["report", *(str(tmp_path / f"ckpt{i}") for i in range(3)), "--out", str(tmp_path / "cmp")])
    assert rc == 0
    assert (tmp_path / "cmp" / "report.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "cmp" / "report.json").read_text())
    assert [r["label"] for r in saved["runs"]] == ["ckpt0", "ckpt1", "ckpt2"]
    assert "ckpt1" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "missing")]) == 2


def test_report_rejects_mixed_kinds(tmp_path):
    bfcl = {"kind": "bfcl", "label": "b", "summary": {"categories": {}, "groups": {}, "overall": None}}
    with pytest.raises(ValueError, match="different kinds"):
        write_report([_run("a", 0.5), bfcl], tmp_path)


# --------------------------------------------------------------------------- CLI, real model


def test_cli_eval_with_a_tiny_checkpoint(tmp_path, capsys):
    import torch

    from lfmgym.cli import main
    from lfmgym.model.loading import save
    from lfmgym.model.presets import build_model
    from lfmgym.model.tokenizer import train_tokenizer

    tok = train_tokenizer(["What is 7 times 6? Answer: 42"] * 20, vocab_size=300)
    model = build_model("tiny", tok, num_hidden_layers=2, hidden_size=32, intermediate_size=64,
                        num_attention_heads=2, num_key_value_heads=1)
    save(model, tok, tmp_path / "ckpt")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: one thread is fastest on a busy CPU
    try:
        rc = main(["eval", "--model", str(tmp_path / "ckpt"), "--device", "cpu", "--envs", "math", "--n", "2",
                   "--samples", "2", "--temperature", "1.0", "--max-new-tokens", "6", "--out", str(tmp_path / "run"),
                   "--label", "tiny0", "--no-progress", "--env-arg", f"math.data={GSM8K}", "--env-arg", "math.limit=3"])
    finally:
        torch.set_num_threads(threads)
    assert rc == 0
    run = load_run(tmp_path / "run")
    row = run["envs"]["math"]
    assert run["label"] == "tiny0" and row["n"] == 2 and row["samples"] == 2
    # GSM8K, not generated; the tool format is the one the checkpoint's (LFM2) template writes
    assert run["config"]["env_kwargs"] == {"math": {"data": str(GSM8K), "limit": 3, "tool_format": "pythonic"}}
    assert 0.0 <= row["success"] <= 1.0 and 0.0 <= row["pass@2"] <= 1.0
    assert row["mean_tokens"] is not None and row["mean_tokens"] <= 6 * row["mean_turns"]
    assert (tmp_path / "run" / "report.md").read_text().count("math") >= 1
    assert "tiny0" in capsys.readouterr().out


def test_cli_env_args_are_per_env_and_checked():
    from lfmgym.eval.cli import _env_kwargs

    assert _env_kwargs(["math", "web_search"], None, []) is None
    assert _env_kwargs(["math", "web_search"], "json", ["math.limit=5", "math.data=x.jsonl"]) == {
        "math": {"tool_format": "json", "limit": 5, "data": "x.jsonl"}, "web_search": {"tool_format": "json"}}
    with pytest.raises(ValueError, match="ENV.KEY=VALUE"):
        _env_kwargs(["math"], None, ["limit=5"])
    with pytest.raises(ValueError, match="not among --envs"):
        _env_kwargs(["math"], None, ["tool_calling.shapes=1"])
