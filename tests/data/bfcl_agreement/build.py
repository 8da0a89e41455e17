"""Build the BFCL agreement set: perturbed predictions with the OFFICIAL checker's verdicts.

Not run by the tests (they only read ``agreement.jsonl``). Regenerate with the official
``bfcl-eval`` package in a throwaway environment, never as an lfmgym dependency::

    python -m venv /tmp/bfclenv
    /tmp/bfclenv/bin/pip install --no-deps bfcl-eval==2026.3.23
    /tmp/bfclenv/bin/pip install tree_sitter==0.21.3 tree-sitter-java==0.21.0 \\
        tree-sitter-javascript==0.21.4 tenacity filelock
    python -c "from lfmgym.data import list_files, read_bytes; ..."   # or any plain copy of lfmgym/data/bfcl
    /tmp/bfclenv/bin/python tests/data/bfcl_agreement/build.py path/to/plain/bfcl
    gzip -9 -n tests/data/bfcl_agreement/agreement.jsonl

For every entry of every AST category it writes the gold prediction and perturbations of it
(wrong values, missing / extra parameters, wrong function, reordered / dropped / duplicated
parallel calls, type variants, string spelling variants, output-format variants), and records
what BFCL's own decoder + ``ast_checker`` say (prompting mode, as for a model that writes
``[f(a=1)]``). Rows: ``{"id", "category", "kind", "prediction", "official_valid", "official_error"}``.
"""

from __future__ import annotations

import collections
import copy
import json
import random
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from render import gold_calls, java_hashmap, language_of, py_value, py_value_tuples, render_calls  # noqa: E402

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance",
              "simple_java", "simple_javascript", "live_simple", "live_multiple", "live_parallel",
              "live_parallel_multiple", "live_irrelevance", "live_relevance")
# Live categories are large: each entry gets the gold and a seeded sample of the other kinds.
LIVE_KINDS_PER_ENTRY = 6
LIVE_NO_CALL_KINDS_PER_ENTRY = 3


# --------------------------------------------------------------------------- official checker


def _official():
    # ast_checker imports MODEL_CONFIG_MAPPING (and through it every API client) only to ask
    # whether a model replaces "." by "_" in names; prompting models do not.
    cfg = types.ModuleType("bfcl_eval.constants.model_config")

    class _Cfg:
        underscore_to_dot = False

    cfg.MODEL_CONFIG_MAPPING = collections.defaultdict(_Cfg)
    sys.modules["bfcl_eval.constants.model_config"] = cfg
    from bfcl_eval.constants.enums import Language, ReturnFormat
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
    from bfcl_eval.model_handler.utils import default_decode_ast_prompting
    from bfcl_eval.utils import is_empty_output, is_function_calling_format_output

    langs = {"python": (Language.PYTHON, ReturnFormat.PYTHON), "java": (Language.JAVA, ReturnFormat.JAVA),
             "javascript": (Language.JAVASCRIPT, ReturnFormat.JAVASCRIPT)}

    def verdict(entry, gt, category, result):
        # Mirrors bfcl_eval.eval_checker.eval_runner (_evaluate_single_relevance_entry / _ast_entry).
        if "relevance" in category:
            try:
                decoded = default_decode_ast_prompting(result, ReturnFormat.PYTHON, False)
                has_call = not is_empty_output(decoded)
            except Exception:
                has_call = False
            if "irrelevance" in category:
                return (not has_call), (None if not has_call else "irrelevance_error:decoder_success")
            return has_call, (None if has_call else "relevance_error:decoder_failed")
        lang, fmt = langs[language_of(category)]
        try:
            decoded = default_decode_ast_prompting(result, fmt, False)
        except Exception:
            return False, "ast_decoder:decoder_failed"
        if not is_function_calling_format_output(decoded):
            return False, "ast_decoder:decoder_wrong_output_format"
        try:
            r = ast_checker(entry["function"], decoded, gt, lang, category, "lfmgym-agreement")
        except Exception as exc:  # the official runner would crash on this row
            return False, f"checker_exception:{type(exc).__name__}"
        return bool(r["valid"]), (None if r["valid"] else r.get("error_type"))

    return verdict


# --------------------------------------------------------------------------- perturbations


def _mutate_value(v, rng: random.Random):
    """A value that should no longer be accepted."""
    if isinstance(v, bool):
        return not v
    if isinstance(v, int):
        return v + rng.choice([1, 2, 7, -3])
    if isinstance(v, float):
        return v + rng.choice([0.5, 1.25, -2.0])
    if isinstance(v, str):
        return rng.choice([v + "x", "zz" + v, v[::-1] + "q" if v else "q", "unrelated value"])
    if isinstance(v, list):
        return v[:-1] if len(v) > 1 else v + (v or ["extra"])
    if isinstance(v, dict):
        if not v:
            return {"k": 1}
        k = rng.choice(sorted(v))
        out = dict(v)
        out[k] = _mutate_value(out[k], rng)
        return out
    return "x"


def _type_variant(v, rng: random.Random):
    """Same meaning, other type: int<->float, number/bool -> string, numeric string -> number."""
    if isinstance(v, bool):
        return rng.choice([str(v), str(v).lower(), int(v)])
    if isinstance(v, int):
        return rng.choice([float(v), str(v)])
    if isinstance(v, float):
        return int(v) if v.is_integer() else str(v)
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            try:
                return float(v)
            except ValueError:
                return [v]
    if isinstance(v, list):
        return tuple(v) if rng.random() < 0.5 else ",".join(map(str, v))
    return str(v)


def _spelling_variant(s: str, rng: random.Random) -> tuple[str, str]:
    """(kind, variant): BFCL normalises case, spaces and ,./-_*^ -- other edits change the value."""
    options = [
        ("upper", s.upper()),
        ("lower", s.lower()),
        ("punct", s.replace(" ", "-") if " " in s else s + "."),
        ("spaces", s.replace(" ", "") if " " in s else " ".join(s)),
        ("quote", s.replace("'", '"') if "'" in s else s + "'s"),
        ("typo", s[:-2] + s[-1] + s[-2] if len(s) >= 2 else s + s),
        ("prefix", "the " + s),
    ]
    return rng.choice(options)


def _args_with_values(calls):
    return [(i, k) for i, (_, args) in enumerate(calls) for k in args]


def perturb(entry: dict, gt: list, category: str, rng: random.Random) -> list[tuple[str, str]]:
    """(kind, prediction text) rows for one entry."""
    rows: list[tuple[str, str]] = []
    if "relevance" in category:
        f = entry["function"][0] if entry["function"] else {"name": "some_function"}
        props = list((f.get("parameters") or {}).get("properties") or {})
        args = ", ".join(f"{p}='x'" for p in props[:2])
        rows += [
            ("refusal", "None of the provided functions can answer this question."),
            ("empty_list", "[]"),
            ("call", f"[{f['name']}({args})]"),
            ("bare_call", f"{f['name']}({args})"),
            ("malformed", f"[{f['name']}({args}"),
            ("mention", f"I would call {f['name']} but the question lacks the parameters."),
            ("empty", ""),
            ("empty_call", f"[{f['name']}()]"),
        ]
        return rows

    gold = gold_calls(gt, entry)
    lang = language_of(category)
    r = lambda calls: render_calls(calls, entry, category)  # noqa: E731
    rows.append(("gold", r(gold)))
    rows.append(("gold_alt", r(gold_calls(gt, entry, rng))))
    rows.append(("gold_alt2", r(gold_calls(gt, entry, rng))))
    slots = _args_with_values(gold)
    if slots:
        i, k = rng.choice(slots)
        calls = copy.deepcopy(gold)
        calls[i][1][k] = _mutate_value(calls[i][1][k], rng)
        rows.append(("wrong_value", r(calls)))
        i, k = rng.choice(slots)
        calls = copy.deepcopy(gold)
        del calls[i][1][k]
        rows.append(("missing_param", r(calls)))
        i, k = rng.choice(slots)
        calls = copy.deepcopy(gold)
        calls[i][1][k] = _type_variant(calls[i][1][k], rng)
        rows.append(("type_variant", r(calls)))
        strs = [(i, k) for i, k in slots if isinstance(gold[i][1][k], str) and gold[i][1][k]]
        if strs:
            i, k = rng.choice(strs)
            calls = copy.deepcopy(gold)
            kind, calls[i][1][k] = _spelling_variant(calls[i][1][k], rng)
            rows.append((f"spelling_{kind}", r(calls)))
    calls = copy.deepcopy(gold)
    calls[0][1]["unexpected_arg"] = "x" if lang == "python" else "x"
    rows.append(("extra_param", r(calls)))
    calls = copy.deepcopy(gold)
    others = [f["name"] for f in entry["function"] if f["name"] != calls[0][0]]
    calls[0] = (rng.choice(others) if others else calls[0][0] + "_v2", calls[0][1])
    rows.append(("wrong_function", r(calls)))
    if len(gold) > 1:
        rows.append(("reordered", r(list(reversed(gold)))))
        shuffled = gold[:]
        rng.shuffle(shuffled)
        rows.append(("shuffled", r(shuffled)))
        rows.append(("dropped_call", r(gold[:-1])))
    rows.append(("duplicated_call", r(gold + gold[:1])))
    text = r(gold)
    rows.append(("no_brackets", text[1:-1]))
    rows.append(("code_fence", f"```\n{text}\n```"))
    rows.append(("prose", "I think you should call " + gold[0][0] + " with the right values."))
    rows.append(("truncated", text[: max(1, len(text) // 2)]))
    rows += _idiom_rows(gold, entry, category, rng, r)
    if lang == "python" and slots:
        i, k = rng.choice(slots)
        v = gold[i][1][k]
        if isinstance(v, str) and v.isidentifier():
            # A bare name where a string is expected: BFCL's decoder reads it as the string.
            rows.append(("bare_name", text.replace(f"{k}={v!r}", f"{k}={v}", 1)))
        name, args = gold[0]
        if args:
            positional = ", ".join(repr(x) for x in args.values())
            rows.append(("positional", "[" + f"{name}({positional})" + "]"))
    return rows


def _idiom_rows(gold, entry, category, rng, r) -> list[tuple[str, str]]:
    """The same values written other ways people and models write them."""
    rows = []
    lang = language_of(category)
    docs = {f["name"]: f for f in entry["function"]}

    def schema(i, k):
        return ((docs.get(gold[i][0], {}).get("parameters") or {}).get("properties") or {}).get(k, {})

    lists = [(i, k) for i, (_, args) in enumerate(gold) for k, v in args.items() if isinstance(v, list)]
    if lang == "python" and lists:
        i, k = rng.choice(lists)
        text = r(gold)
        one = r([(n, {a: v for a, v in args.items() if (j, a) != (i, k)}) for j, (n, args) in enumerate(gold)])
        # a list parameter written as a Python tuple
        rows.append(("tuple_list", text.replace(f"{k}={py_value(gold[i][1][k])}",
                                                f"{k}={py_value_tuples(gold[i][1][k])}", 1)))
        if rng.random() < 0.05:  # a pathologically deep value: a verdict, not a crash
            rows.append(("deep_nesting", one.replace(")", f", {k}=" + "[" * 3000 + "]" * 3000 + ")", 1)))
    if lang == "java":
        for i, (name, args) in enumerate(gold):
            for k, v in args.items():
                typ = schema(i, k).get("type")
                item = (schema(i, k).get("items") or {}).get("type")
                if typ == "HashMap" and isinstance(v, dict):
                    rows.append(("java_hashmap_double_brace",
                                 r(gold).replace(f"Collections.unmodifiableMap({java_hashmap(v)})", java_hashmap(v), 1)))
                if typ in ("Array", "ArrayList") and isinstance(v, list) and v:
                    quoted = ", ".join(f'"{x}"' if isinstance(x, str) else
                                       ("true" if x is True else "false" if x is False else str(x)) for x in v)
                    for kind, written in (("java_arraylist_aslist", f"new ArrayList<>(Arrays.asList({quoted}))"),
                                          ("java_list_of", f"List.of({quoted})"),
                                          ("java_arrays_aslist", f"Arrays.asList({quoted})"),
                                          ("java_array_init", f"new {'String' if item == 'String' else 'Object'}[]{{{quoted}}}"),
                                          ("java_arraylist_add", f"new ArrayList<String>() {{{{ "
                                           + " ".join(f"add({x.strip()});" for x in quoted.split(", ")) + " }}")):
                        calls = [(n, dict(a)) for n, a in gold]
                        calls[i][1][k] = ("__RAW__", written)
                        rows.append((kind, _render_raw(calls, entry, category)))
                if typ == "String" and isinstance(v, str) and rng.random() < 0.3:
                    calls = [(n, dict(a)) for n, a in gold]
                    calls[i][1][k] = v + " café"
                    rows.append(("java_non_ascii", r(calls)))
        one = r(gold)[1:-1]
        rows.append(("java_semicolon", f"[{one};]"))
        rows.append(("java_two_calls", f"[{one}, {one}]"))
    if lang == "javascript":
        text = r(gold)
        rows.append(("js_single_quotes", text.replace('"', "'")))
        rows.append(("js_semicolon", text[:-1] + ";]"))
        rows.append(("js_two_statements", text[:-1] + "; " + text[1:]))
    return rows


def _render_raw(calls, entry, category) -> str:
    """``render_calls`` where a value ``("__RAW__", source)`` is written as that source text."""
    marker = {}
    plain = []
    for n, a in calls:
        args = {}
        for k, v in a.items():
            if isinstance(v, tuple) and v and v[0] == "__RAW__":
                token = f"RAWVALUE{len(marker)}"
                marker[token] = v[1]
                args[k] = token
            else:
                args[k] = v
        plain.append((n, args))
    text = render_calls(plain, entry, category)
    for token, source in marker.items():
        text = text.replace(f'"{token}"', source).replace(token, source)
    return text


def official_prompts(data: Path, per_category: int = 3) -> list[dict]:
    """BFCL's own prompting-model messages for a few entries per category (``prompts.jsonl``)."""
    from bfcl_eval.model_handler.utils import system_prompt_pre_processing_chat_model
    from bfcl_eval.utils import _func_doc_language_specific_pre_processing

    rows = []
    for category in CATEGORIES:
        lines = (data / f"BFCL_v4_{category}.json").read_text().splitlines()
        for line in lines[:per_category]:
            entry = json.loads(line)
            functions = _func_doc_language_specific_pre_processing(copy.deepcopy(entry["function"]), category)
            messages = system_prompt_pre_processing_chat_model(copy.deepcopy(entry["question"][0]), functions, entry["id"])
            rows.append({"id": entry["id"], "messages": messages})
    return rows


def main(data_dir: str, out: str = str(HERE / "agreement.jsonl")) -> None:
    verdict = _official()
    with open(HERE / "prompts.jsonl", "w") as fh:
        for row in official_prompts(Path(data_dir)):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    data = Path(data_dir)
    counts = collections.Counter()
    with open(out, "w") as fh:
        for category in CATEGORIES:
            qfile = data / f"BFCL_v4_{category}.json"
            entries = [json.loads(line) for line in qfile.read_text().splitlines() if line.strip()]
            afile = data / "possible_answer" / qfile.name
            answers = {}
            if afile.exists():
                answers = {json.loads(x)["id"]: json.loads(x)["ground_truth"]
                           for x in afile.read_text().splitlines() if x.strip()}
            for entry in entries:
                rng = random.Random(f"lfmgym-agreement:{entry['id']}")
                gt = answers.get(entry["id"], [])
                rows = perturb(entry, gt, category, rng)
                if category.startswith("live_"):
                    keep = LIVE_NO_CALL_KINDS_PER_ENTRY if "relevance" in category else LIVE_KINDS_PER_ENTRY
                    head = [row for row in rows if row[0] == "gold"]
                    rest = [row for row in rows if row[0] != "gold"]
                    rows = head + rng.sample(rest, min(keep, len(rest)))
                for kind, prediction in rows:
                    valid, error = verdict(copy.deepcopy(entry), copy.deepcopy(gt), category, prediction)
                    fh.write(json.dumps({"id": entry["id"], "category": category, "kind": kind,
                                         "prediction": prediction, "official_valid": valid,
                                         "official_error": error}, ensure_ascii=False) + "\n")
                    counts[(category, valid)] += 1
    for (category, valid), n in sorted(counts.items()):
        print(f"{category:20s} official_valid={valid!s:5s} {n}")


if __name__ == "__main__":
    main(*sys.argv[1:])
