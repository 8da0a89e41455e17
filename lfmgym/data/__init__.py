"""Datasets shipped inside the package, gzip-compressed, with their licenses.

Each dataset is a folder of this package: ``bfcl/`` (BFCL v4, Apache-2.0: every AST, live and
multi-turn category with ``possible_answer/`` and ``multi_turn_func_doc/``) and ``gsm8k/``
(GSM8K test split, MIT). Data files are stored as ``<name>.gz``; callers name them without the
suffix::

    from lfmgym import data
    rows = data.read_text("bfcl/BFCL_v4_simple_python.json").splitlines()
    data.list_files("bfcl/possible_answer/")      # ['bfcl/possible_answer/BFCL_v4_live_multiple.json', ...]
    data.resolve("gsm8k")                          # Bundled('gsm8k/test.jsonl')
    data.resolve("my/tasks.jsonl")                 # Path('my/tasks.jsonl')

``lfmgym data`` lists the datasets with their sizes, license and source.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "Bundled", "DATASETS", "read_text", "read_bytes", "exists", "list_files", "resolve",
           "datasets"]

ROOT = Path(__file__).resolve().parent

# name -> the file a name-only reference means, license, where it comes from (origin + the file that
# records the exact commits), license file.
DATASETS: dict[str, dict[str, str]] = {
    "bfcl": {"default": "bfcl", "license": "Apache-2.0", "source": "bfcl/SOURCE_COMMITS.txt",
             "origin": "github.com/ShishirPatil/gorilla, berkeley-function-call-leaderboard/bfcl_eval/data "
                       "(= PyPI bfcl-eval 2026.3.23)",
             "license_file": "bfcl/LICENSE",
             "description": "Berkeley Function-Calling Leaderboard v4: AST, live and multi-turn categories"},
    "gsm8k": {"default": "gsm8k/test.jsonl", "license": "MIT", "source": "gsm8k/SOURCE_COMMIT.txt",
              "origin": "github.com/openai/grade-school-math, grade_school_math/data/test.jsonl",
              "license_file": "gsm8k/LICENSE",
              "description": "GSM8K grade-school math, test split (1,319 problems)"},
}


@dataclass(frozen=True)
class Bundled:
    """A bundled file or folder by its path relative to this package (no ``.gz``).

    It answers the few :class:`pathlib.Path` questions loaders ask (``/``, ``name``, ``stem``,
    ``suffix``, ``parent``, ``exists``, ``is_file``, ``is_dir``, ``glob``, ``open``,
    ``read_text``), so code written for a user's folder reads bundled data unchanged."""

    relpath: str

    def __str__(self) -> str:
        return f"bundled:{self.relpath}"

    def __truediv__(self, other: str) -> Bundled:
        return Bundled(f"{self.relpath.rstrip('/')}/{other}".strip("/"))

    @property
    def name(self) -> str:
        return self.relpath.rsplit("/", 1)[-1]

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix

    @property
    def parent(self) -> Bundled:
        return Bundled(self.relpath.rsplit("/", 1)[0] if "/" in self.relpath else "")

    def is_file(self) -> bool:
        return _file(self.relpath) is not None

    def is_dir(self) -> bool:
        return (ROOT / self.relpath).is_dir()

    def exists(self) -> bool:
        return self.is_file() or self.is_dir()

    def glob(self, pattern: str) -> list[Bundled]:
        """Files directly in this folder whose name (without ``.gz``) matches ``pattern``."""
        import fnmatch

        base = f"{self.relpath}/" if self.relpath else ""
        return [Bundled(f) for f in list_files(base)
                if "/" not in f[len(base):] and fnmatch.fnmatch(f[len(base):], pattern)]

    def read_text(self, encoding: str = "utf-8") -> str:
        return read_bytes(self.relpath).decode(encoding)

    def open(self, mode: str = "r", encoding: str = "utf-8") -> io.StringIO:
        if mode not in ("r", "rt"):
            raise ValueError(f"{self}: bundled data is read-only")
        return io.StringIO(self.read_text(encoding))


def _file(relpath: str) -> Path | None:
    relpath = relpath.strip("/")
    for candidate in (ROOT / relpath, ROOT / f"{relpath}.gz"):
        if candidate.is_file():
            return candidate
    return None


def exists(relpath: str) -> bool:
    """Whether ``relpath`` names a bundled file (``relpath`` or ``relpath.gz``) or folder."""
    return _file(relpath) is not None or (ROOT / relpath.strip("/")).is_dir()


def read_bytes(relpath: str) -> bytes:
    """The content of bundled file ``relpath`` (decompressed when stored as ``relpath.gz``)."""
    path = _file(relpath)
    if path is None:
        raise FileNotFoundError(f"no bundled data file {relpath!r} (see `lfmgym data`)")
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.suffix == ".gz" else raw


def read_text(relpath: str) -> str:
    """The text of bundled file ``relpath`` (``.gz`` is read transparently), e.g.
    ``read_text("bfcl/BFCL_v4_multi_turn_base.json")``."""
    return read_bytes(relpath).decode("utf-8")


def list_files(prefix: str = "") -> list[str]:
    """Sorted relative paths (without ``.gz``) of bundled files under ``prefix``.

    ``prefix`` is a folder (``"bfcl"``, ``"bfcl/possible_answer"``) or a path prefix
    (``"bfcl/BFCL_v4_live_"``)."""
    prefix = prefix.lstrip("/")
    out = []
    for path in ROOT.rglob("*"):
        if not path.is_file() or path.suffix in (".py", ".pyc") or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(ROOT).as_posix()
        if rel.endswith(".gz"):
            rel = rel[:-3]
        if rel.startswith(prefix) or (prefix and rel.startswith(prefix.rstrip("/") + "/")):
            out.append(rel)
    return sorted(out)


def resolve(name_or_path: str | Path) -> Path | Bundled:
    """A dataset by name (``"gsm8k"``, ``"bfcl"``, ``"bfcl/BFCL_v4_live_simple.json"``) or a user path.

    A path that exists on disk wins over a bundled name; otherwise a bundled dataset name or
    relative path gives :class:`Bundled`. Anything else is an error naming the choices."""
    if isinstance(name_or_path, Bundled):
        return name_or_path
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.exists():
        return path
    if text in DATASETS:
        return Bundled(DATASETS[text]["default"])
    rel = text[len("bundled:"):] if text.startswith("bundled:") else text
    if exists(rel):
        return Bundled(rel.strip("/"))
    raise FileNotFoundError(f"{text}: no such file, and not a bundled dataset "
                            f"(choose from {sorted(DATASETS)}, or see `lfmgym data`)")


def datasets() -> list[dict[str, Any]]:
    """One record per bundled dataset: name, description, files, compressed and raw size, license, source."""
    out = []
    for name, meta in DATASETS.items():
        files = list_files(name)
        stored = sum((_file(f) or Path()).stat().st_size for f in files)
        raw = sum(len(read_bytes(f)) for f in files)
        commits = read_text(meta["source"]).strip()
        commit = f"commit {commits}" if re.fullmatch(r"[0-9a-f]{40}", commits) else f"commits in {meta['source']}"
        out.append({"name": name, "description": meta["description"], "files": files,
                    "n_files": len(files), "stored_bytes": stored, "bytes": raw, "license": meta["license"],
                    "license_file": meta["license_file"], "source": f"{meta['origin']}; {commit}"})
    return out
