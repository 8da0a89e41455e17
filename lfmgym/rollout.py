"""Rollouts: play episodes of any environment with any policy, many at a time.

A *policy* maps a batch of transcripts to one assistant message each::

    class Policy(Protocol):
        def act(self, observations: list[Messages], tasks: list[Task]) -> list[Generation]: ...

:func:`run_episodes` plays them through the one rollout engine (:mod:`lfmgym.engine`): batched
generation, env steps in worker threads, per-step / per-episode time and token budgets, one
:class:`EpisodeRecord` per episode.

Built-in policies: :class:`OraclePolicy` (replays the env's demonstrations), :class:`RandomPolicy`
(junk and malformed tool calls, for fuzzing) and :class:`ModelPolicy` (any generation backend).
"""

from __future__ import annotations

import string
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lfmgym.backends.base import Generation, GenerationBackend
from lfmgym.engine import Budgets, EpisodeRecord, ExtraReward, RolloutEngine
from lfmgym.env import Env, Task

__all__ = [
    "Policy",
    "OraclePolicy",
    "RandomPolicy",
    "ModelPolicy",
    "EpisodeRecord",
    "run_episodes",
    "junk_action",
]

Messages = list[dict[str, Any]]


@runtime_checkable
class Policy(Protocol):
    """Anything with ``act(observations, tasks) -> list[Generation]`` (one per observation)."""

    def act(self, observations: list[Messages], tasks: list[Task]) -> list[Generation]: ...


class OraclePolicy:
    """Replays ``env.demonstrate(task)``: the k-th assistant turn of the gold trajectory when the
    transcript already holds k assistant messages. Useful to check envs and rewards end to end."""

    def __init__(self, env: Env):
        self.env = env
        self._cache: dict[str, list[str]] = {}

    def sub_model_for(self, env: Env):
        """The sub-model an env with ``llm_query`` gets while the oracle plays it: the env's own
        ``oracle_sub_model()`` when it has one (the demonstrations' sub-calls then get right answers)."""
        make = getattr(env, "oracle_sub_model", None)
        return make() if callable(make) else None

    def _gold(self, task: Task) -> list[str]:
        if task.id not in self._cache:
            demo = self.env.demonstrate(task)
            self._cache[task.id] = [m["content"] for m in demo if m["role"] == "assistant"]
        return self._cache[task.id]

    def act(self, observations: list[Messages], tasks: list[Task]) -> list[Generation]:
        out = []
        for obs, task in zip(observations, tasks):
            k = sum(1 for m in obs if m["role"] == "assistant")
            gold = self._gold(task)
            out.append(Generation(gold[k] if k < len(gold) else gold[-1]))
        return out


_JUNK_PIECES = [
    "<|tool_call_start|>", "<|tool_call_end|>", "<tool_call>", "</tool_call>", "[", "]", "(", ")",
    "{", "}", "'", '"', "=", ",", "calculator", "search", "FINAL(", "```repl\n", "```", "\\boxed{",
    "answer", "42", "-1e309", "None", "**", "\x00", "\u200b", "٣", "null", ":", "\n",
]


def junk_action(rng: np.random.Generator) -> str:
    """One junk assistant message: random text, broken markup, calls to unknown tools, ..."""
    kind = int(rng.integers(8))
    if kind == 0:
        return ""
    if kind == 1:
        n = int(rng.integers(1, 200))
        return "".join(rng.choice(list(string.printable + "éß漢字🙂\u202e"), size=n))
    if kind == 2:
        return "<|tool_call_start|>[" + "".join(rng.choice(_JUNK_PIECES, size=int(rng.integers(1, 12)))) + "]<|tool_call_end|>"
    if kind == 3:
        name = "".join(rng.choice(list(string.ascii_lowercase), size=6))
        return f"<|tool_call_start|>[{name}(x={int(rng.integers(-5, 5))})]<|tool_call_end|>"
    if kind == 4:
        return '<tool_call>{"name": ' + "".join(rng.choice(_JUNK_PIECES, size=5)) + "</tool_call>"
    if kind == 5:
        return "x" * int(rng.integers(1_000, 50_000))
    if kind == 6:
        return "```repl\n" + "".join(rng.choice(_JUNK_PIECES, size=int(rng.integers(1, 20)))) + "\n```"
    return "".join(rng.choice(_JUNK_PIECES, size=int(rng.integers(1, 30))))


class RandomPolicy:
    """Junk actions for fuzzing (see :func:`junk_action`); deterministic for a seed."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def act(self, observations: list[Messages], tasks: list[Task]) -> list[Generation]:
        return [Generation(junk_action(self.rng), finished=True) for _ in observations]


class ModelPolicy:
    """A language model through a :class:`~lfmgym.backends.base.GenerationBackend`.

    Backends built on a Hugging Face tokenizer (transformers, vLLM) expose a token generator:
    the engine then plays episodes token-in/token-out (prompt ids + sampled ids + feedback ids,
    never decoded and re-tokenized). Other backends (an OpenAI-compatible endpoint) return text.

    Args:
        backend: the generation backend.
        temperature, top_p, max_new_tokens: decoding settings (temperature 0 = greedy).
        seed: base seed of text-level sampling (token-level episodes are seeded per episode).
    """

    def __init__(self, backend: GenerationBackend, *, temperature: float = 0.0, top_p: float = 1.0,
                 max_new_tokens: int = 256, seed: int | None = 0):
        self.backend = backend
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self._calls = 0
        self.generator = getattr(backend, "token_generator", None)

    def act(self, observations: list[Messages], tasks: list[Task]) -> list[Generation]:
        seed = None if self.seed is None else self.seed + self._calls
        self._calls += 1
        outs = self.backend.generate(
            observations, n=1, temperature=self.temperature, top_p=self.top_p,
            max_new_tokens=self.max_new_tokens, seed=seed,
        )
        return [o[0] for o in outs]

    def chat(self, messages: Messages) -> str:
        """One greedy-or-sampled reply to one transcript: the ``messages -> str`` shape of a sub-model.

        Envs that let the model call a sub-model (``llm_query`` in ``long_context``) get this from
        the engine, so sub-calls are made by the policy itself.
        """
        return self.act([messages], [Task(id="sub-call", prompt="", answer="")])[0].text


def _progress(total: int, description: str, enabled: bool):
    """A rich bar on a terminal; plain lines (every ~10 %) when the output is a file or pipe."""
    if not enabled:
        return None, None
    import sys

    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        prog = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        prog.start()
        task_id = prog.add_task(description, total=total)
        return prog, lambda _rec: prog.advance(task_id)
    state = {"done": 0, "t0": time.perf_counter()}
    step = max(1, total // 10)

    def line(_rec):
        state["done"] += 1
        if state["done"] % step == 0 or state["done"] == total:
            print(f"{description}: {state['done']}/{total} episodes ({time.perf_counter() - state['t0']:.0f}s)",
                  file=sys.stderr, flush=True)

    return None, line


def run_episodes(
    env_factory: Callable[[], Env] | str,
    policy: Policy,
    tasks: Sequence[Task] | int,
    *,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    batch_size: int = 64,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool = False,
    description: str = "rollouts",
    budgets: Budgets | None = None,
    workers: int = 16,
    strict_tokens: bool = False,
    extra_rewards: Sequence[ExtraReward] = (),
    on_done: Callable[[EpisodeRecord], None] | None = None,
) -> list[EpisodeRecord]:
    """Play one episode per task with ``policy`` through the :class:`~lfmgym.engine.RolloutEngine`.

    Args:
        env_factory: a zero-argument callable returning a fresh env, or a registered env name.
        policy: see :class:`Policy` (a :class:`ModelPolicy` plays token-level).
        tasks: the tasks to play, or a number of tasks to draw with ``seed``.
        seed: seeds task drawing (when ``tasks`` is an int); episode ``i`` is seeded ``seed + i``.
        seeds: explicit episode seeds (one per task), e.g. to split tasks over processes.
        batch_size: most episodes in one generation call (1 = one at a time).
        env_kwargs: constructor arguments when ``env_factory`` is a name.
        progress: show progress (a bar on a terminal, plain lines otherwise).
        budgets, workers, strict_tokens, extra_rewards, on_done: see :class:`~lfmgym.engine.RolloutEngine`.

    Returns:
        One :class:`EpisodeRecord` per task, in the order of ``tasks``.
    """
    if isinstance(env_factory, str):
        from lfmgym.plugins import make_env

        name, kwargs = env_factory, dict(env_kwargs or {})
        env_factory = lambda: make_env(name, **kwargs)  # noqa: E731
    if isinstance(tasks, int):
        tasks = env_factory().make_tasks(tasks, seed=seed)
    tasks = list(tasks)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    seeds = [seed + i for i in range(len(tasks))] if seeds is None else list(seeds)
    prog, tick = _progress(len(tasks), description, progress)

    def done(rec: EpisodeRecord) -> None:
        if tick is not None:
            tick(rec)
        if on_done is not None:
            on_done(rec)

    engine = RolloutEngine(policy, batch_size=batch_size, budgets=budgets, workers=workers,
                           strict_tokens=strict_tokens, extra_rewards=extra_rewards, on_done=done)
    try:
        return engine.play(env_factory, tasks, seeds)
    finally:
        if prog is not None:
            prog.stop()
