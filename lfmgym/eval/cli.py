"""``lfmgym eval`` (environments), ``lfmgym eval bfcl``, ``lfmgym report`` and ``lfmgym serve``.

    lfmgym eval --model tiny --envs math,tool_calling --n 32 --samples 4 --temperature 0.7 --out runs/eval0
    lfmgym eval --base-url http://localhost:8000/v1 --envs math --n 64
    lfmgym eval bfcl --predictions preds.jsonl --out runs/bfcl0          # the bundled BFCL data
    lfmgym eval bfcl --model runs/ckpt --categories simple_python,live_* --limit 20
    lfmgym eval bfcl --data path/to/bfcl --predictions runs/bfcl0/results --lenient
    lfmgym report runs/ckpt1 runs/ckpt2 runs/ckpt3 --out runs/compare
"""

from __future__ import annotations

import argparse

import json
import sys
import time
from pathlib import Path

__all__ = ["add_commands"]


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _add_backend_args(p) -> None:
    g = p.add_argument_group("generation backend")
    g.add_argument("--model", help="preset (tiny), checkpoint dir, hub id, openai:<url> or vllm:<model>")
    g.add_argument("--base-url", help="OpenAI-compatible endpoint (e.g. http://localhost:8000/v1); "
                                      "--model then names the served model")
    g.add_argument("--api-key", default=None, help="bearer token for --base-url (default: $OPENAI_API_KEY)")
    g.add_argument("--device", default=None, help="transformers: cpu, cuda, ... (default: cuda when available)")
    g.add_argument("--batch-size", type=int, default=32, help="transformers: rows generated together")
    g.add_argument("--concurrency", type=int, default=16, help="OpenAI endpoint: requests in flight")
    g.add_argument("--max-new-tokens", type=int, default=None, help="generation cap per assistant turn")
    g.add_argument("--label", default=None, help="name of this run in reports (default: the model)")


def _backend(args):
    from lfmgym.backends import get_backend

    if args.base_url:
        return get_backend("openai:" + args.base_url, model=args.model, api_key=args.api_key,
                           concurrency=args.concurrency), args.model or args.base_url
    if not args.model:
        raise SystemExit("lfmgym eval: give --model (or --base-url)")
    spec = args.model
    if spec.startswith(("openai:", "http://", "https://")):
        return get_backend(spec, api_key=args.api_key, concurrency=args.concurrency), spec
    if spec.startswith("vllm:"):
        return get_backend(spec), spec
    return get_backend(spec, device=args.device, batch_size=args.batch_size), spec


def add_commands(subparsers) -> None:
    """Register ``eval`` (with its ``bfcl`` sub-mode), ``report`` and ``serve``."""
    p = subparsers.add_parser("eval", help="evaluate a model on environments (or: eval bfcl ...)",
                              description="Evaluate a model on lfmgym environments: success, pass@k, parse "
                                          "and tool-error rates, doom loops (greedy and sampled), length, latency.")
    _add_backend_args(p)
    p.add_argument("--envs", type=_csv, default=None, help="comma-separated env names (default: all registered)")
    p.add_argument("--n", type=int, default=32, help="held-out tasks per env")
    p.add_argument("--samples", type=int, default=4, help="sampled episodes per task for pass@k (0 = greedy only)")
    p.add_argument("--temperature", type=float, default=0.7, help="temperature of the sampled pass")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=None, help="task and sampling seed (default: 10000, held out)")
    p.add_argument("--tool-format", choices=["pythonic", "json"], default=None, help="tool-call format of the envs")
    p.add_argument("--env-arg", action="append", default=[], metavar="ENV.KEY=VALUE",
                   help="constructor argument for one env (VALUE parsed as JSON when possible), e.g. "
                        "math.data=gsm8k (bundled) or math.data=path/to/test.jsonl; repeatable")
    p.add_argument("--out", default=None, help="directory for results.json, report.md, report.png and "
                                                "episodes.jsonl (every episode: transcript, tokens, rewards, "
                                                "loop verdict, why it ended)")
    p.add_argument("--max-step-s", type=float, default=None,
                   help="wall-clock limit of one env step; past it the episode ends truncated (step_timeout)")
    p.add_argument("--max-episode-s", type=float, default=None,
                   help="wall-clock limit of one episode (episode_timeout)")
    p.add_argument("--max-episode-tokens", type=int, default=None,
                   help="generated tokens per episode, all turns (token_budget)")
    p.add_argument("--stop-loops", action=argparse.BooleanOptionalAction, default=True,
                   help="transformers: end a turn as soon as it is a confirmed doom loop (counted as one; saves "
                        "the tokens to the cap; benchmarks/bench_loop_stopping.py: no verdict changed)")
    p.add_argument("--compare", nargs="*", default=[], help="earlier result dirs to put beside this run in the report")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_cmd_eval_envs)
    sub = p.add_subparsers(dest="eval_mode", metavar="{bfcl}")

    b = sub.add_parser("bfcl", help="BFCL single-turn categories (non-live, live, relevance) from predictions or a model",
                       description="Score BFCL's single-turn categories as the official bfcl-eval checker does "
                                   "(--lenient: lfmgym's semantic matcher), grouped and averaged as on the leaderboard.")
    b.add_argument("--data", default=None, help="directory of BFCL_v*_<category>.json files and possible_answer/ "
                                                "(default: the BFCL v4 data bundled with lfmgym; see `lfmgym data`)")
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--predictions", help='JSONL of {"id": ..., "result": "<raw model output>"}, or a folder of '
                                            "BFCL result files (BFCL_v4_<category>_result.json, as --out writes)")
    src.add_argument("--model", help="preset, checkpoint dir, hub id, openai:<url> or vllm:<model>")
    src.add_argument("--base-url", help="OpenAI-compatible endpoint serving the model")
    b.add_argument("--served-model", default=None, help="model name for --base-url (default: asked from /models)")
    b.add_argument("--categories", type=_csv, default=None,
                   help="comma-separated categories or patterns, e.g. simple_python,live_* (default: all)")
    b.add_argument("--out", default=None, help="directory for the model's BFCL result files, verdicts.jsonl, "
                                               "summary.json, report.md/png")
    b.add_argument("--api-key", default=None)
    b.add_argument("--device", default=None)
    b.add_argument("--batch-size", type=int, default=32)
    b.add_argument("--concurrency", type=int, default=16)
    b.add_argument("--max-new-tokens", type=int, default=512)
    b.add_argument("--label", default=None)
    b.add_argument("--lenient", action="store_true",
                   help="lfmgym's semantic verdicts (order-free pairing, Java/JS values read as values) instead of "
                        "the official bfcl-eval checker's; the summary reports both when they differ")
    b.add_argument("--limit", type=int, default=None, metavar="N",
                   help="at most N entries per category, a seeded sample (quick looks; --seed picks another)")
    b.add_argument("--seed", type=int, default=0, help="the --limit sample (default: 0)")
    b.add_argument("--no-progress", action="store_true")
    b.set_defaults(func=_cmd_eval_bfcl)

    r = subparsers.add_parser("report", help="redraw eval tables and plots from saved results",
                              description="Compare saved eval runs (results.json / summary.json) side by side.")
    r.add_argument("dirs", nargs="+", help="result directories (or files), in the order to show")
    r.add_argument("--out", default=None, help="where to write report.md/.png/.json (default: the first dir)")
    r.set_defaults(func=_cmd_report)

    from lfmgym.backends.serve import add_commands as add_serve

    add_serve(subparsers)


# --------------------------------------------------------------------------- handlers


def _cmd_eval_envs(args) -> int:
    from lfmgym.eval.envs import DEFAULT_EVAL_SEED, evaluate_envs
    from lfmgym.eval.report import load_run, print_runs, save_run, write_report
    from lfmgym.plugins import get_registry

    envs = args.envs or sorted(get_registry().envs)
    known = get_registry().envs
    unknown = [e for e in envs if e not in known]
    if unknown:
        print(f"lfmgym eval: unknown env(s) {unknown}; available: {sorted(known)}", file=sys.stderr)
        return 2
    from lfmgym.engine import Budgets

    budgets = Budgets(max_step_s=args.max_step_s, max_episode_s=args.max_episode_s,
                      max_episode_tokens=args.max_episode_tokens)
    backend, model_name = _backend(args)
    if args.tool_format:
        env_kwargs = _env_kwargs(envs, args.tool_format, args.env_arg)
    else:  # the model's own format, for the envs that take one
        fmt = _native_tool_format(backend, model_name)
        env_kwargs = _env_kwargs(envs, None, args.env_arg) or {}
        for env in (e for e in envs if fmt and _takes_tool_format(e)):
            env_kwargs.setdefault(env, {}).setdefault("tool_format", fmt)
        env_kwargs = env_kwargs or None
    if args.stop_loops and hasattr(backend, "token_generator") and hasattr(backend.token_generator, "loop_stop"):
        from lfmgym.rewards.loop_stopping import LoopStop

        backend.token_generator.loop_stop = LoopStop(enabled=True)
    episodes = None
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        episodes = Path(args.out) / "episodes.jsonl"
    result = evaluate_envs(
        backend, envs, n=args.n, samples=args.samples, temperature=args.temperature, top_p=args.top_p,
        max_new_tokens=args.max_new_tokens or 256, seed=DEFAULT_EVAL_SEED if args.seed is None else args.seed,
        env_kwargs=env_kwargs, progress=not args.no_progress, budgets=budgets, episodes_path=episodes,
    )
    result["model"] = model_name
    label = args.label or model_name
    run = {**result, "label": label}
    runs = [load_run(d) for d in args.compare] + [run]
    print_runs(runs)
    if args.out:
        save_run(result, args.out, label)
        paths = write_report(runs, args.out)
        print(f"wrote {Path(args.out) / 'results.json'}, {paths['markdown']}, {paths['plot']}, {episodes}")
    return 0


def _native_tool_format(backend, model_name: str) -> str | None:
    """The tool format the local model's chat template writes (None for remote backends: the
    envs' default), announced so a user knows why and how to change it."""
    from lfmgym.model.templates import native_tool_format

    tokenizer = getattr(backend, "tokenizer", None)
    if tokenizer is None:
        return None
    fmt = native_tool_format(getattr(tokenizer, "chat_template", None))
    print(f"tool format: {fmt} (what the chat template of {model_name} writes; --tool-format to change)")
    return fmt


def _takes_tool_format(env: str) -> bool:
    import inspect

    from lfmgym.plugins import get_registry

    try:
        params = inspect.signature(get_registry().get("envs", env).factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "tool_format" or p.kind is p.VAR_KEYWORD for p in params)


def _env_kwargs(envs: list[str], tool_format: str | None, items: list[str]) -> dict[str, dict] | None:
    """Per-env constructor arguments from ``--tool-format`` and ``--env-arg ENV.KEY=VALUE``."""
    from lfmgym.cli import env_arg_value

    kwargs: dict[str, dict] = {e: ({"tool_format": tool_format} if tool_format else {}) for e in envs}
    for item in items:
        target, sep, value = item.partition("=")
        env, dot, key = target.partition(".")
        if not sep or not dot or not key:
            raise ValueError(f"--env-arg {item!r}: expected ENV.KEY=VALUE, e.g. math.data=gsm8k.jsonl")
        if env not in kwargs:
            raise ValueError(f"--env-arg {item!r}: env {env!r} is not among --envs {envs}")
        kwargs[env][key] = env_arg_value(value)
    return {e: kw for e, kw in kwargs.items() if kw} or None


def _cmd_eval_bfcl(args) -> int:
    from lfmgym.eval.bfcl import (
        data_location,
        generate_predictions,
        load_bfcl,
        load_prediction_rows,
        score_predictions,
        select_entries,
        summarize,
        write_result_files,
    )
    from lfmgym.eval import bfcl_multi_turn as multi_turn
    from lfmgym.eval.report import print_runs, write_report

    try:  # multi_turn_* categories go to lfmgym.eval.bfcl_multi_turn
        multi, args.categories = multi_turn.split_categories(args.categories) if args.categories else (None, None)
        entries = select_entries(load_bfcl(args.data, args.categories), args.limit, args.seed) if args.categories != [] else []
        rows = load_prediction_rows(args.predictions) if args.predictions else None
    except (FileNotFoundError, ValueError) as exc:
        print(f"lfmgym eval bfcl: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else None
    mode = "lenient" if args.lenient else "official"
    t0 = time.perf_counter()
    generation_s = 0.0
    if rows is not None:
        source, label = str(args.predictions), args.label or Path(args.predictions).stem
        predictions = dict(rows)
        repeated = len(rows) - len(predictions)
        if repeated:
            print(f"note: {repeated} prediction row(s) repeat an id: every row is scored "
                  "(verdicts.jsonl has one line per row)")
    else:
        args.model = args.model if not args.base_url else (args.served_model or None)
        backend, model_name = _backend(args)
        label = args.label or model_name
        source = model_name
        print(f"bfcl: generating {len(entries)} entries with {model_name}", flush=True)
        generated = generate_predictions(backend, entries, max_new_tokens=args.max_new_tokens,
                                         batch_size=max(args.batch_size, args.concurrency),
                                         progress=not args.no_progress)
        predictions = {k: v["result"] for k, v in generated.items()}
        rows = list(predictions.items())
        generation_s = time.perf_counter() - t0
        if out:  # the raw outputs first: a run that fails later can still be rescored
            paths = write_result_files(out, entries, generated)
            print(f"wrote {len(paths)} BFCL result file(s) to {out} (rescore: --predictions {out})")
    t1 = time.perf_counter()
    verdicts = score_predictions(entries, rows, mode)
    summary = summarize(verdicts)
    multi_verdicts = multi_turn.evaluate(
        multi, predictions=args.predictions, limit=args.limit, seed=args.seed if args.limit else None, out=out,
        policy=None if args.predictions else multi_turn.model_policy(backend, args.max_new_tokens),
        batch_size=max(args.batch_size, args.concurrency), progress=not args.no_progress)
    if multi_verdicts:
        summary = multi_turn.add_to_summary(summary, multi_verdicts)
    scoring_s = time.perf_counter() - t1
    unused = sorted(set(predictions) - {e.id for e in entries})
    missing = sum(v.kind == "missing" for v in verdicts)
    run = {"kind": "bfcl", "label": label, "source": source, "data": str(data_location(args.data)), "mode": mode,
           "limit": args.limit, "seed": args.seed if args.limit else None, "summary": summary,
           "timing": {"generation_s": generation_s, "scoring_s": scoring_s, "total_s": time.perf_counter() - t0},
           "unused_predictions": len(unused)}
    print_runs([run])
    if not summary["complete"]:
        print(f"note: {len(summary['missing'])} categor{'y' if len(summary['missing']) == 1 else 'ies'} not run; "
              "BFCL counts them as 0 in the groups and the overall, so compare runs over the same categories")
    other = summary.get("other_mode")
    if other:
        ids = other["differ"]
        print(f"note: {other['mode']} verdicts differ on {len(ids)} row(s) (single-turn {100 * other['single_turn']:.1f}% "
              f"{other['mode']} vs {100 * summary['single_turn']:.1f}% {mode}): {', '.join(ids[:10])}"
              + (" ..." if len(ids) > 10 else "") + (f" (all in {out / 'summary.json'})" if out else ""))
    if missing:
        print(f"note: {missing} entr{'y has' if missing == 1 else 'ies have'} no prediction and count as wrong"
              + (" (rescoring a --limit run? pass the same --limit and --seed)" if predictions and not args.limit else ""))
    print(f"scored {len(verdicts) + len(multi_verdicts)} entries ({mode} verdicts) in {scoring_s:.2f}s"
          + (f"; {len(unused)} prediction id(s) not in the selected data" if unused else ""))
    if out:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "verdicts.jsonl", "w") as fh:
            for v in [*verdicts, *multi_verdicts]:
                fh.write(json.dumps(v.to_dict(), ensure_ascii=False) + "\n")
        (out / "summary.json").write_text(json.dumps(run, indent=2) + "\n")
        paths = write_report([run], out)
        print(f"wrote {out / 'verdicts.jsonl'}, {out / 'summary.json'}, {paths['markdown']}, {paths['plot']}")
    return 0


def _cmd_report(args) -> int:
    from lfmgym.eval.report import load_run, print_runs, write_report

    try:
        runs = [load_run(d) for d in args.dirs]
        print_runs(runs)
        paths = write_report(runs, args.out or (args.dirs[0] if Path(args.dirs[0]).is_dir() else "."))
    except (FileNotFoundError, ValueError) as exc:
        print(f"lfmgym report: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {paths['markdown']}, {paths['plot']}, {paths['json']}")
    return 0
