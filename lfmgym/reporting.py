"""Intermediate metrics of a run, for whoever is listening: one hook the stages call.

Stages call :func:`report` while they run (every logging step of a trainer, after each stage's
evaluation). Nothing happens unless a reporter is installed: a sweep engine installs one for the
duration of a trial (``with reporting_to(reporter): ...``) to feed its pruner or scheduler.

```python
from lfmgym import reporting

def reporter(metrics, step, stage):          # e.g. Optuna: trial.report(...); trial.should_prune()
    if metrics.get("success", 1.0) < 0.01:
        raise reporting.TrialPruned(f"{stage} step {step}: success {metrics['success']}")

with reporting.reporting_to(reporter):
    run_pipeline(config, out_dir)             # raises TrialPruned out of the stage that reported
```

Trainers also announce each checkpoint they save (:func:`checkpoint`): an engine that moves trials
between checkpoints (Ray Tune's population-based training) installs ``on_checkpoint`` next to the
reporter and hands the checkpoint to the engine with the metrics reported last.

Metric names are the ones the stages log, plus a few means under fixed names so a sweep can name
one metric for every stage: ``success`` (mean of ``success/<env>``), ``parse_rate`` and
``doom_loop_sampled`` (training rollouts are sampled), next to the evaluation's own ``success``,
``parse_rate``, ``doom_loop_greedy``, ``doom_loop_sampled``, ``mean_length`` (means over envs,
and ``<name>/<env>`` per env).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["Reporter", "CheckpointListener", "TrialPruned", "report", "checkpoint", "reporting_to",
           "training_metrics", "eval_metrics"]

Reporter = Callable[[dict[str, float], int, str], None]
"""``reporter(metrics, step, stage)``; may raise :class:`TrialPruned` to stop the run."""

CheckpointListener = Callable[[Path, int, str], None]
"""``on_checkpoint(path, step, stage)``: ``path`` is a complete trainer checkpoint of ``stage`` at
optimizer step ``step`` (resumable: weights, optimizer, scheduler, trainer state)."""

_reporter: Reporter | None = None
_on_checkpoint: CheckpointListener | None = None

# Training-log names -> the name the same quantity has in an evaluation row.
_TRAINING_ALIASES = {"episodes/parse_rate": "parse_rate", "episodes/doom_loop_ratio": "doom_loop_sampled"}
_EVAL_KEYS = ("success", "parse_rate", "doom_loop_greedy", "doom_loop_sampled", "mean_length")


class TrialPruned(Exception):
    """Raised by a reporter to stop the run it listens to: the sweep engine pruned this trial."""


def report(metrics: dict[str, Any], step: int, stage: str) -> None:
    """Hand ``metrics`` (numbers only are kept) at ``step`` of ``stage`` to the installed reporter.

    A no-op when none is installed. Raises :class:`TrialPruned` when the reporter decides the run
    should stop; stages let it propagate.
    """
    if _reporter is None:
        return
    numeric = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if numeric:
        _reporter(numeric, int(step), stage)


def checkpoint(path: str | Path, step: int, stage: str) -> None:
    """Announce that ``stage`` saved a complete checkpoint at ``path`` (optimizer step ``step``).
    A no-op unless an ``on_checkpoint`` listener is installed; it may raise :class:`TrialPruned`."""
    if _on_checkpoint is not None:
        _on_checkpoint(Path(path), int(step), stage)


@contextmanager
def reporting_to(reporter: Reporter, on_checkpoint: CheckpointListener | None = None) -> Iterator[None]:
    """Install ``reporter`` (and ``on_checkpoint``) for the body of the ``with`` (the previous ones
    are restored after)."""
    global _reporter, _on_checkpoint
    previous = _reporter, _on_checkpoint
    _reporter, _on_checkpoint = reporter, on_checkpoint
    try:
        yield
    finally:
        _reporter, _on_checkpoint = previous


def training_metrics(logs: dict[str, Any]) -> dict[str, float]:
    """A trainer's log line with the evaluation names added: ``success`` = mean of
    ``success/<env>``, ``parse_rate``, ``doom_loop_sampled`` (the rollouts of GRPO are sampled)."""
    out = {k: float(v) for k, v in logs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    per_env = [v for k, v in out.items() if k.startswith("success/")]
    if per_env:
        out["success"] = sum(per_env) / len(per_env)
    for logged, name in _TRAINING_ALIASES.items():
        if logged in out:
            out[name] = out[logged]
    return out


def eval_metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
    """An evaluation's rows (one per env) as ``<name>/<env>`` plus ``<name>`` = the mean over envs."""
    out: dict[str, float] = {}
    for key in _EVAL_KEYS:
        values = []
        for r in rows:
            v = r.get(key)
            if isinstance(v, (int, float)):
                out[f"{key}/{r['env']}"] = float(v)
                values.append(float(v))
        if values:
            out[key] = sum(values) / len(values)
    return out
