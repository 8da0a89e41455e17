"""JSON Lines input whose errors name the file and the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

__all__ = ["iter_jsonl"]


def iter_jsonl(path: Any) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line of a JSONL file (1-based line numbers).

    ``path`` is anything with ``open(encoding=...)``: a :class:`pathlib.Path` or a bundled
    resource. Raises ``ValueError`` ``"{path}:{line}: invalid JSON: {why} (col {col})"`` on the
    first line that is not JSON; what each value must hold is the caller's to check.
    """
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON: {exc.msg} (col {exc.colno})") from None
            yield lineno, value
