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

Metric names are the ones the stages log, plus a few means under fixed names so a sweep can name
one metric for every stage: ``success`` (mean of ``success/<env>``), ``parse_rate`` and
``doom_loop_sampled`` (training rollouts are sampled), next to the evaluation's own ``success``,
``parse_rate``, ``doom_loop_greedy``, ``doom_loop_sampled``, ``mean_length`` (means over envs,
and ``<name>/<env>`` per env).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Reporter", "TrialPruned", "report", "reporting_to", "training_metrics", "eval_metrics"]

Reporter = Callable[[dict[str, float], int, str], None]
"""``reporter(metrics, step, stage)``; may raise :class:`TrialPruned` to stop the run."""

_reporter: Reporter | None = None

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


@contextmanager
def reporting_to(reporter: Reporter) -> Iterator[None]:
    """Install ``reporter`` for the body of the ``with`` (the previous one is restored after)."""
    global _reporter
    previous, _reporter = _reporter, reporter
    try:
        yield
    finally:
        _reporter = previous


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
