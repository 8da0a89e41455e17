"""BFCL's multi-turn entries (bundled in :mod:`lfmgym.data`) as lfmgym tasks.

An entry has several user turns (``question``: one list of messages per turn), the suites it
involves and their ``initial_config``, and a ground truth of call strings per turn
(``possible_answer/``). In ``multi_turn_miss_func`` some functions are held out of the documents
(``missed_function``: ``{turn index: [names]}``) until that turn, whose user message is empty:
BFCL then tells the model the functions were added. A ground-truth turn with no calls is one the
model should answer by asking for what is missing or saying it cannot.

Task layout: ``id`` the entry id, ``prompt`` the first user turn, ``answer`` the ground truth,
``meta`` ``{"source": "bfcl", "category", "turns", "involved_classes", "initial_config",
"missed_function", "long_context"}`` (``turns``: the text of each user turn, ``""`` for a turn
that only reveals held-out functions).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from lfmgym.env import Task

from lfmgym.envs.bfcl_multi_turn.apis import SUITES
from lfmgym.envs.bfcl_multi_turn.checker import is_long_context

__all__ = ["CATEGORIES", "DOC_STYLES", "load_entries", "load_tasks", "entry_task", "function_docs", "visible_docs"]

# The multi-turn categories of BFCL v3/v4 (each 200 entries).
CATEGORIES = ("multi_turn_base", "multi_turn_miss_func", "multi_turn_miss_param", "multi_turn_long_context")


@lru_cache(maxsize=None)
def _suite_docs(class_name: str) -> tuple[dict[str, Any], ...]:
    from lfmgym import data

    text = data.read_text(f"bfcl/multi_turn_func_doc/{SUITES[class_name].doc_file}")
    return tuple(json.loads(line) for line in text.splitlines() if line.strip())


def function_docs(involved_classes: Sequence[str]) -> list[dict[str, Any]]:
    """The BFCL function documents of the suites, in ``involved_classes`` order."""
    unknown = [c for c in involved_classes if c not in SUITES]
    if unknown:
        raise ValueError(f"involved_classes: unknown suite(s) {unknown}; known: {sorted(SUITES)}")
    return [dict(doc) for name in involved_classes for doc in _suite_docs(name)]


# "bfcl": the documents as BFCL shows them; "compact": without the suite's blurb that BFCL repeats
# in every function's description (a third to a half fewer characters; the function's own text stays).
DOC_STYLES = ("bfcl", "compact")


def _compact(doc: dict[str, Any]) -> dict[str, Any]:
    description = doc.get("description", "")
    return {**doc, "description": description.split("Tool description: ", 1)[-1]}


def visible_docs(task: Task, turn: int, style: str = "bfcl") -> list[dict[str, Any]]:
    """The documents the model has at ``turn``: held-out functions appear from their turn on."""
    if style not in DOC_STYLES:
        raise ValueError(f"docs: {style!r} is not one of {DOC_STYLES}")
    held = {int(t): names for t, names in task.meta.get("missed_function", {}).items()}
    hidden = {n for t, names in held.items() if t > turn for n in names}
    docs = [d for d in function_docs(task.meta["involved_classes"]) if d["name"] not in hidden]
    return [_compact(d) for d in docs] if style == "compact" else docs


def _turn_text(messages: list[dict[str, Any]], where: str) -> str:
    if not isinstance(messages, list):
        raise ValueError(f"{where}: a turn must be a list of messages, got {type(messages).__name__}")
    return "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict) and m.get("role") == "user")


def entry_task(entry: dict[str, Any], ground_truth: list[list[str]]) -> Task:
    """One entry and its ground truth as a :class:`Task`.

    Raises:
        ValueError: a malformed entry (naming the entry and field).
    """
    entry_id = entry.get("id", "<no id>")
    for key in ("id", "question", "involved_classes"):
        if key not in entry:
            raise ValueError(f"BFCL entry {entry_id}: missing field {key!r}")
    turns = [_turn_text(m, f"BFCL entry {entry_id}: question[{i}]") for i, m in enumerate(entry["question"])]
    if len(turns) != len(ground_truth):
        raise ValueError(f"BFCL entry {entry_id}: {len(turns)} question turns but {len(ground_truth)} ground-truth turns")
    unknown = [c for c in entry["involved_classes"] if c not in SUITES]
    if unknown:
        raise ValueError(f"BFCL entry {entry_id}: involved_classes has unsupported suite(s) {unknown}")
    missed = {str(k): [d if isinstance(d, str) else d["name"] for d in v]
              for k, v in (entry.get("missed_function") or {}).items()}
    meta = {"source": "bfcl", "category": entry_id.rsplit("_", 1)[0], "turns": turns,
            "involved_classes": list(entry["involved_classes"]), "initial_config": entry.get("initial_config", {}),
            "missed_function": missed, "long_context": is_long_context(entry_id)}
    return Task(id=entry_id, prompt=turns[0], answer=[list(t) for t in ground_truth], difficulty=0, meta=meta)


@lru_cache(maxsize=None)
def load_entries(category: str) -> tuple[dict[str, Any], ...]:
    """The bundled entries of one category, each with its ``ground_truth`` merged in."""
    from lfmgym import data

    if category not in CATEGORIES:
        raise ValueError(f"category: {category!r} is not one of {CATEGORIES}")
    questions = [json.loads(line) for line in data.read_text(f"bfcl/BFCL_v4_{category}.json").splitlines() if line.strip()]
    answers = {a["id"]: a["ground_truth"] for a in (json.loads(line) for line in
               data.read_text(f"bfcl/possible_answer/BFCL_v4_{category}.json").splitlines() if line.strip())}
    entries = []
    for q in questions:
        if q["id"] not in answers:
            raise ValueError(f"BFCL entry {q['id']}: no ground truth in possible_answer/BFCL_v4_{category}.json")
        entries.append({**q, "ground_truth": answers[q["id"]]})
    return tuple(entries)


def load_tasks(selection: str | Sequence[str] = "multi_turn_base") -> list[Task]:
    """Tasks for categories and/or entry ids: ``"multi_turn_base"``, ``["multi_turn_miss_func",
    "multi_turn_base_7"]``, or ``"all"`` (the four categories).

    Raises:
        ValueError: an unknown category or entry id.
    """
    items = [selection] if isinstance(selection, str) else list(selection)
    if items == ["all"]:
        items = list(CATEGORIES)
    tasks = []
    for item in items:
        if item in CATEGORIES:
            tasks += [entry_task(e, e["ground_truth"]) for e in load_entries(item)]
            continue
        category = item.rsplit("_", 1)[0]
        if category not in CATEGORIES:
            raise ValueError(f"bfcl: {item!r} is neither a category {CATEGORIES} nor an entry id of one")
        match = [e for e in load_entries(category) if e["id"] == item]
        if not match:
            raise ValueError(f"bfcl: no entry {item!r} in {category}")
        tasks.append(entry_task(match[0], match[0]["ground_truth"]))
    return tasks
