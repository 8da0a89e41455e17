"""Fast sweep targets for the sweep tests (the real target is lfmgym.stages.pipeline:run_pipeline)."""

import os
import time
from pathlib import Path


def fake_pipeline(config, out_dir, *, resume=True, progress=False):
    """Pretends to train: success = learning rate * 100, fails when the lr is exactly 0.5."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    marker = Path(os.environ["SWEEP_MARKER_DIR"]) / f"{os.getpid()}-{time.time_ns()}"
    marker.write_text(str(config["sft"]["learning_rate"]))
    time.sleep(float(os.environ.get("SWEEP_SLEEP", "0")))
    lr = config["sft"]["learning_rate"]
    if lr == 0.5:
        raise RuntimeError("diverged (test failure)")
    return [{"stage": "base", "env": "math", "success": 0.0}, {"stage": "sft", "env": "math", "success": lr * 100}]
