"""SFT speed on a mixed-length env mixture: random batches (the baseline) vs length-grouped ones.

    python benchmarks/bench_sft_batching.py [--steps 50] [--threads 2] [--config stages/demo.yaml]

The demo's SFT data mixes short rows (3-digit addition without tools: ~70 tokens), medium ones
(with the calculator schema: ~225) and long ones (function calling with several tool schemas:
170-490). A random batch of 16 almost always holds one long row, so the whole batch is padded to
it. ``sft.group_by_length: true`` (transformers' length-grouped sampler: random megabatches of
50 batches, sorted by length inside) keeps rows of similar length together.

For each strategy the benchmark runs the pipeline's own SFT stage (``run_sft``) for ``--steps``
steps from the same untrained model and prints: wall seconds per step (from the stage's step log,
first step excluded), the speed-up over random batches, the share of batch tokens that are real
(not padding) in the batches each sampler draws from the same rows, and the mean loss of the last
5 steps (a check that grouped batches still train). Use a multiple of 50 steps: the grouped
sampler serves each megabatch longest rows first, so a shorter run times mostly long batches.
Grouped batches change the order the model sees the data in, so a run with it is a different
run: the demo keeps random batches.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def real_token_share(lengths: list[int], batch_size: int, grouped: bool, seed: int) -> float:
    """Real tokens / padded batch tokens over one pass of the sampler the trainer would use."""
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    gen = torch.Generator().manual_seed(seed)
    order = (list(LengthGroupedSampler(batch_size, lengths=lengths, generator=gen)) if grouped
             else torch.randperm(len(lengths), generator=gen).tolist())
    batches = [[lengths[i] for i in order[k:k + batch_size]] for k in range(0, len(order), batch_size)]
    return sum(map(sum, batches)) / sum(max(b) * len(b) for b in batches)


def run(cfg, base_dir: Path, out: Path, steps: int, grouped: bool, lengths: list[int]) -> dict:
    from lfmgym.stages.config import load_config
    from lfmgym.stages.sft import run_sft

    cfg = load_config(cfg, {"sft.max_steps": steps, "sft.group_by_length": grouped, "sft.logging_steps": 1,
                            "sft.save_steps": steps})
    out.mkdir(parents=True)
    run_sft(cfg, base_dir, out)
    logs = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    steps_logged = [r for r in logs if "loss" in r]
    times = [r["time"] for r in steps_logged]
    losses = [r["loss"] for r in steps_logged]
    return {"strategy": "group_by_length" if grouped else "random (baseline)",
            "s_per_step": (times[-1] - times[0]) / (len(times) - 1),
            "real_token_share": real_token_share(lengths, cfg.sft.batch_size, grouped, cfg.seed),
            "final_loss": sum(losses[-5:]) / len(losses[-5:])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=None, help="pipeline config (default: the embedded demo config)")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    a = ap.parse_args()
    if a.steps < 2:
        ap.error("--steps: at least 2 (the first step is excluded from the timing)")

    import torch

    from lfmgym.stages.common import save_model
    from lfmgym.stages.config import load_config
    from lfmgym.stages.demo import demo_config_path
    from lfmgym.stages.pipeline import build_base_model
    from lfmgym.stages.sft import sft_rows

    torch.set_num_threads(a.threads)
    cfg = load_config(a.config or demo_config_path())
    with tempfile.TemporaryDirectory() as tmp:
        model, tokenizer = build_base_model(cfg)
        base = save_model(model, tokenizer, Path(tmp) / "base")
        lengths = [len(tokenizer(tokenizer.apply_chat_template(r["messages"], tokenize=False))["input_ids"])
                   for r in sft_rows(cfg)]
        rows = [run(cfg, base, Path(tmp) / f"run{g}", a.steps, g, lengths) for g in (False, True)]
    base_speed = rows[0]["s_per_step"]
    for r in rows:
        r["speedup"] = base_speed / r["s_per_step"]
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"SFT, {a.steps} steps x batch {cfg.sft.batch_size}, {a.threads} threads, "
          f"model {cfg.model.name} {dict(cfg.model.overrides) or ''}\n")
    print("| batches | s/step | speed-up | real tokens / batch tokens | loss (last 5 steps) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['strategy']} | {r['s_per_step']:.2f} | {r['speedup']:.2f}x | {r['real_token_share']:.2f} "
              f"| {r['final_loss']:.3f} |")


if __name__ == "__main__":
    main()
