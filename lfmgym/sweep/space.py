"""The sweep file: a base config, a search space over dotted config paths, a metric, an executor.

```yaml
base: configs/smoke.yaml          # a pipeline config file (or an inline mapping)
space:
  grid:                            # every combination
    grpo.learning_rate: [1.0e-4, 3.0e-4]
  random:                          # n draws, reproducible with seed
    n: 4
    seed: 0
    params:
      grpo.temperature: {uniform: [0.7, 1.2]}
      dpo.beta: {loguniform: [0.01, 0.5]}
      grpo.num_generations: {choice: [4, 8]}
  alternatives:                    # whole alternatives, each a set of dotted overrides
    - {envs: {math: 1.0}}
    - {envs: {math: 1.0, tool_calling: 1.0}}
metric: {name: success, stage: last, env: mean, mode: max}
executor: {type: local, parallel: 1}     # or {type: ray, address: auto, num_cpus: 1, num_gpus: 0}
target: lfmgym.stages.pipeline:run_pipeline   # optional: what one trial runs
```

The three parts of ``space`` combine as a product: grid x random draws x alternatives (an absent
part contributes one empty choice). Every error names the field it is about.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SweepSpec", "Trial", "load_sweep", "expand_trials", "SweepConfigError"]

TOP_FIELDS = {"base", "space", "metric", "executor", "target", "name"}
SPACE_FIELDS = {"grid", "random", "alternatives"}
METRIC_FIELDS = {"name", "stage", "env", "mode"}
EXECUTOR_FIELDS = {"type", "parallel", "address", "num_cpus", "num_gpus", "timeout_s"}
DISTRIBUTIONS = {"uniform", "loguniform", "choice", "randint"}


class SweepConfigError(ValueError):
    """A sweep file problem; the message names the field."""


@dataclass
class Trial:
    """One point of the search space: the dotted overrides and a stable id derived from them."""

    overrides: dict[str, Any]
    index: int = 0

    @property
    def id(self) -> str:
        blob = json.dumps(self.overrides, sort_keys=True, default=str)
        return f"t{self.index:03d}-{hashlib.sha1(blob.encode()).hexdigest()[:8]}"


@dataclass
class SweepSpec:
    base: dict[str, Any]
    space: dict[str, Any]
    metric: dict[str, Any]
    executor: dict[str, Any]
    target: str = "lfmgym.stages.pipeline:run_pipeline"
    name: str = "sweep"
    source: str = ""
    trials: list[Trial] = field(default_factory=list)


def _err(path: str, msg: str) -> SweepConfigError:
    return SweepConfigError(f"{path}: {msg}")


def _check_keys(obj: Any, allowed: set[str], where: str) -> dict:
    if not isinstance(obj, dict):
        raise _err(where, f"must be a mapping, got {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _err(f"{where}.{unknown[0]}" if where else unknown[0], f"unknown field; expected one of {sorted(allowed)}")
    return obj


def _draw(spec: Any, rng: np.random.Generator, where: str) -> Any:
    if isinstance(spec, list):  # a bare list in `random` means choice
        spec = {"choice": spec}
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
        raise _err(where, f"expected one of {sorted(DISTRIBUTIONS)} (e.g. {{uniform: [0.1, 1.0]}})")
    kind, arg = next(iter(spec.items()))
    if kind == "choice":
        if not isinstance(arg, list) or not arg:
            raise _err(f"{where}.choice", "must be a non-empty list")
        return arg[int(rng.integers(len(arg)))]
    if not (isinstance(arg, list) and len(arg) == 2 and all(isinstance(x, (int, float)) for x in arg)):
        raise _err(f"{where}.{kind}", "must be [low, high]")
    lo, hi = arg
    if lo > hi:
        raise _err(f"{where}.{kind}", f"low {lo} > high {hi}")
    if kind == "uniform":
        return float(rng.uniform(lo, hi))
    if kind == "loguniform":
        if lo <= 0:
            raise _err(f"{where}.loguniform", "bounds must be > 0")
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return int(rng.integers(int(lo), int(hi) + 1))  # randint, inclusive


def expand_trials(space: dict[str, Any]) -> list[Trial]:
    """All trials of a validated ``space`` (grid x random x alternatives), in a stable order."""
    grid = space.get("grid") or {}
    grid_points = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())] if grid else [{}]
    random_points: list[dict[str, Any]] = [{}]
    if space.get("random"):
        r = space["random"]
        rng = np.random.default_rng(int(r.get("seed", 0)))
        random_points = [
            {k: _draw(v, rng, f"space.random.params.{k}") for k, v in r["params"].items()} for _ in range(int(r["n"]))
        ]
    alternatives = space.get("alternatives") or [{}]
    trials = []
    for g, rp, alt in itertools.product(grid_points, random_points, alternatives):
        trials.append(Trial({**g, **rp, **alt}, index=len(trials)))
    return trials


def _validate_space(space: Any) -> dict:
    space = _check_keys(space, SPACE_FIELDS, "space")
    if not space:
        raise _err("space", "is empty; give grid, random and/or alternatives")
    grid = space.get("grid") or {}
    _check_keys(grid, set(grid), "space.grid")
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise _err(f"space.grid.{k}", "must be a non-empty list of values")
    if "random" in space:
        r = _check_keys(space["random"], {"n", "seed", "params"}, "space.random")
        if not isinstance(r.get("n"), int) or r["n"] < 1:
            raise _err("space.random.n", "must be a positive integer")
        if not isinstance(r.get("params"), dict) or not r["params"]:
            raise _err("space.random.params", "must map dotted paths to distributions")
    alts = space.get("alternatives")
    if alts is not None:
        if not isinstance(alts, list) or not alts:
            raise _err("space.alternatives", "must be a non-empty list of mappings")
        for i, a in enumerate(alts):
            if not isinstance(a, dict):
                raise _err(f"space.alternatives[{i}]", "must be a mapping of dotted paths to values")
    return space


def load_sweep(path_or_dict: str | Path | dict[str, Any]) -> SweepSpec:
    """Read and validate a sweep file; every trial's config is checked against the pipeline's
    config schema up front, so a typo in a dotted path fails before anything runs."""
    import yaml

    from lfmgym.stages.config import load_config

    source = ""
    if isinstance(path_or_dict, (str, Path)):
        source = str(path_or_dict)
        p = Path(path_or_dict)
        if not p.exists():
            raise FileNotFoundError(f"sweep file {p} does not exist")
        raw = yaml.safe_load(p.read_text()) or {}
        base_dir = p.parent
    else:
        raw, base_dir = dict(path_or_dict), Path.cwd()
    raw = _check_keys(raw, TOP_FIELDS, "")
    if "base" not in raw:
        raise _err("base", "missing: a pipeline config file or mapping")
    base = raw["base"]
    if isinstance(base, str):
        bp = Path(base)
        if not bp.is_absolute():
            bp = base_dir / bp
        if not bp.exists():
            raise _err("base", f"file {bp} does not exist")
        base = yaml.safe_load(bp.read_text()) or {}
    if not isinstance(base, dict):
        raise _err("base", "must be a file path or a mapping")
    space = _validate_space(raw.get("space"))
    metric = {"name": "success", "stage": "last", "env": "mean", "mode": "max", **_check_keys(raw.get("metric") or {}, METRIC_FIELDS, "metric")}
    if metric["mode"] not in ("max", "min"):
        raise _err("metric.mode", "must be max or min")
    executor = {"type": "local", "parallel": 1, **_check_keys(raw.get("executor") or {}, EXECUTOR_FIELDS, "executor")}
    if executor["type"] not in ("local", "ray"):
        raise _err("executor.type", f"{executor['type']!r} is not one of local, ray")
    if not isinstance(executor["parallel"], int) or executor["parallel"] < 1:
        raise _err("executor.parallel", "must be a positive integer")
    target = raw.get("target", "lfmgym.stages.pipeline:run_pipeline")
    if not isinstance(target, str) or ":" not in target:
        raise _err("target", "must be 'module:function'")
    spec = SweepSpec(base=base, space=space, metric=metric, executor=executor, target=target,
                     name=str(raw.get("name", "sweep")), source=source)
    spec.trials = expand_trials(space)
    for trial in spec.trials:
        try:
            load_config(base, overrides=trial.overrides)
        except (KeyError, ValueError, TypeError) as exc:
            msg = exc.args[0] if exc.args else exc
            raise SweepConfigError(f"trial {trial.id} {trial.overrides}: {msg}") from None
    return spec
