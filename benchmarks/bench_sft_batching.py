"""SFT speed on a mixed-length env mixture: random batches (the baseline) vs length-grouped ones.

    python benchmarks/bench_sft_batching.py [--steps 20] [--threads 2] [--config stages/demo.yaml]

The demo's SFT data mixes short rows (3-digit addition without tools: ~70 tokens), medium ones
(with the calculator schema: ~225) and long ones (function calling with several tool schemas:
170-490). A random batch of 16 almost always holds one long row, so the whole batch is padded to
it. ``sft.group_by_length: true`` (transformers' length-grouped sampler: random megabatches of
50 batches, sorted by length inside) keeps rows of similar length together.

For each strategy the benchmark trains ``--steps`` SFT steps of the config from the same
untrained model and prints: wall seconds per step, the speed-up over random batches, the share of
batch tokens that are real (not padding) over the steps run, and the mean loss of the last 5
logged steps (a check that grouped batches still train). Grouped batches change the order the
model sees the data in, so a run with it is a different run: the demo keeps random batches.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def padding_share(trainer, steps: int) -> float:
    """Real tokens / batch tokens over the first ``steps`` batches the trainer's sampler yields."""
    loader = trainer.get_train_dataloader()
    real = total = 0
    for i, batch in enumerate(loader):
        if i >= steps:
            break
        mask = batch["attention_mask"]
        real += int(mask.sum())
        total += mask.numel()
    return real / total


def run(cfg: dict, base_dir: Path, out: Path, steps: int, grouped: bool) -> dict:
    from trl import SFTConfig, SFTTrainer

    from lfmgym.stages.common import load_model, quiet_trainer
    from lfmgym.stages.sft import build_sft_dataset, length_grouping, precision_flags

    s = cfg["sft"]
    model, tokenizer = load_model(base_dir)
    args = SFTConfig(
        output_dir=str(out), max_steps=steps, learning_rate=s["learning_rate"],
        per_device_train_batch_size=s["batch_size"], lr_scheduler_type=s["lr_scheduler_type"],
        warmup_steps=s["warmup_ratio"], max_length=s["max_length"], assistant_only_loss=True,
        packing=False, save_strategy="no", logging_steps=1, report_to=[], disable_tqdm=True,
        seed=cfg["seed"], data_seed=cfg["seed"], **length_grouping(grouped), **precision_flags(cfg),
    )
    # As many rows as the steps consume, so both strategies draw from the same pool.
    trainer = SFTTrainer(model=model, args=args, processing_class=tokenizer,
                         train_dataset=build_sft_dataset(cfg, n=max(steps * s["batch_size"] * 4, 400)))
    quiet_trainer(trainer)
    share = padding_share(trainer, steps)
    t0 = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t0
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"strategy": "group_by_length" if grouped else "random (baseline)", "s_per_step": wall / steps,
            "real_token_share": share, "final_loss": sum(losses[-5:]) / len(losses[-5:])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=None, help="pipeline config (default: the embedded demo config)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    a = ap.parse_args()

    import torch

    from lfmgym.stages.common import save_model
    from lfmgym.stages.config import load_config
    from lfmgym.stages.demo import demo_config_path
    from lfmgym.stages.pipeline import build_base_model

    torch.set_num_threads(a.threads)
    cfg = load_config(a.config or demo_config_path())
    with tempfile.TemporaryDirectory() as tmp:
        base = save_model(*build_base_model(cfg), Path(tmp) / "base")
        rows = [run(cfg, base, Path(tmp) / f"run{g}", a.steps, g) for g in (False, True)]
    base_speed = rows[0]["s_per_step"]
    for r in rows:
        r["speedup"] = base_speed / r["s_per_step"]
    if a.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"SFT, {a.steps} steps x batch {cfg['sft']['batch_size']}, {a.threads} threads, "
          f"model {cfg['model']['name']} {cfg['model']['overrides'] or ''}\n")
    print("| batches | s/step | speed-up | real tokens / batch tokens | loss (last 5 steps) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['strategy']} | {r['s_per_step']:.2f} | {r['speedup']:.2f}x | {r['real_token_share']:.2f} "
              f"| {r['final_loss']:.3f} |")


if __name__ == "__main__":
    main()
