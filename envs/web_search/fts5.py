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
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lfmgym.envs.web_search.base import SearchError
from lfmgym.envs.web_search.query import query_terms

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


K1, B = 1.2, 0.75  # FTS5's bm25() constants


def _varints(blob: bytes) -> list[int]:
    """Decode SQLite varints (FTS5 stores column sizes and totals this way)."""
    out, i = [], 0
    while i < len(blob):
        value = 0
        for j in range(9):
            byte = blob[i]
            i += 1
            if j == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        out.append(value)
    return out


def _idf(n_docs: int, df: int) -> float:
    idf = math.log((n_docs - df + 0.5) / (df + 0.5))
    return idf if idf > 0 else 1e-6  # as FTS5: a term in over half the pages weighs ~nothing


class FTS5Backend:
    """Search backend over a corpus file written by :func:`build_index`.

    Args:
        path: the corpus file.
        snippet_tokens: length of the snippet window, in tokens (short: a tiny model reads it).
        drop_stopwords: leave very common English words out of queries.
        selective_df: see *Ranking* below.
        rerank_depth: see *Ranking* below.

    ``search`` returns hits ``{"id", "title", "url", "snippet", "score"}`` (best first; ``score``
    is the BM25 score, higher is better); ``open`` returns ``"title\n\ntext"``. The connection
    is opened lazily and re-opened after unpickling, so an env holding this backend pickles.

    Ranking: the query's word tokens are OR-ed and ranked by FTS5's ``bm25()`` (title and text
    weigh the same), ties broken by insertion order. ``bm25()`` costs time for every page that
    contains any query term, so one common word ("born" in half of a 100k-page corpus) would
    make a query take 100+ ms. Terms found in more than ``selective_df`` pages are therefore
    left out of the FTS5 query; the ``rerank_depth`` best pages are then re-scored with those
    terms' BM25 contributions added (same formula and statistics as ``bm25()``), so "Fort
    Kresbro" still beats "Kresbro". A MaxScore bound then checks that no page left out could
    beat the best one; when it could, the next rarest term joins the FTS5 query and the step
    repeats. So the first hit is always the plain ``bm25()`` first hit; the rest of the list is
    the ``bm25()`` order of the pages holding a selective term. With no term that common (any
    corpus of up to ``selective_df`` pages) the whole list is exactly the plain ranking.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        snippet_tokens: int = 20,
        drop_stopwords: bool = True,
        selective_df: int = 500,
        rerank_depth: int = 10,
    ):
        self.path = str(path)
        if not Path(self.path).is_file():
            raise FileNotFoundError(f"corpus file {self.path!r} not found (build one with `lfmgym corpus index`)")
        self.snippet_tokens = int(snippet_tokens)
        self.drop_stopwords = drop_stopwords
        self.selective_df = int(selective_df)
        self.rerank_depth = int(rerank_depth)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._df_cache: dict[str, int] = {}
        version = self._info().get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"{self.path}: corpus format version {version!r}, expected {FORMAT_VERSION!r}; re-index it")
        self._stats = self._corpus_stats()

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

    def _corpus_stats(self) -> tuple[int, float] | None:
        """(pages, average page length in tokens) from FTS5's averages record, or None when the
        FTS5 on-disk format is not the known one (then every query uses plain ``bm25()``)."""
        conn = self._connection()
        try:
            version = conn.execute("SELECT v FROM pages_fts_config WHERE k = 'version'").fetchone()
            block = conn.execute("SELECT block FROM pages_fts_data WHERE id = 1").fetchone()
        except sqlite3.DatabaseError:
            return None
        if not version or version[0] != 4 or not block:
            return None
        values = _varints(block[0])
        if len(values) != 3 or values[0] == 0:
            return None
        return values[0], (values[1] + values[2]) / values[0]

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

    # -- ranking ------------------------------------------------------------------------------

    def _df(self, conn: sqlite3.Connection, term: str, cap: int | None) -> int:
        """Pages containing ``term`` (counting stops past ``cap``; exact counts are cached)."""
        if term in self._df_cache:
            return self._df_cache[term]
        sql = "SELECT count(*) FROM pages_fts WHERE pages_fts MATCH ?"
        if cap is not None:
            sql = f"SELECT count(*) FROM (SELECT rowid FROM pages_fts WHERE pages_fts MATCH ? LIMIT {cap + 1})"
        n = conn.execute(sql, (f'"{term}"',)).fetchone()[0]
        if cap is None or n <= cap:
            if len(self._df_cache) > 100_000:
                self._df_cache.clear()
            self._df_cache[term] = n
        return n

    def _rank(self, conn: sqlite3.Connection, terms: list[str], k: int) -> list[tuple[int, float]]:
        """``(rowid, score)`` of the ``k`` best pages (see *Ranking* in the class docstring)."""
        plain = "SELECT rowid, -bm25(pages_fts) AS s FROM pages_fts WHERE pages_fts MATCH ? ORDER BY s DESC, rowid LIMIT ?"
        if self._stats is None or len(terms) == 1 or self._stats[0] <= self.selective_df:
            return conn.execute(plain, (_match(terms), k)).fetchall()
        dfs = {t: self._df(conn, t, self.selective_df) for t in terms}
        order = sorted(terms, key=lambda t: (dfs[t], t))
        n_selective = max(1, sum(dfs[t] <= self.selective_df for t in terms))
        depth = max(k, self.rerank_depth)
        # bm25() scores every matching page whatever the LIMIT, so fetch them all (a few hundred).
        all_rows = plain.replace(" LIMIT ?", "")
        n_docs, avgdl = self._stats
        while n_selective < len(order):
            selective, common = order[:n_selective], order[n_selective:]
            idf = {t: _idf(n_docs, self._df(conn, t, None)) for t in common}
            max_common = sum(idf.values()) * (K1 + 1)  # a common term adds less than idf * (k1 + 1)
            ranked = conn.execute(all_rows, (_match(selective),)).fetchall()
            # Re-score candidates best-first, in chunks; stop once the next one cannot catch up
            # with the best (MaxScore), but re-score at least `depth` of them for the list order.
            scores: dict[int, float] = {}
            done = 0
            while done < len(ranked):
                chunk = dict(ranked[done : done + 8])
                self._add_common_terms(conn, chunk, idf, avgdl)
                scores.update(chunk)
                done += len(chunk)
                if done >= depth and done < len(ranked) and ranked[done][1] + max_common < max(scores.values()):
                    break
            # A page not re-scored holds no selective term, or ranks below ranked[done] on them:
            # bound its score. If the best re-scored page beats the bound it is the plain bm25()
            # winner; otherwise widen the FTS5 query by the next rarest term.
            bound = (ranked[done][1] if done < len(ranked) else 0.0) + max_common
            best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
            if best and best[0][1] >= bound * (1 + 1e-9):
                return best
            n_selective += 1
        return conn.execute(plain, (_match(terms), k)).fetchall()

    def _add_common_terms(self, conn: sqlite3.Connection, scores: dict[int, float], idf: dict[str, float],
                          avgdl: float) -> None:
        """Add each common term's BM25 contribution to ``scores`` (rowid -> score), in place.

        The term frequency comes from ``highlight()`` (one mark per matching token) and the page
        length from FTS5's docsize record, exactly the inputs ``bm25()`` uses.
        """
        rowids = list(scores)
        marks = ",".join("?" * len(rowids))
        norm = {
            rowid: K1 * (1 - B + B * sum(_varints(sz)) / avgdl)
            for rowid, sz in conn.execute(f"SELECT id, sz FROM pages_fts_docsize WHERE id IN ({marks})", rowids)
        }
        for term, term_idf in idf.items():
            rows = conn.execute(
                "SELECT rowid, highlight(pages_fts, 0, char(2), ''), highlight(pages_fts, 1, char(2), '') "
                f"FROM pages_fts WHERE pages_fts MATCH ? AND rowid IN ({marks})",
                (f'"{term}"', *rowids),
            )
            for rowid, title, text in rows:
                tf = title.count("\x02") + text.count("\x02")
                scores[rowid] += term_idf * tf * (K1 + 1) / (tf + norm[rowid])

    # -- backend protocol ---------------------------------------------------------------------

    def search(self, query: str, k: int = 5) -> list[dict[str, Any]]:
        """The ``k`` best pages for ``query`` (any text: it is sanitized, never raises on syntax)."""
        terms = query_terms(query, self.drop_stopwords)
        if not terms or k < 1:
            return []
        with self._lock:
            conn = self._connection()
            ranked = self._rank(conn, terms, int(k))
            if not ranked:
                return []
            # Snippets for the k winners only (snippet() per matching page would cost more than ranking).
            rowids = [r[0] for r in ranked]
            marks = ",".join("?" * len(rowids))
            snippets = dict(
                conn.execute(
                    f"SELECT rowid, snippet(pages_fts, 1, '', '', '…', ?) FROM pages_fts "
                    f"WHERE pages_fts MATCH ? AND rowid IN ({marks})",
                    (self.snippet_tokens, _match(terms), *rowids),
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
        """The page whose id or url is ``url_or_id``, as ``"title\n\ntext"``.

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


def _match(terms: list[str]) -> str:
    # query_terms() yields \w+ tokens, which never contain a double quote.
    return " OR ".join(f'"{t}"' for t in terms)
