"""Every stage runs unchanged under ``accelerate launch`` (here: one CPU process, the smoke config)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.test_stages import SMOKE


@pytest.mark.slow
def test_pipeline_under_accelerate_launch(tmp_path):
    accelerate = shutil.which("accelerate")
    if accelerate is None:  # the `accelerate` dependency installs this script; its absence is a broken install
        pytest.fail("the `accelerate` command is not on PATH")
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [accelerate, "launch", "--cpu", "--num_processes", "1", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "-m", "lfmgym.stages.cli", "pipeline", str(SMOKE), "--out", str(out),
           "--no-progress", "--set", "eval.n=2", "--set", "eval.sampled=false"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = json.loads((out / "results.json").read_text())
    assert [r["stage"] for r in rows] == [s for s in ("base", "sft", "dpo", "grpo") for _ in range(3)]
    assert all(r["n"] == 2 and r["doom_loop_sampled"] is None for r in rows)
    for stage in ("sft", "dpo", "grpo"):
        assert (out / stage / "model" / "model.safetensors").is_file(), stage
