"""``lfmgym sweep SWEEP.yaml``."""

from __future__ import annotations

__all__ = ["add_commands"]


def _cmd_sweep(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from lfmgym.sweep.runner import results_table, run_sweep
    from lfmgym.sweep.space import load_sweep

    spec = load_sweep(args.sweep)
    out = args.out or f"sweeps/{spec.name}"
    Console().print(f"sweep {spec.name!r}: {len(spec.trials)} trials, executor {args.executor or spec.executor['type']}, "
                    f"output {out}")
    if args.dry_run:
        for t in spec.trials:
            print(t.id, t.overrides)
        return 0
    rows = run_sweep(spec, out, executor=args.executor, parallel=args.parallel, address=args.address,
                     retry_failed=args.retry_failed)
    header, body = results_table(rows, spec.metric)
    table = Table(title=f"{spec.name}: sorted by {spec.metric['name']} ({spec.metric['mode']})")
    for h in header:
        table.add_column(h)
    for line in body:
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else ("" if v is None else str(v)) for v in line])
    Console().print(table)
    print(f"results: {out}/results.md, results.csv, results.json, metric_vs_params.png")
    return 0 if any(r["status"] == "ok" for r in rows) else 1


def add_commands(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="run an RL sweep (local or Ray), resumable")
    p.add_argument("sweep", help="sweep YAML (base config, space, metric, executor)")
    p.add_argument("--out", help="sweep directory (default sweeps/<name>)")
    p.add_argument("--executor", choices=["local", "ray"], help="override executor.type")
    p.add_argument("--parallel", type=int, help="local executor: trials at a time")
    p.add_argument("--address", help="ray executor: cluster address ('auto' for an existing cluster)")
    p.add_argument("--retry-failed", action="store_true", help="re-run trials that failed before")
    p.add_argument("--dry-run", action="store_true", help="validate and list the trials without running")
    p.set_defaults(func=_cmd_sweep)
