"""BFCL (Berkeley Function-Calling Leaderboard) data as tool-calling tasks.

A BFCL question file has one JSON object per line::

    {"id": "simple_python_0",
     "question": [[{"role": "user", "content": "Find the area of a triangle ..."}]],
     "function": [{"name": "calculate_triangle_area", "description": "...",
                   "parameters": {"type": "dict", "properties": {...}, "required": [...]}}]}

and its ``possible_answer`` file one ``{"id": ..., "ground_truth": [{func: {param: [accepted
values]}}]}`` per line (``""`` among the accepted values means the parameter may be left out).
The functions are documentation only: in an episode on a BFCL task every well-formed call is
answered with a neutral ``"OK"`` and the score is the AST match of the calls against the ground
truth. Irrelevance files have no answers: the gold is "no call at all"; live_relevance files
have none either: there a call to a declared function is expected (shape ``relevance``).

The BFCL data ships with lfmgym (``lfmgym data``): :func:`load_bfcl_source` takes a category
name (``live_simple``), a pattern (``live_*``), ``bfcl`` (every single-turn category), a question
file or a folder of them.

The model sees each function as a JSON schema with BFCL's type names mapped to JSON-schema ones
(``dict`` -> ``object``, ``float`` -> ``number``, ``tuple`` -> ``array``, ...), the way BFCL
presents functions to function-calling models.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lfmgym.data import Bundled
from lfmgym.env import Task
from lfmgym.jsonl import iter_jsonl
from lfmgym.toolcalls import ToolCall, coerce_arguments
from lfmgym.tools import Toolbox, ToolResult

__all__ = ["load_bfcl_tasks", "load_bfcl_source", "bfcl_files", "bundled_categories", "DeclaredToolbox",
           "declared_schema", "bfcl_category", "canonical_calls"]

NEUTRAL_RESULT = "OK"

# BFCL (Python, Java and JavaScript) type names -> JSON-schema types; None = any value.
_JSON_TYPE: dict[str, str | None] = {
    "integer": "integer", "int": "integer", "long": "integer", "short": "integer", "byte": "integer", "bigint": "integer",
    "number": "number", "float": "number", "double": "number",
    "string": "string", "str": "string", "char": "string",
    "boolean": "boolean", "bool": "boolean",
    "array": "array", "list": "array", "tuple": "array", "arraylist": "array", "queue": "array", "stack": "array",
    "dict": "object", "object": "object", "hashmap": "object", "hashtable": "object", "map": "object",
    "any": None,
}

_SHAPES = ("parallel_multiple", "parallel", "multiple", "simple", "irrelevance", "relevance")
# Shapes whose files have no possible_answer: irrelevance (no call) and relevance (some call).
_NO_ANSWER = ("irrelevance", "relevance")


def bfcl_category(task_id: str) -> tuple[str, str]:
    """``(shape, language)`` from a BFCL id such as ``simple_java_3`` or ``live_parallel_2-1-0``."""
    base = task_id.removeprefix("live_")
    shape = next((s for s in _SHAPES if base.startswith(s)), "simple")
    language = "javascript" if "_javascript" in base else "java" if "_java" in base else "python"
    return shape, language


def _normalize(schema: Any, keep_types: bool) -> Any:
    """A BFCL parameter schema as JSON schema (recursively); ``keep_types=False`` drops the types
    (and enums) so that only parameter names are checked."""
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key == "type":
            mapped = _JSON_TYPE.get(str(value).lower(), None) if isinstance(value, str) else None
            if keep_types and mapped is not None:
                out["type"] = mapped
        elif key == "enum" and not keep_types:
            continue
        elif key == "properties" and isinstance(value, dict):
            out[key] = {k: _normalize(v, keep_types) for k, v in value.items()}
        elif key == "items":
            out[key] = _normalize(value, keep_types)
        else:
            out[key] = copy.deepcopy(value)
    return out


def declared_schema(doc: dict[str, Any], keep_types: bool = True) -> dict[str, Any]:
    """The ``{"type": "function", "function": {...}}`` schema of one BFCL function doc."""
    params = _normalize(doc.get("parameters") or {"type": "dict", "properties": {}}, keep_types)
    params["type"] = "object"
    return {"type": "function", "function": {"name": doc["name"], "description": doc.get("description", ""), "parameters": params}}


class DeclaredToolbox(Toolbox):
    """Tools known only by their documentation (BFCL functions): a call to a declared function
    with acceptable arguments returns ``result``; unknown tools and bad arguments give the same
    error results (and error kinds) as :class:`lfmgym.tools.Toolbox`.

    Only argument *names* are checked here (unknown, or required and missing): BFCL values
    follow the language's own rules (a variable name where an object is expected, Java source
    strings, ...) that the AST matcher applies when scoring, so judging types here too would
    penalise answers the ground truth accepts.

    Args:
        functions: BFCL function docs (``name``, ``description``, ``parameters``).
        result: the neutral text every accepted call returns.
    """

    def __init__(self, functions: list[dict[str, Any]], result: str = NEUTRAL_RESULT):
        super().__init__(())
        self.result = result
        self._checks: dict[str, dict] = {}
        for doc in functions:
            name = doc["name"]
            if name in self._schemas:
                raise ValueError(f"duplicate tool name {name!r}")
            self._schemas[name] = declared_schema(doc)
            self._checks[name] = declared_schema(doc, keep_types=False)
            self._fns[name] = self._neutral

    def _neutral(self, **_: Any) -> str:
        return self.result

    def call(self, call: ToolCall) -> ToolResult:
        if call.name not in self._checks:
            known = ", ".join(self._checks) or "none"
            return ToolResult(call, f"Error: unknown tool {call.name!r}. Available tools: {known}.", "unknown_tool")
        try:
            coerce_arguments(call.arguments, self._checks[call.name])
        except TypeError as exc:
            return ToolResult(call, f"Error: invalid arguments for {call.name}: {exc}", "invalid_arguments")
        return ToolResult(call, self.result)


def _canonical(accepted: Any, required: bool = False) -> tuple[bool, Any]:
    """The demonstration's value for one parameter. Returns ``(present, value)``: absent when
    ``""`` (= may be omitted) is accepted and the schema does not require it (leaving an optional
    parameter out is always right and keeps the call short); else the first other accepted
    value, with nested objects (whose keys hold accepted-value lists of their own) resolved the
    same way."""
    options = accepted if isinstance(accepted, list) else [accepted]
    values = [v for v in options if v != ""]
    if not values or ("" in options and not required):
        return False, None
    return True, _resolve(values[0])


def _resolve(value: Any) -> Any:
    if isinstance(value, dict):  # {key: [accepted values]}
        return {k: v for k, (ok, v) in ((k, _canonical(a)) for k, a in value.items()) if ok}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [_resolve(v) for v in value]  # a list of such objects
    return value


def canonical_calls(ground_truth: list[dict[str, dict[str, list]]], functions: list[dict] | None = None) -> list[ToolCall]:
    """One concrete call per ground-truth entry (the demonstration's calls); ``functions`` (the
    docs) tell which parameters are required."""
    required = {f["name"]: set((f.get("parameters") or {}).get("required") or []) for f in functions or []}
    calls = []
    for entry in ground_truth:
        for name, params in entry.items():
            args = {}
            for param, accepted in params.items():
                present, value = _canonical(accepted, param in required.get(name, ()))
                if present:
                    args[param] = value
            calls.append(ToolCall(name, args))
    return calls


def _read_jsonl(path: Any) -> list[tuple[int, dict]]:
    rows = []
    for lineno, obj in iter_jsonl(path):
        if not isinstance(obj, dict):
            raise ValueError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        if not isinstance(obj.get("id"), str) or not obj["id"]:
            raise ValueError(f"{path}:{lineno}: missing string field 'id'")
        rows.append((lineno, obj))
    return rows


def _check_functions(functions: Any, where: str, allow_empty: bool = False) -> list[dict]:
    if not isinstance(functions, list) or not (functions or allow_empty):
        raise ValueError(f"{where}: field 'function' must be a non-empty list of function docs")
    for i, doc in enumerate(functions):
        if not isinstance(doc, dict) or not isinstance(doc.get("name"), str) or not doc["name"]:
            raise ValueError(f"{where}: function {i} has no string 'name'")
        params = doc.get("parameters", {})
        if not isinstance(params, dict) or not isinstance(params.get("properties", {}), dict):
            raise ValueError(f"{where}: function {doc['name']!r}: 'parameters' must be an object with 'properties'")
    return functions


def _split_question(question: Any, where: str) -> tuple[str, str]:
    """``(system text, user text)`` of a one-turn BFCL question."""
    if not isinstance(question, list) or not question:
        raise ValueError(f"{where}: field 'question' must be a non-empty list of turns")
    if len(question) > 1:
        raise ValueError(f"{where}: {len(question)} turns; only single-turn (AST) categories are supported")
    turn = question[0]
    if isinstance(turn, dict):  # some files store the turn's messages without the outer list
        turn = [turn]
    system, dialogue = [], []
    for m in turn:
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            raise ValueError(f"{where}: each message needs 'role' and a string 'content'")
        role = m.get("role")
        if role == "system":
            system.append(m["content"])
        elif role in ("user", "assistant"):
            dialogue.append((role, m["content"]))
        else:
            raise ValueError(f"{where}: unsupported role {role!r} in a question (expected system, user or assistant)")
    if not any(role == "user" for role, _ in dialogue):
        raise ValueError(f"{where}: the question has no user message")
    if all(role == "user" for role, _ in dialogue):
        return "\n".join(system), "\n".join(text for _, text in dialogue)
    # A few live questions replay an earlier exchange: it becomes part of the one user prompt.
    return "\n".join(system), "\n".join(f"{role}: {text}" for role, text in dialogue)


def _check_ground_truth(gt: Any, where: str) -> list[dict]:
    if not isinstance(gt, list):
        raise ValueError(f"{where}: field 'ground_truth' must be a list of {{function: {{param: [values]}}}}")
    for i, entry in enumerate(gt):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ValueError(f"{where}: ground_truth[{i}] must be an object with exactly one function name")
        (name, params), = entry.items()
        if not isinstance(params, dict) or not all(isinstance(v, list) for v in params.values()):
            raise ValueError(f"{where}: ground_truth[{i}] ({name}): every parameter needs a list of accepted values")
    return gt


def _default_answer_file(question_file: Any) -> Any:
    return question_file.parent / "possible_answer" / question_file.name


def load_bfcl_tasks(question_file: str | Path | Bundled, answer_file: str | Path | Bundled | None = None) -> list[Task]:
    """Load a BFCL question file (and its ``possible_answer`` file) as tasks.

    Args:
        question_file: the JSON-lines question file (a path, or a bundled file: see
            :func:`load_bfcl_source`).
        answer_file: its answers; by default ``possible_answer/<same name>`` beside the question
            file. Irrelevance and relevance files need none (the gold is no call / some call).

    Each task has ``answer`` = the ground truth (``[]`` for irrelevance) and ``meta`` with
    ``source="bfcl"``, ``shape``, ``language``, ``functions`` (the docs, for the AST matcher),
    ``system`` (a question's own system message, if any) and ``file``.

    Raises:
        FileNotFoundError: for a missing question file, or a missing answer file when the
            category needs one.
        ValueError: naming the file and line of a malformed entry, a duplicate id, or a
            question without an answer.
    """
    qpath = question_file if isinstance(question_file, Bundled) else Path(question_file)
    if not qpath.is_file():
        raise FileNotFoundError(f"BFCL question file not found: {qpath}")
    questions = _read_jsonl(qpath)
    answers: dict[str, list] | None = None
    if answer_file is None:
        apath = _default_answer_file(qpath)
    else:
        apath = answer_file if isinstance(answer_file, Bundled) else Path(answer_file)
    if apath.is_file():
        answers = {}
        for lineno, obj in _read_jsonl(apath):
            answers[obj["id"]] = _check_ground_truth(obj.get("ground_truth"), f"{apath}:{lineno}")
    elif answer_file is not None:
        raise FileNotFoundError(f"BFCL answer file not found: {apath}")

    tasks, seen = [], set()
    for lineno, obj in questions:
        where = f"{qpath}:{lineno}"
        tid = obj["id"]
        if tid in seen:
            raise ValueError(f"{where}: duplicate id {tid!r}")
        seen.add(tid)
        shape, language = bfcl_category(tid)
        system, prompt = _split_question(obj.get("question"), where)
        # A few live_irrelevance questions offer no function at all (nothing to call is right).
        functions = _check_functions(obj.get("function"), where, allow_empty=shape == "irrelevance")
        if shape in _NO_ANSWER:
            gold: list = []
        elif answers is None:
            raise FileNotFoundError(f"{where}: category {shape!r} needs answers; no answer file at {apath}")
        elif tid not in answers:
            raise ValueError(f"{where}: id {tid!r} has no ground truth in {apath}")
        else:
            gold = answers[tid]
        meta = {"source": "bfcl", "shape": shape, "language": language, "functions": functions,
                "system": system, "file": qpath.name}
        tasks.append(Task(id=f"bfcl-{tid}", prompt=prompt, answer=gold, difficulty=0, meta=meta))
    if not tasks:
        raise ValueError(f"{qpath}: no questions")
    return tasks


_SINGLE_TURN = re.compile(r"BFCL_v\d+_(?!multi_turn)\w*(simple|multiple|parallel|relevance)\w*\.json")


def bfcl_files(directory: str | Path | Bundled) -> list[Path | Bundled]:
    """The single-turn BFCL question files in ``directory`` (``BFCL_*`` JSON files; not the
    multi-turn ones), sorted."""
    folder = directory if isinstance(directory, Bundled) else Path(directory)
    return sorted((p for p in folder.glob("BFCL_*.json") if _SINGLE_TURN.fullmatch(p.name)), key=lambda p: p.name)


def bundled_categories() -> dict[str, Bundled]:
    """``{category: question file}`` of the single-turn BFCL categories shipped with lfmgym."""
    out = {}
    for f in bfcl_files(Bundled("bfcl")):
        m = re.fullmatch(r"BFCL_v\d+_(\w+)\.json", f.name)
        if m:
            out[m.group(1)] = f
    return out


def load_bfcl_source(spec: str | Path | Sequence[str | Path]) -> list[Task]:
    """BFCL tasks from a category name, a pattern, ``bfcl``, a question file or a folder (or a list
    of these; a comma-separated string works too).

    A path that exists wins; otherwise names refer to the bundled data: ``live_simple``,
    ``simple_python``, ``live_*`` (every live category), ``bfcl`` (every single-turn category).

    Raises:
        FileNotFoundError: naming the unknown entry and the bundled categories.
    """
    import fnmatch

    items = [spec] if isinstance(spec, (str, Path)) else list(spec)
    if len(items) == 1 and isinstance(items[0], str) and "," in items[0] and not Path(items[0]).exists():
        items = [x.strip() for x in items[0].split(",") if x.strip()]
    bundled = bundled_categories()
    files: list[Path | Bundled] = []
    for item in items:
        path = Path(item).expanduser()
        if path.exists():
            found = bfcl_files(path) if path.is_dir() else [path]
            if not found:
                raise FileNotFoundError(f"bfcl: no BFCL_*.json question files in {path}")
            files += found
            continue
        name = str(item)
        if name == "bfcl":
            files += list(bundled.values())
            continue
        matched = [bundled[c] for c in bundled if fnmatch.fnmatchcase(c, name)]
        if not matched:
            raise FileNotFoundError(f"bfcl: {name!r} is neither a file or folder nor a bundled category "
                                    f"(choose from {sorted(bundled)}, a pattern such as 'live_*', or 'bfcl')")
        files += matched
    tasks: list[Task] = []
    seen: set[str] = set()
    for f in files:
        if str(f) in seen:
            continue
        seen.add(str(f))
        tasks += load_bfcl_tasks(f)
    return tasks
