"""Agreement of lfmgym's BFCL multi-turn checker with the official one (``bfcl-eval`` 2026.3.23).

    pip install --no-deps --target /tmp/bfcl_official bfcl-eval==2026.3.23 \\
        tree_sitter==0.21.3 tree-sitter-java==0.21.0 tree-sitter-javascript==0.21.4 tenacity filelock
    python benchmarks/bench_bfcl_multi_turn_agreement.py [--official /tmp/bfcl_official]
        [--categories multi_turn_base ...] [--limit N] [--seed 0] [--out rows.jsonl] [--fidelity]

Builds seeded perturbed predictions from the bundled ground truths
(:func:`lfmgym.eval.bfcl_multi_turn_agreement.build_predictions`: gold, a call dropped, an
argument changed, turns swapped, a call duplicated, an extra call, a wrong function; in BFCL's
step formats), scores each with the official checker (the ``--official`` folder is appended to
``sys.path``; nothing is installed into the running environment, and without it the script says
so and stops) and with lfmgym's, and prints agreement overall, by kind / format / category / API,
and the disagreements grouped by API and function. The official side mirrors
``bfcl_eval.eval_checker.eval_runner._evaluate_single_multi_turn_entry``: force-terminated
check, per-step ``decode_execute`` (a prompting model's text through
``default_decode_execute_prompting``; lists of decoded call strings as they are; function-calling
``{name: args}`` items through ``convert_to_function_call``), undecodable or empty steps skipped,
then ``multi_turn_checker``.

``--fidelity`` instead runs every ground-truth call through lfmgym's suites and BFCL's and lists
the calls whose result text differs (the long-context filler of the non-file-system suites is
lfmgym's own, so those results differ by design; a difference elsewhere is a defect).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lfmgym.envs.bfcl_multi_turn.bfcl_data import CATEGORIES, load_entries  # noqa: E402
from lfmgym.eval.bfcl_multi_turn import decode_step, load_predictions  # noqa: E402
from lfmgym.eval.bfcl_multi_turn_agreement import (  # noqa: E402
    Prediction,
    agreement_table,
    build_predictions,
    lfmgym_verdicts,
)


def _functions(result: Any, entry: dict[str, Any]) -> list[str]:
    """``Class.function`` of every call a model's result makes (what a disagreement is listed under)."""
    from lfmgym.envs.bfcl_multi_turn.apis import SUITES

    owner = {fn: cls for cls in entry["involved_classes"] if cls in SUITES for fn in SUITES[cls].function_names()}
    names = {c.name for turn in result if isinstance(turn, list) for step in turn for c in decode_step(step) or []}
    return sorted(f"{owner.get(n, '?')}.{n}" for n in names)


def official_checker(folder: str):
    """A function ``(entry, result) -> (valid, error_type)`` running bfcl-eval's multi-turn checker,
    or ``None`` (with the reason printed) when bfcl-eval cannot be imported from ``folder``."""
    if Path(folder).is_dir() and folder not in sys.path:
        sys.path.append(folder)  # appended: the running environment's own packages win
    try:
        from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils
        from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker
        from bfcl_eval.model_handler.utils import convert_to_function_call, default_decode_execute_prompting
    except ImportError as exc:
        print(f"official checker unavailable ({exc}); install it with\n"
              f"  pip install --no-deps --target {folder} bfcl-eval==2026.3.23 tree_sitter==0.21.3 "
              "tree-sitter-java==0.21.0 tree-sitter-javascript==0.21.4 tenacity filelock")
        return None

    def decode(step: Any) -> list[str]:
        if isinstance(step, str):
            return default_decode_execute_prompting(step, has_tool_call_tag=False)
        if isinstance(step, list) and all(isinstance(x, str) for x in step):
            return list(step)  # already decoded call strings
        return convert_to_function_call(step)

    counter = [0]

    def verdict(entry: dict[str, Any], result: Any) -> tuple[bool, str | None]:
        gt = entry["ground_truth"]
        if not isinstance(result, list):
            return False, "multi_turn:inference_error"
        if len(result) != len(gt):
            return False, "multi_turn:force_terminated"
        decoded = []
        for turn in result:
            steps = []
            for step in turn:
                try:
                    calls = decode(step)
                except Exception:  # BFCL skips a step that does not decode
                    continue
                if calls and not (len(calls) == 1 and not calls[0]):
                    steps.append(calls)
            decoded.append(steps)
        counter[0] += 1
        name = f"agreement{counter[0]}"  # fresh instances: BFCL caches them in module globals by name
        before = set(vars(multi_turn_utils))
        try:
            entry = {k: v for k, v in entry.items() if k != "function"}
            out = multi_turn_checker(decoded, gt, entry, entry["id"].rsplit("_", 1)[0], name)
        except Exception as exc:  # the official runner would crash on this row
            return False, f"checker_exception:{type(exc).__name__}"
        finally:
            for key in set(vars(multi_turn_utils)) - before:
                del vars(multi_turn_utils)[key]
        return bool(out["valid"]), out.get("error_type")

    return verdict


def fidelity(folder: str, categories: list[str], limit: int | None) -> int:
    """Run every ground truth through lfmgym's suites and BFCL's, call by call, and print the calls
    whose result text differs (by category and function, with one example each)."""
    if official_checker(folder) is None:
        return 2
    from bfcl_eval.eval_checker.multi_turn_eval import multi_turn_utils

    from lfmgym.envs.bfcl_multi_turn.checker import is_long_context
    from lfmgym.envs.bfcl_multi_turn.session import Call, Session

    differ: dict[tuple[str, str], int] = {}
    total: dict[tuple[str, str], int] = {}
    example: dict[tuple[str, str], tuple[str, str, str, str]] = {}
    for category in categories:
        for e in load_entries(category)[:limit]:
            long_context = is_long_context(e["id"])
            ours = Session(e["involved_classes"], e["initial_config"], long_context)
            before = set(vars(multi_turn_utils))
            for turn in e["ground_truth"]:
                mine = ours.execute(turn)
                theirs, _ = multi_turn_utils.execute_multi_turn_func_call(
                    turn, e["initial_config"], e["involved_classes"], "fidelity", e["id"], long_context, True)
                for call, a, b in zip(turn, mine, theirs):
                    key = (category, Call.of(call).name)
                    total[key] = total.get(key, 0) + 1
                    if a != b:
                        differ[key] = differ.get(key, 0) + 1
                        example.setdefault(key, (e["id"], call, a, b))
            for key in set(vars(multi_turn_utils)) - before:
                del vars(multi_turn_utils)[key]
    n, d = sum(total.values()), sum(differ.values())
    print(f"ground-truth calls whose result text differs from BFCL's: {d} of {n}")
    for key, count in sorted(differ.items(), key=lambda kv: -kv[1]):
        entry, call, a, b = example[key]
        print(f"{key[0]:<26} {key[1]:<36} {count:>4}/{total[key]:<4} e.g. {entry}: {call}\n"
              f"{'':<8}lfmgym: {a[:160]}\n{'':<8}BFCL:   {b[:160]}")
    return 0


def _print_table(title: str, rows: dict[str, dict[str, Any]]) -> None:
    print(f"\n{title:<34} {'n':>6} {'agree':>6} {'agreement':>10}")
    for key, r in rows.items():
        print(f"{key:<34} {r['n']:>6} {r['agree']:>6} {100 * r['agreement']:>9.2f}%")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--official", default="/tmp/bfcl_official", help="folder holding bfcl_eval (pip --target)")
    ap.add_argument("--categories", nargs="+", default=["multi_turn_base"], choices=CATEGORIES)
    ap.add_argument("--limit", type=int, default=None, help="first N entries per category")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write every row with both verdicts (JSON lines)")
    ap.add_argument("--predictions", nargs="+", default=[], metavar="FILE",
                    help="also score these BFCL result files (e.g. written by lfmgym eval bfcl --out), kind 'model'")
    ap.add_argument("--fidelity", action="store_true",
                    help="instead: compare the result text of every ground-truth call with BFCL's suites")
    args = ap.parse_args(argv)
    if args.fidelity:
        return fidelity(args.official, args.categories, args.limit)

    official = official_checker(args.official)
    if official is None:
        return 2
    entries = {e["id"]: e for c in args.categories for e in load_entries(c)[: args.limit]}
    predictions = build_predictions(entries.values(), seed=args.seed)
    for path in args.predictions:
        for entry_id, result in load_predictions(path).items():
            if entry_id in entries:
                predictions.append(Prediction(entry_id, "model", "file", result, _functions(result, entries[entry_id])))
    t = time.perf_counter()
    ours = lfmgym_verdicts(predictions, entries)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    theirs = [official(entries[p.id], p.result) for p in predictions]
    t_theirs = time.perf_counter() - t
    table = agreement_table(predictions, [v.valid for v in ours], [v for v, _ in theirs])

    o = table["overall"]
    print(f"BFCL multi-turn agreement (lfmgym vs bfcl-eval 2026.3.23), {len(entries)} entries of "
          f"{', '.join(args.categories)}, seed {args.seed}")
    print(f"overall: {o['agree']}/{o['n']} = {100 * o['agreement']:.2f}%   "
          f"(lfmgym {t_ours:.1f}s, official {t_theirs:.1f}s)")
    valid_official = sum(v for v, _ in theirs)
    print(f"official valid: {valid_official}/{len(theirs)}; lfmgym valid: {sum(v.valid for v in ours)}/{len(ours)}")
    for name in ("kind", "format", "category", "api"):
        _print_table(f"by {name}", table[name])
    diffs = table["differences"]
    print(f"\ndisagreements by API and function ({sum(1 for p, a, b in zip(predictions, ours, theirs) if a.valid != b[0])} rows)")
    if diffs:
        print(f"{'API.function':<40} {'n':>4} {'ours ok':>8} {'official ok':>12}  examples")
        for fn, r in diffs.items():
            print(f"{fn:<40} {r['n']:>4} {r['ours_valid']:>8} {r['official_valid']:>12}  {', '.join(r['ids'][:3])}")
    else:
        print("(none)")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            for p, a, (valid, err) in zip(predictions, ours, theirs):
                fh.write(json.dumps({**p.to_dict(), "ours": a.valid, "ours_error": a.error_type,
                                     "official": valid, "official_error": err}, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
