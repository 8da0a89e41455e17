"""Where the web-search environment keeps files it builds: the bundled world's index, the ddgs cache."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["cache_dir", "world_corpus"]


def cache_dir() -> Path:
    """``$LFMGYM_CACHE_DIR``, else ``$XDG_CACHE_HOME/lfmgym``, else ``~/.cache/lfmgym``."""
    if os.environ.get("LFMGYM_CACHE_DIR"):
        return Path(os.environ["LFMGYM_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "lfmgym"


def world_corpus(seed: int = 0) -> Path:
    """The FTS5 index of the generated world of ``seed``, built on first use (~20 ms).

    The file name holds a hash of every page, so a changed generator builds a new file instead of
    reading a stale one. Building writes a temporary file and renames it, so processes starting
    together never read a half-written index. When the cache directory is not writable the
    index goes to the system temp directory.
    """
    from lfmgym.envs.web_search.fts5 import FORMAT_VERSION, build_index
    from lfmgym.envs.web_search.world import make_world

    world = make_world(seed)
    name = f"world-s{seed}-v{FORMAT_VERSION}-{world.fingerprint}.db"
    errors = []
    for base in (cache_dir(), Path(tempfile.gettempdir()) / f"lfmgym-{os.getuid() if hasattr(os, 'getuid') else 'user'}"):
        path = base / "web_search" / name
        if path.is_file():
            return path
        try:
            build_index(world.docs, path, overwrite=True)
            return path
        except OSError as exc:
            errors.append(f"{path}: {exc}")
    raise OSError("cannot write the web_search world index: " + "; ".join(errors))
