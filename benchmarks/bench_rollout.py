"""Batched vs one-at-a-time rollouts with a small model policy.

Plays the same 64 episodes of an environment twice with the same model: once with the batched
runner (every live episode's turn generated in one call) and once one episode at a time (the
baseline), then prints both and the speed-up.

    python benchmarks/bench_rollout.py [--env math_calculator] [--episodes 64] [--preset tiny]

The model is a randomly initialised preset (no download); a random model writes until the
length cap, which is the worst case for generation time and therefore a fair test of batching.
"""

from __future__ import annotations

import argparse
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="math_calculator")
    ap.add_argument("--episodes", type=int, default=64)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--max-turns", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from rich.console import Console
    from rich.table import Table

    from lfmgym.backends.transformers_backend import TransformersBackend
    from lfmgym.model.loading import load_model_and_tokenizer
    from lfmgym.plugins import make_env
    from lfmgym.rollout import ModelPolicy, run_episodes

    model, tok = load_model_and_tokenizer(args.preset)
    backend = TransformersBackend(model, tok, batch_size=args.episodes)
    factory = lambda: make_env(args.env, max_turns=args.max_turns)  # noqa: E731
    tasks = factory().make_tasks(args.episodes, seed=0)

    rows = []
    for label, batch in (("batched", args.episodes), ("one at a time (baseline)", 1)):
        policy = ModelPolicy(backend, temperature=0.0, max_new_tokens=args.max_new_tokens)
        t0 = time.perf_counter()
        recs = run_episodes(factory, policy, tasks, batch_size=batch)
        dt = time.perf_counter() - t0
        turns = sum(r.turns for r in recs)
        rows.append((label, dt, turns))

    table = Table(title=f"{args.episodes} episodes of {args.env}, preset {args.preset}, "
                        f"max_new_tokens={args.max_new_tokens}, {args.threads} threads")
    for col in ("runner", "wall s", "turns", "episodes/s"):
        table.add_column(col)
    for label, dt, turns in rows:
        table.add_row(label, f"{dt:.2f}", str(turns), f"{args.episodes / dt:.2f}")
    Console().print(table)
    print(f"speed-up batched vs one-at-a-time: {rows[1][1] / rows[0][1]:.1f}x")


if __name__ == "__main__":
    main()
