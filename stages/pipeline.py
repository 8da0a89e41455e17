"""The training pipeline: base model -> SFT -> DPO -> GRPO, with an evaluation after each stage.

``lfmgym pipeline CONFIG.yaml --out DIR`` (or :func:`run_pipeline`) runs the stages listed in the
config, in order, each starting from the previous stage's model, and evaluates the base model
and every stage on the same held-out tasks. The output directory::

    DIR/config.json           the complete, validated config (a resume must match it)
    DIR/base/model/           the starting model (+ tokenizer); base/eval.json its evaluation
    DIR/<stage>/checkpoints/  trainer checkpoints (resume points)
    DIR/<stage>/model/        the stage's final model; <stage>/eval.json, episodes.jsonl, log.jsonl
    DIR/dpo/pairs.jsonl       the preference pairs with every juror score; dpo/jury.json the counts
    DIR/results.json          [{"stage", "env", "success", "parse_rate", "doom_loop_greedy",
                                "doom_loop_sampled", "mean_length", "n"}, ...]
    DIR/results.md, results.png, timings.json

Resuming (the default): a finished stage (its ``eval.json`` exists) is not run again; a stage
killed while training restarts from its newest checkpoint (``<stage>/resume.log`` says which);
DPO pairs already on disk are reused. Each stage records its input in ``<stage>/stage.json``
(the stage it started from, that model's fingerprint, its settings): when the input differs on a
rerun (e.g. ``sft/model`` was rebuilt), the run refuses, naming what changed, instead of reusing
outputs made from something else (``--no-resume`` starts over).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lfmgym.stages.common import (
    StageProgress,
    barrier,
    dist,
    is_main,
    load_model,
    read_json,
    save_model,
    training_tasks,
    write_json,
)
from lfmgym.stages.config import STAGES, ConfigError, PipelineConfig, check_trainer_args, config_diff, load_config, thaw
from lfmgym.stages.evaluate import ROW_KEYS, evaluate_model

__all__ = ["run_pipeline", "build_base_model", "model_fingerprint", "stage_input", "check_stage_input", "check_run_dir", "tokenizer_corpus", "write_results", "results_markdown", "plot_results"]

ALL_STAGES = ("base", "sft", "dpo", "grpo")
# Progress phases of each stage: training (+ rollouts for DPO) and its evaluation.
PHASES = {"sft": 2, "dpo": 3, "grpo": 2}


def _runner(stage: str):
    if stage == "sft":
        from lfmgym.stages.sft import run_sft

        return run_sft
    if stage == "dpo":
        from lfmgym.stages.dpo import run_dpo

        return run_dpo
    if stage == "grpo":
        from lfmgym.stages.grpo import run_grpo

        return run_grpo
    raise ValueError(f"unknown stage {stage!r}")


def tokenizer_corpus(cfg: PipelineConfig) -> list[str]:
    """Text for a from-scratch tokenizer: every message of ``model.tokenizer_examples``
    demonstrations per env (a training stream, never the held-out tasks)."""
    from lfmgym.stages.common import make_env

    texts = []
    for name, settings in cfg.envs.items():
        env = make_env(name, settings.kwargs)
        for task in training_tasks(cfg, name, cfg.model.tokenizer_examples, "tokenizer"):
            texts.extend(m["content"] for m in env.demonstrate(task) if m.get("content"))
    return texts


def build_base_model(cfg: PipelineConfig):
    """The starting ``(model, tokenizer)``: a preset built from scratch, or a checkpoint loaded."""
    from lfmgym.model.loading import load_model_and_tokenizer
    from lfmgym.model.presets import PRESETS

    model = cfg.model
    overrides = thaw(model.overrides)
    if model.name in PRESETS:
        if model.tokenizer:
            from transformers import AutoTokenizer

            from lfmgym.model.presets import build_model

            tokenizer = AutoTokenizer.from_pretrained(model.tokenizer)
            return build_model(model.name, tokenizer, seed=cfg.seed, **overrides), tokenizer
        return load_model_and_tokenizer(model.name, tokenizer_texts=tokenizer_corpus(cfg), seed=cfg.seed,
                                        device="cpu", **overrides)
    if overrides:
        raise ConfigError("model.overrides: only applies to a preset built from scratch, not to a checkpoint")
    return load_model_and_tokenizer(model.name, device="cpu")


def _eval_stage(cfg: PipelineConfig, stage: str, model_dir: Path, stage_dir: Path, progress: StageProgress) -> list[dict]:
    """Evaluate a stage's model once into ``eval.json``: every process plays its share of the
    episodes (on its own GPU when there is one), the main process writes."""
    path = stage_dir / "eval.json"
    if not path.is_file():
        state = dist()
        device = str(state.device) if state.num_processes > 1 else None
        model, tokenizer = load_model(model_dir, device=device)
        n_passes = len(cfg.envs) * (2 if cfg.eval.sampled else 1)
        with progress.phase(f"{stage}: eval", total=n_passes):
            rows = evaluate_model(model, tokenizer, cfg, stage=stage, out_dir=stage_dir, progress=progress)
        if is_main():
            write_json(path, rows)
        del model
    barrier()
    return read_json(path)


def _report_eval(rows: list[dict], stage: str) -> None:
    """Hand a stage's evaluation (means over envs and per env) to :func:`lfmgym.reporting.report`."""
    if is_main():
        from lfmgym import reporting

        reporting.report(reporting.eval_metrics([r for r in rows if r["stage"] == stage]), 0, f"{stage}:eval")


def _quiet_libraries() -> None:
    """Keep the console to our progress display: no per-load progress bars from transformers/datasets."""
    import datasets
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    # Library-internal deprecation notices and a CPU-only DataLoader note, repeated at every stage.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.")
    warnings.filterwarnings("ignore", message=r".*pin_memory.*no accelerator is found", category=UserWarning)


def model_fingerprint(model_dir: Path) -> str:
    """sha256 of a saved model: its weights (``*.safetensors`` / ``*.bin``), ``config.json`` and
    tokenizer files, by name and content (the same model saved twice hashes the same)."""
    names = ("config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja")
    h = hashlib.sha256()
    for p in sorted(Path(model_dir).iterdir()):
        if p.is_file() and (p.suffix in (".safetensors", ".bin") or p.name in names):
            h.update(p.name.encode() + b"\0")
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):
                    h.update(chunk)
    return h.hexdigest()


def stage_input(cfg: PipelineConfig, stage: str, previous: str, model_dir: Path) -> dict[str, Any]:
    """What a stage's outputs are made from: the stage it starts from, that model's fingerprint,
    and every setting but the other stages' sections, the stage list and the thread count (its
    own section, the envs, the seed, the held-out set its training streams avoid, rollout limits)."""
    settings = {k: v for k, v in cfg.to_dict().items()
                if k not in ("stages", "threads") and (k not in STAGES or k == stage)}
    return {"from": previous, "model": model_fingerprint(model_dir), "config": json.loads(json.dumps(settings))}


def check_stage_input(out: Path, stage: str, recorded: dict, now: dict) -> None:
    """Refuse to reuse a stage's outputs (pairs, checkpoints, model, eval) made from another input,
    naming what changed. A ``stage.json`` from before fingerprints has no ``model``: not checked."""
    redo = f"rerun with --no-resume, or delete {out / stage} to redo {stage}"
    if recorded.get("from") != now["from"]:
        raise ConfigError(f"stages: {stage!r} in {out} was trained from {recorded.get('from')!r}, now it would "
                          f"start from {now['from']!r}; use another --out or --no-resume")
    if "model" in recorded and recorded["model"] != now["model"]:
        raise ConfigError(
            f"{stage}: its input model {now['from']}/model in {out} changed since {stage} started from it "
            f"(fingerprint {recorded['model'][:12]} -> {now['model'][:12]}); the {stage} outputs on disk "
            f"(checkpoints, pairs, model) were made from the old one: {redo}")
    if "config" in recorded:
        diff = config_diff(recorded["config"], now["config"])
        if diff:
            raise ConfigError(f"{diff}: differs from the setting {stage} in {out} was run with; {redo}")


def check_run_dir(out: str | Path, cfg: PipelineConfig) -> bool:
    """Refuse now, reading only, what resuming the run in ``out`` with ``cfg`` would refuse: a
    changed setting, or a stage whose input model or settings changed. Returns whether ``out``
    holds a run to resume (``lfmgym pipeline --check --out DIR``)."""
    out = Path(out)
    if not (out / "config.json").is_file():
        return False
    _check_resume(out, cfg, resume=True)
    previous, model_dir = "base", out / "base" / "model"
    for stage in cfg.stages:
        if not (model_dir / "config.json").is_file():
            break
        origin = out / stage / "stage.json"
        if origin.is_file():
            check_stage_input(out, stage, read_json(origin), stage_input(cfg, stage, previous, model_dir))
        previous, model_dir = stage, out / stage / "model"
    return True


def _check_resume(out: Path, cfg: PipelineConfig, resume: bool) -> None:
    saved = out / "config.json"
    if not saved.is_file():
        return
    if not resume:
        for name in (*ALL_STAGES, "results.json", "results.md", "results.png", "timings.json", "config.json"):
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        return
    prev = dict(read_json(saved))
    # Compare what was saved with what would be saved now: JSON turns int keys (e.g. the tiers of
    # difficulty_weights) into strings, so the live config goes through the same round trip.
    now = json.loads(json.dumps(cfg.to_dict()))
    # Free to change: the stage list (each stage records what it started from), the thread count,
    # and the settings of stages this run has not started yet.
    for key in ("stages", "threads", *(s for s in STAGES if not (out / s / "stage.json").is_file())):
        prev.pop(key, None)
        now.pop(key, None)
    diff = config_diff(prev, now)
    if diff:
        raise ConfigError(
            f"{diff}: differs from the config of the run already in {out}; resuming needs the same settings "
            "(use another --out, or --no-resume to start over)"
        )


def run_pipeline(
    config: str | Path | Mapping[str, Any] | PipelineConfig,
    out_dir: str | Path,
    *,
    resume: bool = True,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run the pipeline of ``config`` into ``out_dir``; returns the ``results.json`` rows.

    Args:
        config: a YAML path, a config mapping or a :class:`PipelineConfig` (validated with
            :func:`load_config`).
        out_dir: the run directory (created).
        resume: continue a run already in ``out_dir`` (finished stages are kept, an interrupted
            stage restarts from its newest checkpoint); ``False`` deletes it and starts over.
        progress: show the rich progress display.

    Raises:
        ConfigError: naming the field, before any work starts.
    """
    cfg = load_config(config)
    check_trainer_args(cfg)
    _quiet_libraries()
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    out = Path(out_dir)
    main = is_main()
    if main:
        out.mkdir(parents=True, exist_ok=True)
        _check_resume(out, cfg, resume)
        write_json(out / "config.json", cfg)
    barrier()

    n_phases = 1 + sum(PHASES[s] for s in cfg.stages)
    prog = StageProgress(progress and main, total_phases=n_phases, title="lfmgym pipeline").start()
    saved_times = read_json(out / "timings.json") if (out / "timings.json").is_file() else {}
    timings: dict[str, float] = saved_times.get("wall_s", {})
    cpu: dict[str, float] = saved_times.get("cpu_s", {})
    rows: list[dict[str, Any]] = []
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        base_dir = out / "base"
        model_dir = base_dir / "model"
        fresh = not (base_dir / "eval.json").is_file()
        if main and not (model_dir / "config.json").is_file():
            model, tokenizer = build_base_model(cfg)
            save_model(model, tokenizer, model_dir)
        barrier()
        rows += _eval_stage(cfg, "base", model_dir, base_dir, prog)
        _report_eval(rows, "base")
        if fresh:
            timings["base"] = time.perf_counter() - t0
            cpu["base"] = time.process_time() - c0
        if main:
            write_results(out, rows, timings, cpu)
        previous = "base"
        for stage in cfg.stages:
            t0, c0 = time.perf_counter(), time.process_time()
            stage_dir = out / stage
            origin = stage_dir / "stage.json"
            started = stage_input(cfg, stage, previous, model_dir)
            if origin.is_file():
                check_stage_input(out, stage, read_json(origin), started)
            barrier()
            if main:  # keep the record of continuations from other runs' checkpoints (sweeps: PBT)
                kept = {k: v for k, v in read_json(origin).items() if k == "continued"} if origin.is_file() else {}
                write_json(origin, {"stage": stage, **started, **kept})
            stage_model = stage_dir / "model"
            fresh = not (stage_dir / "eval.json").is_file()
            if not (stage_model / "config.json").is_file():
                _runner(stage)(cfg, model_dir, stage_dir, prog)
            rows += _eval_stage(cfg, stage, stage_model, stage_dir, prog)
            _report_eval(rows, stage)
            if fresh:  # times of the run that finished the stage
                timings[stage] = time.perf_counter() - t0
                cpu[stage] = time.process_time() - c0
            if main:
                write_results(out, rows, timings, cpu)
            model_dir, previous = stage_model, stage
    finally:
        prog.stop()
    return rows


# --------------------------------------------------------------------------- results


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def results_markdown(rows: list[dict[str, Any]], timings: dict[str, float] | None = None,
                     cpu: dict[str, float] | None = None) -> str:
    """The results table as markdown (one row per stage and env), plus stage wall and CPU times."""
    lines = ["| " + " | ".join(ROW_KEYS) + " |", "|" + "---|" * len(ROW_KEYS)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(k)) for k in ROW_KEYS) + " |")
    text = "\n".join(lines) + "\n"
    if timings:
        text += "\nWall time per stage (s, training + evaluation): " + ", ".join(
            f"{k} {v:.0f}" for k, v in timings.items()) + f"; total {sum(timings.values()):.0f}\n"
    if cpu:
        text += "CPU time of this process per stage (s): " + ", ".join(
            f"{k} {v:.0f}" for k, v in cpu.items()) + f"; total {sum(cpu.values()):.0f}\n"
    text += (
        "\nsuccess: share of held-out tasks solved (greedy); parse_rate: episodes whose every message parsed; "
        "doom_loop_greedy / doom_loop_sampled: episodes with a turn that hit the token cap in a periodic loop "
        "(greedy / sampled decoding); mean_length: generated tokens per episode (greedy); n: tasks per env.\n"
    )
    return text


def plot_results(rows: list[dict[str, Any]], path: Path) -> None:
    """Success per env and doom-loop ratios (mean over envs) by stage, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = list(dict.fromkeys(r["stage"] for r in rows))
    envs = list(dict.fromkeys(r["env"] for r in rows))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for env in envs:
        ys = [next((r["success"] for r in rows if r["stage"] == s and r["env"] == env), None) for s in stages]
        ax1.plot(stages, ys, marker="o", label=env)
    ax1.set_title("task success (held-out, greedy)")
    ax1.set_ylim(-0.02, 1.02)
    ax1.legend()
    for key, label in (("doom_loop_greedy", "greedy"), ("doom_loop_sampled", "sampled")):
        ys = []
        for s in stages:
            vals = [r[key] for r in rows if r["stage"] == s and r.get(key) is not None]
            ys.append(sum(vals) / len(vals) if vals else None)
        ax2.plot(stages, ys, marker="o", label=label)
    ax2.set_title("doom-loop ratio (mean over envs)")
    ax2.set_ylim(-0.02, 1.02)
    ax2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_results(out: Path, rows: list[dict[str, Any]], timings: dict[str, float] | None = None,
                  cpu: dict[str, float] | None = None) -> None:
    """``results.json``, ``results.md``, ``results.png`` and ``timings.json`` in ``out``."""
    write_json(out / "results.json", rows)
    (out / "results.md").write_text(results_markdown(rows, timings, cpu))
    if timings is not None:
        write_json(out / "timings.json", {"wall_s": timings, "cpu_s": cpu or {}})
    plot_results(rows, out / "results.png")
