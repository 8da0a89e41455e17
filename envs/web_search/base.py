"""The search-backend protocol shared by every backend (see ``lfmgym_search_backends``).

A backend is any object with::

    search(query: str, k: int) -> list[dict]   # hits: id, title, url, snippet (best first)
    open(url_or_id: str) -> str                # the page text

Expected failures (an unknown page, no network, a rate limit) raise :class:`SearchError`; the
environment shows its message to the model as the tool's result and the episode goes on.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["SearchBackend", "SearchError"]


class SearchError(RuntimeError):
    """A search or page fetch failed in a way the model should be told about."""


@runtime_checkable
class SearchBackend(Protocol):
    def search(self, query: str, k: int) -> list[dict[str, Any]]: ...

    def open(self, url_or_id: str) -> str: ...
