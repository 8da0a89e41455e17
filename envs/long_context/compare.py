"""Does the REPL help this model? ``long_context`` vs ``long_context_direct`` on the same tasks, per tier.

``lfmgym eval --envs long_context,long_context_direct`` gives the same comparison with the full
eval metrics, one tier per run (``--env-arg long_context.difficulty=0 ...``). This module is the
small-budget version: one model load, both envs and several tiers in one table, each episode
appended to a JSONL file as soon as it ends (so a run cut short still reports what it played)::

    python -m lfmgym.envs.long_context.compare --model PATH --tiers 0,1 --n 4 --out results/

Each (tier) draws ``n`` tasks once and plays them in both envs with greedy decoding; the REPL env's
``llm_query`` is the model itself (the rollout engine's default).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

__all__ = ["compare", "format_table", "main"]


def compare(backend: Any, *, tiers: list[int], n: int, seed: int = 10_000, families: Any = None,
            repl_kwargs: dict[str, Any] | None = None, direct_kwargs: dict[str, Any] | None = None,
            repl_max_new_tokens: int = 256, direct_max_new_tokens: int = 32, batch_size: int = 8,
            out: Path | None = None, envs: tuple[str, ...] = ("long_context", "long_context_direct"),
            ) -> list[dict[str, Any]]:
    """Rows ``{env, tier, n, correct, answered, sub_calls, sub_tokens, turns, wall_s}`` (means over episodes).

    ``envs`` plays a subset (in the order given), e.g. the cheap direct baseline first.
    """
    from lfmgym.envs.long_context.direct import LongContextDirectEnv
    from lfmgym.envs.long_context.env import LongContextEnv
    from lfmgym.rollout import ModelPolicy, run_episodes

    repl_kwargs = {"families": families, **(repl_kwargs or {})}
    direct_kwargs = {"families": families, **(direct_kwargs or {})}
    known = {"long_context": (LongContextEnv, repl_kwargs, repl_max_new_tokens),
             "long_context_direct": (LongContextDirectEnv, direct_kwargs, direct_max_new_tokens)}
    unknown = [name for name in envs if name not in known]
    if unknown or not envs:
        raise ValueError(f"envs: expected some of {sorted(known)}, got {list(envs)}")
    plans = [(name, *known[name]) for name in envs]
    rows = []
    for tier in tiers:
        ids = None
        for name, cls, kwargs, max_new in plans:
            # Each env renders its own prompt (the REPL's metadata, or the cut context): same seed, same tasks.
            tasks = cls(**kwargs).make_tasks(n, seed=seed + tier, difficulty=tier)
            if ids is not None and [t.id for t in tasks] != ids:
                raise RuntimeError(f"tier {tier}: the two envs drew different tasks; pass them the same families")
            ids = [t.id for t in tasks]
            policy = ModelPolicy(backend, temperature=0.0, max_new_tokens=max_new, seed=seed)

            def save(record: Any, tier: int = tier) -> None:
                if out is None:
                    return
                row = record.to_dict()
                row["messages"] = [{**m, "content": str(m.get("content", ""))[:4_000]} for m in row["messages"]]
                with open(out / "episodes.jsonl", "a") as f:
                    f.write(json.dumps({"tier": tier, **row}, default=str) + "\n")

            started = time.perf_counter()
            records = run_episodes(lambda cls=cls, kwargs=kwargs: cls(**kwargs), policy, tasks, seed=seed,
                                   batch_size=batch_size, on_done=save)
            wall = time.perf_counter() - started

            def mean(key: str, records=records) -> float:
                return sum(r.components.get(key, 0.0) for r in records) / max(1, len(records))

            rows.append({"env": name, "tier": tier, "n": len(records), "correct": mean("correct"),
                         "answered": mean("answered"), "sub_calls": mean("sub_calls"),
                         "sub_tokens": mean("sub_tokens"), "sub_call_depth": mean("sub_call_depth"),
                         "turns": sum(len(r.generations) for r in records) / max(1, len(records)), "wall_s": wall})
            if out is not None:
                (out / "table.json").write_text(json.dumps(rows, indent=1))
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A markdown table: one row per (tier, env)."""
    lines = ["| tier | env | n | correct | answered | turns | sub_calls | sub_tokens | wall s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['tier']} | {r['env']} | {r['n']} | {r['correct']:.2f} | {r['answered']:.2f} | "
                     f"{r['turns']:.1f} | {r['sub_calls']:.1f} | {r['sub_tokens']:.0f} | {r['wall_s']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lfmgym.envs.long_context.compare", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="preset, checkpoint dir, openai:<url> (as lfmgym eval)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--tiers", default="0,1", help="comma-separated tiers (0 = 10k, 1 = 50k, ...)")
    parser.add_argument("--n", type=int, default=4, help="tasks per tier")
    parser.add_argument("--seed", type=int, default=10_000)
    parser.add_argument("--families", default=None, help="comma-separated families or groups (default: all)")
    parser.add_argument("--repl-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="long_context argument (VALUE as JSON when possible); repeatable")
    parser.add_argument("--direct-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="long_context_direct argument; repeatable")
    parser.add_argument("--repl-max-new-tokens", type=int, default=256)
    parser.add_argument("--direct-max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--envs", default="long_context,long_context_direct", help="the envs to play, in order")
    parser.add_argument("--out", type=Path, default=None, help="directory for episodes.jsonl and table.json")
    args = parser.parse_args(argv)

    from lfmgym.backends import get_backend

    def parse(pairs: list[str], flag: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                parser.error(f"{flag}: expected KEY=VALUE, got {pair!r}")
            try:
                out[key] = json.loads(value)
            except json.JSONDecodeError:
                out[key] = value
        return out

    try:
        tiers = [int(t) for t in args.tiers.split(",")]
    except ValueError:
        parser.error(f"--tiers: expected comma-separated integers, got {args.tiers!r}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    backend = get_backend(args.model, device=args.device)
    families = args.families.split(",") if args.families else None
    rows = compare(backend, tiers=tiers, n=args.n, seed=args.seed, families=families,
                   repl_kwargs=parse(args.repl_arg, "--repl-arg"), direct_kwargs=parse(args.direct_arg, "--direct-arg"),
                   repl_max_new_tokens=args.repl_max_new_tokens, direct_max_new_tokens=args.direct_max_new_tokens,
                   batch_size=args.batch_size, out=args.out, envs=tuple(args.envs.split(",")))
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
