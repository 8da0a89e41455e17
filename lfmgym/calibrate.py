"""Difficulty calibration: the pass rate of a model on each tier of an environment, and the tier
mix to train on.

GRPO learns from the *differences* between the rollouts of one group: a group where every
rollout passes, or every one fails, has zero advantage everywhere and teaches nothing. So the
useful tiers are those the model solves sometimes. For a tier with pass rate ``p`` and groups
of ``G`` rollouts, the chance that a group is not uniform is::

    signal(p) = 1 - p**G - (1 - p)**G

``lfmgym calibrate ENV --model M`` measures ``p`` per tier on ``--n`` tasks each, keeps the
tiers whose ``p`` lies in the band (default 20-80%) and weights them by ``signal(p)``. When no
tier is in the band it suggests the single tier closest to it, and says so.

It works for any env with ``difficulties``; an env built with ``tasks=[...]`` is calibrated on
its tasks grouped by ``Task.difficulty``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TierResult", "Calibration", "signal_probability", "suggest_mix", "calibrate", "make_policy", "add_commands"]


def signal_probability(p: float, group_size: int) -> float:
    """Probability that a group of ``group_size`` rollouts with pass rate ``p`` is not uniform:
    ``1 - p**G - (1-p)**G`` (0 when ``p`` is 0 or 1 or ``G < 2``)."""
    if group_size < 2:
        return 0.0
    return max(0.0, 1.0 - p**group_size - (1.0 - p) ** group_size)


def _check_band(band: Sequence[float]) -> tuple[float, float]:
    if len(band) != 2:
        raise ValueError(f"band: expected two numbers LOW HIGH, got {list(band)}")
    lo, hi = float(band[0]), float(band[1])
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"band: need 0 <= LOW < HIGH <= 1, got {lo} {hi}")
    return lo, hi


def suggest_mix(pass_rates: dict[int, float], band: Sequence[float] = (0.2, 0.8), group_size: int = 8) -> tuple[dict[int, float], str]:
    """The tier mix to train on, and a one-line note on how it was chosen.

    Tiers whose pass rate lies in ``band`` (inclusive) get weight ``signal_probability(p, G)``,
    normalised to sum to 1. When none is in the band, the single tier closest to it gets
    weight 1 (ties: the one with more signal, then the hardest tier when all are too easy and
    the easiest when too hard -- a model that solves every tier should train on the top one).
    """
    lo, hi = _check_band(band)
    if not pass_rates:
        raise ValueError("pass_rates: no tiers to choose from")
    inside = {t: p for t, p in pass_rates.items() if lo <= p <= hi}
    if inside:
        raw = {t: signal_probability(p, group_size) for t, p in inside.items()}
        total = sum(raw.values())
        if total <= 0:  # only possible with group_size < 2: fall back to equal weights
            return {t: 1.0 / len(raw) for t in sorted(raw)}, f"{len(raw)} tier(s) in band, equal weights"
        return {t: raw[t] / total for t in sorted(raw)}, f"{len(raw)} tier(s) in band {lo:.0%}-{hi:.0%}"

    def distance(t: int) -> tuple[float, float, int]:
        p = pass_rates[t]
        return (lo - p if p < lo else p - hi, -signal_probability(p, group_size), t if p < lo else -t)

    best = min(pass_rates, key=distance)
    where = "too hard" if pass_rates[best] < lo else "too easy"
    return {best: 1.0}, (f"no tier in band {lo:.0%}-{hi:.0%}; closest is tier {best} "
                         f"({pass_rates[best]:.0%}, {where}): consider other tiers or another model")


@dataclass
class TierResult:
    """One tier's measurement."""

    difficulty: int
    name: str
    n: int
    passed: int
    mean_reward: float
    in_band: bool = False
    weight: float = 0.0

    @property
    def pass_rate(self) -> float:
        return self.passed / self.n if self.n else 0.0


@dataclass
class Calibration:
    """All tiers of one calibration run, the suggested mix, and how it was chosen."""

    env: str
    model: str
    band: tuple[float, float]
    group_size: int
    tiers: list[TierResult] = field(default_factory=list)
    note: str = ""

    @property
    def mix(self) -> dict[int, float]:
        """``{tier: weight}`` over the suggested tiers (weights sum to 1)."""
        return {t.difficulty: t.weight for t in self.tiers if t.weight > 0}

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "model": self.model,
            "band": list(self.band),
            "group_size": self.group_size,
            "tiers": [{**asdict(t), "pass_rate": t.pass_rate} for t in self.tiers],
            "note": self.note,
            # keys as strings: the JSON can be passed straight back as an env argument
            "difficulty_weights": {str(k): round(v, 6) for k, v in self.mix.items()},
        }


def _tasks_by_tier(env, n: int, seed: int) -> dict[int, list]:
    if env.fixed_tasks is not None:
        grouped: dict[int, list] = {}
        for task in env.fixed_tasks:
            grouped.setdefault(int(task.difficulty), []).append(task)
        return {d: tasks[:n] for d, tasks in sorted(grouped.items())}
    return {int(d): env.make_tasks(n, seed=seed + 1000 * i, difficulty=d) for i, d in enumerate(env.difficulties)}


def calibrate(
    env: str | Callable[[], Any],
    policy: Any | Callable[[Any], Any],
    *,
    n: int = 64,
    band: Sequence[float] = (0.2, 0.8),
    group_size: int = 8,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    metric: str | None = None,
    threshold: float | None = None,
    batch_size: int = 64,
    progress: bool = False,
    model_name: str = "",
) -> Calibration:
    """Measure the pass rate of ``policy`` on ``n`` tasks of every tier of ``env``.

    Args:
        env: a registered env name or a zero-argument env factory.
        policy: a rollout policy (``act(observations, tasks)``), or a callable ``policy(env)``
            returning one (as :class:`~lfmgym.rollout.OraclePolicy` needs the env).
        n: tasks per tier.
        band: the target pass-rate band ``(low, high)``.
        group_size: GRPO group size ``G`` used to weight tiers by ``signal_probability``.
        metric: judge a pass on this reward component (``components[metric] >= threshold``).
        threshold: the pass threshold: 0.5 by default with ``metric``; without ``metric``, a
            pass is ``reward >= threshold``. With neither, a pass is ``env.success(components)``
            (the env's own notion, as eval's success rate uses).
        batch_size: episodes advanced together (one policy call per turn for the whole batch).

    Returns:
        a :class:`Calibration` with per-tier results and the suggested mix.
    """
    from lfmgym.rollout import run_episodes

    lo, hi = _check_band(band)
    if n < 1:
        raise ValueError(f"n: must be >= 1, got {n}")
    if isinstance(env, str):
        from lfmgym.plugins import make_env

        name, kwargs = env, dict(env_kwargs or {})
        factory: Callable[[], Any] = lambda: make_env(name, **kwargs)  # noqa: E731
    else:
        factory = env
    probe = factory()
    if isinstance(policy, type) or not hasattr(policy, "act"):  # a policy class or factory taking the env
        policy = policy(probe)
    by_tier = _tasks_by_tier(probe, n, seed)
    tasks = [t for tier_tasks in by_tier.values() for t in tier_tasks]
    if metric is not None and threshold is None:
        threshold = 0.5
    records = run_episodes(factory, policy, tasks, seed=seed, batch_size=batch_size, progress=progress,
                           description=f"calibrate {probe.name}")
    names = getattr(probe, "difficulty_names", {}) or {}
    results, start = [], 0
    for tier, tier_tasks in by_tier.items():
        recs = records[start : start + len(tier_tasks)]
        start += len(tier_tasks)
        if metric is not None:
            missing = [r.task.id for r in recs if metric not in r.components]
            if missing:
                raise ValueError(f"metric: component {metric!r} not in the rewards of {probe.name} "
                                 f"(task {missing[0]}); known: {sorted(recs[0].components)}")
            passed = sum(r.components[metric] >= threshold for r in recs)
        elif threshold is not None:
            passed = sum(r.reward >= threshold for r in recs)
        else:
            passed = sum(bool(r.success) for r in recs)  # the engine's verdict: Env.success
        mean = sum(r.reward for r in recs) / len(recs) if recs else 0.0
        results.append(TierResult(tier, str(names.get(tier, "")), len(recs), int(passed), float(mean)))
    rates = {r.difficulty: r.pass_rate for r in results if r.n}
    mix, note = suggest_mix(rates, (lo, hi), group_size)
    for r in results:
        r.in_band = r.n > 0 and lo <= r.pass_rate <= hi
        r.weight = mix.get(r.difficulty, 0.0)
    return Calibration(probe.name, model_name, (lo, hi), group_size, results, note)


def make_policy(model: str, *, seed: int = 0, temperature: float = 1.0, max_new_tokens: int = 256) -> Any:
    """``oracle`` and ``random`` (smoke tests) or a model spec for :func:`lfmgym.backends.get_backend`.

    Returns a policy, or for ``oracle`` a callable ``policy(env)``.
    """
    from lfmgym.rollout import ModelPolicy, OraclePolicy, RandomPolicy

    if model == "oracle":
        return OraclePolicy
    if model == "random":
        return RandomPolicy(seed)
    from lfmgym.backends import get_backend

    return ModelPolicy(get_backend(model), temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)


# ----------------------------------------------------------------------------- CLI


def _print(cal: Calibration) -> None:
    from rich.console import Console
    from rich.table import Table

    lo, hi = cal.band
    table = Table(title=f"calibrate {cal.env} with {cal.model or 'policy'}",
                  caption=f"band {lo:.0%}-{hi:.0%}, weights by group signal (G={cal.group_size})")
    for col, justify in (("tier", "right"), ("name", "left"), ("n", "right"), ("pass rate", "right"),
                         ("reward", "right"), ("in band", "center"), ("weight", "right")):
        table.add_column(col, justify=justify, no_wrap=col != "name")
    for t in cal.tiers:
        table.add_row(str(t.difficulty), t.name, str(t.n), f"{t.pass_rate:.1%}", f"{t.mean_reward:.3f}",
                      "yes" if t.in_band else "", f"{t.weight:.3f}" if t.weight else "")
    con = Console()
    con.print(table)
    con.print(f"suggested mix: {json.dumps(cal.to_dict()['difficulty_weights'])}  ({cal.note})", markup=False)


def cmd_calibrate(args) -> int:
    from lfmgym.cli import _env_kwargs

    policy = make_policy(args.model, seed=args.seed, temperature=args.temperature, max_new_tokens=args.max_new_tokens)
    cal = calibrate(
        args.env, policy, n=args.n, band=args.band, group_size=args.group_size, seed=args.seed,
        env_kwargs=_env_kwargs(args), metric=args.metric, threshold=args.threshold,
        batch_size=args.batch_size, progress=not args.quiet, model_name=args.model,
    )
    _print(cal)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(cal.to_dict(), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return 0


def add_commands(subparsers) -> None:
    """Add ``lfmgym calibrate``."""
    from lfmgym.cli import _add_env_args

    p = subparsers.add_parser(
        "calibrate", help="pass rate per difficulty tier for a model, and the tier mix to train on",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("env", metavar="ENV", help="a registered environment name")
    p.add_argument("--model", required=True, help="oracle | random | a model (preset, path, hub id, openai:URL)")
    p.add_argument("--n", type=int, default=64, help="tasks per tier (default 64)")
    p.add_argument("--band", type=float, nargs=2, default=[0.2, 0.8], metavar=("LOW", "HIGH"),
                   help="target pass-rate band (default 0.2 0.8)")
    p.add_argument("--group-size", type=int, default=8, help="GRPO group size used to weight tiers (default 8)")
    p.add_argument("--metric", default=None, help="judge a pass on this reward component (default: the env's success rule)")
    p.add_argument("--threshold", type=float, default=None,
                   help="pass threshold on --metric (default 0.5), or on the total reward without --metric")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature, as in training (default 1.0)")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=64, help="episodes generated together")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the results and suggested mix as JSON here")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_env_args(p)
    p.set_defaults(func=cmd_calibrate)
