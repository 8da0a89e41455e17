"""Data-file tasks: question/answer JSONL over any indexed corpus.

One JSON object per line::

    {"question": "Who wrote Hamlet?", "answers": ["William Shakespeare", "Shakespeare"],
     "id": "q17", "gold_docs": ["hamlet"]}

``question`` and ``answers`` (a string or a non-empty list of strings; ``answer`` is accepted
too) are required; ``id`` (default: the line number) and ``gold_docs`` (page ids or urls,
enabling the ``gold_retrieved`` metric) are optional.
"""

from __future__ import annotations

import json
from pathlib import Path

from lfmgym.env import Task

__all__ = ["load_qa_jsonl"]


def _str_list(value, where: str, field: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(a, str) and a.strip() for a in items):
        raise ValueError(f"{where}: field {field!r} must be a non-empty string or a non-empty list of strings")
    return [a.strip() for a in items]


def load_qa_jsonl(path: str | Path) -> list[Task]:
    """Read QA tasks from ``path``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: naming the line and the field, for a malformed line or a duplicate id.
    """
    path = Path(path)
    tasks: list[Task] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{where}: expected a JSON object with 'question' and 'answers'")
            question = obj.get("question")
            if not isinstance(question, str) or not question.strip():
                raise ValueError(f"{where}: field 'question' must be a non-empty string")
            if "answers" not in obj and "answer" not in obj:
                raise ValueError(f"{where}: field 'answers' is missing")
            field = "answers" if "answers" in obj else "answer"
            answers = _str_list(obj[field], where, field)
            task_id = str(obj.get("id", lineno))
            if task_id in seen:
                raise ValueError(f"{where}: duplicate id {task_id!r} (first on line {seen[task_id]})")
            seen[task_id] = lineno
            meta = {"aliases": answers}
            if obj.get("gold_docs") is not None:
                meta["gold_docs"] = _str_list(obj["gold_docs"], where, "gold_docs")
            tasks.append(Task(id=f"qa:{path.stem}:{task_id}", prompt=question.strip(), answer=answers[0], meta=meta))
    if not tasks:
        raise ValueError(f"{path}: no tasks (the file is empty)")
    return tasks
