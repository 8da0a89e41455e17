"""The embedded search backend: one SQLite file with an FTS5 full-text index.

Layout of a corpus file (written by :func:`build_index`, read by :class:`FTS5Backend`)::

    pages(rowid, id UNIQUE, url, title, text)          -- the documents
    pages_fts(title, text)                             -- FTS5 index over pages (external content),
                                                       -- tokenize='porter unicode61'
    corpus_info(key, value)                            -- format version, document count

Ranking is SQLite's ``bm25()`` (k1=1.2, b=0.75) with ties broken by insertion order, so the same
query always returns the same list. Snippets come from FTS5's ``snippet()``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lfmgym.envs.web_search.base import SearchError
from lfmgym.envs.web_search.query import fts5_query

__all__ = ["FTS5Backend", "build_index", "iter_jsonl_docs", "IndexStats", "FORMAT_VERSION"]

FORMAT_VERSION = "1"

_SCHEMA = """
CREATE TABLE pages(rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, url TEXT, title TEXT NOT NULL, text TEXT NOT NULL);
CREATE INDEX pages_url ON pages(url);
CREATE VIRTUAL TABLE pages_fts USING fts5(title, text, content='pages', content_rowid='rowid', tokenize='porter unicode61');
CREATE TABLE corpus_info(key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class IndexStats:
    """What :func:`build_index` wrote."""

    path: str
    docs: int
    seconds: float
    bytes: int


def _check_doc(doc: Any, where: str) -> tuple[str, str | None, str, str]:
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: expected a JSON object with 'id', 'title', 'text', got {type(doc).__name__}")
    for key in ("id", "title", "text"):
        value = doc.get(key)
        if key == "id" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ValueError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
        if key == "id" and not value.strip():
            raise ValueError(f"{where}: field 'id' is empty")
    url = doc.get("url")
    if url is not None and not isinstance(url, str):
        raise ValueError(f"{where}: field 'url' must be a string or absent, got {type(url).__name__}")
    return str(doc["id"]).strip(), (url or None), doc["title"], doc["text"]


def iter_jsonl_docs(path: str | Path, on_bytes: Callable[[int], None] | None = None) -> Iterator[tuple[str, dict]]:
    """Stream ``(where, doc)`` from a JSONL file, one line at a time (blank lines skipped).

    ``on_bytes(n)`` is called with the bytes consumed by each line (for a progress bar).

    Raises:
        ValueError: naming the line, for a line that is not JSON.
    """
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if on_bytes is not None:
                on_bytes(len(raw))
            line = raw.strip()
            if not line:
                continue
            where = f"{path}:{lineno}"
            try:
                yield where, json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ValueError(f"{where}: not valid JSON ({exc})") from None


def build_index(
    docs: Iterable[dict] | Iterable[tuple[str, dict]],
    path: str | Path,
    *,
    overwrite: bool = False,
    progress_every: int = 1_000,
    on_doc: Callable[[int], None] | None = None,
) -> IndexStats:
    """Index documents (``id``, ``title``, ``text``, optional ``url``) into a new corpus file.

    Documents are consumed as a stream (one transaction, one row at a time), so the corpus never
    has to fit in memory. The file is written under a temporary name and moved into place at the end: an
    interrupted build never leaves a half-written corpus behind.

    Args:
        docs: dicts, or ``(where, dict)`` pairs (``where`` names the source line in errors).
        path: the corpus file to create.
        overwrite: replace an existing file.
        progress_every: call ``on_doc`` every this many documents.
        on_doc: called with the running document count (for a progress bar).

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        ValueError: naming the document, for a missing/mistyped field or a duplicate id.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists (pass overwrite=True / --force to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.unlink(missing_ok=True)
    start = time.perf_counter()
    conn = sqlite3.connect(tmp)
    n = 0
    try:
        conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        insert_page = "INSERT INTO pages(rowid, id, url, title, text) VALUES (?,?,?,?,?)"
        insert_fts = "INSERT INTO pages_fts(rowid, title, text) VALUES (?,?,?)"
        conn.execute("BEGIN")
        for i, item in enumerate(docs):
            where, doc = item if isinstance(item, tuple) else (f"document {i}", item)
            doc_id, url, title, text = _check_doc(doc, where)
            n += 1
            try:
                conn.execute(insert_page, (n, doc_id, url, title, text))
            except sqlite3.IntegrityError:
                raise ValueError(f"{where}: duplicate id {doc_id!r}") from None
            conn.execute(insert_fts, (n, title, text))
            if on_doc is not None and n % progress_every == 0:
                on_doc(n)
        if on_doc is not None:
            on_doc(n)
        conn.execute("INSERT INTO pages_fts(pages_fts) VALUES('optimize')")  # one b-tree: faster queries
        conn.executemany(
            "INSERT INTO corpus_info(key, value) VALUES (?, ?)",
            [("format_version", FORMAT_VERSION), ("docs", str(n))],
        )
        conn.commit()
        conn.close()
        os.replace(tmp, path)
    except BaseException:
        conn.close()
        tmp.unlink(missing_ok=True)
        raise
    return IndexStats(str(path), n, time.perf_counter() - start, path.stat().st_size)


class FTS5Backend:
    """Search backend over a corpus file written by :func:`build_index`.

    Args:
        path: the corpus file.
        snippet_tokens: length of the snippet window, in tokens (short: a tiny model reads it).
        drop_stopwords: leave very common words out of OR queries.

    ``search`` returns hits ``{"id", "title", "url", "snippet", "score"}`` (best first; ``score``
    is bm25, lower is better); ``open`` returns ``"title\\n\\ntext"``. The connection is opened
    lazily and re-opened after unpickling, so an env holding this backend can be pickled.
    """

    def __init__(self, path: str | Path, *, snippet_tokens: int = 24, drop_stopwords: bool = True):
        self.path = str(path)
        if not Path(self.path).is_file():
            raise FileNotFoundError(f"corpus file {self.path!r} not found (build one with `lfmgym corpus index`)")
        self.snippet_tokens = int(snippet_tokens)
        self.drop_stopwords = drop_stopwords
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        version = self._info().get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"{self.path}: corpus format version {version!r}, expected {FORMAT_VERSION!r}; re-index it")

    # -- connection ---------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
                conn.execute("SELECT 1 FROM pages LIMIT 1")
            except sqlite3.DatabaseError as exc:
                raise ValueError(f"{self.path} is not an lfmgym corpus file: {exc}") from None
            self._conn = conn
        return self._conn

    def _info(self) -> dict[str, str]:
        try:
            return dict(self._connection().execute("SELECT key, value FROM corpus_info").fetchall())
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path} is not an lfmgym corpus file: {exc}") from None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_conn"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __len__(self) -> int:
        with self._lock:
            return int(self._connection().execute("SELECT count(*) FROM pages").fetchone()[0])

    # -- backend protocol ---------------------------------------------------------------------

    def search(self, query: str, k: int = 5) -> list[dict[str, Any]]:
        """The ``k`` best pages for ``query`` (any text: it is sanitized, never raises on syntax)."""
        match = fts5_query(query, self.drop_stopwords)
        if match is None or k < 1:
            return []
        with self._lock:
            conn = self._connection()
            # Rank first (cheap), then build snippets for the k winners only.
            ranked = conn.execute(
                "SELECT rowid, bm25(pages_fts) AS score FROM pages_fts WHERE pages_fts MATCH ? "
                "ORDER BY score, rowid LIMIT ?",
                (match, int(k)),
            ).fetchall()
            if not ranked:
                return []
            rowids = [r[0] for r in ranked]
            marks = ",".join("?" * len(rowids))
            snippets = dict(
                conn.execute(
                    f"SELECT rowid, snippet(pages_fts, 1, '', '', '…', ?) FROM pages_fts "
                    f"WHERE pages_fts MATCH ? AND rowid IN ({marks})",
                    (self.snippet_tokens, match, *rowids),
                ).fetchall()
            )
            meta = {
                r[0]: r[1:]
                for r in conn.execute(f"SELECT rowid, id, url, title FROM pages WHERE rowid IN ({marks})", rowids)
            }
        hits = []
        for rowid, score in ranked:
            doc_id, url, title = meta[rowid]
            hits.append({"id": doc_id, "title": title, "url": url, "snippet": snippets.get(rowid, ""), "score": score})
        return hits

    def open(self, url_or_id: str) -> str:
        """The page whose id or url is ``url_or_id``, as ``"title\\n\\ntext"``.

        Raises:
            SearchError: no such page.
        """
        key = str(url_or_id).strip()
        with self._lock:
            row = self._connection().execute(
                "SELECT title, text FROM pages WHERE id = ? UNION ALL SELECT title, text FROM pages WHERE url = ? LIMIT 1",
                (key, key),
            ).fetchone()
        if row is None:
            raise SearchError(f"no page with id or url {key!r}; use an id from the search results")
        return f"{row[0]}\n\n{row[1]}"

    def page_id(self, url_or_id: str) -> str | None:
        """The id of the page named by an id or a url (``None`` if there is none)."""
        key = str(url_or_id).strip()
        with self._lock:
            row = self._connection().execute(
                "SELECT id FROM pages WHERE id = ? UNION ALL SELECT id FROM pages WHERE url = ? LIMIT 1", (key, key)
            ).fetchone()
        return row[0] if row else None

    def __repr__(self) -> str:
        return f"FTS5Backend({self.path!r})"
