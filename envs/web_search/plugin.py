"""Plugin entry point of the web-search environment (``lfmgym.envs.web_search.plugin``).

Registers the ``web_search`` env, the ``fts5`` and ``ddgs`` search backends, and the
``lfmgym corpus`` command. Heavy modules are imported inside the factories.
"""

from __future__ import annotations

from typing import Any

from lfmgym import Spec, hookimpl

VERSION = "0.1"


def fts5_backend(path: str | None = None, *, world_seed: int = 0, snippet_tokens: int = 20, drop_stopwords: bool = True):
    """An :class:`FTS5Backend` over ``path``, or over the bundled generated world when ``path`` is None."""
    from lfmgym.envs.web_search.fts5 import FTS5Backend
    from lfmgym.envs.web_search.paths import world_corpus

    return FTS5Backend(path if path is not None else world_corpus(world_seed),
                       snippet_tokens=snippet_tokens, drop_stopwords=drop_stopwords)


def ddgs_backend(**kwargs: Any):
    from lfmgym.envs.web_search.ddgs_backend import DDGSBackend

    return DDGSBackend(**kwargs)


@hookimpl
def lfmgym_environments():
    from lfmgym.envs.web_search.env import WebSearchEnv

    return [Spec("web_search", WebSearchEnv, WebSearchEnv.description, VERSION)]


@hookimpl
def lfmgym_search_backends():
    return [
        Spec("fts5", fts5_backend, "SQLite FTS5 (bm25) over a local corpus file; the offline default", VERSION),
        Spec("ddgs", ddgs_backend, "Live web search through ddgs, with retries and a result cache", VERSION),
    ]


@hookimpl
def lfmgym_add_commands(subparsers):
    from lfmgym.envs.web_search.cli import add_commands

    add_commands(subparsers)
