"""Generation backends: transformers (batched, left-padded), the OpenAI-compatible client against a
real loopback server (``lfmgym.backends.serve``) serving a tiny model, and vLLM where a GPU exists."""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from lfmgym.backends import get_backend
from lfmgym.backends.base import Generation, GenerationBackend
from lfmgym.backends.openai_backend import BackendError, OpenAIBackend
from lfmgym.backends.serve import make_server
from lfmgym.backends.transformers_backend import TransformersBackend
from lfmgym.backends.vllm_backend import VLLMBackend, vllm_unavailable_reason

CORPUS = ["hello world, the answer is 42.", "get_weather(city='Paris', days=3)", "What is 7 times 6?"] * 30
PROMPTS = [
    [{"role": "user", "content": "hi"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hello world, what is the answer?"}],
    [{"role": "user", "content": "x"}],
    [{"role": "user", "content": "get_weather(city='Paris') please, right now"}],
]


def _tiny_model_and_tokenizer():
    from lfmgym.model.presets import build_model
    from lfmgym.model.tokenizer import train_tokenizer

    tok = train_tokenizer(CORPUS, vocab_size=320)
    model = build_model("tiny", tok, seed=0, num_hidden_layers=3, hidden_size=64, intermediate_size=128,
                        num_attention_heads=2, num_key_value_heads=1)
    # A freshly initialised model (std 0.02) emits one token forever; larger weights give varied
    # continuations, so comparisons between batched and single-row generation mean something.
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 2.0 / p.shape[-1] ** 0.5, generator=gen)
    return model.eval(), tok


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread; on a busy 2-core box, OpenMP barriers in small ops
    (the depthwise conv) otherwise cost ~100x. Restored afterwards for the other test modules."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny():
    return _tiny_model_and_tokenizer()


@pytest.fixture(scope="module")
def backend(tiny):
    model, tok = tiny
    return TransformersBackend(model, tok, batch_size=8)


@contextmanager
def logit_bias(model, token_id: int, value: float = 1e4):
    """Force ``token_id`` to be the argmax at every step (a hook on the LM head)."""
    def hook(_module, _inp, out):
        out = out.clone()
        out[..., token_id] += value
        return out

    handle = model.lm_head.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


# --------------------------------------------------------------------------- transformers


def test_transformers_is_a_backend(backend):
    assert isinstance(backend, GenerationBackend)


def test_batched_left_padding_matches_one_at_a_time(backend):
    batched = backend.generate(PROMPTS, max_new_tokens=12)
    assert len(batched) == len(PROMPTS) and all(len(g) == 1 for g in batched)
    single = [backend.generate([p], max_new_tokens=12)[0][0] for p in PROMPTS]
    assert [g[0].token_ids for g in batched] == [g.token_ids for g in single]
    assert [g[0].text for g in batched] == [g.text for g in single]
    # The prompts differ, so a working model gives at least two different continuations.
    assert len({tuple(g[0].token_ids) for g in batched}) > 1


def test_small_batch_size_chunks_give_same_greedy_result(tiny, backend):
    model, tok = tiny
    chunked = TransformersBackend(model, tok, batch_size=1)
    assert [g[0].token_ids for g in chunked.generate(PROMPTS, max_new_tokens=8)] == \
        [g[0].token_ids for g in backend.generate(PROMPTS, max_new_tokens=8)]


def test_sampling_n_and_seed(backend):
    a = backend.generate(PROMPTS[:2], n=3, temperature=1.0, max_new_tokens=10, seed=7)
    b = backend.generate(PROMPTS[:2], n=3, temperature=1.0, max_new_tokens=10, seed=7)
    c = backend.generate(PROMPTS[:2], n=3, temperature=1.0, max_new_tokens=10, seed=8)
    ids = lambda out: [[g.token_ids for g in row] for row in out]  # noqa: E731
    assert [len(row) for row in a] == [3, 3]
    assert ids(a) == ids(b)
    assert ids(a) != ids(c)
    assert len({tuple(g.token_ids) for g in a[0]}) > 1  # the n samples are not copies
    # The global RNG is untouched by a seeded call.
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    backend.generate(PROMPTS[:1], temperature=1.0, max_new_tokens=3, seed=1)
    assert torch.equal(torch.rand(1), expected)


def test_greedy_n_copies(backend):
    out = backend.generate(PROMPTS[:1], n=3, max_new_tokens=6)
    assert len(out[0]) == 3 and len({tuple(g.token_ids) for g in out[0]}) == 1


def test_stop_on_end_of_turn_sets_finished(tiny, backend):
    model, tok = tiny
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    with logit_bias(model, im_end):
        (g,), = backend.generate(PROMPTS[:1], max_new_tokens=10)
    assert g.finished is True
    assert g.token_ids == [im_end]  # the stop token is kept in token_ids, stripped from text
    assert g.text == ""


def test_length_cap_is_not_finished_and_tool_markers_survive(tiny, backend):
    model, tok = tiny
    start = tok.convert_tokens_to_ids("<|tool_call_start|>")
    with logit_bias(model, start):
        (g,), = backend.generate(PROMPTS[:1], max_new_tokens=4)
    assert g.finished is False
    assert g.token_ids == [start] * 4
    assert g.text == "<|tool_call_start|>" * 4


def test_decode_strips_only_noise_tokens(backend):
    tok = backend.tokenizer
    ids = tok("<|startoftext|><|tool_call_start|>[f(a=1)]<|tool_call_end|><|im_end|><|pad|>",
              add_special_tokens=False)["input_ids"]
    assert backend.decode(ids) == "<|tool_call_start|>[f(a=1)]<|tool_call_end|>"


def test_bad_arguments_raise_clear_errors(backend):
    with pytest.raises(ValueError, match="temperature"):
        backend.generate(PROMPTS[:1], temperature=-1)
    with pytest.raises(ValueError, match="n:"):
        backend.generate(PROMPTS[:1], n=0)
    with pytest.raises(ValueError, match="top_p"):
        backend.generate(PROMPTS[:1], top_p=0)


def test_get_backend_loads_a_saved_directory(tiny, tmp_path):
    from lfmgym.model.loading import save

    model, tok = tiny
    save(model, tok, tmp_path / "ckpt")
    loaded = get_backend(str(tmp_path / "ckpt"), batch_size=4, device="cpu")
    assert isinstance(loaded, TransformersBackend) and loaded.batch_size == 4
    direct = TransformersBackend(model, tok)
    assert loaded.generate(PROMPTS[:2], max_new_tokens=6)[1][0].token_ids == \
        direct.generate(PROMPTS[:2], max_new_tokens=6)[1][0].token_ids


def test_get_backend_dispatch():
    assert isinstance(get_backend("openai:http://127.0.0.1:9/v1", model="m"), OpenAIBackend)
    b = get_backend("http://127.0.0.1:9/v1", model="m", concurrency=None)
    assert isinstance(b, OpenAIBackend) and b.base_url == "http://127.0.0.1:9/v1"
    with pytest.raises(ValueError, match="base URL"):
        get_backend("openai:")
    with pytest.raises(ValueError, match="backend spec"):
        get_backend("  ")


# --------------------------------------------------------------------------- OpenAI-compatible


@pytest.fixture(scope="module")
def server(backend):
    with make_server(backend, model_name="tiny-test", batch_wait_s=0.05) as srv:
        yield srv


def test_openai_backend_against_loopback_server_matches_direct(server, backend):
    client = OpenAIBackend(server.base_url, concurrency=4, timeout=60)
    assert client.model == "tiny-test"  # asked from GET /models
    remote = client.generate(PROMPTS, max_new_tokens=12, temperature=0.0)
    local = backend.generate(PROMPTS, max_new_tokens=12)
    assert [g[0].text for g in remote] == [g[0].text for g in local]
    assert [g[0].token_ids for g in remote] == [g[0].token_ids for g in local]
    assert [g[0].finished for g in remote] == [g[0].finished for g in local]
    assert all(g[0].latency_s > 0 for g in remote)


def test_openai_concurrent_requests_are_batched_by_the_server(server):
    client = OpenAIBackend(server.base_url, model="tiny-test", concurrency=8)
    before = server.batcher.batches_run
    out = client.generate(PROMPTS * 2, n=2, temperature=1.0, max_new_tokens=5, seed=3)
    assert [len(g) for g in out] == [2] * 8
    assert all(isinstance(g, Generation) and g.token_ids for row in out for g in row)
    assert server.batcher.batches_run - before < 8  # 8 concurrent requests, fewer backend calls


def test_openai_length_cap_reports_unfinished(server, tiny):
    model, tok = tiny
    client = OpenAIBackend(server.base_url, model="tiny-test")
    with logit_bias(model, tok.convert_tokens_to_ids("<|tool_call_start|>")):
        (g,), = client.generate(PROMPTS[:1], max_new_tokens=3)
    assert g.finished is False and g.text == "<|tool_call_start|>" * 3


def test_server_rejects_bad_requests(server):
    client = OpenAIBackend(server.base_url, model="tiny-test", max_retries=3, backoff=0.01)
    with pytest.raises(BackendError, match="HTTP 400.*messages"):
        client._request("POST", "/chat/completions", {"model": "x", "messages": []})
    with pytest.raises(BackendError, match="HTTP 400.*stream"):
        client._request("POST", "/chat/completions", {"messages": PROMPTS[0], "stream": True})


class _Scripted(BaseHTTPRequestHandler):
    """Replies from a script: a list of (status, body or None, delay) popped one per request."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.requests += 1
            status, body, delay = self.server.script.pop(0) if self.server.script else self.server.default
        time.sleep(delay)
        data = json.dumps(body or {"error": {"message": "scripted failure"}}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout)
            pass


@contextmanager
def scripted_server(script, default):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    srv.daemon_threads = True
    srv.script, srv.default, srv.requests, srv.lock = list(script), default, 0, threading.Lock()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv, f"http://127.0.0.1:{srv.server_address[1]}/v1"
    finally:
        srv.shutdown()
        srv.server_close()


OK_BODY = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "fine"}, "finish_reason": "stop"}]}


def test_openai_retries_transient_errors_with_backoff():
    with scripted_server([(503, None, 0), (429, None, 0)], (200, OK_BODY, 0)) as (srv, url):
        client = OpenAIBackend(url, model="m", backoff=0.01, max_retries=3)
        (g,), = client.generate(PROMPTS[:1])
    assert g.text == "fine" and g.finished and g.token_ids is None
    assert srv.requests == 3


def test_openai_gives_up_after_retries_and_on_timeouts():
    with scripted_server([], (500, None, 0)) as (srv, url):
        client = OpenAIBackend(url, model="m", backoff=0.01, max_retries=2)
        with pytest.raises(BackendError, match="after 3 attempts.*HTTP 500"):
            client.generate(PROMPTS[:1])
        assert srv.requests == 3
    with scripted_server([], (200, OK_BODY, 1.0)) as (srv, url):
        client = OpenAIBackend(url, model="m", timeout=0.2, backoff=0.01, max_retries=1)
        with pytest.raises(BackendError, match="Timeout"):
            client.generate(PROMPTS[:1])


def test_openai_renders_structured_tool_calls_and_fills_missing_samples():
    body = {"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": None,
        "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}],
    }}]}
    # The server ignores n: the client asks again until it has n samples.
    with scripted_server([], (200, body, 0)) as (srv, url):
        out = OpenAIBackend(url, model="m", tool_format="pythonic").generate(PROMPTS[:1], n=2, temperature=1.0)
        assert srv.requests == 2
        js = OpenAIBackend(url, model="m", tool_format="json").generate(PROMPTS[:1])
    assert [g.text for g in out[0]] == ["<|tool_call_start|>[get_weather(city='Paris')]<|tool_call_end|>"] * 2
    assert js[0][0].text == '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'


# --------------------------------------------------------------------------- vLLM


@pytest.mark.gpu
@pytest.mark.skipif(vllm_unavailable_reason() is not None, reason=f"vLLM backend: {vllm_unavailable_reason()}")
def test_vllm_backend_generates(tiny, tmp_path):
    from lfmgym.model.loading import save

    model, tok = tiny
    save(model, tok, tmp_path / "ckpt")
    llm = VLLMBackend(str(tmp_path / "ckpt"), gpu_memory_utilization=0.3, max_model_len=512, enforce_eager=True)
    greedy = llm.generate(PROMPTS, max_new_tokens=8)
    assert [len(g) for g in greedy] == [1] * len(PROMPTS)
    assert all(g[0].token_ids and (g[0].finished or len(g[0].token_ids) == 8) for g in greedy)
    again = llm.generate(PROMPTS, max_new_tokens=8)
    assert [g[0].token_ids for g in greedy] == [g[0].token_ids for g in again]
    sampled = llm.generate(PROMPTS[:1], n=3, temperature=1.0, max_new_tokens=8, seed=0)
    assert len(sampled[0]) == 3
    assert sampled == llm.generate(PROMPTS[:1], n=3, temperature=1.0, max_new_tokens=8, seed=0) or all(
        a.token_ids == b.token_ids for a, b in zip(sampled[0], llm.generate(
            PROMPTS[:1], n=3, temperature=1.0, max_new_tokens=8, seed=0)[0]))


def test_vllm_backend_explains_why_it_cannot_run(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    assert "not installed" in vllm_unavailable_reason()
    with pytest.raises(RuntimeError, match="VLLMBackend: the vllm package is not installed"):
        get_backend("vllm:some/model")


def test_cli_reports_a_backend_that_cannot_serve_in_one_line(monkeypatch, capsys):
    # No vLLM here (or made to look absent): the user gets the reason, not a traceback.
    import importlib.util

    from lfmgym.backends import BackendError
    from lfmgym.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    assert main(["eval", "--model", "vllm:some/model", "--envs", "math", "--n", "1"]) == 2
    err = capsys.readouterr().err
    assert "VLLMBackend: the vllm package is not installed" in err and "Traceback" not in err
    with pytest.raises(BackendError):
        get_backend("vllm:some/model")
