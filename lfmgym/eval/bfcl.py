"""BFCL (Berkeley Function-Calling Leaderboard) single-turn evaluation.

Data: the BFCL v4 files bundled with lfmgym (``lfmgym data``), or a directory of BFCL question
files (``BFCL_v4_simple_python.json``, one JSON object per line) with their ``possible_answer/``
files. Categories: simple_python, simple_java, simple_javascript, multiple, parallel,
parallel_multiple and irrelevance (non-live); live_simple, live_multiple, live_parallel,
live_parallel_multiple, live_irrelevance (no call expected) and live_relevance (a call expected).

Verdicts: by default the official ``bfcl-eval`` checker's, defects included
(:mod:`lfmgym.eval.bfcl_official`), so the numbers are the leaderboard's; ``mode="lenient"``
(``--lenient``) uses :func:`lfmgym.rewards.toolcall_ast.match_calls`, the project's semantic
matcher (order-free pairing, Java/JavaScript values read as values). Every verdict carries the
other mode's verdict too. Decoding a raw model output for the lenient mode:
:func:`lfmgym.eval.bfcl_decode.decode_output` (LFM2 tool-call blocks, the JSON format, or BFCL's
own prompting format in Python, Java or JavaScript).

The summary averages like the leaderboard (see :func:`summarize`).

With a model, prompts use BFCL's system prompt for prompting models
(:mod:`lfmgym.eval.bfcl_prompt`, re-exported here: :func:`bfcl_messages`, :func:`generate_predictions`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lfmgym.eval.bfcl_decode import decode_output
from lfmgym.eval.bfcl_prompt import bfcl_messages, bfcl_system_prompt, generate_predictions
from lfmgym.jsonl import iter_jsonl

__all__ = [
    "CATEGORIES",
    "BFCLEntry",
    "Verdict",
    "load_bfcl",
    "load_predictions",
    "load_prediction_rows",
    "category_of",
    "language_of",
    "decode_output",
    "score_output",
    "score_predictions",
    "summarize",
    "bfcl_messages",
    "bfcl_system_prompt",
    "generate_predictions",
    "select_entries",
    "write_result_files",
    "result_file_name",
    "data_location",
    "MODES",
]

# BFCL's single-turn categories, leaderboard order: non-live AST, hallucination, live.
NON_LIVE = ("simple_python", "simple_java", "simple_javascript", "multiple", "parallel", "parallel_multiple")
LIVE = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")
CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance",
              "simple_java", "simple_javascript", *LIVE, "live_irrelevance", "live_relevance")
# Categories without possible answers: the verdict is "no call" (irrelevance) or "some call" (relevance).
NO_CALL = ("irrelevance", "live_irrelevance")
SOME_CALL = ("live_relevance",)
# BFCL's non-live AST groups: "simple" is itself the unweighted mean of its three languages.
SIMPLE_PARTS = ("simple_python", "simple_java", "simple_javascript")
AST_GROUPS = ("simple", "multiple", "parallel", "parallel_multiple")
# BFCL's overall: a weighted mean of these groups (bfcl_eval eval_runner_helper, v4); multi-turn
# and agentic are not single-turn categories, so an AST-only run counts them as 0, as BFCL does.
OVERALL_WEIGHTS = {"non_live": 10, "live": 10, "irrelevance_detection": 10, "multi_turn": 30, "agentic": 40}


@dataclass
class BFCLEntry:
    """One BFCL question: the first turn's messages, the function docs and the accepted answers."""

    id: str
    category: str
    question: list[dict[str, Any]]
    functions: list[dict[str, Any]]
    ground_truth: list[dict[str, Any]] = field(default_factory=list)

    @property
    def language(self) -> str:
        return language_of(self.category)


@dataclass
class Verdict:
    """The checker's answer for one prediction (``kind`` = why it failed, from the matcher).

    ``valid`` is the verdict of the mode that was asked for (``mode``: ``"official"``, the
    ``bfcl-eval`` checker's rules, or ``"lenient"``, lfmgym's semantic matcher); ``other_valid``
    is the other mode's verdict on the same output, so a run reports both when they differ."""

    id: str
    category: str
    valid: bool
    error: str | None = None
    kind: str | None = None
    mode: str = "official"
    other_valid: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category, "valid": self.valid, "error": self.error, "kind": self.kind,
                "mode": self.mode, "other_valid": self.other_valid}


MODES = ("official", "lenient")


def category_of(entry_id: str) -> str:
    """``simple_python_12`` -> ``simple_python``; ``parallel_multiple_3`` -> ``parallel_multiple``."""
    m = re.fullmatch(r"(.+?)_\d+(?:-\d+)*", entry_id)
    if not m:
        raise ValueError(f"id {entry_id!r} does not look like a BFCL id (<category>_<n>)")
    return m.group(1)


def language_of(category: str) -> str:
    if category.endswith("javascript"):
        return "javascript"
    if category.endswith("java"):
        return "java"
    return "python"


# --------------------------------------------------------------------------- data


def _read_jsonl(path: Any, what: str) -> list[dict[str, Any]]:
    rows = []
    for n, row in iter_jsonl(path):
        if not isinstance(row, dict) or "id" not in row:
            raise ValueError(f"{path}:{n}: {what} line must be an object with an 'id'")
        rows.append(row)
    return rows


def _question_file(data: Any, category: str) -> Any:
    # Prefer the newest BFCL version present (v4 over v3).
    # The glob alone would also match BFCL_v4_parallel_multiple.json for "multiple".
    pattern = re.compile(rf"BFCL_v(\d+)_{re.escape(category)}\.json")
    found = [(int(m.group(1)), p) for p in data.glob("BFCL_v*.json") if (m := pattern.fullmatch(p.name))]
    return max(found, key=lambda x: x[0])[1] if found else None


def data_location(data_dir: str | Path | None) -> Any:
    """The folder of BFCL files: ``data_dir`` when given (a path, or ``bfcl`` for the bundled
    copy), else the BFCL data shipped with lfmgym (``lfmgym data``)."""
    from lfmgym.data import Bundled

    if data_dir is None or str(data_dir) == "bfcl" and not Path("bfcl").is_dir():
        return Bundled("bfcl")
    data = Path(data_dir).expanduser()
    if not data.is_dir():
        raise FileNotFoundError(f"--data: {data} is not a directory of BFCL question files "
                                "(leave --data out to use the BFCL data bundled with lfmgym)")
    return data


def load_bfcl(data_dir: str | Path | None = None, categories: list[str] | None = None) -> list[BFCLEntry]:
    """Entries of ``categories`` (default: every known category present in ``data_dir``; without
    ``data_dir``, the bundled BFCL data). Patterns such as ``live_*`` select several."""
    import fnmatch

    data = data_location(data_dir)
    present = [c for c in CATEGORIES if _question_file(data, c)]
    if categories:
        wanted: list[str] = []
        for c in categories:
            matched = [k for k in CATEGORIES if fnmatch.fnmatchcase(k, c)] if any(ch in c for ch in "*?[") else [c]
            if not matched or any(m not in CATEGORIES for m in matched):
                raise ValueError(f"--categories: unknown {c!r}; choose from {list(CATEGORIES)} (or a pattern: live_*)")
            wanted += [m for m in matched if m not in wanted]
    else:
        wanted = present
    if not wanted:
        raise FileNotFoundError(f"--data: no BFCL_v*_<category>.json files in {data}")
    entries: list[BFCLEntry] = []
    for category in wanted:
        qfile = _question_file(data, category)
        if qfile is None:
            raise FileNotFoundError(f"--data: no question file for category {category!r} in {data}")
        answers: dict[str, Any] = {}
        if category not in NO_CALL + SOME_CALL:
            afile = data / "possible_answer" / qfile.name
            if not afile.is_file():
                raise FileNotFoundError(f"{afile}: possible_answer file missing for {category}")
            for row in _read_jsonl(afile, "possible_answer"):
                answers[row["id"]] = row.get("ground_truth")
        for n, row in enumerate(_read_jsonl(qfile, "question"), 1):
            question = row.get("question")
            if not (isinstance(question, list) and question and isinstance(question[0], list)):
                raise ValueError(f"{qfile}:{n}: 'question' must be a list of turns (lists of messages)")
            if category not in NO_CALL + SOME_CALL and row["id"] not in answers:
                raise ValueError(f"{qfile}:{n}: id {row['id']!r} has no possible_answer entry")
            entries.append(BFCLEntry(row["id"], category, question[0], row.get("function") or [],
                                     answers.get(row["id"]) or []))
    return entries


def load_predictions(path: str | Path) -> dict[str, str]:
    """Raw model outputs by id: a JSONL file of ``{"id": ..., "result": "<raw model output>"}``,
    or a folder of BFCL result files (``BFCL_v4_<category>_result.json``, as ``--out`` writes).
    An id given twice keeps its last output (:func:`load_prediction_rows` keeps every row)."""
    return dict(load_prediction_rows(path))


def load_prediction_rows(path: str | Path) -> list[tuple[str, str]]:
    """``(id, raw output)`` for every row of the predictions, in file order (ids may repeat)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.rglob("*_result.json"))
        if not files:
            raise FileNotFoundError(f"--predictions: no BFCL result files (*_result.json) in {p}")
    elif p.is_file():
        files = [p]
    else:
        raise FileNotFoundError(f"--predictions: {p} does not exist")
    rows: list[tuple[str, str]] = []
    read = 0  # multi-turn rows count too: a multi-turn-only file is not empty
    for f in files:
        for n, row in enumerate(_read_jsonl(f, "prediction"), 1):
            read += 1
            if str(row.get("id", "")).startswith("multi_turn"):
                continue  # lfmgym.eval.bfcl_multi_turn reads these
            result = row.get("result")
            if isinstance(result, list):  # BFCL result files may hold one string per turn
                result = result[0] if result else ""
            if not isinstance(result, str):
                raise ValueError(f"{f}:{n}: field 'result' must be a string (the raw model output)")
            rows.append((str(row["id"]), result))
    if not read:
        raise ValueError(f"--predictions {p}: no prediction rows in the file")
    return rows


# --------------------------------------------------------------------------- scoring


def _lenient(entry: BFCLEntry, text: str) -> tuple[bool, str | None, str | None]:
    from lfmgym.rewards.toolcall_ast import match_calls

    calls, error = decode_output(text, entry.language)
    if entry.category in NO_CALL + SOME_CALL:
        # A call or none: a failed decode or an empty list both count as "no call" (as in BFCL).
        calls = [c for c in (calls or []) if c.name]
        result = match_calls(calls, [], entry.functions, language=entry.language, category=entry.category)
        return result.valid, result.error, result.kind
    if calls is None:
        return False, f"could not decode the output: {error}", "malformed"
    result = match_calls(calls, entry.ground_truth, entry.functions, language=entry.language, category=entry.category)
    return result.valid, result.error, result.kind


def _official(entry: BFCLEntry, text: str) -> tuple[bool, str | None, str | None]:
    """The official checker on ``text``; LFM2 tool-call blocks are unwrapped first and a JSON tool
    call is taken as decoded (what BFCL's handler for such a model would hand its checker)."""
    from lfmgym.eval.bfcl_official import official_verdict
    from lfmgym.toolcalls import JSON_START, PY_END, PY_START

    decoded = None
    if not isinstance(text, str):
        return False, f"output must be a string, got {type(text).__name__}", "malformed"
    if PY_START in text:
        blocks, pos = [], 0
        while (i := text.find(PY_START, pos)) >= 0:
            j = text.find(PY_END, i)
            if j < 0:
                return False, f"could not decode the output: unterminated {PY_START}", "malformed"
            blocks.append(text[i + len(PY_START): j].strip())
            pos = j + len(PY_END)
        text = blocks[0] if len(blocks) == 1 else "[" + ", ".join(b.strip("[]") for b in blocks) + "]"
    elif JSON_START in text:
        calls, error = decode_output(text, entry.language)
        if calls is None:
            return False, f"could not decode the output: {error}", "malformed"
        decoded = [{c.name: dict(c.arguments)} for c in calls]
    return official_verdict(text, entry.language, entry.category, entry.functions, entry.ground_truth, decoded)


def score_output(entry: BFCLEntry, text: str, mode: str = "official") -> Verdict:
    """Decode ``text`` and check it: ``mode="official"`` (default) with the official ``bfcl-eval``
    rules (:mod:`lfmgym.eval.bfcl_official`), ``"lenient"`` with
    :func:`lfmgym.rewards.toolcall_ast.match_calls`. The other mode's verdict is kept too."""
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    official, lenient = _official(entry, text), _lenient(entry, text)
    chosen, other = (official, lenient) if mode == "official" else (lenient, official)
    return Verdict(entry.id, entry.category, chosen[0], chosen[1], chosen[2], mode, other[0])


def score_predictions(entries: list[BFCLEntry], predictions: dict[str, str] | list[tuple[str, str]],
                      mode: str = "official") -> list[Verdict]:
    """One verdict per entry; an entry without a prediction is invalid (``kind="missing"``).

    ``predictions`` as ``(id, output)`` rows may name an id several times (e.g. variants of one
    answer): each row gets its own verdict, in entry order."""
    rows: dict[str, list[str]] = {}
    for pid, text in (predictions.items() if isinstance(predictions, dict) else predictions):
        rows.setdefault(pid, []).append(text)
    out = []
    for e in entries:
        if e.id not in rows:
            out.append(Verdict(e.id, e.category, False, "no prediction for this id", "missing", mode, False))
        else:
            out.extend(score_output(e, text, mode) for text in rows[e.id])
    return out


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def _per_category(verdicts: list[Verdict]) -> dict[str, dict[str, Any]]:
    per: dict[str, dict[str, Any]] = {}
    for v in verdicts:
        row = per.setdefault(v.category, {"correct": 0, "total": 0, "errors": {}})
        row["total"] += 1
        row["correct"] += int(v.valid)
        if not v.valid:
            kind = v.kind or "invalid"
            row["errors"][kind] = row["errors"].get(kind, 0) + 1
    for row in per.values():
        row["accuracy"] = row["correct"] / row["total"] if row["total"] else 0.0
    return {c: per[c] for c in CATEGORIES if c in per} | {c: r for c, r in per.items() if c not in CATEGORIES}


def summarize(verdicts: list[Verdict]) -> dict[str, Any]:
    """Per-category accuracy and the leaderboard's groups, averaged as BFCL averages them.

    * ``simple`` = unweighted mean of simple_python / simple_java / simple_javascript;
    * ``non_live`` = unweighted mean of simple, multiple, parallel, parallel_multiple (a missing
      group counts as 0, as on the leaderboard);
    * ``live`` = the four live AST categories weighted by their number of entries;
    * ``irrelevance_detection`` = unweighted mean of irrelevance and live_irrelevance;
      ``relevance_detection`` = live_relevance;
    * ``overall`` = BFCL's overall: 10 non_live + 10 live + 10 irrelevance_detection + 30
      multi-turn + 40 agentic, over 100. Multi-turn and agentic are not single-turn categories and
      count as 0 here exactly as they would on the leaderboard; ``single_turn`` is the same
      weighting over the three single-turn groups alone (the part of the overall this run measures).

    ``complete`` says whether every single-turn category was evaluated; compare the groups and
    overalls across runs only over the same categories. When the verdicts carry the other mode's
    verdict and it differs, ``other_mode`` holds that mode's summary and names the rows.
    """
    summary = _summary(verdicts)
    mode = verdicts[0].mode if verdicts else "official"
    summary["mode"] = mode
    differ = sorted(v.id for v in verdicts if v.other_valid is not None and v.other_valid != v.valid)
    if differ:
        other = _summary([replace(v, valid=bool(v.other_valid)) for v in verdicts])
        summary["other_mode"] = {"mode": "lenient" if mode == "official" else "official",
                                 "categories": {c: row["accuracy"] for c, row in other["categories"].items()},
                                 "groups": other["groups"], "overall": other["overall"],
                                 "single_turn": other["single_turn"], "differ": differ}
    return summary


def _summary(verdicts: list[Verdict]) -> dict[str, Any]:
    per = _per_category(verdicts)
    acc = {c: row["accuracy"] for c, row in per.items()}
    groups: dict[str, float] = {}
    simple = [acc[c] for c in SIMPLE_PARTS if c in acc]
    if simple:
        groups["simple"] = _mean(simple)
    for g in AST_GROUPS[1:]:
        if g in acc:
            groups[g] = acc[g]
    if any(g in groups for g in AST_GROUPS):
        groups["non_live"] = sum(groups.get(g, 0.0) for g in AST_GROUPS) / len(AST_GROUPS)
    live_n = sum(per[c]["total"] for c in LIVE if c in per)
    if live_n:
        groups["live"] = sum(per[c]["correct"] for c in LIVE if c in per) / live_n
    if any(c in acc for c in NO_CALL):
        groups["irrelevance_detection"] = sum(acc.get(c, 0.0) for c in NO_CALL) / len(NO_CALL)
    if "live_relevance" in acc:
        groups["relevance_detection"] = acc["live_relevance"]
    single = {k: OVERALL_WEIGHTS[k] for k in ("non_live", "live", "irrelevance_detection")}
    return {
        "categories": per,
        "groups": groups,
        "overall": sum(w * groups.get(k, 0.0) for k, w in single.items()) / sum(OVERALL_WEIGHTS.values()),
        "single_turn": sum(w * groups.get(k, 0.0) for k, w in single.items()) / sum(single.values()),
        "complete": all(c in per for c in CATEGORIES),
        "missing": [c for c in CATEGORIES if c not in per],
        "irrelevance": groups.get("irrelevance_detection"),
        "n": len(verdicts),
        "averaging": "simple = mean(simple_python, simple_java, simple_javascript); non_live = mean(simple, "
                     "multiple, parallel, parallel_multiple); live = entry-weighted mean of the live AST "
                     "categories; irrelevance_detection = mean(irrelevance, live_irrelevance); overall = (10 non_live"
                     " + 10 live + 10 irrelevance_detection + 30 multi_turn + 40 agentic) / 100 with the groups "
                     "not run as 0 (BFCL v4); single_turn = (non_live + live + irrelevance_detection) / 3",
    }


# --------------------------------------------------------------------------- selection and result files


def select_entries(entries: list[BFCLEntry], limit: int | None, seed: int = 0) -> list[BFCLEntry]:
    """At most ``limit`` entries per category: a seeded sample (the same for the same ``seed``),
    kept in file order. ``None`` keeps everything."""
    import random

    if limit is None:
        return list(entries)
    if limit < 1:
        raise ValueError(f"--limit: must be >= 1, got {limit}")
    by_cat: dict[str, list[int]] = {}
    for i, e in enumerate(entries):
        by_cat.setdefault(e.category, []).append(i)
    keep: set[int] = set()
    for category, idx in by_cat.items():
        rng = random.Random(f"{seed}:{category}")
        keep.update(idx if len(idx) <= limit else rng.sample(idx, limit))
    return [e for i, e in enumerate(entries) if i in keep]


def result_file_name(category: str) -> str:
    """BFCL's name for a category's result file."""
    return f"BFCL_v4_{category}_result.json"


def write_result_files(out_dir: str | Path, entries: list[BFCLEntry], generated: dict[str, dict[str, Any]]) -> list[Path]:
    """One BFCL-format result file per category (a JSON object per line: ``id``, ``result`` and
    generation stats), in ``out_dir``; ``--predictions out_dir`` rescores them."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    by_cat: dict[str, list[BFCLEntry]] = {}
    for e in entries:
        if e.id in generated:
            by_cat.setdefault(e.category, []).append(e)
    paths = []
    for category, rows in by_cat.items():
        path = out / result_file_name(category)
        with open(path, "w", encoding="utf-8") as fh:
            for e in rows:
                fh.write(json.dumps({"id": e.id, **generated[e.id]}, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths
