"""Every process works under ``accelerate launch``: the smoke pipeline on 2 CPU processes.

Both ranks play eval and DPO-sampling episodes, and the results are those of one process: with
learning rate 0 the models stay the base model, so every stage's eval rows and the DPO pairs must
match a one-process run exactly (episodes are seeded by task, not by rank or batch).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.test_stages import SMOKE

SETTINGS = ["--set", "eval.n=3", "--set", "eval.sampled=true", "--set", "stages=[sft, dpo]",
            "--set", "sft.learning_rate=0.0", "--set", "dpo.learning_rate=0.0", "--set", "dpo.prompts=4",
            "--set", "dpo.rollout_batch_size=2"]


def _run(cmd, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _episodes(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.slow
def test_pipeline_on_two_processes_matches_one(tmp_path):
    accelerate = shutil.which("accelerate")
    if accelerate is None:  # the `accelerate` dependency installs this script; its absence is a broken install
        pytest.fail("the `accelerate` command is not on PATH")
    two, one = tmp_path / "two", tmp_path / "one"
    # `--cpu` launches one process whatever --num_processes says; `--multi_gpu` starts torchrun, and
    # on a machine without a GPU the processes form a gloo group (lfmgym.engine.distributed).
    _run([accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
          "--dynamo_backend", "no", "-m", "lfmgym.stages.cli", "pipeline", str(SMOKE), "--out", str(two),
          "--no-progress", *SETTINGS], tmp_path)
    _run([sys.executable, "-m", "lfmgym.stages.cli", "pipeline", str(SMOKE), "--out", str(one), "--no-progress",
          *SETTINGS], tmp_path)

    rows_two = json.loads((two / "results.json").read_text())
    rows_one = json.loads((one / "results.json").read_text())
    assert [r["stage"] for r in rows_two] == [s for s in ("base", "sft", "dpo") for _ in range(3)]
    assert rows_two == rows_one
    for stage in ("base", "sft", "dpo"):
        eps = _episodes(two / stage / "episodes.jsonl")
        assert {e["rank"] for e in eps} == {0, 1}, stage  # both processes played eval episodes
        strip = lambda es: [{k: v for k, v in e.items() if k not in ("rank", "wall_s")} for e in es]  # noqa: E731
        assert strip(eps) == strip(_episodes(one / stage / "episodes.jsonl"))
    pairs_two = _episodes(two / "dpo" / "pairs.jsonl")
    ranks = {r["rank"] for p in pairs_two for r in p["rollouts"]}
    jury = json.loads((two / "dpo" / "jury.json").read_text())
    assert jury["groups"] == 4 and (ranks == {0, 1} or jury["pairs"] == 0)
    pairs_one = _episodes(one / "dpo" / "pairs.jsonl")
    key = lambda p: (p["env"], p["task_id"], p["chosen_ids"], p["rejected_ids"])  # noqa: E731
    assert [key(p) for p in pairs_two] == [key(p) for p in pairs_one]
    assert (two / "dpo" / "model" / "model.safetensors").is_file()
