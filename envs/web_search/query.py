"""Turn model-written text into a safe SQLite FTS5 query.

FTS5 has its own query language (``AND``/``OR``/``NOT``/``NEAR``, ``"phrases"``, ``col:``,
``prefix*``, parentheses) and raises ``sqlite3.OperationalError`` on anything it cannot parse
(``state-of-the-art``, an unbalanced quote, ``C++ AND``). A model never means that syntax, so
every word token is quoted (operators become plain words) and the tokens are OR-ed: BM25 then
ranks pages matching more, rarer terms first.
"""

from __future__ import annotations

import re

__all__ = ["STOPWORDS", "query_terms", "fts5_query"]

# Very common English words are dropped (unless nothing else is left): in an OR query they
# match most of the corpus, which costs time and adds nothing to the ranking.
STOPWORDS = frozenset(
    """a an and are as at be by for from has have he her his how in is it its of on or she that the
    their them they this to was were what when where which who whom whose why will with""".split()
)

_WORD = re.compile(r"\w+", re.UNICODE)

MAX_TERMS = 32  # a pasted paragraph must not become a 500-way OR
MAX_TERM_CHARS = 64


def query_terms(text: str, drop_stopwords: bool = True) -> list[str]:
    """The distinct lower-cased word tokens of ``text`` in order (stopwords dropped when others remain)."""
    if not isinstance(text, str):
        return []
    seen: dict[str, None] = {}
    for match in _WORD.finditer(text.lower()):
        token = match.group().strip("_")[:MAX_TERM_CHARS]
        if token:
            seen.setdefault(token, None)
    terms = list(seen)
    if drop_stopwords:
        content = [t for t in terms if t not in STOPWORDS]
        terms = content or terms
    return terms[:MAX_TERMS]


def fts5_query(text: str, drop_stopwords: bool = True) -> str | None:
    """An FTS5 MATCH expression for ``text``: its quoted word tokens joined by ``OR``.

    Returns ``None`` when the text has no word at all (nothing to search for).

    >>> fts5_query('state-of-the-art "C++ AND')
    '"state" OR "art" OR "c"'
    """
    terms = query_terms(text, drop_stopwords)
    if not terms:
        return None
    # \\w never matches a double quote, so quoting cannot be broken out of.
    return " OR ".join(f'"{t}"' for t in terms)
