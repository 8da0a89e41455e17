"""``lfmgym model ...`` commands: parameter breakdowns and on-device operator profiling.

    lfmgym model info tiny lfm2-350m tests/data/configs/gemma-3-270m.json
    lfmgym model profile --out runs/profile --seq-lens 128 512 2048 --hidden 512
    lfmgym model presets

Module imports stay light (argparse only); torch and transformers load inside the handlers.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["add_commands"]


def add_commands(subparsers: "argparse._SubParsersAction") -> None:
    """Add the ``model`` command group (``info``, ``profile``, ``presets``) to ``subparsers``."""
    model = subparsers.add_parser("model", help="model presets, parameter breakdown, operator profiling")
    commands = model.add_subparsers(dest="model_command", metavar="{info,profile,presets}")
    model.set_defaults(func=lambda args: (model.print_help(), 2)[1])

    info = commands.add_parser(
        "info",
        help="parameter breakdown by block type (from the config only, no weights)",
        description="Parameter breakdown (embedding, conv, attention, MLP, norms...), embedding share and "
        "effective (non-embedding) parameters, computed on the meta device from the config alone.",
    )
    info.add_argument("models", nargs="+", metavar="MODEL",
                      help="preset name, checkpoint directory, config.json path or hub id (hub needs network)")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(func=_info)

    profile = commands.add_parser(
        "profile",
        help="profile sequence-mixing operators (short conv, GQA, SWA, gated DeltaNet) on this device",
        description="Latency and peak memory of each operator for prefill at each sequence length and for "
        "one decode step with cache, at one hidden size. Writes profile.md, profile.json and profile.png.",
    )
    profile.add_argument("--out", default="runs/profile", help="output directory (default: runs/profile)")
    profile.add_argument("--seq-lens", type=int, nargs="+", default=None, metavar="L",
                         help="prefill lengths (default: 128 256 512 1024 2048 4096)")
    profile.add_argument("--hidden", type=int, default=512, help="hidden size shared by all operators (default: 512)")
    profile.add_argument("--operators", nargs="+", default=None, metavar="OP",
                         help="subset of: short_conv gqa swa gated_deltanet (default: all)")
    profile.add_argument("--repeats", type=int, default=3, help="timed calls per point, median reported (default: 3)")
    profile.add_argument("--window", type=int, default=512, help="sliding window for swa (default: 512, Gemma 3)")
    profile.add_argument("--attn", default="sdpa", choices=("sdpa", "eager"), help="attention implementation")
    profile.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1... (default: cpu)")
    profile.add_argument("--dtype", default="float32", help="float32, bfloat16, float16 (default: float32)")
    profile.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's setting)")
    profile.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    profile.set_defaults(func=_profile)

    presets = commands.add_parser("presets", help="list the model presets")
    presets.set_defaults(func=_presets)


def _print_markdown(text: str) -> None:
    try:
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(text))
    except ImportError:
        print(text)


def _info(args: argparse.Namespace) -> int:
    from lfmgym.model.info import format_breakdown_table, param_breakdown

    results = []
    for name in args.models:
        try:
            results.append(param_breakdown(name))
        except (OSError, ValueError, KeyError) as exc:
            print(f"lfmgym model info: {name}: {exc}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        _print_markdown(format_breakdown_table(results))
    return 0


def _profile(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from lfmgym.model.profile import DEFAULT_SEQ_LENS, OPERATORS, format_profile_table, run_profile, write_profile

    seq_lens = args.seq_lens or list(DEFAULT_SEQ_LENS)
    operators = args.operators or list(OPERATORS)
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn()) as progress:
            task = progress.add_task("profiling", total=len(seq_lens) * len(operators))
            started = []

            def on_step(description: str) -> None:
                if started:
                    progress.advance(task)
                started.append(description)
                progress.update(task, description=description)

            result = run_profile(
                hidden=args.hidden, seq_lens=seq_lens, operators=operators, repeats=args.repeats,
                window=args.window, attn_implementation=args.attn, device=args.device, dtype=args.dtype,
                threads=args.threads, measure_memory=not args.no_memory, on_step=on_step,
            )
            progress.update(task, completed=len(seq_lens) * len(operators))
    except ValueError as exc:
        print(f"lfmgym model profile: {exc}", file=sys.stderr)
        return 2
    paths = write_profile(result, args.out)
    _print_markdown(format_profile_table(result))
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _presets(args: argparse.Namespace) -> int:
    from lfmgym.model.info import param_breakdown
    from lfmgym.model.presets import PRESETS

    lines = ["| preset | params | embedding share | description |", "|---|---:|---:|---|"]
    for name, preset in PRESETS.items():
        b = param_breakdown(name)
        lines.append(f"| {name} | {b['total'] / 1e6:.1f}M | {b['embedding_share']:.1%} | {preset.description} |")
    _print_markdown("\n".join(lines))
    return 0
