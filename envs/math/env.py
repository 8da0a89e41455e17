"""Two math environments sharing one task set: ``math`` (answer in text) and ``math_calculator``
(the same problems, with a safe calculator tool).

The pair exists to show the central claim of lfmgym: a tiny model with a tool beats the same
model without it. Both score the final assistant text with
:func:`lfmgym.rewards.math.math_reward` (math-verify against the gold answer).

Demonstrations are deliberately short and regular so a few-million-parameter model trained
from scratch can learn the format quickly::

    math:             "123+456=579\\nAnswer: 579"
    math_calculator:  <|tool_call_start|>[calculator(expression='123+456')]<|tool_call_end|>
                      (tool) 579
                      "Answer: 579"
"""

from __future__ import annotations

import functools

from collections.abc import Callable
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from lfmgym.env import Env, Episode, Task
from lfmgym.toolcalls import ToolCall, render_tool_calls
from lfmgym.tools import Toolbox

from lfmgym.envs.math.calculator import CalculatorError, calculator, evaluate
from lfmgym.envs.math.generators import GENERATORS, TIER_NAMES, generate

__all__ = ["MathEnv", "MathCalculatorEnv"]


@functools.lru_cache(maxsize=8)
def _load_tasks_once(data: str, split: str, limit: int | None) -> tuple[Task, ...]:
    """A data file is read once per process: rollouts and GRPO build a fresh env per episode."""
    from lfmgym.envs.math.data import load_tasks

    return tuple(load_tasks(data, split=split, limit=limit))


class MathEnv(Env):
    """Arithmetic, word problems, fractions/percentages and linear equations; answer in text.

    Reward components:
        ``correct`` (weight 1.0): math-verify equivalence of the final answer with the gold one.
        ``answer_extracted`` (metric): a final answer could be found in the text at all.
        ``repetition`` (weight ``repetition_weight``, default 0.1): the base env's n-gram penalty.

    Args:
        data: play a GSM8K- or MATH-format data file, a folder holding ``<split>.jsonl``, or a
            Hugging Face dataset id, or ``gsm8k`` (the bundled GSM8K test split; see
            :func:`lfmgym.envs.math.data.load_tasks`); the command-line way to write
            ``tasks=load_tasks(...)``, e.g. ``lfmgym play math --env-arg data=gsm8k``.
            Exclusive with ``tasks``.
        split, limit: which split of ``data``, and how many of its tasks to keep.
        **kwargs: see :class:`lfmgym.Env` (``difficulty_weights`` draws tiers with the mix
            ``lfmgym calibrate --out`` writes).
    """

    name: ClassVar[str] = "math"
    description: ClassVar[str] = "Arithmetic, word problems, fractions and equations; answer in text"
    difficulties: ClassVar[tuple[int, ...]] = tuple(GENERATORS)
    difficulty_names: ClassVar[dict[int, str]] = TIER_NAMES
    reward_weights = {"correct": 1.0}
    reward_range = (0.0, 1.0)
    default_max_turns: ClassVar[int] = 1

    _SYSTEM = "Solve the problem. End with the line 'Answer: <final answer>'."

    def __init__(self, *, data: str | None = None, split: str = "test", limit: int | None = None, **kwargs: Any):
        if data is not None:
            if kwargs.get("tasks") is not None:
                raise ValueError("data: give either data=PATH or tasks=[...], not both")
            kwargs["tasks"] = list(_load_tasks_once(data, split, limit))
        elif split != "test" or limit is not None:
            raise ValueError("split/limit: only apply to data=PATH (generated tasks have no split or limit)")
        super().__init__(**kwargs)

    # ------------------------------------------------------------------ tasks

    def generate_task(self, rng: np.random.Generator, difficulty: int) -> Task:
        return generate(rng, difficulty)

    def draw_difficulty(self, rng: np.random.Generator) -> int:
        if self.difficulty_weights is None:
            # Drawn from raw bits rather than with rng.choice, which costs more than a whole task.
            return self.difficulties[int(rng.bit_generator.random_raw()) % len(self.difficulties)]
        return super().draw_difficulty(rng)

    def system_prompt(self, task: Task) -> str:
        return self._SYSTEM

    # ------------------------------------------------------------------ scoring

    def score(self, task: Task, episode: Episode) -> dict[str, float]:
        from lfmgym.rewards.math import math_reward

        text = episode.final_answer
        if text is None:  # truncated before any final answer
            return {"correct": 0.0, "answer_extracted": 0.0}
        # prompt=: a completion that copies the question back earns no fallback answer
        result = math_reward(text, str(task.answer), allow_percent=bool(task.meta.get("allow_percent", False)),
                             prompt=task.prompt)
        return {"correct": float(result["reward"]), "answer_extracted": float(result["answer_extracted"])}

    # ------------------------------------------------------------------ demonstrations

    def final_message(self, task: Task) -> str:
        """The gold final message: worked solution, then ``Answer: <gold>``.

        MATH-format solutions already end in ``\\boxed{...}``, which the scorer reads, so they
        are used as they are.
        """
        solution = str(task.meta.get("solution", "")).strip()
        if task.meta.get("source") == "math":
            return solution if "\\boxed" in solution else f"{solution}\nAnswer: {task.answer}".strip()
        return f"{solution}\nAnswer: {task.answer}" if solution else f"Answer: {task.answer}"

    def demonstrate(self, task: Task) -> list[dict[str, Any]]:
        return self.opening(task) + [{"role": "assistant", "content": self.final_message(task)}]


class MathCalculatorEnv(MathEnv):
    """The math tasks with a ``calculator(expression)`` tool (safe, exact, size-bounded).

    The demonstration calls the calculator, reads the result and answers: one call holding the
    whole expression for generated tasks; for GSM8K tasks, one call per annotated step of the
    reference solution (``<<48/2=24>>``), each in its own turn, as a model would do it.
    """

    name: ClassVar[str] = "math_calculator"
    description: ClassVar[str] = "The math tasks with a safe calculator tool"
    default_max_turns: ClassVar[int] = 8

    _SYSTEM = "Solve the problem. Use the calculator for arithmetic. End with the line 'Answer: <final answer>'."

    def tools(self, task: Task) -> list[Callable | tuple[str, Callable]]:
        return [calculator]

    def _calc_steps(self, task: Task) -> list[str]:
        """Calculator expressions of the demonstration: those that evaluate, and (for GSM8K)
        agree with the annotated result, so the demonstration never teaches a wrong value."""
        exprs = list(task.meta.get("calc") or [])
        stated = task.meta.get("calc_results")
        steps = []
        for i, expr in enumerate(exprs):
            try:
                value = evaluate(expr)
            except CalculatorError:
                continue
            if stated is not None and not _same_number(value, stated[i]):
                continue
            steps.append(expr)
        return steps

    def demonstrate(self, task: Task) -> list[dict[str, Any]]:
        messages = self.opening(task)
        toolbox = Toolbox(self.tools(task))
        steps = self._calc_steps(task)
        # One call per turn; past the turn budget the remaining calls share the last call turn.
        budget = max(1, self.max_turns - 1)
        groups = [[s] for s in steps[: budget - 1]] + ([steps[budget - 1 :]] if steps[budget - 1 :] else [])
        for group in groups:
            calls = [ToolCall("calculator", {"expression": e}) for e in group]
            messages.append({"role": "assistant", "content": render_tool_calls(calls, self.tool_format)})
            messages.extend({"role": "tool", "content": toolbox.call(c).output} for c in calls)
        final = f"Answer: {task.answer}" if steps or task.meta.get("source") != "math" else self.final_message(task)
        messages.append({"role": "assistant", "content": final})
        return messages


def _same_number(value: Fraction, stated: str) -> bool:
    try:
        return value == evaluate(stated)
    except CalculatorError:
        return False
