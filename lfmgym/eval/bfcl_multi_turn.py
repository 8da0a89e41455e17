"""BFCL multi-turn evaluation: ``multi_turn_base``, ``multi_turn_miss_func``,
``multi_turn_miss_param`` and ``multi_turn_long_context``.

Two sources of model behaviour:

* :func:`play`: a model plays the bundled entries through the rollout engine in the
  ``bfcl_multi_turn`` env with BFCL's function documents (strict mode: a message whose tool-call markup does not parse ends the
  turn, as BFCL's decoder does; 20 steps per turn at most, then the entry is force-terminated).
* :func:`load_predictions`: BFCL-format result files. Each row is ``{"id": ..., "result": turns}``,
  ``turns`` a list of turns and each turn a list of steps; a step is a list of decoded call
  strings (``"cd(folder='docs')"``), a list of ``{name: arguments}`` dicts (function-calling
  models; arguments as a dict or a JSON string), or the raw text of one model message
  (``"[cd(folder='docs')]"``, LFM2 tool-call blocks, the JSON format). A step that does not decode
  is skipped, as BFCL skips it. Files: JSON lines, a JSON list, or a folder of BFCL result files
  (``*_result.json``, e.g. ``BFCL_v4_multi_turn_base_result.json``).

Scoring is :func:`lfmgym.envs.bfcl_multi_turn.checker.check_entry` (BFCL's multi-turn checker
run on lfmgym's API suites). :func:`summarize` reports each category's accuracy (and the mean
per-turn partial credit beside it) and ``multi_turn`` = the unweighted mean of the four
categories, as the leaderboard's "Multi Turn Overall Acc" (a category not run counts as 0);
:func:`add_to_summary` puts them into a single-turn BFCL summary with the leaderboard's weight
(multi-turn is 30 of BFCL v4's 100).
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lfmgym.envs.bfcl_multi_turn.bfcl_data import CATEGORIES, load_entries, load_tasks
from lfmgym.envs.bfcl_multi_turn.checker import check_entry, is_long_context
from lfmgym.envs.bfcl_multi_turn.session import Call, parse_calls

__all__ = ["CATEGORIES", "MULTI_TURN_WEIGHT", "MultiTurnVerdict", "is_multi_turn", "split_categories",
           "decode_step", "load_predictions", "score_entry", "score_results", "play", "summarize", "add_to_summary",
           "load_official_verdicts", "compare_with_official", "evaluate", "select", "model_policy"]

# BFCL v4's overall weights multi-turn 30 of 100 (see lfmgym.eval.bfcl.OVERALL_WEIGHTS).
MULTI_TURN_WEIGHT = 30
MAX_STEPS_PER_TURN = 20


@dataclass
class MultiTurnVerdict:
    """One entry's verdict (``error_type`` is BFCL's ``multi_turn:<kind>``; ``turn_accuracy`` the
    fraction of checked turns that passed, our partial-credit measure)."""

    id: str
    category: str
    valid: bool
    error_type: str | None = None
    error: str = ""
    failed_turn: int | None = None
    turn_accuracy: float = 0.0
    turns: list[bool | None] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_multi_turn(category: str) -> bool:
    return category.startswith("multi_turn")


def split_categories(categories: Sequence[str] | None) -> tuple[list[str], list[str] | None]:
    """``(multi-turn categories, the other requested categories)`` from ``--categories`` values
    (names or patterns like ``multi_turn_*``). ``None`` (no selection) means every multi-turn
    category and ``None`` for the rest.

    Raises:
        ValueError: a multi-turn name that is not one of :data:`CATEGORIES`.
    """
    if categories is None:
        return list(CATEGORIES), None
    multi, rest = [], []
    for item in categories:
        matched = [c for c in CATEGORIES if fnmatch.fnmatchcase(c, item)]
        if matched:
            multi += [c for c in matched if c not in multi]
            if any(ch in item for ch in "*?[") and not is_multi_turn(item):
                rest.append(item)  # a wildcard such as '*' also selects single-turn categories
        elif is_multi_turn(item):
            raise ValueError(f"--categories: {item!r} is not a multi-turn category {CATEGORIES}")
        else:
            rest.append(item)
    return multi, rest


# ------------------------------------------------------------------ predictions


def _fc_call(item: dict[str, Any]) -> Call:
    if len(item) != 1:
        raise ValueError(f"a function-calling step item must be {{name: arguments}}, got keys {list(item)}")
    name, args = next(iter(item.items()))
    if isinstance(args, str):
        args = json.loads(args)
    if not isinstance(args, dict):
        raise ValueError(f"arguments of {name} must be an object")
    return Call(name, (), dict(args))


def _executable(value: Any) -> Any:
    """A decoded argument as BFCL's ``parse_nested_value`` renders it for execution: a dict whose
    values are all dicts is a nested call ``{name: {arguments}}``."""
    if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
        name, args = next(iter(value.items()))
        return Call(str(name), (), {str(k): _executable(v) for k, v in args.items()})
    if isinstance(value, dict):
        return {k: _executable(v) for k, v in value.items()}
    return value


def _decode_text(text: str) -> list[Call] | None:
    from lfmgym.toolcalls import JSON_START, PY_START

    if PY_START in text or JSON_START in text:  # lfmgym's own formats (LFM2 blocks, JSON)
        from lfmgym.eval.bfcl_decode import decode_output

        calls, _ = decode_output(text)
        return None if calls is None else [Call(c.name, (), dict(c.arguments)) for c in calls]
    from lfmgym.eval.bfcl_official import decode_official, is_call_list

    try:
        decoded = decode_official(text, "python")
    except Exception:  # BFCL skips a step whose text does not decode, whatever the reason
        return None
    if not is_call_list(decoded):
        return None
    return [Call(name, (), {str(k): _executable(v) for k, v in args.items()})
            for item in decoded for name, args in item.items()]


def decode_step(step: Any) -> list[Call] | None:
    """The calls of one step of a result file; ``None`` when it does not decode (BFCL skips such a
    step: it counts as a text reply).

    A string is a raw model message, decoded as BFCL decodes a prompting model's output for
    execution (:func:`lfmgym.eval.bfcl_official.decode_official`: keyword arguments only, a bare
    name read as its text, ``{name: {...}}`` values run as nested calls); LFM2 tool-call blocks and
    the JSON format are read too. A list holds decoded call strings, run as BFCL runs them
    (positional arguments bind by position), or ``{name: arguments}`` items of a function-calling
    model.
    """
    try:
        if isinstance(step, str):
            return _decode_text(step)
        if isinstance(step, dict):
            return [_fc_call(step)]
        if isinstance(step, list):
            out: list[Call] = []
            for item in step:
                if isinstance(item, str):
                    out += parse_calls(item)
                elif isinstance(item, dict):
                    out.append(_fc_call(item))
                else:
                    return None
            return out
    except (ValueError, TypeError, json.JSONDecodeError):
        return None
    return None


def _rows(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from None
        if not isinstance(rows, list):
            raise ValueError(f"{path}: expected a list of result rows")
        return rows
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON: {exc}") from None
    return rows


def load_predictions(path: str | Path) -> dict[str, Any]:
    """``{entry id: turns}`` from a result file or a folder of them (rows of other categories are
    ignored).

    Raises:
        FileNotFoundError: no such file or folder.
        ValueError: a malformed file or row (naming the file, line and field).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--predictions: no such file or folder {path}")
    files = sorted(path.rglob("*_result.json")) if path.is_dir() else [path]
    out: dict[str, Any] = {}
    for f in files:
        for i, row in enumerate(_rows(f)):
            if not isinstance(row, dict) or "id" not in row:
                raise ValueError(f"{f}: row {i}: expected an object with 'id' and 'result'")
            if not is_multi_turn(str(row["id"])):
                continue
            if "result" not in row:
                raise ValueError(f"{f}: row {i} ({row['id']}): missing field 'result'")
            out[str(row["id"])] = row["result"]
    return out


def score_entry(entry: dict[str, Any], turns: Any) -> MultiTurnVerdict:
    """The verdict for one entry's BFCL result turns (each a list of steps, see :func:`decode_step`)."""
    return _verdict(entry, turns)


def _verdict(entry: dict[str, Any], turns: Any) -> MultiTurnVerdict:
    category = entry["id"].rsplit("_", 1)[0]
    if not isinstance(turns, list):
        return MultiTurnVerdict(entry["id"], category, False, "multi_turn:inference_error",
                                "the result is not a list of turns")
    decoded = []
    for turn in turns:
        steps = turn if isinstance(turn, list) else [turn]
        decoded.append([calls for calls in map(decode_step, steps) if calls])
    v = check_entry(decoded, entry["ground_truth"], entry["involved_classes"], entry.get("initial_config"),
                    is_long_context(entry["id"]))
    return MultiTurnVerdict(entry["id"], category, v.valid, v.error_type, v.error, v.failed_turn, v.turn_accuracy, v.turns)


def select(category: str, limit: int | None = None, seed: int | None = None) -> list[dict[str, Any]]:
    """The entries of ``category``: all, the first ``limit``, or (with ``seed``) a seeded sample of
    ``limit`` kept in file order, drawn as :func:`lfmgym.eval.bfcl.select_entries` draws it."""
    import random

    entries = list(load_entries(category))
    if limit is None or limit >= len(entries):
        return entries
    if limit < 1:
        raise ValueError(f"--limit: must be >= 1, got {limit}")
    if seed is None:
        return entries[:limit]
    keep = set(random.Random(f"{seed}:{category}").sample(range(len(entries)), limit))
    return [e for i, e in enumerate(entries) if i in keep]


def score_results(results: dict[str, Any], categories: Iterable[str] = CATEGORIES,
                  limit: int | None = None, seed: int | None = None) -> list[MultiTurnVerdict]:
    """Verdicts for the entries of ``categories`` (see :func:`select` for ``limit`` and ``seed``);
    an entry without a result is invalid (``multi_turn:missing_result``)."""
    verdicts = []
    for category in categories:
        for entry in select(category, limit, seed):
            if entry["id"] not in results:
                verdicts.append(MultiTurnVerdict(entry["id"], category, False, "multi_turn:missing_result",
                                                 "no result for this entry"))
            else:
                verdicts.append(_verdict(entry, results[entry["id"]]))
    return verdicts


# ------------------------------------------------------------------ playing a model


def play(policy: Any, categories: Sequence[str] = CATEGORIES, *, limit: int | None = None, seed: int | None = None,
         tool_format: str = "pythonic", batch_size: int = 16,
         progress: bool = False) -> tuple[dict[str, list[list[list[str]]]], list[MultiTurnVerdict]]:
    """Play the entries of ``categories`` with ``policy`` (e.g. a :class:`lfmgym.rollout.ModelPolicy`)
    and score them. Returns ``(results, verdicts)``; ``results`` is BFCL's result format (per
    entry, turns of steps of decoded call strings), readable back by :func:`load_predictions`."""
    from lfmgym.rollout import run_episodes

    from lfmgym.envs.bfcl_multi_turn.env import BfclMultiTurnEnv

    tasks = load_tasks([e["id"] for c in categories for e in select(c, limit, seed)])
    if not tasks:
        return {}, []
    max_turns = (MAX_STEPS_PER_TURN + 2) * max(len(t.answer) for t in tasks)  # 21 steps + a reply per turn

    def make_env():
        return BfclMultiTurnEnv(tasks=tasks, strict=True, step_limit=MAX_STEPS_PER_TURN, tool_format=tool_format,
                                max_turns=max_turns, docs="bfcl")

    records = run_episodes(make_env, policy, tasks, batch_size=batch_size, progress=progress,
                           description="bfcl multi-turn")
    results = {r.task.id: r.info.get("bfcl_turns") or [] for r in records}
    entries = {e["id"]: e for c in categories for e in load_entries(c)}
    return results, [_verdict(entries[tid], turns) for tid, turns in results.items()]


def model_policy(backend: Any, max_new_tokens: int = 512) -> Any:
    """A greedy :class:`lfmgym.rollout.ModelPolicy` over ``backend`` for :func:`play`."""
    from lfmgym.rollout import ModelPolicy

    return ModelPolicy(backend, temperature=0.0, max_new_tokens=max_new_tokens)


def evaluate(categories: Sequence[str] | None, *, predictions: str | Path | None = None, policy: Any = None,
             limit: int | None = None, seed: int | None = None, out: str | Path | None = None,
             tool_format: str = "pythonic", batch_size: int = 16, progress: bool = False) -> list[MultiTurnVerdict]:
    """The verdicts ``lfmgym eval bfcl`` adds: score ``predictions`` (a file or folder; with
    ``categories`` ``None``, the multi-turn categories present in it), or play ``categories`` with
    ``policy`` and write BFCL result files (``BFCL_v4_<category>_result.json``) to ``out``."""
    if predictions is not None:
        results = load_predictions(predictions)
        if categories is None:
            categories = [c for c in CATEGORIES if any(i.rsplit("_", 1)[0] == c for i in results)]
        return score_results(results, categories, limit, seed)
    if not categories:
        return []
    results, verdicts = play(policy, categories, limit=limit, seed=seed, tool_format=tool_format,
                             batch_size=batch_size, progress=progress)
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        for category in categories:
            rows = [{"id": i, "result": r} for i, r in results.items() if i.rsplit("_", 1)[0] == category]
            (folder / f"BFCL_v4_{category}_result.json").write_text(
                "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return verdicts


# ------------------------------------------------------------------ summary


def summarize(verdicts: Sequence[MultiTurnVerdict]) -> dict[str, Any]:
    """``{"categories": {category: {correct, total, accuracy, turn_accuracy, errors}},
    "multi_turn": unweighted mean of the four categories (absent ones count 0), "complete"}``."""
    per: dict[str, dict[str, Any]] = {}
    for v in verdicts:
        row = per.setdefault(v.category, {"correct": 0, "total": 0, "turn_accuracy": 0.0, "errors": {}})
        row["total"] += 1
        row["correct"] += int(v.valid)
        row["turn_accuracy"] += v.turn_accuracy
        if not v.valid:
            kind = v.error_type or "invalid"
            row["errors"][kind] = row["errors"].get(kind, 0) + 1
    for row in per.values():
        row["accuracy"] = row["correct"] / row["total"]
        row["turn_accuracy"] /= row["total"]
    per = {c: per[c] for c in CATEGORIES if c in per}
    return {"categories": per,
            "multi_turn": sum(per[c]["accuracy"] for c in per) / len(CATEGORIES),
            "complete": all(c in per for c in CATEGORIES),
            "averaging": "multi_turn = mean(multi_turn_base, multi_turn_miss_func, multi_turn_miss_param, "
                         "multi_turn_long_context), a category not run counts as 0 (BFCL)"}


def add_to_summary(summary: dict[str, Any] | None, verdicts: Sequence[MultiTurnVerdict]) -> dict[str, Any]:
    """A BFCL summary (:func:`lfmgym.eval.bfcl.summarize`, or ``None``) with the multi-turn
    categories, the ``multi_turn`` group and the overall including multi-turn's weight."""
    from lfmgym.eval.bfcl import OVERALL_WEIGHTS

    multi = summarize(verdicts)
    out = dict(summary or {"categories": {}, "groups": {}, "overall": 0.0, "n": 0})
    out["categories"] = {**out.get("categories", {}), **multi["categories"]}
    out["groups"] = {**out.get("groups", {}), "multi_turn": multi["multi_turn"]}
    out["overall"] = out.get("overall", 0.0) + OVERALL_WEIGHTS["multi_turn"] * multi["multi_turn"] / sum(OVERALL_WEIGHTS.values())
    out["n"] = out.get("n", 0) + len(verdicts)
    out["multi_turn_complete"] = multi["complete"]
    out["averaging"] = (out.get("averaging", "") + "; " if out.get("averaging") else "") + multi["averaging"]
    return out


# ------------------------------------------------------------------ agreement with BFCL's own checker


def load_official_verdicts(path: str | Path, ids: Iterable[str]) -> dict[str, bool]:
    """BFCL's verdicts for ``ids`` from its score files (a file or a folder of
    ``BFCL_v4_multi_turn_*_score.json``: a header row, then one row per *failed* entry, so an id
    not listed passed), or from rows ``{"id", "valid"}`` that list every entry.

    Raises:
        FileNotFoundError, ValueError: as :func:`load_predictions`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"official verdicts: no such file or folder {path}")
    files = sorted(path.rglob("*_score.json")) if path.is_dir() else [path]
    listed: dict[str, bool] = {}
    for f in files:
        for row in _rows(f):
            if isinstance(row, dict) and "id" in row and is_multi_turn(str(row["id"])):
                listed[str(row["id"])] = bool(row.get("valid", False))
    return {i: listed.get(i, True) for i in ids}


def _suite_of() -> dict[str, str]:
    from lfmgym.envs.bfcl_multi_turn.apis import SUITES

    return {fn: cls for cls, suite in SUITES.items() for fn in suite.function_names()}


def compare_with_official(verdicts: Sequence[MultiTurnVerdict], official: dict[str, bool],
                          results: dict[str, Any]) -> dict[str, Any]:
    """Agreement of our verdicts with BFCL's, and each disagreement with the functions involved
    (the model's calls and the ground truth's, as ``Class.function``), counted by function."""
    entries = {e["id"]: e for c in CATEGORIES for e in load_entries(c)}
    owner = _suite_of()
    compared = [v for v in verdicts if v.id in official]
    differences, by_function = [], {}
    for v in compared:
        if v.valid == official[v.id]:
            continue
        names = set()
        for turn in results.get(v.id) or []:
            for step in (turn if isinstance(turn, list) else [turn]):
                names.update(c.name for c in decode_step(step) or [])
        for gold in entries[v.id]["ground_truth"] if v.id in entries else []:
            names.update(Call.of(c).name for c in gold)
        functions = sorted(f"{owner.get(n, '?')}.{n}" for n in names)
        for f in functions:
            by_function[f] = by_function.get(f, 0) + 1
        differences.append({"id": v.id, "ours": v.valid, "official": official[v.id], "error_type": v.error_type,
                            "functions": functions})
    n = len(compared)
    return {"n": n, "agreement": (n - len(differences)) / n if n else 1.0, "differences": differences,
            "by_function": dict(sorted(by_function.items(), key=lambda kv: -kv[1]))}
