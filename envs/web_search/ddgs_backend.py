"""The live backend: web search through ``ddgs`` (the successor of ``duckduckgo-search``).

Never used unless asked for (``make_env("web_search", backend="ddgs", qa_file=...)``). Live search
is slow, rate-limited and changes over time, so every call goes through:

- a timeout (passed to the ``DDGS`` client),
- retries with exponential backoff (``backoff * 2**attempt`` seconds, capped at ``max_backoff``),
- a SQLite result cache keyed by the exact request: a sweep asks the service once per distinct
  query, and a rerun with a warm cache sees the same results (reproducible);
- failures (no network, rate limit, timeout) raised as :class:`SearchError` after the last try,
  which the environment shows to the model as the tool's result so the episode goes on.

The ``ddgs`` import is lazy and the client comes from ``client_factory`` so tests inject a fake
transport (an object with ``text(query, **kw)`` and ``extract(url, fmt=...)``) and never touch
the network.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lfmgym.envs.web_search.base import SearchError

__all__ = ["DDGSBackend", "default_ddgs_client"]


def default_ddgs_client(timeout: float) -> Any:
    """A real ``ddgs.DDGS`` client (imported here, on first use, not at module import)."""
    try:
        from ddgs import DDGS
    except ImportError as exc:
        raise SearchError(f"live search needs the 'ddgs' package (pip install ddgs): {exc}") from None
    return DDGS(timeout=timeout)


_FAILED = object()


def _no_results(exc: Exception) -> bool:
    # ddgs raises DDGSException("No results found.") for an empty result list: an answer, not a failure.
    return "no results found" in str(exc).lower()


class DDGSBackend:
    """Live web search with timeout, retries, backoff and a result cache.

    Args:
        cache: SQLite cache file; ``"auto"`` puts it in the lfmgym cache directory, ``None``
            disables caching.
        timeout: seconds per request (given to the client).
        retries: extra attempts after a failure.
        backoff: first wait between attempts, in seconds; doubles each retry.
        max_backoff: cap on one wait.
        region, safesearch: passed to ``DDGS.text``.
        snippet_chars: characters of each result's body kept as the snippet.
        client_factory: ``factory(timeout) -> client``; defaults to :func:`default_ddgs_client`.
        sleep: the wait function (tests pass a recorder instead of :func:`time.sleep`).
        deadline: seconds for one search or open, every try and wait included: no retry
            starts when its backoff would end past it (the env's tool deadline cuts the rest).
    """

    def __init__(
        self,
        *,
        cache: str | Path | None = "auto",
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        region: str = "wt-wt",
        safesearch: str = "moderate",
        snippet_chars: int = 300,
        client_factory: Callable[[float], Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        deadline: float = 30.0,
    ):
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        if cache == "auto":
            from lfmgym.envs.web_search.paths import cache_dir

            cache = cache_dir() / "web_search" / "ddgs_cache.db"
        self.cache_path = str(cache) if cache is not None else None
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.region = region
        self.safesearch = safesearch
        self.snippet_chars = int(snippet_chars)
        self.client_factory = client_factory or default_ddgs_client
        self.sleep = sleep
        if not 0 < deadline < float("inf"):
            raise ValueError(f"deadline must be a positive number of seconds, got {deadline}")
        self.deadline = float(deadline)
        self.stats = {"requests": 0, "failures": 0, "cache_hits": 0}
        self._client: Any = None
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_client=None, _db=None, _lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- cache --------------------------------------------------------------------------------

    def _cache(self) -> sqlite3.Connection | None:
        if self.cache_path is None:
            return None
        if self._db is None:
            Path(self.cache_path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.cache_path, timeout=30, check_same_thread=False)
            db.execute(
                "CREATE TABLE IF NOT EXISTS results(kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, "
                "created REAL NOT NULL, PRIMARY KEY(kind, key))"
            )
            db.commit()
            self._db = db
        return self._db

    def _cache_get(self, kind: str, key: str) -> Any:
        db = self._cache()
        if db is None:
            return None
        row = db.execute("SELECT value FROM results WHERE kind=? AND key=?", (kind, key)).fetchone()
        return json.loads(row[0]) if row else None

    def _cache_put(self, kind: str, key: str, value: Any) -> None:
        db = self._cache()
        if db is None:
            return
        db.execute("INSERT OR REPLACE INTO results VALUES (?,?,?,?)", (kind, key, json.dumps(value), time.time()))
        db.commit()

    # -- calls --------------------------------------------------------------------------------

    def _call(self, kind: str, key: str, request: Callable[[Any], Any], empty: Any) -> Any:
        """Cached, retried request. Failures are not cached (the next episode tries again)."""
        with self._lock:
            cached = self._cache_get(kind, key)
        if cached is not None:
            self.stats["cache_hits"] += 1
            return cached
        attempts = self.retries + 1
        last: Exception | None = None
        give_up = time.monotonic() + self.deadline  # one deadline for the call, retries included
        value: Any = _FAILED
        tried = 0
        while tried < attempts:
            tried += 1
            self.stats["requests"] += 1
            try:
                if self._client is None:
                    self._client = self.client_factory(self.timeout)
                value = request(self._client)
                break
            except SearchError:
                raise  # e.g. ddgs not installed: retrying cannot help
            except Exception as exc:  # network errors come in many types (httpx, primp, ddgs)
                if _no_results(exc):
                    value = empty
                    break
                last = exc
                self.stats["failures"] += 1
                pause = min(self.max_backoff, self.backoff * 2 ** (tried - 1))
                if tried >= attempts or time.monotonic() + pause >= give_up:
                    break
                self.sleep(pause)
        if value is _FAILED:
            reason = f"{type(last).__name__}: {last}".strip().rstrip(":")
            raise SearchError(f"web search failed after {tried} attempts ({reason[:200]})")
        with self._lock:
            self._cache_put(kind, key, value)
        return value

    def search(self, query: str, k: int = 5) -> list[dict[str, Any]]:
        """Up to ``k`` web results: ``id`` (= url), ``title``, ``url``, ``snippet``."""
        query = " ".join(str(query).split())
        if not query or k < 1:
            return []
        k = min(int(k), 20)
        key = json.dumps([query, k, self.region, self.safesearch])

        def request(client: Any) -> list[dict[str, Any]]:
            rows = client.text(query, max_results=k, region=self.region, safesearch=self.safesearch) or []
            hits = []
            for row in rows[:k]:
                url = str(row.get("href") or row.get("url") or "")
                if not url:
                    continue
                body = " ".join(str(row.get("body") or "").split())
                hits.append({"id": url, "title": str(row.get("title") or url), "url": url,
                             "snippet": body[: self.snippet_chars]})
            return hits

        return self._call("text", key, request, empty=[])

    def open(self, url_or_id: str) -> str:
        """The text of the page at ``url_or_id`` (an ``http(s)://`` url from the results)."""
        url = str(url_or_id).strip()
        if not url.startswith(("http://", "https://")):
            raise SearchError(f"open needs a url from the search results (http:// or https://), got {url[:80]!r}")

        def request(client: Any) -> str:
            page = client.extract(url, fmt="text_plain")
            content = page.get("content", "") if isinstance(page, dict) else page
            if isinstance(content, bytes):
                content = content.decode("utf-8", "replace")
            return str(content)

        return self._call("extract", url, request, empty="")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __repr__(self) -> str:
        return f"DDGSBackend(cache={self.cache_path!r}, timeout={self.timeout}, retries={self.retries})"
