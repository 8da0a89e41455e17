"""Fast sweep targets for the sweep tests (the real target is lfmgym.stages.pipeline:run_pipeline).

``fake_grpo`` stands in for a GRPO run: one intermediate report per step through the same hook
the stages use, a file per step it actually ran in ``$SWEEP_MARKER_DIR``, and a learning rate
above 1 makes it "diverge" (success 0 from the first step on).
"""

import os
import time
from pathlib import Path

from lfmgym import reporting


def fake_grpo(config, out_dir, *, resume=True, progress=False):
    """success 0.5 at every step but the last for a sane lr, 0.5 + (steps - 1) * lr at the last; 0 from
    the first step on when lr > 1; an lr of exactly 0.5 raises (a crashing trial).

    Sane trials are equal at every intermediate report on purpose: ASHA stops a trial that reaches a
    rung below the best third of those recorded there, so if sane trials differed there, which of
    them is stopped would depend on the order they reach the rung (scheduling, not the code under
    test)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lr, steps = config["grpo"]["learning_rate"], config["grpo"]["max_steps"]
    if lr == 0.5:
        raise RuntimeError("diverged into NaN (test failure)")
    markers = Path(os.environ["SWEEP_MARKER_DIR"])
    success = 0.0
    for step in range(1, steps + 1):
        (markers / f"lr{lr}-step{step}-{os.getpid()}-{time.time_ns()}").write_text("")
        time.sleep(float(os.environ.get("SWEEP_SLEEP", "0")))
        success = 0.0 if lr > 1 else (min(1.0, 0.5 + (step - 1) * lr) if step == steps else 0.5)
        reporting.report(reporting.training_metrics({"success/math": success, "reward": success}), step, "grpo")
    return [{"stage": "base", "env": "math", "success": 0.0}, {"stage": "grpo", "env": "math", "success": success}]
