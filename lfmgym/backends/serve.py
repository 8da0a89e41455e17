"""A small OpenAI-compatible chat-completions server over any generation backend.

``lfmgym serve --model tiny --port 8000`` exposes a model at ``http://127.0.0.1:8000/v1`` for
tools that speak the OpenAI API (and for the OpenAI backend's tests). It is a standard-library
``ThreadingHTTPServer``: each request waits on a future while one worker thread gathers the
requests that arrive within ``batch_wait_s`` and sends those with the same sampling settings to
the backend as **one** batch, so concurrent clients are batched like on a real inference server.

Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions`` (no streaming), ``GET /health``.
Each choice carries ``token_ids`` (as vLLM's ``return_token_ids`` does) so clients can detect
doom loops on tokens.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lfmgym.backends.base import GenerationBackend

__all__ = ["ChatServer", "make_server", "add_commands"]

MAX_BODY = 32 * 1024 * 1024


class _Batcher:
    """Gathers requests for a short window and runs them through the backend in batches."""

    def __init__(self, backend: GenerationBackend, max_batch: int, batch_wait_s: float):
        self.backend = backend
        self.max_batch = max_batch
        self.batch_wait_s = batch_wait_s
        self.queue: queue.Queue = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="lfmgym-serve-batcher", daemon=True)
        self._stop = threading.Event()
        self.batches_run = 0  # for tests and logs: how many backend calls served the requests

    def submit(self, messages: list[dict[str, Any]], params: tuple) -> Future:
        fut: Future = Future()
        self.queue.put((messages, params, fut))
        return fut

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.queue.put(None)
        self.thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            first = self.queue.get()
            if first is None:
                return
            items = [first]
            deadline = time.monotonic() + self.batch_wait_s
            while len(items) < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    item = self.queue.get(timeout=left)
                except queue.Empty:
                    break
                if item is None:
                    self._stop.set()
                    break
                items.append(item)
            groups: dict[tuple, list] = {}
            for item in items:
                groups.setdefault(item[1], []).append(item)
            for (n, temperature, top_p, max_tokens, seed), group in groups.items():
                try:
                    outs = self.backend.generate(
                        [m for m, _, _ in group], n=n, temperature=temperature, top_p=top_p,
                        max_new_tokens=max_tokens, seed=seed,
                    )
                    self.batches_run += 1
                except Exception as exc:  # report to every waiting request, keep serving
                    for _, _, fut in group:
                        fut.set_exception(exc)
                    continue
                for (_, _, fut), gens in zip(group, outs):
                    fut.set_result(gens)


class _Handler(BaseHTTPRequestHandler):
    server: "ChatServer"
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse connections

    def log_message(self, fmt: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(fmt, *args)

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": {"message": message, "type": "invalid_request_error", "code": status}})

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        path = self.path.rstrip("/")
        if path in ("/health", "/v1/health"):
            self._send(200, {"status": "ok"})
        elif path in ("/v1/models", "/models"):
            self._send(200, {"object": "list", "data": [
                {"id": self.server.model_name, "object": "model", "created": int(self.server.started), "owned_by": "lfmgym"}
            ]})
        else:
            self._error(404, f"no route GET {self.path}")

    def do_POST(self) -> None:  # noqa: N802
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._error(404, f"no route POST {self.path}")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY:
            self._error(400, f"request body must be 1..{MAX_BODY} bytes of JSON, got {length}")
            return
        try:
            req = json.loads(self.rfile.read(length))
            messages, params = _parse_request(req)
        except (ValueError, TypeError) as exc:
            self._error(400, str(exc))
            return
        fut = self.server.batcher.submit(messages, params)
        try:
            gens = fut.result(timeout=self.server.request_timeout)
        except Exception as exc:
            self._error(500, f"generation failed: {type(exc).__name__}: {exc}")
            return
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": g.text},
                "finish_reason": "stop" if g.finished else "length",
                "token_ids": g.token_ids,
            }
            for i, g in enumerate(gens)
        ]
        completion_tokens = sum(len(g.token_ids or []) for g in gens)
        self._send(200, {
            "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.server.model_name,
            "choices": choices,
            "usage": {"completion_tokens": completion_tokens},
        })


def _parse_request(req: Any) -> tuple[list[dict[str, Any]], tuple]:
    """Validate a chat-completions body; return (messages, sampling-params key)."""
    if not isinstance(req, dict):
        raise ValueError("request body must be a JSON object")
    if req.get("stream"):
        raise ValueError("stream=true is not supported by lfmgym serve")
    messages = req.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("field 'messages' must be a non-empty list")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise ValueError(f"messages[{i}] must be an object with a string 'role'")
        if not isinstance(m.get("content") or "", str):
            raise ValueError(f"messages[{i}].content must be a string (multimodal parts are not supported)")
    n = int(req.get("n") or 1)
    temperature = float(req.get("temperature", 1.0) if req.get("temperature") is not None else 1.0)
    top_p = float(req.get("top_p") if req.get("top_p") is not None else 1.0)
    max_tokens = req.get("max_completion_tokens") or req.get("max_tokens") or 256
    seed = req.get("seed")
    if not 1 <= n <= 64:
        raise ValueError(f"field 'n' must be in 1..64, got {n}")
    if temperature < 0:
        raise ValueError(f"field 'temperature' must be >= 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise ValueError(f"field 'top_p' must be in (0, 1], got {top_p}")
    return messages, (n, temperature, top_p, int(max_tokens), None if seed is None else int(seed))


class ChatServer(ThreadingHTTPServer):
    """The HTTP server; ``start()`` serves on a background thread, ``close()`` stops it."""

    daemon_threads = True

    def __init__(self, backend: GenerationBackend, model_name: str, host: str = "127.0.0.1", port: int = 8000, *,
                 max_batch: int = 32, batch_wait_s: float = 0.01, request_timeout: float = 600.0,
                 verbose: bool = False):
        super().__init__((host, port), _Handler)
        self.model_name = model_name
        self.batcher = _Batcher(backend, max_batch=max_batch, batch_wait_s=batch_wait_s)
        self.request_timeout = request_timeout
        self.verbose = verbose
        self.started = time.time()
        self._thread: threading.Thread | None = None
        self.batcher.start()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "ChatServer":
        self._thread = threading.Thread(target=self.serve_forever, name="lfmgym-serve", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self.batcher.stop()

    def __enter__(self) -> "ChatServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()


def make_server(backend: GenerationBackend, model_name: str = "lfmgym", host: str = "127.0.0.1", port: int = 0,
                **kwargs: Any) -> ChatServer:
    """A :class:`ChatServer` (``port=0`` picks a free port; read ``server.base_url``)."""
    return ChatServer(backend, model_name, host, port, **kwargs)


# --------------------------------------------------------------------------- CLI


def add_commands(subparsers) -> None:
    p = subparsers.add_parser("serve", help="serve a model over an OpenAI-compatible HTTP API",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="preset name (e.g. tiny), local directory or hub id")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--name", default=None, help="model name reported by /v1/models (default: --model)")
    p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when available)")
    p.add_argument("--batch-size", type=int, default=32, help="rows generated together")
    p.add_argument("--batch-wait", type=float, default=0.01, help="seconds to gather concurrent requests")
    p.add_argument("--verbose", action="store_true", help="log every request")
    p.set_defaults(func=_cmd_serve)


def _cmd_serve(args) -> int:
    from lfmgym.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend.from_pretrained(args.model, device=args.device, batch_size=args.batch_size)
    server = ChatServer(backend, args.name or args.model, args.host, args.port, max_batch=args.batch_size,
                        batch_wait_s=args.batch_wait, verbose=args.verbose)
    print(f"lfmgym serve: {args.model} at {server.base_url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.batcher.stop()
    return 0
