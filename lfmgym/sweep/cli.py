"""``lfmgym sweep SWEEP.yaml``."""

from __future__ import annotations

__all__ = ["add_commands"]


def _cmd_sweep(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from lfmgym.sweep.results import results_table, summary
    from lfmgym.sweep.runner import run_sweep
    from lfmgym.sweep.space import grid_points, load_sweep

    spec = load_sweep(args.sweep)
    if args.early_stop:
        spec.early_stop["type"] = args.early_stop
    out = args.out or f"sweeps/{spec.name}"
    Console().print(f"sweep {spec.name!r}: {spec.n_trials} trials, {spec.search['algorithm']} search, "
                    f"early stop {spec.early_stop['type']}, executor {args.executor or spec.executor['type']}, "
                    f"output {out}")
    if args.dry_run:
        if spec.search["algorithm"] == "grid":
            for i, p in enumerate(grid_points(spec)):
                print(f"t{i:03d}", p)
        else:
            for name, d in spec.space.items():
                print(name, d)
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
    s = summary(rows, spec.metric)
    print(f"{s['trials']} trials: {s['ok']} finished, {s['pruned']} pruned, {s['failed']} failed; "
          f"{s['trial_seconds']:.1f} trial-seconds, {s['trial_cpu_seconds']:.1f} CPU-seconds")
    print(f"results: {out}/results.md, results.csv, results.json, metric_vs_params.png")
    return 0 if any(r["status"] == "ok" for r in rows) else 1


def add_commands(subparsers) -> None:
    p = subparsers.add_parser("sweep", help="run an RL sweep with early stopping (Optuna locally, or Ray Tune), resumable")
    p.add_argument("sweep", help="sweep YAML (base config, space, search, metric, early_stop, executor)")
    p.add_argument("--out", help="sweep directory (default sweeps/<name>); running again resumes it")
    p.add_argument("--executor", choices=["optuna", "ray"], help="override executor.type")
    p.add_argument("--parallel", type=int, help="trials at a time")
    p.add_argument("--address", help="ray executor: cluster address ('auto' for an existing cluster)")
    p.add_argument("--early-stop", choices=["asha", "median", "pbt", "none"],
                   help="override early_stop.type (pbt: population-based training of GRPO, executor ray)")
    p.add_argument("--retry-failed", action="store_true", help="run trials that failed again")
    p.add_argument("--dry-run", action="store_true", help="validate and show the space without running")
    p.set_defaults(func=_cmd_sweep)
