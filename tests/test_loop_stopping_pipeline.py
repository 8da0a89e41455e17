"""Loop stopping reachable from the pipeline: eval.stop_loops and grpo.stop_loops, and the tokens
saved reported per episode (episodes.jsonl), per env (results rows, the eval table) and per GRPO step.

The untrained 2-block smoke model loops under greedy decoding at once: every turn is a doom loop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lfmgym.stages.config import load_config

SMOKE = Path(__file__).resolve().parents[1] / "configs" / "smoke.yaml"
CAP = 96  # the demo's turn cap; the detector needs a few dozen tokens of tail to confirm a loop


def _cfg(stop_loops: bool):
    return load_config(SMOKE, {"envs": {"math_calculator": {"kwargs": {"difficulty": 2, "max_turns": 2}}},
                               "eval.n": 2, "eval.max_new_tokens": CAP, "eval.stop_loops": stop_loops})


@pytest.fixture(scope="module")
def tiny():
    import torch

    from lfmgym.stages.pipeline import build_base_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small only loses from threads on a shared CI machine
    torch.manual_seed(0)
    try:
        yield build_base_model(_cfg(False))
    finally:
        torch.set_num_threads(threads)


def _episodes(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_pipeline_eval_stops_loops_and_reports_the_tokens_saved(tiny, tmp_path):
    from lfmgym.stages.evaluate import evaluate_model

    model, tok = tiny
    off = evaluate_model(model, tok, _cfg(False), stage="base", out_dir=tmp_path / "off")
    on = evaluate_model(model, tok, _cfg(True), stage="base", out_dir=tmp_path / "on")
    assert [r["loop_tokens_saved"] for r in off] == [0]
    saved = on[0]["loop_tokens_saved"]
    assert saved > 0
    episodes = _episodes(tmp_path / "on" / "episodes.jsonl")
    assert sum(e["loop_tokens_saved"] for e in episodes) == saved  # per episode, both passes
    assert all(e["doom_loop"] for e in episodes if e["loop_tokens_saved"])  # a stopped turn is a loop
    assert all(e["loop_tokens_saved"] == 0 for e in _episodes(tmp_path / "off" / "episodes.jsonl"))
    # Stopping changes no verdict on this model, and generates fewer tokens.
    assert on[0]["doom_loop_greedy"] == off[0]["doom_loop_greedy"] == 1.0
    assert on[0]["mean_length"] < off[0]["mean_length"]


def test_eval_results_and_table_count_the_tokens_saved(tiny):
    from lfmgym.backends.transformers_backend import TransformersBackend
    from lfmgym.eval.envs import evaluate_envs
    from lfmgym.eval.report import table_rows
    from lfmgym.rewards.loop_stopping import LoopStop

    model, tok = tiny
    backend = TransformersBackend(model, tok, batch_size=8, loop_stop=LoopStop(enabled=True))
    result = evaluate_envs(backend, ["math_calculator"], n=2, samples=1, temperature=1.0, max_new_tokens=CAP,
                           env_kwargs={"math_calculator": {"max_turns": 2}}, keep_records=True)
    records = result["records"]["math_calculator"]
    turns = [t for r in records["greedy"] + records["sampled"] for t in r.turns]
    stopped = [t for t in turns if t.stopped_loop]
    assert stopped
    for t in turns:  # saved = the cap minus what the turn generated, on stopped turns only
        assert t.tokens_saved == (CAP - len(t.ids) if t.stopped_loop else 0)
        assert not (t.stopped_loop and t.finished)
    row = result["envs"]["math_calculator"]
    assert row["loop_tokens_saved"] == sum(t.tokens_saved for t in turns) == result["overall"]["loop_tokens_saved"]
    _, header, rows = table_rows([{**result, "label": "tiny"}])[0]
    line = next(r for r in rows if r[0] == "loop_tokens_saved")
    assert line[1:] == [str(row["loop_tokens_saved"])] * 2  # the env and overall, as a count


def test_grpo_rollouts_stop_loops_when_asked(tiny, monkeypatch):
    from accelerate import Accelerator

    import lfmgym.stages.grpo as grpo
    from lfmgym import Task
    from lfmgym.engine.latency_env import LatencyEnv
    from lfmgym.stages.common import prompt_key

    model, tok = tiny
    make = lambda name, kwargs: LatencyEnv(min_latency_s=0.0, max_latency_s=0.0, max_turns=2)  # noqa: E731
    monkeypatch.setattr(grpo, "make_env", make)
    tasks = [Task(id=f"latency-{i}", prompt=f"item {i}", answer=str(i)) for i in range(2)]
    prompts = [make("latency", {}).opening(t) for t in tasks]
    pool = {prompt_key(p): ("latency", t) for p, t in zip(prompts, tasks)}

    class Trainer:  # what EnvRollout reads of TRL's trainer on the transformers path
        use_vllm = False
        accelerator = Accelerator(cpu=True)
        model_wrapped = model

        class args:
            ds3_gather_for_generation = True

    out = {}
    for stop in (False, True):
        rollout = grpo.EnvRollout(pool, {"latency": {}}, tok, max_new_tokens=CAP, max_completion_length=4 * CAP,
                                  temperature=0.0, stop_loops=stop, loop_weight=1.0)
        out[stop] = rollout(prompts, Trainer())
    assert out[False]["loop_tokens_saved"] == [0, 0]
    assert all(n > 0 for n in out[True]["loop_tokens_saved"])
    assert sum(map(len, out[True]["completion_ids"])) < sum(map(len, out[False]["completion_ids"]))
    # A stopped turn is still a loop: its penalty stands.
    assert out[True]["doom_loop"] == out[False]["doom_loop"] == [True, True]
    assert all(c["episode_loop"] == -1.0 for c in out[True]["components"])
