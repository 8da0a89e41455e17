"""Benchmark: the FTS5 search backend against rank-bm25 on the same generated corpus and queries.

    python benchmarks/bench_search.py                 # 100k documents, 200 queries
    python benchmarks/bench_search.py --docs 20000    # quicker

Measures the index build time, then the median and p95 latency of one query (FTS5: the full
``FTS5Backend.search`` the environment calls, snippets included; rank-bm25: ``get_scores`` plus a
top-k selection, no snippets) and how often both rank the same page first. Both sides see the
same tokens: rank-bm25 is fed FTS5's own porter-stemmed tokens (read back through ``fts5vocab``)
and both use k1=1.2, b=0.75, so a disagreement is a ranking difference, not a tokenizer one.

Goals (issue 6): FTS5 median <= 2 ms, >= 20x faster than rank-bm25, same top-1 on >= 90%.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def stem_texts(texts: list[str]) -> list[list[str]]:
    """Tokenize texts exactly as the corpus index does (``porter unicode61``), via FTS5 itself."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter unicode61')")
    conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    conn.executemany("INSERT INTO t(rowid, x) VALUES (?, ?)", list(enumerate(texts, 1)))
    out: list[list[str]] = [[] for _ in texts]
    for doc, term in conn.execute("SELECT doc, term FROM v"):
        out[doc - 1].append(term)
    conn.close()
    return out


def corpus_tokens(path: str, n_docs: int) -> list[list[str]]:
    """Every document's tokens (title and text), read from the FTS5 index's vocabulary."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, pages_fts, 'instance')")
    out: list[list[str]] = [[] for _ in range(n_docs)]
    for doc, term in conn.execute("SELECT doc, term FROM temp.v"):
        out[doc - 1].append(term)
    conn.close()
    return out


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000, help="documents in the generated corpus")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("-k", type=int, default=5, help="results per query")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from rank_bm25 import BM25Okapi
    from rich.console import Console
    from rich.progress import track
    from rich.table import Table

    from lfmgym.envs.web_search.fts5 import FTS5Backend, build_index
    from lfmgym.envs.web_search.query import query_terms
    from lfmgym.envs.web_search.world import TEMPLATES, World

    console = Console()
    t0 = time.perf_counter()
    world = World(args.seed, scale=args.docs / 300)
    docs = world.docs[: args.docs]
    gen_s = time.perf_counter() - t0
    in_corpus = {d["id"] for d in docs}
    console.print(f"generated {len(docs):,} documents in {gen_s:.1f} s")

    # Queries: the hop queries of random generated questions whose page made it into the corpus.
    rng = random.Random(args.seed)
    queries: list[str] = []
    names = list(TEMPLATES)
    while len(queries) < args.queries:
        template = rng.choice(names)
        subject = rng.choice(world.subjects(template))
        hop = rng.choice(world.question(template, subject).hops)
        if hop.doc in in_corpus:
            queries.append(hop.query)

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.db")
        t0 = time.perf_counter()
        stats = build_index(iter(docs), path)
        fts_build = time.perf_counter() - t0
        backend = FTS5Backend(path)

        t0 = time.perf_counter()
        tokens = corpus_tokens(path, stats.docs)
        bm25 = BM25Okapi(tokens, k1=1.2, b=0.75)
        bm25_build = time.perf_counter() - t0
        ids = [d["id"] for d in docs]
        # The same terms FTS5 searches for (sanitized, stopwords dropped), stemmed the same way.
        q_tokens = stem_texts([" ".join(query_terms(q)) for q in queries])

        backend.search(queries[0], args.k)  # warm the page cache
        fts_ms, fts_top = [], []
        for q in track(queries, description="FTS5 queries", console=console):
            t = time.perf_counter()
            hits = backend.search(q, args.k)
            fts_ms.append((time.perf_counter() - t) * 1e3)
            fts_top.append(hits[0]["id"] if hits else None)

        bm_ms, bm_top = [], []
        for toks in track(q_tokens, description="rank-bm25 queries", console=console):
            t = time.perf_counter()
            scores = bm25.get_scores(toks)
            top = np.argpartition(-scores, args.k)[: args.k]
            top = top[np.lexsort((top, -scores[top]))]  # best first, ties by corpus order (as FTS5)
            bm_ms.append((time.perf_counter() - t) * 1e3)
            bm_top.append(ids[int(top[0])] if scores[top[0]] > 0 else None)
        backend.close()

    agree = sum(a == b for a, b in zip(fts_top, bm_top)) / len(queries)
    fts_med, bm_med = statistics.median(fts_ms), statistics.median(bm_ms)
    speedup = bm_med / fts_med

    table = Table(title=f"search backends: {stats.docs:,} docs, {len(queries)} queries, k={args.k}")
    for col in ("backend", "build (s)", "median (ms)", "p95 (ms)", "top-1 = FTS5"):
        table.add_column(col, justify="right")
    table.add_row("FTS5 (sqlite bm25)", f"{fts_build:.2f}", f"{fts_med:.3f}", f"{percentile(fts_ms, 95):.3f}", "-")
    table.add_row("rank-bm25 Okapi", f"{bm25_build:.2f}", f"{bm_med:.2f}", f"{percentile(bm_ms, 95):.2f}", f"{agree:.1%}")
    console.print(table)

    goals = Table(title="goals")
    for col in ("goal", "measured", "ok"):
        goals.add_column(col)
    checks = [
        ("FTS5 median <= 2 ms", f"{fts_med:.3f} ms", fts_med <= 2.0),
        (">= 20x faster than rank-bm25", f"{speedup:.0f}x", speedup >= 20),
        ("same top-1 on >= 90%", f"{agree:.1%}", agree >= 0.9),
    ]
    for name, value, ok in checks:
        goals.add_row(name, value, "yes" if ok else "NO")
    console.print(goals)
    console.print(f"index: {stats.bytes / 2**20:.1f} MiB, {stats.docs / fts_build:,.0f} docs/s")
    return 0 if all(ok for *_, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
