"""Rollouts: play episodes of any environment with any policy, many at a time.

A *policy* maps a batch of transcripts to one assistant message each::

    class Policy(Protocol):
        def act(self, observations: list[Messages], tasks: list[Task]) -> list[Generation]: ...

The runner keeps every live episode in step: on each turn it gathers the transcripts of all
episodes still running, asks the policy for all of them in **one** call (so a model backend
batches them), then steps each environment. Episodes that finish drop out; the rest go on.

Built-in policies: :class:`OraclePolicy` (replays the env's demonstrations), :class:`RandomPolicy`
(junk and malformed tool calls, for fuzzing) and :class:`ModelPolicy` (any generation backend).
"""

from __future__ import annotations

import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from lfmgym.backends.base import Generation, GenerationBackend
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

    Args:
        backend: the generation backend.
        temperature, top_p, max_new_tokens: decoding settings (temperature 0 = greedy).
        seed: base seed; each call advances it so repeated calls sample differently but
            reproducibly.
    """

    def __init__(self, backend: GenerationBackend, *, temperature: float = 0.0, top_p: float = 1.0,
                 max_new_tokens: int = 256, seed: int | None = 0):
        self.backend = backend
        self.temperature = temperature
        self.top_p = top_p
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self._calls = 0

    def act(self, observations: list[Messages], tasks: list[Task]) -> list[Generation]:
        seed = None if self.seed is None else self.seed + self._calls
        self._calls += 1
        outs = self.backend.generate(
            observations, n=1, temperature=self.temperature, top_p=self.top_p,
            max_new_tokens=self.max_new_tokens, seed=seed,
        )
        return [o[0] for o in outs]

    def chat(self, messages: Messages) -> str:
        """One reply to one transcript: the ``messages -> str`` shape of a sub-model.

        Envs that let the model call a sub-model (``llm_query`` in ``long_context``) get this
        from :func:`run_episodes`, so sub-calls are made by the policy itself.
        """
        return self.act([messages], [Task(id="sub-call", prompt="", answer="")])[0].text


@dataclass
class EpisodeRecord:
    """Everything about one finished episode.

    Attributes:
        env_name: the environment's registry name.
        task: the task played.
        messages: the full transcript.
        reward: the episode's total reward (the last step's reward).
        components: every reward component and metric from the env.
        terminated / truncated: how it ended (final answer / turn limit).
        generations: the policy's output for each assistant turn (token ids, finished flags).
        info: the env's info dict of the last step.
    """

    env_name: str
    task: Task
    messages: Messages
    reward: float = 0.0
    components: dict[str, float] = field(default_factory=dict)
    terminated: bool = False
    truncated: bool = False
    generations: list[Generation] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    latency_s: float = 0.0

    @property
    def turns(self) -> int:
        return len(self.generations)

    @property
    def completion_text(self) -> str:
        return "\n".join(g.text for g in self.generations)

    @property
    def length_capped(self) -> bool:
        """True when any turn hit the generation length cap (no end-of-sequence)."""
        return any(not g.finished for g in self.generations)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env_name,
            "task_id": self.task.id,
            "difficulty": self.task.difficulty,
            "messages": self.messages,
            "reward": self.reward,
            "components": self.components,
            "terminated": self.terminated,
            "truncated": self.truncated,
            "turns": self.turns,
            "finished": [g.finished for g in self.generations],
        }


def _progress(total: int, description: str, enabled: bool):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    prog = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    prog.start()
    prog.add_task(description, total=total)
    return prog


def run_episodes(
    env_factory: Callable[[], Env] | str,
    policy: Policy,
    tasks: Sequence[Task] | int,
    *,
    seed: int = 0,
    batch_size: int = 64,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool = False,
    description: str = "rollouts",
) -> list[EpisodeRecord]:
    """Play one episode per task with ``policy``, advancing up to ``batch_size`` episodes together.

    Args:
        env_factory: a zero-argument callable returning a fresh env, or a registered env name.
        policy: see :class:`Policy`.
        tasks: the tasks to play, or a number of tasks to draw with ``seed``.
        seed: seeds task drawing (when ``tasks`` is an int) and each env's reset.
        batch_size: episodes advanced in one policy call (1 = one at a time).
        env_kwargs: constructor arguments when ``env_factory`` is a name.
        progress: show a rich progress bar.

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
    records: list[EpisodeRecord | None] = [None] * len(tasks)
    prog = _progress(len(tasks), description, progress)
    envs: dict[int, Env] = {}
    try:
        for start in range(0, len(tasks), batch_size):
            chunk = list(range(start, min(start + batch_size, len(tasks))))
            envs, obs = {}, {}
            for i in chunk:
                env = env_factory()
                # Recursive envs call a sub-model; by default that is the policy being rolled out.
                if isinstance(policy, ModelPolicy) and hasattr(env, "set_sub_model") and getattr(env, "sub_model", None) is None:
                    env.set_sub_model(policy.chat)
                o, _ = env.reset(seed=seed + i, options={"task": tasks[i]})
                envs[i], obs[i] = env, o
                records[i] = EpisodeRecord(env_name=env.name, task=tasks[i], messages=o)
            live = list(chunk)
            while live:
                t0 = time.perf_counter()
                gens = policy.act([obs[i] for i in live], [tasks[i] for i in live])
                dt = (time.perf_counter() - t0) / max(len(live), 1)
                if len(gens) != len(live):
                    raise RuntimeError(f"policy returned {len(gens)} generations for {len(live)} observations")
                still = []
                for i, gen in zip(live, gens):
                    if isinstance(gen, str):
                        gen = Generation(gen)
                    rec = records[i]
                    rec.generations.append(gen)
                    rec.latency_s += dt
                    o, r, term, trunc, info = envs[i].step(gen.text)
                    obs[i] = o
                    rec.messages, rec.info = o, info
                    if term or trunc:
                        rec.reward, rec.terminated, rec.truncated = r, term, trunc
                        rec.components = info.get("reward_components", {})
                        envs[i].close()
                        if prog:
                            prog.advance(prog.task_ids[0])
                    else:
                        still.append(i)
                live = still
    finally:
        if prog:
            prog.stop()
        # A policy or env that raised leaves episodes open: close them now, so envs holding
        # processes (the long_context sandbox) do not wait for the garbage collector.
        for i, env in envs.items():
            record = records[i]  # set as soon as the env in `envs` was reset
            if not (record.terminated or record.truncated):
                try:
                    env.close()
                except Exception:
                    pass
    return records  # type: ignore[return-value]
