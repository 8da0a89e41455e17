"""``lfmgym corpus``: build and query FTS5 corpus files for the web-search environment.

    lfmgym corpus index wiki.jsonl --out wiki.db      # stream JSONL (id, title, text[, url]) into an index
    lfmgym corpus search "Drasket Industries" -k 5    # query a corpus (default: the bundled world)
"""

from __future__ import annotations

import argparse

__all__ = ["add_commands"]


def cmd_index(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
    from rich.table import Table

    from lfmgym.envs.web_search.fts5 import build_index, iter_jsonl_docs

    src = Path(args.file)
    if not src.is_file():
        raise FileNotFoundError(f"{src}: no such file")
    if Path(args.out).exists() and not args.force:
        raise ValueError(f"{args.out} exists; pass --force to overwrite it")
    console = Console()
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=console, disable=args.quiet) as progress:
        bar = progress.add_task(f"indexing {src.name}", total=src.stat().st_size)
        pending = [0]

        def on_bytes(n: int) -> None:  # batch the updates: a dump has millions of lines
            pending[0] += n
            if pending[0] >= 1 << 20:
                progress.advance(bar, pending[0])
                pending[0] = 0

        stats = build_index(
            iter_jsonl_docs(src, on_bytes=on_bytes),
            args.out,
            overwrite=args.force,
            on_doc=lambda n: progress.update(bar, description=f"indexing {src.name}: {n:,} docs"),
        )
        progress.advance(bar, pending[0])
    table = Table(title=f"corpus {stats.path}")
    for col in ("documents", "seconds", "docs/s", "size"):
        table.add_column(col, justify="right")
    table.add_row(f"{stats.docs:,}", f"{stats.seconds:.1f}", f"{stats.docs / max(stats.seconds, 1e-9):,.0f}",
                  f"{stats.bytes / 2**20:.1f} MiB")
    console.print(table)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from lfmgym.envs.web_search.plugin import fts5_backend

    backend = fts5_backend(args.corpus, world_seed=args.world_seed)
    hits = backend.search(args.query, args.k)
    # Documents are user data: escape them, or a '[/]' in a page would be read as rich markup.
    table = Table(title=escape(f"{args.query!r} in {backend.path}"))
    for col in ("#", "id", "title", "bm25", "snippet"):
        table.add_column(col)
    for i, hit in enumerate(hits, 1):
        table.add_row(str(i), escape(hit["id"]), escape(hit["title"]), f"{hit['score']:.2f}", escape(hit["snippet"]))
    Console().print(table)
    return 0 if hits else 1


def add_commands(subparsers) -> None:
    corpus = subparsers.add_parser("corpus", help="build and query search corpora for the web_search env")
    sub = corpus.add_subparsers(dest="corpus_command", metavar="COMMAND")
    corpus.set_defaults(func=lambda args: corpus.print_help() or 0)

    p = sub.add_parser("index", help="index a JSONL corpus (id, title, text, optional url) into an FTS5 file")
    p.add_argument("file", help="JSONL file, one document per line")
    p.add_argument("--out", required=True, help="corpus file to write (e.g. corpus.db)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="query a corpus file (default: the bundled generated world)")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5, help="results to show")
    p.add_argument("--corpus", default=None, help="corpus file (default: the bundled world)")
    p.add_argument("--world-seed", type=int, default=0, help="which generated world when --corpus is not given")
    p.set_defaults(func=cmd_search)
