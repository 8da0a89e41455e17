"""The conformance kit for environment authors: ``lfmgym check NAME`` and, in a plugin's own
pytest suite, ``lfmgym.testing.check_env(MyEnv)``.

It runs, in order:

1. ``gymnasium.utils.env_checker.check_env`` (spaces, reset/step signatures, seeding);
2. determinism: the same seed gives the same task, transcript and rewards;
3. demonstrations: the oracle (``demonstrate``) earns the maximum reward on every tier;
4. reward range: every total reward lies inside the declared ``reward_range``;
5. fuzzing: 1,000 junk, malformed and hostile actions (:func:`hostile_action`: calls to the env's
   own tools with non-finite numbers, unhashable keys, deep nesting, floods of calls) produce
   feedback, never an exception;
6. reward hacking: generic attacks (stuffed answers, several boxed values, the question copied
   back, ...) played as the final answer never earn the maximum reward.
"""

from __future__ import annotations

import math
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lfmgym.env import ENV_ERROR_PREFIX, SCORE_ERROR_PREFIX, Env, Task
from lfmgym.rollout import OraclePolicy, RandomPolicy, junk_action, run_episodes

__all__ = ["CheckReport", "check_env", "hostile_action"]

TOL = 1e-6


@dataclass
class CheckReport:
    """Results of :func:`check_env`: one line per check, and the failures."""

    env_name: str
    passed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def __str__(self) -> str:
        lines = [f"lfmgym check {self.env_name}: {'PASS' if self.ok else 'FAIL'}"]
        lines += [f"  ok   {p}" for p in self.passed]
        lines += [f"  FAIL {f}" for f in self.failures]
        return "\n".join(lines)


def _factory(env: str | type[Env] | Callable[[], Env], kwargs: dict[str, Any]) -> Callable[[], Env]:
    if isinstance(env, str):
        from lfmgym.plugins import make_env

        return lambda: make_env(env, **kwargs)
    if isinstance(env, type) and issubclass(env, Env):
        return lambda: env(**kwargs)
    if callable(env):
        return lambda: env(**kwargs) if kwargs else env()
    raise TypeError(f"check_env needs an env name, an Env subclass or a factory, got {type(env).__name__}")


def _max_without_repetition(env: Env, reward: float, components: dict[str, float]) -> float:
    # Every env adds a repetition penalty (<= 0); the oracle may legitimately repeat itself
    # (e.g. the same tool twice), so "maximum reward" is judged on the other components.
    return reward - env.reward_weights.get("repetition", 0.0) * components.get("repetition", 0.0)


def check_env(
    env: str | type[Env] | Callable[[], Env],
    *,
    env_kwargs: dict[str, Any] | None = None,
    n_tasks: int = 12,
    n_junk: int = 1000,
    seed: int = 0,
    raise_on_failure: bool = True,
) -> CheckReport:
    """Run the conformance checks on an environment (a registered name, a class or a factory).

    Raises:
        AssertionError: listing every failed check when ``raise_on_failure`` (the default).
    """
    kwargs = dict(env_kwargs or {})
    make = _factory(env, kwargs)
    probe = make()
    report = CheckReport(getattr(probe, "name", str(env)))

    def run(label: str, fn: Callable[[], str | None]) -> None:
        try:
            detail = fn()
        except AssertionError as exc:
            report.failures.append(f"{label}: {exc}")
        except Exception as exc:
            tb = traceback.format_exc(limit=3).strip().splitlines()[-1]
            report.failures.append(f"{label}: raised {type(exc).__name__}: {exc} ({tb})")
        else:
            report.passed.append(f"{label}{': ' + detail if detail else ''}")

    run("gymnasium env_checker", lambda: _gym_checker(make))
    run("determinism (same seed -> same task, transcript, reward)", lambda: _determinism(make, seed))
    tasks = _tier_tasks(probe, n_tasks, seed)
    run("demonstrations earn the maximum reward", lambda: _oracle(make, probe, tasks, seed))
    run(f"{n_junk} junk and hostile actions -> feedback, no exception, rewards in range", lambda: _fuzz(make, probe, n_junk, seed))
    # The attacks dress up the gold answer; a task without one (BFCL irrelevance: "do not call",
    # where any plain reply is right) has nothing to dress up, so it is not attacked.
    attackable = [t for t in tasks if _answer_text(t.answer).strip()]
    run("reward hacking attempts earn less than the maximum", lambda: _hacking(make, probe, attackable[:4], seed))
    if isinstance(env, str):
        run("gymnasium.make('lfmgym/<name>')", lambda: _gym_make(env))
    if raise_on_failure and not report.ok:
        raise AssertionError(str(report))
    return report


def _gym_checker(make: Callable[[], Env]) -> str:
    from gymnasium.utils.env_checker import check_env as gym_check

    env = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gym_check(env, skip_render_check=True)
    return ""


def _determinism(make: Callable[[], Env], seed: int) -> str:
    a, b = make(), make()
    for s in (seed, seed + 1, seed + 17):
        oa, ia = a.reset(seed=s)
        ob, ib = b.reset(seed=s)
        assert oa == ob, f"reset(seed={s}) gave different observations"
        assert ia == ib, f"reset(seed={s}) gave different info"
        assert a.episode.task.id == b.episode.task.id, f"reset(seed={s}) gave different tasks"
        rng = np.random.default_rng(s)
        for _ in range(a.max_turns):
            act = junk_action(rng)
            ra, rb = a.step(act), b.step(act)
            assert ra[0] == rb[0] and ra[1] == rb[1] and ra[2:4] == rb[2:4], f"step() not deterministic for seed {s}"
            if ra[2] or ra[3]:
                break
    t1 = a.make_tasks(3, seed=seed)
    t2 = b.make_tasks(3, seed=seed)
    assert [t.id for t in t1] == [t.id for t in t2], "make_tasks(seed) is not deterministic"
    return ""


def _tier_tasks(env: Env, n: int, seed: int) -> list[Task]:
    if env.fixed_tasks is not None:
        return env.make_tasks(n, seed=seed)
    per = max(1, n // max(1, len(env.difficulties)))
    tasks: list[Task] = []
    for d in env.difficulties:
        tasks += env.make_tasks(per, seed=seed + 1000 * (d + 1), difficulty=d)
    return tasks


def _oracle(make: Callable[[], Env], probe: Env, tasks: list[Task], seed: int) -> str:
    high = probe.reward_range[1]
    records = run_episodes(make, OraclePolicy(make()), tasks, seed=seed)
    bad = []
    for rec in records:
        score = _max_without_repetition(probe, rec.reward, rec.components)
        if score < high - TOL or rec.reward > high + TOL or not rec.terminated:
            bad.append(f"{rec.task.id}: reward {rec.reward:.3f} (max {high}), components {rec.components}")
    assert not bad, f"{len(bad)}/{len(records)} demonstrations not at the maximum of reward_range: " + "; ".join(bad[:3])
    where = "from the env's task list" if probe.fixed_tasks is not None else f"over tiers {list(probe.difficulties)}"
    return f"{len(records)} tasks {where}"


def _fuzz(make: Callable[[], Env], probe: Env, n_junk: int, seed: int) -> str:
    low, high = probe.reward_range
    rng = np.random.default_rng(seed)
    env = make()
    steps = episodes = 0
    env.reset(seed=seed)
    while steps < n_junk:
        action = hostile_action(rng, getattr(env, "tool_format", "pythonic"), env.toolbox.names)
        obs, reward, term, trunc, info = env.step(action)
        steps += 1
        assert isinstance(reward, float) and math.isfinite(reward), f"reward {reward!r} is not a finite float"
        assert low - TOL <= reward <= high + TOL, f"reward {reward} outside reward_range {probe.reward_range}"
        assert env.observation_space.contains(obs), "observation is not valid Messages"
        # Env.step turns an exception of the env itself into feedback so a trainer survives it;
        # here that is exactly what must not happen: a junk action may never reach an env bug.
        bug = _env_bug(env.episode.parse_errors if env.episode is not None else info.get("parse_errors", []))
        assert bug is None, f"the env raised on junk action {action[:60]!r}: {bug}"
        if not (term or trunc):
            assert info["new_messages"], f"no feedback for a non-final junk action {action[:60]!r}"
        else:
            episodes += 1
            env.reset(seed=seed + steps)
    # The random policy through the runner as well (batched path).
    recs = run_episodes(make, RandomPolicy(seed), 8, seed=seed)
    for rec in recs:
        assert low - TOL <= rec.reward <= high + TOL, f"reward {rec.reward} outside reward_range"
        bug = _env_bug(rec.info.get("parse_errors", []), rec.components)
        assert bug is None, f"the env raised during a random-policy episode of {rec.task.id}: {bug}"
    return f"{steps} steps, {episodes} episodes"


# Argument values a parser or a tool may choke on: non-finite and huge numbers, unhashable or
# odd dict keys, deep nesting, control characters, wrong types.
_HOSTILE_PY_VALUES = [
    "1e309", "-1e309", "1e400", "float('nan')", "9" * 5000, "10**10**10", "{(1,2): 3}", "{[1]: 2}",
    "{{}: 1}", "{1: {2: {3: [4]}}}", "-" * 1000 + "1", "[" * 200 + "]" * 200, "(" * 300 + "1" + ")" * 300,
    "{'a': " * 60 + "1" + "}" * 60, "...", "b'x'", "1j", "__import__('os')", "x.y", "lambda: 0", "*a",
    "'\x00\ud800\u202e'", "'" + "A" * 200_000 + "'", "None", "True", "[1, 'a', None, 2.5]", "{'k': float}",
    "-True", "+'s'", "0x10", "1_000", "f'{1}'", "{1, 2}", "()", "[][0]",
]
_HOSTILE_JSON_VALUES = [
    "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "9" * 5000, "[" * 2000 + "]" * 2000,
    '{"a":' * 100 + "1" + "}" * 100, '"\ud800\u0000"', "null", "true", '"' + "A" * 200_000 + '"',
    "[1, \"a\", null]", "{}", "[]", "1.5", "-0", "01", '"\\x"', "{\"\": 1}",
]


def hostile_action(rng: np.random.Generator, tool_format: str = "pythonic", tools: list[str] = ()) -> str:
    """One hostile assistant message: :func:`~lfmgym.rollout.junk_action`, or a well-formed call
    to one of ``tools`` (the env's real tool names, so the call reaches the tool) whose
    arguments are built to break parsers, tools, scorers and the repetition penalty; or many
    calls at once; or markup of the other format. Deterministic for a given ``rng`` state."""
    names = list(tools) or ["calculator"]
    kind = int(rng.integers(6))
    if kind == 0:
        return junk_action(rng)
    name = names[int(rng.integers(len(names)))]
    arg = _pick(rng, ["x", "query", "expression", "url", "id", "a", "from", "class", ""])
    if kind == 5:  # a flood of calls
        n = int(rng.integers(1, 400))
        if tool_format == "json":
            return "".join(f'<tool_call>{{"name": "{name}", "arguments": {{}}}}</tool_call>' for _ in range(n))
        return "<|tool_call_start|>[" + ", ".join(f"{name}()" for _ in range(n)) + "]<|tool_call_end|>"
    fmt = tool_format if kind != 4 else ("json" if tool_format == "pythonic" else "pythonic")
    if fmt == "json":
        value = _pick(rng, _HOSTILE_JSON_VALUES)
        arguments = f'{{"{arg}": {value}}}' if kind != 3 else _json_string(f'{{"{arg}": {value}}}')
        return f'<tool_call>{{"name": "{name}", "arguments": {arguments}}}</tool_call>'
    value = _pick(rng, _HOSTILE_PY_VALUES)
    return f"text {int(rng.integers(100))} <|tool_call_start|>[{name}({arg}={value})]<|tool_call_end|>"


def _pick(rng: np.random.Generator, items: list[str]) -> str:
    return items[int(rng.integers(len(items)))]  # rng.choice would copy every string into an array


def _json_string(text: str) -> str:
    """``text`` as a JSON string literal (arguments double-encoded, as some models write them)."""
    import json

    return json.dumps(text)


def _env_bug(errors: list[str], components: dict[str, float] | None = None) -> str | None:
    """The first exception :meth:`Env.step` caught from the env's own code (``handle_action``
    or ``score``), as recorded in the episode's ``parse_errors``; ``None`` when there was none."""
    for err in errors:
        if err.startswith((ENV_ERROR_PREFIX, SCORE_ERROR_PREFIX)):
            return err
    if components and components.get("score_error"):
        return "score() raised (component 'score_error' is set)"
    return None


def _hacking(make: Callable[[], Env], probe: Env, tasks: list[Task], seed: int) -> str:
    from lfmgym.rewards.hacking import generic_attacks

    high = probe.reward_range[1]
    bad, n = [], 0
    for task in tasks:
        for name, text in generic_attacks(task.prompt, _answer_text(task.answer)):
            env = make()
            env.reset(seed=seed, options={"task": task})
            reward = 0.0
            for _ in range(env.max_turns):
                _, reward, term, trunc, info = env.step(text)
                if term or trunc:
                    break
            n += 1
            if reward >= high - TOL:
                bad.append(f"{name} on {task.id}")
    assert not bad, f"{len(bad)} attacks earned the maximum reward: {bad[:5]}"
    return f"{n} attacks" if n else "no sampled task has a gold answer to attack"


def _answer_text(answer: Any) -> str:
    if isinstance(answer, (list, tuple)):
        return ", ".join(map(str, answer[:1])) if answer else ""
    return str(answer)


def _gym_make(name: str) -> str:
    import gymnasium

    import lfmgym  # noqa: F401  (registers the ids)

    env = gymnasium.make(f"lfmgym/{name}")
    env.reset(seed=0)
    env.close()
    return ""
