"""Math tasks from data files: GSM8K-format and MATH-format records.

GSM8K records have ``question`` and ``answer``, the answer being a worked solution with
calculator annotations (``<<16-3-4=9>>``) ending in ``#### <final>``. MATH records have
``problem`` and ``solution``, the final answer in the last ``\\boxed{...}`` (or in an ``answer``
field when the file has one, as MATH-500 does).

:func:`load_tasks` reads a local JSONL/JSON file, a folder holding ``<split>.jsonl``, a dataset
bundled with lfmgym by name (``gsm8k``: the GSM8K test split, see ``lfmgym data``), or a
Hugging Face ``datasets`` id (on a machine that reaches the hub). A malformed record raises
a :class:`ValueError` naming the file and line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lfmgym.env import Task
from lfmgym.jsonl import iter_jsonl

__all__ = ["load_tasks", "task_from_record", "last_boxed", "GSM8K_ANNOTATION"]

GSM8K_ANNOTATION = re.compile(r"<<([^<>=]*)=([^<>]*)>>")
_FINAL = re.compile(r"####\s*(.+?)\s*$", re.S)

# Hub datasets that need a config name to load.
_HUB_CONFIGS = {"openai/gsm8k": "main", "gsm8k": "main"}


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``) in ``text``, braces balanced."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth, j = 1, i
    while j < len(text):
        ch = text[j]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[i:j].strip()
        j += 1
    return None


def _gsm8k_task(rec: dict[str, Any], task_id: str) -> Task:
    question, answer = rec["question"], rec["answer"]
    if not isinstance(question, str) or not question.strip():
        raise ValueError("field 'question' must be a non-empty string")
    if not isinstance(answer, str):
        raise ValueError("field 'answer' must be a string")
    body, sep, final = answer.rpartition("####")
    if not sep or not final.strip():
        raise ValueError("field 'answer' has no '#### <final answer>' line")
    gold = final.strip().replace(",", "")
    steps = [(m.group(1).strip(), m.group(2).strip()) for m in GSM8K_ANNOTATION.finditer(body)]
    solution = GSM8K_ANNOTATION.sub("", body).strip()
    return Task(
        id=task_id,
        prompt=question.strip(),
        answer=gold,
        difficulty=0,
        meta={"kind": "gsm8k", "solution": solution, "calc": [e for e, _ in steps], "calc_results": [r for _, r in steps],
              "allow_percent": False, "source": "gsm8k"},
    )


def _math_task(rec: dict[str, Any], task_id: str) -> Task:
    problem, solution = rec["problem"], rec.get("solution", "")
    if not isinstance(problem, str) or not problem.strip():
        raise ValueError("field 'problem' must be a non-empty string")
    if not isinstance(solution, str):
        raise ValueError("field 'solution' must be a string")
    gold = rec.get("answer")
    if gold is None:
        gold = last_boxed(solution)
        if gold is None:
            raise ValueError("field 'solution' has no \\boxed{...} final answer (and there is no 'answer' field)")
    gold = str(gold).strip()
    if not gold:
        raise ValueError("the final answer is empty")
    meta = {"kind": "math", "solution": solution.strip(), "calc": [], "allow_percent": False, "source": "math"}
    for key in ("level", "type", "subject"):
        if key in rec:
            meta[key] = rec[key]
    return Task(id=task_id, prompt=problem.strip(), answer=gold, difficulty=0, meta=meta)


def task_from_record(rec: Any, task_id: str) -> Task:
    """Build a task from one GSM8K-format or MATH-format record.

    Raises:
        ValueError: naming the missing or malformed field.
    """
    if not isinstance(rec, dict):
        raise ValueError(f"expected a JSON object, got {type(rec).__name__}")
    if "question" in rec and "answer" in rec:
        return _gsm8k_task(rec, task_id)
    if "problem" in rec and ("solution" in rec or "answer" in rec):
        return _math_task(rec, task_id)
    raise ValueError(
        f"unknown record format with fields {sorted(rec)[:8]}; expected GSM8K ('question', 'answer') "
        "or MATH ('problem', 'solution')"
    )


def _file_records(path: Path | Any) -> Iterator[tuple[str, Any]]:
    """(``file:line`` location, record) pairs from a JSONL file or a JSON list."""
    if path.suffix == ".json":
        with path.open(encoding="utf-8") as fh:
            try:
                data = json.load(fh)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of records")
        for i, rec in enumerate(data):
            yield f"{path} record {i}", rec
        return
    for lineno, rec in iter_jsonl(path):
        yield f"{path}:{lineno}", rec


def _hub_records(dataset_id: str, split: str, config: str | None) -> Iterator[tuple[str, Any]]:
    import datasets  # heavy: only when actually reading from the hub

    ds = datasets.load_dataset(dataset_id, config or _HUB_CONFIGS.get(dataset_id), split=split)
    for i, rec in enumerate(ds):
        yield f"{dataset_id}[{split}] row {i}", rec


def _resolve_local(path: Path | Any, split: str) -> Path | Any:
    if path.is_dir():
        for name in (f"{split}.jsonl", f"{split}.json"):
            if (path / name).is_file():
                return path / name
        raise FileNotFoundError(f"{path}: no {split}.jsonl or {split}.json in this folder")
    return path


def load_tasks(path_or_id: str | Path, split: str = "test", limit: int | None = None, *, config: str | None = None) -> list[Task]:
    """Load GSM8K- or MATH-format tasks.

    Args:
        path_or_id: a ``.jsonl``/``.json`` file, a folder with ``<split>.jsonl``, a bundled
            dataset name (``"gsm8k"``; a local path of that name wins), or a Hugging Face dataset
            id (e.g. ``"openai/gsm8k"``; needs the hub, never used by tests).
        split: which split of a folder or hub dataset.
        limit: keep the first ``limit`` tasks.
        config: the hub dataset's config name (``"main"`` is used for GSM8K by default).

    Returns:
        Tasks with ids ``<source>-<split or file stem>-<index>``; pass them to an env as ``tasks=``.

    Raises:
        ValueError: naming the file and line of a malformed record.
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit: must be >= 0, got {limit}")
    from lfmgym import data

    path: Path | data.Bundled = Path(path_or_id).expanduser()
    if not path.exists() and str(path_or_id) in data.DATASETS:
        path = data.Bundled(str(path_or_id))  # a dataset bundled with lfmgym (`lfmgym data`)
    if path.exists():
        path = _resolve_local(path, split)
        records: Iterable[tuple[str, Any]] = _file_records(path)
        stem = path.stem
    elif str(path_or_id).endswith((".jsonl", ".json")) or str(path_or_id).startswith((".", "/", "~")):
        raise FileNotFoundError(f"{path_or_id}: no such file")
    else:
        records = _hub_records(str(path_or_id), split, config)
        stem = split
    tasks: list[Task] = []
    for where, rec in records:
        if limit is not None and len(tasks) >= limit:
            break
        try:
            task = task_from_record(rec, "")
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        task.id = f"{task.meta['source']}-{stem}-{len(tasks)}"
        tasks.append(task)
    return tasks
