"""Generation through any OpenAI-compatible chat-completions endpoint.

Works with ``vllm serve``, ``transformers serve``, ``lfmgym serve`` and hosted APIs. Each
transcript of a batch is one ``POST {base_url}/chat/completions`` request; requests run on a
thread pool (``concurrency``), so a server with continuous batching sees them together.
Transient failures (connection errors, timeouts, HTTP 408/409/429/5xx) are retried with
exponential backoff and jitter; anything else fails at once with the server's message.

Servers that parse tool calls into the structured ``tool_calls`` field (vLLM with a tool parser)
get them rendered back into text in ``tool_format``, so environments see one wire format.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lfmgym.backends.base import BackendError, Generation  # BackendError: a request failed for good

__all__ = ["OpenAIBackend", "BackendError"]

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIBackend:
    """A :class:`~lfmgym.backends.base.GenerationBackend` over HTTP.

    Args:
        base_url: the API root, e.g. ``http://localhost:8000/v1`` (``/chat/completions`` is appended).
        model: the model name sent with each request; ``None`` asks ``GET /models`` once and
            uses the first one.
        api_key: sent as a bearer token; defaults to ``$OPENAI_API_KEY`` (or none).
        concurrency: requests in flight at once.
        timeout: seconds for one request (connect and read).
        max_retries: retries of a transient failure before giving up.
        backoff: first retry delay in seconds; doubles each retry (capped at ``max_backoff``).
        tool_format: how structured ``tool_calls`` in a response are rendered into text.
        extra_body: extra JSON fields for every request (e.g. ``{"skip_special_tokens": False}``
            for vLLM, so LFM2's tool-call tokens stay in the text).

    Text only: a chat endpoint returns text, not the sampled token ids, so the rollout engine
    plays it at the text level (records have ``prompt_ids is None`` and turns without ids) and
    the token-exact trainers (DPO pairs, GRPO) cannot train on its episodes.
    """

    # What the rollout engine looks for: no token generator, the engine plays text.
    token_generator = None
    returns_token_ids = False

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        concurrency: int = 16,
        timeout: float = 120.0,
        max_retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        tool_format: str = "pythonic",
        extra_body: dict[str, Any] | None = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: expected an http(s):// URL, got {base_url!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency: must be >= 1, got {concurrency}")
        if max_retries < 0:
            raise ValueError(f"max_retries: must be >= 0, got {max_retries}")
        self.base_url = base_url.rstrip("/")
        self.concurrency = int(concurrency)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.tool_format = tool_format
        self.extra_body = dict(extra_body or {})
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._model = model
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ HTTP with retries

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One JSON request, retried on transient failures; raises :class:`BackendError`."""
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode()
        last = ""
        for attempt in range(self.max_retries + 1):
            req = urllib.request.Request(url, data=data, method=method, headers=self._headers)
            status, text = None, ""
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    status, text = resp.status, resp.read().decode("utf-8", "replace")
            except urllib.error.HTTPError as exc:
                status, text = exc.code, exc.read().decode("utf-8", "replace")
            except (TimeoutError, socket.timeout) as exc:
                last = f"Timeout after {self.timeout}s: {exc}"
            except (urllib.error.URLError, ConnectionError, http.client.HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                kind = "Timeout" if isinstance(reason, (TimeoutError, socket.timeout)) else "ConnectionError"
                last = f"{kind}: {reason}"
            if status is not None:
                if status < 300:
                    try:
                        return json.loads(text)
                    except json.JSONDecodeError:
                        raise BackendError(f"{method} {url}: response is not JSON: {text[:200]!r}") from None
                last = f"HTTP {status}: {text[:300]}"
                if status not in RETRY_STATUS:
                    raise BackendError(f"{method} {url} failed with {last}")
            if attempt < self.max_retries:
                delay = min(self.max_backoff, self.backoff * 2**attempt)
                time.sleep(delay * (0.5 + random.random() / 2))  # jitter: retries don't stampede
        raise BackendError(f"{method} {url} failed after {self.max_retries + 1} attempts; last error: {last}")

    @property
    def model(self) -> str:
        """The model name used in requests (asked from the server once when not given)."""
        with self._lock:
            if self._model is None:
                data = self._request("GET", "/models").get("data") or []
                if not data:
                    raise BackendError(f"GET {self.base_url}/models listed no model; pass model=...")
                self._model = str(data[0]["id"])
            return self._model

    # ------------------------------------------------------------------ generation

    def _choice_to_generation(self, choice: dict[str, Any], latency: float) -> Generation:
        from lfmgym.toolcalls import ToolCall, render_tool_calls

        message = choice.get("message") or {}
        text = message.get("content") or ""
        calls = []
        for tc in message.get("tool_calls") or []:
            fn = tc.get("function") or {}
            args = fn.get("arguments") or {}
            if isinstance(args, str):
                try:
                    args = json.loads(args)
                except json.JSONDecodeError:
                    args = {"__unparsed__": args}  # keep the evidence; the env reports the bad call
            calls.append(ToolCall(str(fn.get("name", "")), args if isinstance(args, dict) else {"__unparsed__": args}))
        if calls:
            text = render_tool_calls(calls, self.tool_format, content=text.strip())
        token_ids = choice.get("token_ids")  # vLLM's return_token_ids and lfmgym serve provide it
        return Generation(
            text=text,
            token_ids=list(token_ids) if token_ids is not None else None,
            finished=choice.get("finish_reason") != "length",
            latency_s=latency,
        )

    def _complete(self, messages: list[dict[str, Any]], n: int, temperature: float, top_p: float,
                  max_new_tokens: int, seed: int | None) -> list[Generation]:
        gens: list[Generation] = []
        # Some servers ignore n > 1: ask again for whatever is missing.
        while len(gens) < n:
            body: dict[str, Any] = {
                "model": self.model,
                "messages": messages,
                "n": n - len(gens),
                "temperature": float(temperature),
                "top_p": float(top_p),
                "max_tokens": int(max_new_tokens),
                **self.extra_body,
            }
            if seed is not None:
                body["seed"] = int(seed) + len(gens)
            t0 = time.perf_counter()
            data = self._request("POST", "/chat/completions", body)
            choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
            if not choices:
                raise BackendError(f"POST {self.base_url}/chat/completions returned no choices: {str(data)[:200]}")
            latency = (time.perf_counter() - t0) / len(choices)
            gens.extend(self._choice_to_generation(c, latency) for c in choices)
        return gens[:n]

    def generate(
        self,
        batch: list[list[dict[str, Any]]],
        *,
        n: int = 1,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_new_tokens: int = 256,
        seed: int | None = None,
    ) -> list[list[Generation]]:
        """``n`` completions per transcript, requests sent ``concurrency`` at a time."""
        if n < 1:
            raise ValueError(f"n: must be >= 1, got {n}")
        if not batch:
            return []
        self.model  # resolve the model name once, before the threads start  # noqa: B018
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batch))) as pool:
            futures = [pool.submit(self._complete, m, n, temperature, top_p, max_new_tokens, seed) for m in batch]
            return [f.result() for f in futures]

    def __repr__(self) -> str:
        return f"OpenAIBackend({self.base_url!r}, model={self._model!r}, concurrency={self.concurrency})"
