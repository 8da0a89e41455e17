"""lfmgym.model: presets, tokenizer, save/reload round trip, TRL tool-call parsing, a quick overfit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lfmgym.model.loading import load_model_and_tokenizer, save
from lfmgym.model.presets import PRESETS, build_model, preset_config
from lfmgym.model.tokenizer import MARKUP_TOKENS, SPECIAL_TOKENS, chat_template, default_corpus, train_tokenizer

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        },
    }
]
CALL = {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}}
CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Weather in Paris for 3 days?"},
    {"role": "assistant", "content": "", "tool_calls": [CALL]},
    {"role": "tool", "content": '{"forecast": "sunny", "high": 24}'},
    {"role": "assistant", "content": "Sunny, up to 24 degrees."},
]


@pytest.fixture(autouse=True)
def one_thread():
    # The test machine's cores are shared: one torch thread per test avoids oversubscription stalls.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(default_corpus(n=600), vocab_size=2048, seed=0)


@pytest.fixture(scope="module")
def tiny(tokenizer):
    return build_model("tiny", tokenizer, seed=0).eval()


# ---------------------------------------------------------------------------------------------- presets


def test_published_presets_match_released_parameter_counts():
    from lfmgym.model.info import param_breakdown

    # Totals of the released checkpoints (tied embeddings): 354M, 742M, 1.17B.
    assert param_breakdown("lfm2-350m")["total"] == 354_483_968
    assert param_breakdown("lfm2-700m")["total"] == 742_489_344
    assert param_breakdown("lfm2-1.2b")["total"] == 1_170_340_608


def test_from_scratch_presets_are_small_hybrids():
    from lfmgym.model.info import param_breakdown

    tiny = param_breakdown("tiny")
    assert 2e6 < tiny["total"] < 10e6
    assert tiny["layer_types"] == {"conv": 4, "full_attention": 2}
    assert 20e6 <= param_breakdown("small")["total"] <= 50e6


def test_preset_config_overrides_and_errors():
    cfg = preset_config("tiny", vocab_size=1000, num_hidden_layers=9)
    assert cfg.vocab_size == 1000 and cfg.num_hidden_layers == 9
    # Changing the depth keeps a conv/attention mix with attention at the top.
    assert cfg.layer_types[-1] == "full_attention" and cfg.layer_types.count("full_attention") == 3
    assert preset_config("lfm2-350m").vocab_size == 65536
    with pytest.raises(KeyError, match="unknown model preset 'huge'"):
        preset_config("huge")
    with pytest.raises(ValueError, match="not divisible"):
        preset_config("tiny", num_attention_heads=5)


def test_build_model_uses_tokenizer_ids_and_seed(tokenizer, tiny):
    assert tiny.config.vocab_size == len(tokenizer)
    assert (tiny.config.pad_token_id, tiny.config.bos_token_id, tiny.config.eos_token_id) == (0, 1, 7)
    assert tiny.generation_config.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    again = build_model("tiny", tokenizer, seed=0)
    other = build_model("tiny", tokenizer, seed=1)
    w = "model.layers.0.conv.in_proj.weight"
    assert torch.equal(tiny.state_dict()[w], again.state_dict()[w])
    assert not torch.equal(tiny.state_dict()[w], other.state_dict()[w])


# ---------------------------------------------------------------------------------------------- tokenizer


def test_tokenizer_is_deterministic(tokenizer):
    again = train_tokenizer(default_corpus(n=600), vocab_size=2048, seed=0)
    assert again.backend_tokenizer.to_str() == tokenizer.backend_tokenizer.to_str()
    assert len(tokenizer) <= 2048


def test_tokenizer_rejects_bad_input():
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        train_tokenizer(["ok", 3])
    with pytest.raises(ValueError, match="at least one non-empty text"):
        train_tokenizer(["", ""])
    with pytest.raises(ValueError, match="vocab_size must be at least"):
        train_tokenizer(["abc"], vocab_size=100)


def test_tokenizer_splits_digits_and_keeps_lfm2_special_ids(tokenizer):
    ids = tokenizer("x = 2024", add_special_tokens=False)["input_ids"]
    digits = [t for t in tokenizer.convert_ids_to_tokens(ids) if any(c.isdigit() for c in t)]
    assert digits == ["2", "0", "2", "4"]
    for i, token in enumerate(SPECIAL_TOKENS + MARKUP_TOKENS):
        assert tokenizer.convert_tokens_to_ids(token) == i
    assert (tokenizer.pad_token, tokenizer.bos_token, tokenizer.eos_token) == ("<|pad|>", "<|startoftext|>", "<|im_end|>")
    text = "héllo wörld 🙂 {\"a\": [1, 2]}"
    assert tokenizer.decode(tokenizer(text, add_special_tokens=False)["input_ids"]) == text


def test_tool_markup_is_atomic_and_survives_skip_special_tokens(tokenizer):
    text = "<|tool_call_start|>[get_weather(city='Paris')]<|tool_call_end|><|im_end|>"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids[0] == tokenizer.convert_tokens_to_ids("<|tool_call_start|>")
    assert tokenizer.decode(ids, skip_special_tokens=True) == text.removesuffix("<|im_end|>")


def test_chat_template_is_trls_lfm25_with_assistant_masks(tokenizer):
    from trl.chat_template_utils import get_training_chat_template, is_chat_template_prefix_preserving

    assert tokenizer.chat_template == chat_template()
    # TRL needs no patched training template: generation markers are there, prefixes are preserved.
    assert get_training_chat_template(tokenizer) is None
    assert is_chat_template_prefix_preserving(tokenizer)
    out = tokenizer.apply_chat_template(
        CONVERSATION, tools=TOOLS, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    trained = tokenizer.decode([i for i, m in zip(out["input_ids"], out["assistant_masks"]) if m])
    assert trained == (
        "<|tool_call_start|>[get_weather(city='Paris', days=3)]<|tool_call_end|><|im_end|>\n"
        "Sunny, up to 24 degrees.<|im_end|>\n"
    )


# ---------------------------------------------------------------------------------------------- save / load


def test_save_reload_round_trips_model_tokenizer_and_tool_calls(tokenizer, tiny, tmp_path):
    from trl.chat_template_utils import add_response_schema, parse_response

    from lfmgym.toolcalls import parse_tool_calls

    save(tiny, tokenizer, tmp_path / "ckpt")
    model, tok = load_model_and_tokenizer(str(tmp_path / "ckpt"), device="cpu")
    assert type(model).__name__ == "Lfm2ForCausalLM"
    assert tok.chat_template == tokenizer.chat_template and tok.padding_side == "left"
    batch = tok(["Weather in Paris?", "2 + 2 ="], return_tensors="pt", padding=True)
    with torch.no_grad():
        assert torch.allclose(model(**batch).logits, tiny(**batch).logits, atol=1e-5)

    # The assistant's tool-call turn, rendered by the saved template and parsed back by TRL.
    prompt = tok.apply_chat_template(CONVERSATION[:2], tools=TOOLS, add_generation_prompt=True, return_dict=False)
    full = tok.apply_chat_template(CONVERSATION[:3], tools=TOOLS, return_dict=False)
    assert full[: len(prompt)] == prompt
    response = full[len(prompt):]
    add_response_schema(tok)
    parsed = parse_response(tok, response, prefix=prompt, tools=TOOLS)
    assert parsed["tool_calls"] == [CALL] and parsed["content"] == ""
    final = tok("Sunny, up to 24 degrees.<|im_end|>", add_special_tokens=False)["input_ids"]
    assert parse_response(tok, final, prefix=prompt) == {"role": "assistant", "content": "Sunny, up to 24 degrees."}
    # lfmgym's own parser reads the same call from text decoded the way trainers decode completions.
    result = parse_tool_calls(tok.decode(response, skip_special_tokens=True), fmt="pythonic")
    assert result.error is None
    assert [(c.name, c.arguments) for c in result.calls] == [("get_weather", {"city": "Paris", "days": 3})]


def test_load_errors_name_the_problem(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_model_and_tokenizer(str(tmp_path / "empty"))
    (tmp_path / "weights.bin").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        load_model_and_tokenizer(str(tmp_path / "weights.bin"))
    with pytest.raises(ValueError, match="unknown dtype"):
        load_model_and_tokenizer("tiny", dtype="float8", tokenizer_texts=["a b c"] * 20)


def test_preset_loading_builds_tokenizer_from_given_texts():
    texts = default_corpus(n=200, seed=3)
    model, tok = load_model_and_tokenizer("tiny", tokenizer_texts=texts, device="cpu", dtype="bf16",
                                          num_hidden_layers=2)
    assert model.dtype == torch.bfloat16 and model.config.num_hidden_layers == 2
    assert model.config.vocab_size == len(tok) and tok.chat_template == chat_template()


# ---------------------------------------------------------------------------------------------- behaviour


def test_cached_decoding_matches_uncached(tokenizer, tiny):
    prompt = tokenizer.apply_chat_template(CONVERSATION[:2], add_generation_prompt=True, return_tensors="pt",
                                           return_dict=True)
    kw = dict(**prompt, do_sample=False, max_new_tokens=8, min_new_tokens=8, pad_token_id=tokenizer.pad_token_id)
    with_cache = tiny.generate(use_cache=True, **kw)
    without = tiny.generate(use_cache=False, **kw)
    assert with_cache.shape[1] == prompt["input_ids"].shape[1] + 8
    assert torch.equal(with_cache, without)


def test_tiny_preset_overfits_one_batch_quickly(tokenizer):
    model = build_model("tiny", tokenizer, seed=0).train()
    batch = tokenizer(default_corpus(n=2, seed=1), return_tensors="pt", padding=True, truncation=True, max_length=48)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(25):
        loss = model(**batch, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 5.0  # ~ln(vocab) at random init
    assert min(losses[-5:]) < 1.0, losses
