"""Prompting a model on BFCL entries the way BFCL prompts "prompting" models.

BFCL's default system prompt (``ret_fmt=python&tool_call_tag=False&func_doc_fmt=json&prompt_fmt=plaintext&style=classic``)
with its per-language function-doc hints, the chat messages of one entry, and batched generation of
the raw outputs that :mod:`lfmgym.eval.bfcl` scores.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lfmgym.eval.bfcl import BFCLEntry

__all__ = ["bfcl_system_prompt", "bfcl_messages", "generate_predictions"]


# BFCL's default prompting-model system prompt (bfcl_eval/constants/default_prompts.py, Apache-2.0),
# configuration ret_fmt=python&tool_call_tag=False&func_doc_fmt=json&prompt_fmt=plaintext&style=classic.
_SYSTEM_PROMPT = (
    "You are an expert in composing functions."
    "You are given a question and a set of possible functions. Based on the question, you will need to make "
    "one or more function/tool calls to achieve the purpose. If none of the functions can be used, point it out. "
    "If the given question lacks the parameters required by the function, also point it out.\n\n"
    "You should only return the function calls in your response.\n\n"
    "If you decide to invoke any of the function(s), you MUST put it in the format of "
    "[func_name1(params_name1=params_value1, params_name2=params_value2...), func_name2(params)]. "
    " You SHOULD NOT include any other text in the response.\n\n"
    "At each turn, you should try your best to complete the tasks requested by the user within the current turn. "
    "Continue to output functions to call until you have fulfilled the user's request to the best of your "
    "ability. Once you have no more functions to call, the system will consider the current turn complete and "
    "proceed to the next turn or task.\n\n"
    "Here is a list of functions in json format that you can invoke.\n{functions}\n"
)

_HINTS = {
    "python": " Note that the provided function is in Python 3 syntax.",
    "java": " Note that the provided function is in Java 8 SDK syntax.",
    "javascript": " Note that the provided function is in JavaScript syntax.",
}


def _hinted_functions(functions: list[dict[str, Any]], language: str) -> list[dict[str, Any]]:
    """BFCL's ``_func_doc_language_specific_pre_processing``: hints, and Java/JS types as strings."""
    functions = copy.deepcopy(functions)
    lang_name = {"java": "Java", "javascript": "JavaScript"}.get(language)
    for item in functions:
        item["description"] = item.get("description", "") + _HINTS[language]
        if lang_name is None:
            continue
        for value in (item.get("parameters") or {}).get("properties", {}).values():
            if value["type"] == "any":
                value["description"] += f" This parameter can be of any type of {lang_name} object in string representation."
            else:
                value["description"] += f" This is {lang_name} {value['type']} type parameter in string representation."
            list_types = ("ArrayList", "Array") if language == "java" else ("array",)
            if value["type"] in list_types:
                value["description"] += (f" The list elements are of type {value['items']['type']}; "
                                         "they are not in string representation.")
                del value["items"]
            if language == "javascript" and value["type"] == "dict" and "properties" in value:
                value["description"] += (" The dictionary entries have the following schema; they are not in string "
                                         f"representation. {json.dumps(value['properties'])}")
                del value["properties"]
            value["type"] = "string"
    return functions


def bfcl_system_prompt(entry: BFCLEntry) -> str:
    """The system prompt BFCL gives prompting models for ``entry``."""
    return _SYSTEM_PROMPT.format(functions=json.dumps(_hinted_functions(entry.functions, entry.language), indent=4))


def bfcl_messages(entry: BFCLEntry) -> list[dict[str, Any]]:
    """``entry``'s first turn with BFCL's system prompt in front (merged into an existing one)."""
    messages = [dict(m) for m in entry.question]
    system = bfcl_system_prompt(entry)
    if messages and messages[0]["role"] == "system":
        messages[0]["content"] = system + "\n\n" + messages[0]["content"]
    else:
        messages.insert(0, {"role": "system", "content": system})
    return messages


def generate_predictions(backend: Any, entries: list[BFCLEntry], *, max_new_tokens: int = 512,
                         temperature: float = 0.0, seed: int | None = 0, batch_size: int = 64,
                         progress: bool = False) -> dict[str, dict[str, Any]]:
    """Ask ``backend`` for every entry; returns ``{id: {"result", "finished", "latency", "output_token_count"}}``.

    ``progress``: a progress bar on a terminal, plain ``bfcl: done/total`` lines otherwise (logs, CI)."""
    import sys
    import time

    out: dict[str, dict[str, Any]] = {}
    prog = task = None
    started = time.perf_counter()
    if progress and sys.stdout.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        prog = Progress(TextColumn("bfcl"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        prog.start()
        task = prog.add_task("bfcl", total=len(entries))
    try:
        for start in range(0, len(entries), batch_size):
            chunk = entries[start:start + batch_size]
            gens = backend.generate([bfcl_messages(e) for e in chunk], n=1, temperature=temperature,
                                    max_new_tokens=max_new_tokens, seed=seed)
            for e, g in zip(chunk, gens):
                out[e.id] = {"result": g[0].text, "finished": g[0].finished, "latency": g[0].latency_s,
                             "output_token_count": len(g[0].token_ids) if g[0].token_ids is not None else None}
            if prog is not None:
                prog.advance(task, len(chunk))
            elif progress:
                done = min(start + batch_size, len(entries))
                print(f"bfcl: {done}/{len(entries)} entries generated ({100 * done / len(entries):.0f}%, "
                      f"{time.perf_counter() - started:.0f}s)", flush=True)
    finally:
        if prog is not None:
            prog.stop()
    return out
