"""What every stage shares: the env mixture, disjoint task streams, models on disk, progress.

Held-out evaluation tasks come from ``eval.seed``; every training stream (tokenizer text, SFT
demonstrations, DPO prompts, GRPO prompts) has its own seed derived from ``seed`` and the stage,
and drops any task whose id or prompt is held out, so an evaluation never scores a task the
model was trained on.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from lfmgym.env import Env, Task
from lfmgym.stages.config import EnvSettings, PipelineConfig, stage_weights, thaw
from lfmgym.stages.schema import FrozenDict

__all__ = [
    "STREAMS",
    "make_env",
    "env_factory",
    "split_counts",
    "stream_seed",
    "heldout_tasks",
    "training_tasks",
    "mixture_tasks",
    "prompt_key",
    "load_model",
    "save_model",
    "write_json",
    "read_json",
    "StageProgress",
]

# One integer per task stream so seeds never collide across stages.
STREAMS = {"tokenizer": 1, "sft": 2, "dpo": 3, "grpo": 4, "cold_start": 5}


def make_env(name: str, kwargs: Mapping[str, Any] | None = None) -> Env:
    """A fresh env registered as ``name``, built with a plain copy of ``kwargs`` (a config's
    frozen kwargs included)."""
    from lfmgym.plugins import make_env as _make

    return _make(name, **_plain_kwargs(kwargs))


def env_factory(name: str, kwargs: Mapping[str, Any] | None = None) -> Callable[[], Env]:
    """A zero-argument factory (picklable arguments only) for :func:`lfmgym.rollout.run_episodes`."""
    kwargs = _plain_kwargs(kwargs)
    return lambda: make_env(name, kwargs)


def _plain_kwargs(kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """A config's frozen kwargs thawed (nested dicts and lists mutable again, as the env's
    constructor may expect); any other mapping copied as it is."""
    return thaw(kwargs) if isinstance(kwargs, FrozenDict) else dict(kwargs or {})


def eval_kwargs(env: EnvSettings) -> dict[str, Any]:
    """Constructor kwargs of the held-out eval env: ``eval_kwargs`` when given, else ``kwargs``
    (a plain copy)."""
    return thaw(env.eval_kwargs or env.kwargs)


def split_counts(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split ``total`` items by ``weights`` with the largest-remainder method (sums to ``total``).

    Every env with a positive weight gets at least one item when ``total`` allows it: the point
    of cold-start data is that each task RL trains on has matching examples.
    """
    names = [n for n, w in weights.items() if w > 0]
    if not names:
        raise ValueError("weights: at least one must be > 0")
    wsum = sum(weights[n] for n in names)
    exact = {n: total * weights[n] / wsum for n in names}
    counts = {n: int(np.floor(exact[n])) for n in names}
    rest = total - sum(counts.values())
    for n in sorted(names, key=lambda n: (-(exact[n] - counts[n]), names.index(n)))[:rest]:
        counts[n] += 1
    if total >= len(names):
        for n in names:
            if counts[n] == 0:
                donor = max(counts, key=counts.get)
                counts[donor] -= 1
                counts[n] = 1
    return counts


def stream_seed(seed: int, stream: str, env_index: int) -> int:
    """A 63-bit seed for one (stage, env) task stream, independent of the others."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, STREAMS[stream], int(env_index)])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def heldout_tasks(cfg: PipelineConfig, name: str) -> list[Task]:
    """The evaluation tasks of env ``name`` (``eval.n`` of them, from ``eval.seed``)."""
    env = make_env(name, eval_kwargs(cfg.envs[name]))
    index = list(cfg.envs).index(name)
    return env.make_tasks(cfg.eval.n, seed=int(cfg.eval.seed) + index)


def _heldout_keys(cfg: PipelineConfig) -> tuple[set[str], set[str]]:
    ids, prompts = set(), set()
    for name in cfg.envs:
        for t in heldout_tasks(cfg, name):
            ids.add(f"{name}/{t.id}")
            prompts.add(t.prompt)
    return ids, prompts


def training_tasks(cfg: PipelineConfig, name: str, n: int, stream: str, exclude: tuple[set[str], set[str]] | None = None) -> list[Task]:
    """``n`` training tasks of env ``name`` for ``stream``, none of them held out.

    Raises:
        ValueError: when the env cannot produce ``n`` tasks outside the held-out set (e.g. a small
            fixed task file that is entirely held out).
    """
    exclude = exclude if exclude is not None else _heldout_keys(cfg)
    ids, prompts = exclude
    env = make_env(name, cfg.envs[name].kwargs)
    index = list(cfg.envs).index(name)
    rng = np.random.default_rng(stream_seed(cfg.seed, stream, index))
    out: list[Task] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 20 * n + 1000:
            raise ValueError(
                f"envs.{name}: could only draw {len(out)} of {n} {stream} tasks that are not held out for "
                "evaluation; lower eval.n or give the env more tasks"
            )
        task = env.sample_task(rng)
        if f"{name}/{task.id}" in ids or task.prompt in prompts:
            continue
        out.append(task)
    return out


def mixture_tasks(cfg: PipelineConfig, total: int, stream: str) -> list[tuple[str, Task]]:
    """``total`` ``(env name, task)`` pairs split by the stage's env weights, interleaved by a seeded shuffle."""
    counts = split_counts(total, stage_weights(cfg, stream))
    exclude = _heldout_keys(cfg)
    pairs = [(name, t) for name, k in counts.items() for t in training_tasks(cfg, name, k, stream, exclude)]
    order = np.random.default_rng(stream_seed(cfg.seed, stream, 10_000)).permutation(len(pairs))
    return [pairs[int(i)] for i in order]


def rollout_budgets(cfg: PipelineConfig, max_completion_tokens: int | None = None):
    """The engine's :class:`~lfmgym.engine.Budgets` from the ``rollout`` section (eval, DPO, GRPO)."""
    from lfmgym.engine import Budgets

    limits = cfg.rollout
    return Budgets(max_step_s=limits.max_step_s, max_episode_s=limits.max_episode_s,
                   max_episode_tokens=limits.max_episode_tokens, max_completion_tokens=max_completion_tokens)


def prompt_key(messages: list[dict[str, Any]]) -> str:
    """A stable key of a prompt (its roles and contents), used to find the task behind a TRL prompt."""
    return json.dumps([[m.get("role"), m.get("content")] for m in messages], ensure_ascii=False)


# --------------------------------------------------------------------------- models on disk


def load_model(path: str | Path, device: str | None = "cpu"):
    """``(model, tokenizer)`` from a saved directory, on ``device``.

    Trainers get CPU models and place them themselves (one GPU per process under
    ``accelerate launch``); evaluation passes ``device=None`` to use CUDA when there is one.
    """
    from lfmgym.model.loading import load_model_and_tokenizer

    return load_model_and_tokenizer(str(path), device=device)


# --------------------------------------------------------------------------- processes
# Under `accelerate launch` every process runs the pipeline: all of them train, only the main
# process builds the base model, evaluates, samples DPO pairs and writes results; the others wait.


def dist():
    """Accelerate's process state (a single process when not launched by accelerate), created with
    lfmgym's process-group timeout (``$LFMGYM_PG_TIMEOUT_S``) so ranks waiting on one that writes
    results or builds a model do not hit torch's default."""
    from lfmgym.engine.distributed import process_state

    return process_state()


def is_main() -> bool:
    return dist().is_main_process


def barrier() -> None:
    dist().wait_for_everyone()


def save_trained(trainer, tokenizer, path: str | Path) -> Path:
    """Save a trainer's model (gathered from ZeRO-3/FSDP shards by ``trainer.save_model``) and the
    tokenizer to ``path``, atomically (written to ``path.tmp`` then renamed, by the main process)."""
    import shutil

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if trainer.accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(tmp))
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(tmp)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    trainer.accelerator.wait_for_everyone()
    return path


def save_model(model, tokenizer, path: str | Path) -> Path:
    """Write ``model`` and ``tokenizer`` atomically: to ``path.tmp`` first, then renamed.

    A run killed while saving leaves no half-written ``path`` that a resume would trust.
    """
    import shutil

    from lfmgym.model.loading import save

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    save(model, tokenizer, tmp)
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
    return path


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default) + "\n")
    os.replace(tmp, path)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if isinstance(obj, Mapping):  # a config's frozen kwargs
        return thaw(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


# --------------------------------------------------------------------------- progress


class StageProgress:
    """One rich progress display for a whole pipeline: an overall bar plus the current phase.

    ``progress=False`` makes every method a no-op, so stage code calls it unconditionally.
    """

    def __init__(self, enabled: bool = True, total_phases: int = 0, title: str = "pipeline"):
        self.enabled = enabled
        self._prog = None
        self._overall = None
        self._phase = None
        if enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._prog = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._overall = self._prog.add_task(title, total=total_phases, info="")

    def start(self) -> "StageProgress":
        if self._prog is not None:
            self._prog.start()
        return self

    def stop(self) -> None:
        if self._prog is not None:
            self._prog.stop()

    @contextmanager
    def phase(self, description: str, total: int | None) -> Iterator["StageProgress"]:
        """A bar for one phase (a stage's training, an evaluation); advances the overall bar at the end."""
        if self._prog is None:
            yield self
            return
        self._phase = self._prog.add_task(description, total=total, info="")
        finished = False
        try:
            yield self
            finished = True
        finally:
            if finished:
                task = self._prog.tasks[self._index(self._phase)]
                self._prog.update(self._phase, completed=task.total if task.total is not None else task.completed)
                self._prog.advance(self._overall)
            else:
                self._prog.update(self._phase, info="interrupted")
            self._prog.stop_task(self._phase)
            self._phase = None

    def _index(self, task_id) -> int:
        return [t.id for t in self._prog.tasks].index(task_id)

    def advance(self, n: float = 1.0, info: str | None = None) -> None:
        if self._prog is not None and self._phase is not None:
            self._prog.advance(self._phase, n)
            if info is not None:
                self._prog.update(self._phase, info=info)

    def set_total(self, total: float | None) -> None:
        if self._prog is not None and self._phase is not None:
            self._prog.update(self._phase, total=total)

    def set(self, completed: float, info: str | None = None) -> None:
        if self._prog is not None and self._phase is not None:
            self._prog.update(self._phase, completed=completed, **({"info": info} if info is not None else {}))

    def log(self, message: str) -> None:
        if self._prog is not None:
            self._prog.console.log(message)


def trainer_callback(progress: StageProgress, log_path: Path | None = None, summary_keys: tuple[str, ...] = ("loss",)):
    """A ``transformers.TrainerCallback`` that drives ``progress``, appends every log to ``log_path``
    and hands each log (every ``logging_steps``) to :func:`lfmgym.reporting.report` under the stage
    named by ``log_path``'s directory; a sweep's pruner stops the run from there."""
    from transformers import TrainerCallback

    from lfmgym import reporting

    stage = log_path.parent.name if log_path is not None else "train"

    class _Callback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            progress.set_total(state.max_steps)
            progress.set(state.global_step)

        def on_step_end(self, args, state, control, **kwargs):
            progress.set(state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = dict(logs or {})
            shown = [f"{k.split('/')[-1] if k.count('/') == 1 else k}={logs[k]:.3g}" for k in summary_keys
                     if isinstance(logs.get(k), (int, float))]
            progress.set(state.global_step, info=" ".join(shown))
            if log_path is not None and state.is_world_process_zero:  # one log, not one per rank
                with open(log_path, "a") as fh:
                    fh.write(json.dumps({"step": state.global_step, "time": round(time.time(), 3), **logs},
                                        default=_json_default) + "\n")
            if state.is_world_process_zero:
                reporting.report(reporting.training_metrics(logs), state.global_step, stage)

    return _Callback()


def quiet_trainer(trainer) -> None:
    """Drop transformers' console printer (the pipeline shows its own progress and writes logs)."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


def resume_point(stage_dir: Path, progress: StageProgress | None = None) -> str | None:
    """The checkpoint an interrupted stage resumes from (``stage_dir/checkpoints``), if any.

    Each resume is appended to ``stage_dir/resume.log`` so a run's history stays visible.
    """
    ckpt = last_checkpoint(stage_dir / "checkpoints")
    if ckpt is not None:
        with open(stage_dir / "resume.log", "a") as fh:
            fh.write(f"resumed from {Path(ckpt).name}\n")
        if progress is not None:
            progress.log(f"{stage_dir.name}: resuming from {Path(ckpt).name}")
    return ckpt


def last_checkpoint(directory: Path) -> str | None:
    """The newest ``checkpoint-N`` in ``directory`` that holds a complete trainer state, if any."""
    if not directory.is_dir():
        return None
    ckpts = sorted(
        (p for p in directory.iterdir() if p.is_dir() and p.name.startswith("checkpoint-") and p.name[11:].isdigit()),
        key=lambda p: int(p.name[11:]),
    )
    for p in reversed(ckpts):
        if (p / "trainer_state.json").is_file():
            return str(p)
    return None
