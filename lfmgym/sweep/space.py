"""The sweep file: a base config, a search space over dotted config paths, a metric, how to
search, when to stop a trial early, and which engine runs it.

```yaml
name: grpo-lr-temp
base: configs/smoke.yaml              # a pipeline config file (or an inline mapping)
space:                                # dotted config path -> a list (one of) or a distribution
  grpo.learning_rate: {loguniform: [1.0e-5, 1.0e-2]}
  grpo.temperature: {uniform: [0.7, 1.2]}
  grpo.num_generations: [2, 4]        # = {choice: [2, 4]}
  grpo.max_steps: {randint: [2, 8]}   # inclusive
alternatives:                         # optional: whole alternatives, one categorical parameter
  - {envs: {math: {weight: 1.0}}}
  - {stages: [sft, grpo]}
search: {algorithm: tpe, trials: 20, seed: 0}    # tpe | random | grid (every combination, in order;
                                                 # the default when the space is all lists and no trials)
metric: {name: success, stage: last, env: mean, mode: max}
early_stop: {type: asha, grace: 1, reduction_factor: 3}   # asha | median | pbt | none
executor: {type: optuna, parallel: 1, num_gpus: 0}        # or {type: ray, address: auto, num_cpus: 1, num_gpus: 1}
target: lfmgym.stages.pipeline:run_pipeline               # optional: what one trial runs
```

The engines do the searching: this module only validates the file and translates ``space`` into
Optuna ``suggest_*`` calls and a Ray Tune ``param_space``. ``metric`` names the final value (from
the pipeline's ``results.json`` rows; a training metric such as ``reward``, absent there, is its
last report) and the intermediate one the pruner watches: the metric of the same name in each
:func:`lfmgym.reporting.report` (``success/<env>`` for ``env: <env>``).
``early_stop: {type: pbt, interval: 2, quantile: 0.25, resample_probability: 0.25, synch: false}`` is Ray Tune's
population-based training of the GRPO stage (:mod:`lfmgym.sweep.pbt`): its space may hold only
settings GRPO can change mid-run. Every error names the field it is about.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SweepSpec", "SweepConfigError", "load_sweep", "grid_points", "suggest", "overrides_of", "tune_space",
           "ALTERNATIVE"]

TOP_FIELDS = {"base", "space", "alternatives", "search", "metric", "early_stop", "executor", "target", "name"}
SEARCH_FIELDS = {"algorithm", "trials", "seed"}
ALGORITHMS = ("tpe", "random", "grid")
METRIC_FIELDS = {"name", "stage", "env", "mode"}
EARLY_STOP_FIELDS = {"type", "grace", "reduction_factor", "startup", "interval", "quantile", "resample_probability",
                     "synch"}
EARLY_STOP_TYPES = ("asha", "median", "pbt", "none")
EXECUTOR_FIELDS = {"type", "parallel", "address", "num_cpus", "num_gpus", "timeout_s"}
EXECUTORS = ("optuna", "ray")
DISTRIBUTIONS = ("uniform", "loguniform", "choice", "randint")
ALTERNATIVE = "alternative"  # the parameter that picks one of `alternatives`


class SweepConfigError(ValueError):
    """A sweep file problem; the message names the field."""


@dataclass
class SweepSpec:
    base: dict[str, Any]
    space: dict[str, dict[str, Any]]  # dotted path -> {kind: arg}, validated
    metric: dict[str, Any]
    search: dict[str, Any]
    early_stop: dict[str, Any]
    executor: dict[str, Any]
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    target: str = "lfmgym.stages.pipeline:run_pipeline"
    name: str = "sweep"
    source: str = ""

    @property
    def report_key(self) -> str:
        """The name, in each intermediate report, of the value the pruner / scheduler watches."""
        env = self.metric.get("env", "mean")
        return self.metric["name"] if env == "mean" else f"{self.metric['name']}/{env}"

    @property
    def n_trials(self) -> int:
        return self.search["trials"]


def _err(path: str, msg: str) -> SweepConfigError:
    return SweepConfigError(f"{path}: {msg}")


def _check_keys(obj: Any, allowed: set[str], where: str) -> dict:
    if not isinstance(obj, dict):
        raise _err(where, f"must be a mapping, got {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _err(f"{where}.{unknown[0]}" if where else unknown[0], f"unknown field; expected one of {sorted(allowed)}")
    return obj


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _validate_param(name: str, spec: Any) -> dict[str, Any]:
    where = f"space.{name}"
    if isinstance(spec, list):  # a bare list means one of
        spec = {"choice": spec}
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in DISTRIBUTIONS:
        raise _err(where, f"expected a list or one of {list(DISTRIBUTIONS)} (e.g. {{loguniform: [1.0e-5, 1.0e-3]}})")
    kind, arg = next(iter(spec.items()))
    if kind == "choice":
        if not isinstance(arg, list) or not arg:
            raise _err(where, "must be a non-empty list of values")
        for v in arg:
            if not (v is None or isinstance(v, (bool, int, float, str))):
                raise _err(where, f"value {v!r}: choices are numbers, strings, booleans or null; "
                                  "put whole sub-configs in `alternatives`")
        return {"choice": list(arg)}
    if not (isinstance(arg, list) and len(arg) == 2 and all(_is_number(x) for x in arg)):
        raise _err(f"{where}.{kind}", "must be [low, high]")
    lo, hi = arg
    if lo > hi:
        raise _err(f"{where}.{kind}", f"low {lo} > high {hi}")
    if kind == "loguniform" and lo <= 0:
        raise _err(f"{where}.loguniform", "bounds must be > 0")
    if kind == "randint" and not all(isinstance(x, int) for x in arg):
        raise _err(f"{where}.randint", "bounds must be integers")
    return {kind: [lo, hi]}


def grid_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every combination of a grid search, in file order (the last parameter varies fastest)."""
    axes = {name: d["choice"] for name, d in spec.space.items()}
    if spec.alternatives:
        axes[ALTERNATIVE] = list(range(len(spec.alternatives)))
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def suggest(trial, spec: SweepSpec) -> dict[str, Any]:
    """The engine parameters of an Optuna ``trial`` (its sampler picks them)."""
    params = {}
    for name, d in spec.space.items():
        kind, arg = next(iter(d.items()))
        if kind == "choice":
            params[name] = trial.suggest_categorical(name, arg)
        elif kind == "randint":
            params[name] = trial.suggest_int(name, arg[0], arg[1])
        else:
            params[name] = trial.suggest_float(name, float(arg[0]), float(arg[1]), log=kind == "loguniform")
    if spec.alternatives:
        params[ALTERNATIVE] = trial.suggest_categorical(ALTERNATIVE, list(range(len(spec.alternatives))))
    return params


def tune_space(spec: SweepSpec) -> dict[str, Any]:
    """The Ray Tune ``param_space`` (``grid_search`` axes for ``algorithm: grid``)."""
    from ray import tune

    grid = spec.search["algorithm"] == "grid"
    space: dict[str, Any] = {}
    for name, d in spec.space.items():
        kind, arg = next(iter(d.items()))
        if kind == "choice":
            space[name] = tune.grid_search(arg) if grid else tune.choice(arg)
        elif kind == "randint":
            space[name] = tune.randint(arg[0], arg[1] + 1)  # Tune's upper bound is exclusive
        elif kind == "loguniform":
            space[name] = tune.loguniform(arg[0], arg[1])
        else:
            space[name] = tune.uniform(arg[0], arg[1])
    if spec.alternatives:
        choices = list(range(len(spec.alternatives)))
        space[ALTERNATIVE] = tune.grid_search(choices) if grid else tune.choice(choices)
    return space


def overrides_of(params: dict[str, Any], spec: SweepSpec) -> dict[str, Any]:
    """The dotted config overrides of a trial's engine parameters (an alternative expanded)."""
    out = {k: v for k, v in params.items() if k != ALTERNATIVE}
    if ALTERNATIVE in params:
        out.update(spec.alternatives[int(params[ALTERNATIVE])])
    return out


def _read_yaml(p: Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        from lfmgym.yaml_errors import yaml_error_line

        raise SweepConfigError(yaml_error_line(p, exc)) from None


def _validate(raw: dict[str, Any], base: dict[str, Any], source: str) -> SweepSpec:
    space_raw = raw.get("space")
    if not isinstance(space_raw, dict) or not space_raw and not raw.get("alternatives"):
        raise _err("space", "must map dotted config paths to a list or a distribution")
    space = {name: _validate_param(name, d) for name, d in space_raw.items()}
    alts = raw.get("alternatives") or []
    if not isinstance(alts, list):
        raise _err("alternatives", "must be a list of mappings of dotted paths to values")
    for i, a in enumerate(alts):
        if not isinstance(a, dict) or not a:
            raise _err(f"alternatives[{i}]", "must be a non-empty mapping of dotted paths to values")

    search = dict(_check_keys(raw.get("search") or {}, SEARCH_FIELDS, "search"))
    # Lists only and no trial count: every combination; otherwise the engine's TPE sampler.
    all_lists = all("choice" in d for d in space.values())
    search = {"algorithm": "grid" if all_lists and "trials" not in search else "tpe", "seed": 0, **search}
    if search["algorithm"] not in ALGORITHMS:
        raise _err("search.algorithm", f"{search['algorithm']!r} is not one of {', '.join(ALGORITHMS)}")
    if search["algorithm"] == "grid":
        not_grid = [n for n, d in space.items() if "choice" not in d]
        if not_grid:
            raise _err(f"space.{not_grid[0]}", "a grid search needs a list of values")
        n_points = len(list(itertools.product(*[d["choice"] for d in space.values()], alts or [None])))
        search.setdefault("trials", n_points)
        if search["trials"] != n_points:
            raise _err("search.trials", f"a grid has {n_points} points; leave trials out")
    if not isinstance(search.get("trials"), int) or search["trials"] < 1:
        raise _err("search.trials", "must be a positive integer (how many trials to run)")
    if not isinstance(search["seed"], int):
        raise _err("search.seed", "must be an integer")

    metric = {"name": "success", "stage": "last", "env": "mean", "mode": "max",
              **_check_keys(raw.get("metric") or {}, METRIC_FIELDS, "metric")}
    if metric["mode"] not in ("max", "min"):
        raise _err("metric.mode", "must be max or min")

    early = {"type": "asha", "grace": 1, "reduction_factor": 3, "startup": 2, "interval": 2, "quantile": 0.25,
             "resample_probability": 0.25, "synch": False,
             **_check_keys(raw.get("early_stop") or {}, EARLY_STOP_FIELDS, "early_stop")}
    if early["type"] not in EARLY_STOP_TYPES:
        raise _err("early_stop.type", f"{early['type']!r} is not one of {', '.join(EARLY_STOP_TYPES)}")
    for key in ("grace", "startup"):
        if not isinstance(early[key], int) or early[key] < (1 if key == "grace" else 0):
            raise _err(f"early_stop.{key}", "must be a positive integer (reports)")
    if not _is_number(early["reduction_factor"]) or early["reduction_factor"] <= 1:
        raise _err("early_stop.reduction_factor", "must be a number > 1")

    executor = {"type": "optuna", "parallel": 1, "num_cpus": 1, "num_gpus": 0,
                **_check_keys(raw.get("executor") or {}, EXECUTOR_FIELDS, "executor")}
    if executor["type"] not in EXECUTORS:
        raise _err("executor.type", f"{executor['type']!r} is not one of {', '.join(EXECUTORS)}")
    if not isinstance(executor["parallel"], int) or executor["parallel"] < 1:
        raise _err("executor.parallel", "must be a positive integer")
    for key in ("num_cpus", "num_gpus"):
        if not _is_number(executor[key]) or executor[key] < 0:
            raise _err(f"executor.{key}", "must be a number >= 0")
    timeout = executor.get("timeout_s")
    if timeout is not None and (not _is_number(timeout) or timeout <= 0):
        raise _err("executor.timeout_s", "must be a positive number of seconds")

    target = raw.get("target", "lfmgym.stages.pipeline:run_pipeline")
    if not isinstance(target, str) or ":" not in target:
        raise _err("target", "must be 'module:function'")
    if early["type"] == "pbt":
        from lfmgym.sweep.pbt import check_pbt

        check_pbt(space, alts, search, executor, early, base)
    return SweepSpec(base=base, space=space, metric=metric, search=search, early_stop=early, executor=executor,
                     alternatives=alts, target=target, name=_sweep_name(raw.get("name", "sweep")), source=source)


def _corners(spec: SweepSpec) -> list[dict[str, Any]]:
    """Points that touch every parameter's bounds/choices and every alternative (config checks)."""
    n = max([2, len(spec.alternatives)] + [len(d["choice"]) for d in spec.space.values() if "choice" in d])
    points = []
    for i in range(n):
        p = {}
        for name, d in spec.space.items():
            kind, arg = next(iter(d.items()))
            p[name] = arg[min(i, len(arg) - 1)]
        if spec.alternatives:
            p[ALTERNATIVE] = min(i, len(spec.alternatives) - 1)
        points.append(overrides_of(p, spec))
    return points


def load_sweep(path_or_dict: str | Path | dict[str, Any]) -> SweepSpec:
    """Read and validate a sweep file. Every parameter's bounds/choices and every alternative are
    checked against the pipeline's config schema up front, so a typo in a dotted path or a value
    the config refuses fails before anything runs."""
    from lfmgym.stages.config import load_config

    source = ""
    if isinstance(path_or_dict, (str, Path)):
        source = str(path_or_dict)
        p = Path(path_or_dict)
        if not p.exists():
            raise FileNotFoundError(f"sweep file {p} does not exist")
        raw = _read_yaml(p)
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
        base = _read_yaml(bp)
    if not isinstance(base, dict):
        raise _err("base", "must be a file path or a mapping")
    spec = _validate(raw, base, source)
    for overrides in _corners(spec):
        try:
            load_config(base, overrides=overrides)
        except (KeyError, ValueError, TypeError) as exc:
            msg = exc.args[0] if exc.args else exc
            raise SweepConfigError(f"space {overrides}: {msg}") from None
    return spec


def _sweep_name(value: Any) -> str:
    """The sweep's name: it names the default output folder (``sweeps/<name>``), so it must be one
    plain path component, never ``..`` or a path that leaves that folder."""
    import re

    name = str(value)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name) or name in (".", ".."):
        raise SweepConfigError(f"name: {name!r} must be one plain name (letters, digits, '.', '_', '-'), "
                               "not a path")
    return name
