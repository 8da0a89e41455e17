"""A YAML syntax error as one line: ``path:LINE:COLUMN: not valid YAML: problem``.

PyYAML's own message spans several lines (a context mark, a caret picture, a problem mark, each
naming ``<unicode string>`` when the text was read first); a command prints one line that names
the file and the line instead.
"""

from __future__ import annotations

from typing import Any


def yaml_error_line(source: Any, exc: Exception) -> str:
    """``source:LINE:COLUMN: not valid YAML: <problem> (<context> at line L, column C)``, 1-based.

    ``source`` names where the text came from (a path, ``--set 'x=[1'``); an error without a
    position gives ``source: not valid YAML: <first line of the message>``.
    """
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    text = " ".join(str(problem).split())
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context:
        text += f" ({' '.join(str(context).split())}"
        if context_mark is not None and context_mark is not mark:
            text += f" started at line {context_mark.line + 1}, column {context_mark.column + 1}"
        text += ")"
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else f"{source}"
    return f"{where}: not valid YAML: {text}"
