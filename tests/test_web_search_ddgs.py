"""The live ddgs backend against a stubbed transport: retries, backoff, cache, error text. No network."""

from __future__ import annotations

import pickle

import pytest

from lfmgym.env import Task
from lfmgym.envs.web_search.base import SearchError
from lfmgym.envs.web_search.ddgs_backend import DDGSBackend
from lfmgym.toolcalls import ToolCall, render_tool_calls


class RatelimitException(Exception):
    """Stands in for ddgs.exceptions.RatelimitException."""


class FakeDDGS:
    """A DDGS-like client whose answers are scripted: each entry is a result or an exception."""

    def __init__(self, script: list):
        self.script = list(script)
        self.calls: list[tuple] = []

    def _next(self):
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def text(self, query, **kwargs):
        self.calls.append(("text", query, kwargs))
        return self._next()

    def extract(self, url, fmt="text_markdown"):
        self.calls.append(("extract", url, fmt))
        return {"url": url, "content": self._next()}


RESULTS = [
    {"title": "Hamlet - Wikipedia", "href": "https://en.wikipedia.org/wiki/Hamlet", "body": "Hamlet is a tragedy by  William Shakespeare."},
    {"title": "No link", "body": "dropped: a result without a url"},
    {"title": "Shakespeare", "href": "https://example.org/ws", "body": "x" * 1000},
]


def make(tmp_path, script, **kwargs):
    client = FakeDDGS(script)
    made, slept = [], []

    def factory(timeout):
        made.append(timeout)
        return client

    kwargs.setdefault("cache", tmp_path / "cache.db")
    backend = DDGSBackend(client_factory=factory, sleep=slept.append, **kwargs)
    return backend, client, made, slept


def test_results_are_mapped_and_the_client_is_lazy(tmp_path):
    backend, client, made, _ = make(tmp_path, [RESULTS], timeout=7, snippet_chars=50)
    assert made == []  # nothing is created (no ddgs import, no network) before the first search
    hits = backend.search("  who wrote\nhamlet ", 5)
    assert made == [7.0]
    assert client.calls == [("text", "who wrote hamlet", {"max_results": 5, "region": "wt-wt", "safesearch": "moderate"})]
    assert hits[0] == {"id": "https://en.wikipedia.org/wiki/Hamlet", "title": "Hamlet - Wikipedia",
                       "url": "https://en.wikipedia.org/wiki/Hamlet", "snippet": "Hamlet is a tragedy by William Shakespeare."}
    assert [h["id"] for h in hits] == ["https://en.wikipedia.org/wiki/Hamlet", "https://example.org/ws"]
    assert len(hits[1]["snippet"]) == 50


def test_retries_with_exponential_backoff(tmp_path):
    script = [RatelimitException("202 Ratelimit"), TimeoutError("timed out"), RESULTS]
    backend, client, _, slept = make(tmp_path, script, retries=3, backoff=0.5)
    assert len(backend.search("hamlet", 3)) == 2
    assert slept == [0.5, 1.0]  # backoff * 2**attempt
    assert len(client.calls) == 3
    assert backend.stats == {"requests": 3, "failures": 2, "cache_hits": 0}


def test_backoff_is_capped(tmp_path):
    backend, _, _, slept = make(tmp_path, [OSError("down")] * 5 + [RESULTS], retries=5, backoff=4, max_backoff=10)
    backend.search("hamlet", 3)
    assert slept == [4, 8, 10, 10, 10]


def test_failure_after_the_last_retry_is_a_search_error_with_the_reason(tmp_path):
    backend, client, _, slept = make(tmp_path, [RatelimitException("202 Ratelimit")] * 3, retries=2, backoff=1)
    with pytest.raises(SearchError, match=r"failed after 3 attempts \(RatelimitException: 202 Ratelimit\)"):
        backend.search("hamlet", 3)
    assert slept == [1, 2] and len(client.calls) == 3


def test_results_are_cached_on_disk_and_failures_are_not(tmp_path):
    backend, client, _, _ = make(tmp_path, [OSError("offline"), RESULTS], retries=0)
    with pytest.raises(SearchError):
        backend.search("hamlet", 3)
    first = backend.search("hamlet", 3)  # the failure was not cached: this asks again
    assert backend.search("hamlet", 3) == first
    assert len(client.calls) == 2 and backend.stats["cache_hits"] == 1
    # A new backend (another run of a sweep) on the same cache file asks the service nothing.
    again, client2, made2, _ = make(tmp_path, [])
    assert again.search("hamlet", 3) == first
    assert client2.calls == [] and made2 == []
    # A different k, region or query is a different request.
    other, client3, _, _ = make(tmp_path, [RESULTS[:1]])
    assert len(other.search("hamlet", 1)) == 1 and len(client3.calls) == 1


def test_no_results_is_an_empty_answer_not_a_failure(tmp_path):
    backend, client, _, slept = make(tmp_path, [Exception("No results found.")])
    assert backend.search("zzqqxx", 3) == []
    assert slept == [] and backend.search("zzqqxx", 3) == [] and len(client.calls) == 1


def test_open_fetches_cached_page_text(tmp_path):
    backend, client, _, slept = make(tmp_path, [TimeoutError("slow"), "Hamlet\nThe Tragedy of Hamlet."], backoff=2)
    url = "https://en.wikipedia.org/wiki/Hamlet"
    assert backend.open(url) == "Hamlet\nThe Tragedy of Hamlet."
    assert backend.open(url) == "Hamlet\nThe Tragedy of Hamlet."
    assert slept == [2] and client.calls == [("extract", url, "text_plain")] * 2
    with pytest.raises(SearchError, match="needs a url"):
        backend.open("hamlet")


def test_no_cache_and_argument_checks(tmp_path):
    backend, client, _, _ = make(tmp_path, [RESULTS, RESULTS], cache=None)
    backend.search("hamlet", 3)
    backend.search("hamlet", 3)
    assert len(client.calls) == 2
    assert backend.search("   ", 3) == [] and backend.search("x", 0) == []
    with pytest.raises(ValueError, match="retries"):
        DDGSBackend(retries=-1, cache=None)
    with pytest.raises(ValueError, match="timeout"):
        DDGSBackend(timeout=0, cache=None)


def test_missing_ddgs_package_is_reported_once_not_retried(tmp_path):
    slept = []

    def factory(timeout):
        raise SearchError("live search needs the 'ddgs' package (pip install ddgs)")

    backend = DDGSBackend(client_factory=factory, sleep=slept.append, cache=None)
    with pytest.raises(SearchError, match="pip install ddgs"):
        backend.search("x", 1)
    assert slept == []


class ScriptedFactory:
    """A picklable client factory."""

    def __init__(self, script):
        self.script = script

    def __call__(self, timeout):
        return FakeDDGS(self.script)


def test_backend_pickles_without_its_client(tmp_path):
    backend = DDGSBackend(client_factory=ScriptedFactory([RESULTS]), cache=tmp_path / "c.db")
    hits = backend.search("hamlet", 3)
    clone = pickle.loads(pickle.dumps(backend))
    assert clone._client is None and clone._db is None
    assert clone.search("hamlet", 3) == hits  # served from the cache file


def test_env_episode_goes_on_after_a_search_failure(tmp_path):
    """Through the registry, as a user would: failures become the tool's text, results score."""
    from lfmgym.plugins import make_env

    script = [OSError("network is unreachable")] * 2 + [RESULTS]
    client = FakeDDGS(script)
    slept = []
    task = Task(id="hamlet", prompt="Who wrote Hamlet?", answer="William Shakespeare",
                meta={"aliases": ["William Shakespeare", "Shakespeare"],
                      "gold_docs": ["https://en.wikipedia.org/wiki/Hamlet"]})
    env = make_env(
        "web_search", backend="ddgs", tasks=[task],
        backend_kwargs={"client_factory": lambda timeout: client, "sleep": slept.append, "retries": 1,
                        "backoff": 0.25, "cache": str(tmp_path / "c.db")},
    )
    env.reset(options={"task": task})
    search = render_tool_calls([ToolCall("search", {"query": "who wrote hamlet"})], "pythonic")
    obs, reward, term, trunc, info = env.step(search)
    assert not term and obs[-1]["role"] == "tool"
    assert obs[-1]["content"] == ("Error: web search failed after 2 attempts "
                                  "(OSError: network is unreachable)")
    assert slept == [0.25]
    obs, *_ = env.step(search)
    assert obs[-1]["content"].startswith("[https://en.wikipedia.org/wiki/Hamlet] Hamlet - Wikipedia")
    _, reward, term, _, info = env.step("Shakespeare")
    comps = info["reward_components"]
    assert term and comps["exact_match"] == comps["f1"] == 1.0
    assert comps["searches"] == 2.0 and comps["gold_retrieved"] == 1.0
    # The retried search was written twice, which the env's repetition penalty notices.
    assert reward == pytest.approx(1.0 + env.reward_weights["repetition"] * comps["repetition"])
