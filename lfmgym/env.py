"""The environment contract: a multi-turn chat episode as a :class:`gymnasium.Env`.

An episode is a conversation. :meth:`Env.reset` picks a :class:`Task` and returns the opening
messages (a system prompt, with the tool schemas when the env has tools, then the user turn).
Each :meth:`Env.step` takes the raw assistant text, parses it with the configured tool-call
format, runs the tools, appends the assistant message and the tool results, and returns the
whole transcript so far. The episode *terminates* on a final answer (an assistant message with
no tool call) and is *truncated* after ``max_turns`` assistant messages.

A subclass writes only the task-specific parts::

    class Echo(Env):
        name = "echo"
        description = "Repeat the word."

        def generate_task(self, rng, difficulty):
            word = str(rng.choice(["cat", "dog"]))
            return Task(id=f"echo-{word}", prompt=f"Say {word}.", answer=word)

        def score(self, task, episode):
            return {"correct": float(episode.final_answer.strip() == task.answer)}

        def demonstrate(self, task):
            return self.opening(task) + [{"role": "assistant", "content": task.answer}]

Rewards are sparse: every step returns 0 except the last, which returns the weighted sum of the
components from :meth:`Env.score` (plus the repetition penalty every env gets). All components,
weighted or not, are in ``info["reward_components"]`` so logs show each one.

Nothing a model writes can raise out of :meth:`step`: malformed tool calls, unknown tools, bad
arguments and tools that raise all become feedback messages inside the episode.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import gymnasium
import numpy as np

from lfmgym.spaces import Messages, Text
from lfmgym.toolcalls import FORMATS, ParseResult, ToolCall, parse_tool_calls
from lfmgym.tools import Toolbox

__all__ = ["Task", "Episode", "Env", "TOOL_FORMAT_INSTRUCTIONS"]


@dataclass
class Task:
    """One problem: what to ask, the exact answer, and whatever the scorer needs.

    Attributes:
        id: stable identifier; the same seed and difficulty always give the same id.
        prompt: the user turn.
        answer: the gold answer (a string, a number, a list of calls: whatever ``score`` reads).
        difficulty: the tier it was generated at (0 = easiest); data-file tasks use 0.
        meta: free-form extras (worked solution, supporting documents, shape, ...).
    """

    id: str
    prompt: str
    answer: Any
    difficulty: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Episode:
    """The running state of one episode, handed to :meth:`Env.score`.

    Attributes:
        task: the task being played.
        messages: the full transcript so far.
        turns: assistant messages received.
        tool_calls: every parsed call, in order.
        tool_results: the text each call returned (same order as ``tool_calls``).
        tool_errors: one entry per failed call: ``"<kind>: <message>"``.
        parse_errors: the reasons of assistant messages whose tool calls did not parse.
        final_answer: the text of the final assistant message, ``None`` if never reached.
        state: env-specific state (e.g. a stateful tool's store) for the scorer to check.
    """

    task: Task
    messages: list[dict[str, Any]]
    turns: int = 0
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_results: list[str] = field(default_factory=list)
    tool_errors: list[str] = field(default_factory=list)
    parse_errors: list[str] = field(default_factory=list)
    final_answer: str | None = None
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def assistant_texts(self) -> list[str]:
        return [m["content"] for m in self.messages if m["role"] == "assistant"]


# How Env.step records an exception from the env's own code (handle_action / score) among an
# episode's parse_errors; the conformance kit looks for these to report env bugs.
ENV_ERROR_PREFIX = "env error:"
SCORE_ERROR_PREFIX = "score error:"

TOOL_FORMAT_INSTRUCTIONS = {
    "pythonic": (
        "To call tools, write <|tool_call_start|>[name(arg=value, ...)]<|tool_call_end|> "
        "(several calls in one list run in order). When you are done, answer in plain text without a tool call."
    ),
    "json": (
        'To call a tool, write <tool_call>{"name": "...", "arguments": {...}}</tool_call> '
        "(one block per call). When you are done, answer in plain text without a tool call."
    ),
}


def _short(exc: BaseException, limit: int = 500) -> str:
    """An exception's message for feedback: never raises (a hostile ``__str__``), never huge."""
    try:
        text = str(exc)
    except Exception:
        text = "<unprintable>"
    return text if len(text) <= limit else text[:limit] + "..."


def _loops_across_turns(messages: list[dict[str, Any]]) -> bool:
    """The episode ends in a cycle of turns (``stop_on_loop``)."""
    from lfmgym.rewards.episode_loops import episode_loop_verdict

    return episode_loop_verdict(messages, finished=None, turn_text=False).loop


def _call_word(call: ToolCall, render: Callable[[list[ToolCall]], str]) -> str:
    """One tool call as a single word for the repetition penalty; a call that cannot be
    rendered (a value built by an env, not the parser) falls back to its name."""
    try:
        return render([call]).replace(" ", "")
    except (ValueError, TypeError, RecursionError):
        return f"{call.name}(?)"


class Env(gymnasium.Env):
    """Base class of every lfmgym environment (see the module docstring for the episode flow).

    Class attributes a subclass sets:
        name: the registry name (``gymnasium.make("lfmgym/<name>")``).
        description: one line for ``lfmgym envs``.
        difficulties: the difficulty tiers ``generate_task`` understands.
        reward_weights: weight of each component returned by :meth:`score`; a component absent
            from this dict is a logged metric with weight 0.
        reward_range: the (min, max) the total reward can take; ``lfmgym check`` verifies it.
        default_max_turns: assistant messages allowed before truncation.
        tool_timeout: one deadline per tool call in seconds (``None``: no deadline, tools inline).

    Args:
        tool_format: ``"pythonic"`` (LFM2) or ``"json"`` (Hermes/Qwen).
        max_turns: override ``default_max_turns``.
        difficulty: fix the tier of generated tasks; ``None`` draws uniformly among tiers.
        difficulty_weights: optional ``{tier: weight}`` mix for drawing tiers instead (e.g. the
            ``difficulty_weights`` that ``lfmgym calibrate --out`` writes; JSON string keys are
            fine); tiers not listed are never drawn. Ignored when ``difficulty`` fixes a tier.
        tasks: a fixed list of tasks (e.g. loaded from a data file) to draw from instead of
            the generator.
        reward_weights: override entries of the class ``reward_weights``.
        repetition_weight: weight of the word-trigram repetition penalty (in [-1, 0]) that
            every env adds as the ``repetition`` component; 0 logs it only.
        stop_on_loop: end the episode early (truncated, ``info["truncation_reason"] == "loop"``)
            once it loops across turns: the same call with the same result, or the same message,
            again (:mod:`lfmgym.rewards.episode_loops`). Off by default.
        render_mode: ``None`` or ``"ansi"``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}
    name: ClassVar[str] = "env"
    description: ClassVar[str] = ""
    difficulties: ClassVar[tuple[int, ...]] = (0,)
    reward_weights: dict[str, float] = {}
    reward_range: tuple[float, float] = (0.0, 1.0)
    default_max_turns: ClassVar[int] = 4
    # One deadline per tool call (seconds, retries included) for tools that may block (network);
    # None runs tools inline. See lfmgym.tools.Toolbox.
    tool_timeout: ClassVar[float | None] = None

    def __init__(
        self,
        *,
        tool_format: str = "pythonic",
        max_turns: int | None = None,
        difficulty: int | None = None,
        difficulty_weights: Mapping[int | str, float] | None = None,
        tasks: Sequence[Task] | None = None,
        reward_weights: dict[str, float] | None = None,
        repetition_weight: float = 0.1,
        render_mode: str | None = None,
        stop_on_loop: bool = False,
    ):
        if tool_format not in FORMATS:
            raise ValueError(f"tool_format: {tool_format!r} is not one of {FORMATS}")
        if difficulty is not None and difficulty not in self.difficulties:
            raise ValueError(f"difficulty: {difficulty!r} is not one of {self.difficulties}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode: {render_mode!r} is not one of (None, 'ansi')")
        unknown = set(reward_weights or {}) - set(self.reward_weights) - {"repetition"}
        if unknown:
            raise ValueError(
                f"reward_weights: unknown component(s) {sorted(unknown)}; known: {sorted(self.reward_weights)}"
            )
        if max_turns is not None and (isinstance(max_turns, bool) or not isinstance(max_turns, (int, np.integer)) or max_turns < 1):
            raise ValueError(f"max_turns: expected a positive integer, got {max_turns!r:.60}")
        self.tool_format = tool_format
        self.max_turns = int(max_turns or self.default_max_turns)
        self.difficulty = difficulty
        self.difficulty_weights = self._check_difficulty_weights(difficulty_weights)
        if tasks is not None and (isinstance(tasks, (str, bytes, dict)) or not hasattr(tasks, "__iter__")):
            raise ValueError(f"tasks: expected a list of lfmgym.Task, got {type(tasks).__name__}")
        self.fixed_tasks = list(tasks) if tasks is not None else None
        bad = next((t for t in self.fixed_tasks or () if not isinstance(t, Task)), None)
        if bad is not None:
            raise ValueError(f"tasks: expected lfmgym.Task items, got {type(bad).__name__} (load data files "
                             "with the env's loader or its data-file argument)")
        for key, weight in {"repetition_weight": repetition_weight,
                            **{f"reward_weights[{k!r}]": w for k, w in (reward_weights or {}).items()}}.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
                raise ValueError(f"{key}: expected a finite number, got {weight!r:.60}")
        self.reward_weights = {**type(self).reward_weights, **(reward_weights or {})}
        self.repetition_weight = float(repetition_weight)
        self.reward_weights.setdefault("repetition", self.repetition_weight)
        if reward_weights and "repetition" in reward_weights:
            self.repetition_weight = float(reward_weights["repetition"])
        low, high = type(self).reward_range
        self.reward_range = (low - abs(self.reward_weights["repetition"]), high)
        self.render_mode = render_mode
        self.stop_on_loop = bool(stop_on_loop)
        self.observation_space = Messages()
        self.action_space = Text()
        self.episode: Episode | None = None
        self.toolbox = Toolbox()
        self._done = False

    def _check_difficulty_weights(self, weights: Mapping[int | str, float] | None) -> tuple[list[int], list[float]] | None:
        """``(tiers, cumulative probabilities)`` from a ``{tier: weight}`` mapping."""
        if weights is None:
            return None
        if not isinstance(weights, Mapping):
            raise ValueError(f"difficulty_weights: expected a {{tier: weight}} mapping, got {type(weights).__name__}")
        tiers, probs = [], []
        for key, w in weights.items():
            try:
                tier = int(key)  # JSON keys are strings
            except (TypeError, ValueError):
                raise ValueError(f"difficulty_weights: tier {key!r} is not an integer") from None
            if tier not in self.difficulties:
                raise ValueError(f"difficulty_weights: tier {tier} is not one of {self.difficulties}")
            try:
                weight = float(w)
            except (TypeError, ValueError):
                raise ValueError(f"difficulty_weights: weight of tier {tier} must be a number, got {w!r}") from None
            if not weight >= 0:
                raise ValueError(f"difficulty_weights: weight of tier {tier} must be >= 0, got {w!r}")
            tiers.append(tier)
            probs.append(weight)
        total = sum(probs)
        if total <= 0:
            raise ValueError("difficulty_weights: the weights must not all be zero")
        return tiers, list(itertools.accumulate(p / total for p in probs))

    def draw_difficulty(self, rng: np.random.Generator) -> int:
        """A tier for a generated task: from ``difficulty_weights`` when given, else uniform."""
        if self.difficulty_weights is None:
            return int(rng.choice(self.difficulties))
        tiers, cumulative = self.difficulty_weights
        return tiers[min(bisect.bisect_right(cumulative, rng.random()), len(tiers) - 1)]

    # ------------------------------------------------------------------ to implement

    def generate_task(self, rng: np.random.Generator, difficulty: int) -> Task:
        """Generate one task at ``difficulty`` from ``rng`` (deterministic for a given rng state)."""
        raise NotImplementedError(f"{type(self).__name__} has no procedural tasks; pass tasks=[...]")

    def tools(self, task: Task) -> list[Callable | tuple[str, Callable]]:
        """The tools available in this episode (fresh per episode when they hold state)."""
        return []

    def make_toolbox(self, task: Task) -> Toolbox:
        """The :class:`Toolbox` of an episode; by default built from :meth:`tools`. Override to
        offer non-executable tools (e.g. BFCL function docs answered with a neutral result)."""
        return Toolbox(self.tools(task), timeout_s=self.tool_timeout)

    def system_prompt(self, task: Task) -> str:
        """The env's instructions; tool schemas and format instructions are appended for you."""
        return "You are a helpful assistant."

    def score(self, task: Task, episode: Episode) -> dict[str, float]:
        """Reward components of a finished (or truncated) episode, each a float."""
        raise NotImplementedError(f"{type(self).__name__} must implement score(task, episode) -> "
                                  "{component: float}")

    def demonstrate(self, task: Task) -> list[dict[str, Any]]:
        """A gold trajectory for ``task``: :meth:`opening` followed by the ideal assistant and
        tool turns. Used by the oracle policy and by cold-start SFT."""
        raise NotImplementedError(f"{type(self).__name__} must implement demonstrate(task) -> messages "
                                  "(the oracle policy and cold-start SFT need a gold trajectory)")

    def handle_action(self, action: str, episode: Episode) -> tuple[list[dict[str, Any]], bool]:
        """Turn one assistant message into the feedback messages; return (messages, done).

        The default implements tool calling: parse with ``tool_format``, run each call, return
        one ``tool`` message per call; no call means a final answer (done). Override for other
        protocols (e.g. code cells).
        """
        parsed: ParseResult = parse_tool_calls(action, self.tool_format)
        if not parsed.ok:
            episode.parse_errors.append(parsed.error)
            return [{"role": "user", "content": self.parse_error_feedback(parsed.error)}], False
        if not parsed.calls:
            episode.final_answer = parsed.content
            return [], True
        feedback = []
        for call in parsed.calls:
            result = self.toolbox.call(call)
            episode.tool_calls.append(call)
            episode.tool_results.append(result.output)
            if result.error:
                episode.tool_errors.append(f"{result.error}: {result.output}")
            feedback.append({"role": "tool", "content": result.output})
        return feedback, False

    def parse_error_feedback(self, reason: str) -> str:
        return f"Error: your tool call could not be parsed ({reason}). {TOOL_FORMAT_INSTRUCTIONS[self.tool_format]}"

    # ------------------------------------------------------------------ provided

    def sample_task(self, rng: np.random.Generator | int | None = None, difficulty: int | None = None) -> Task:
        """One task: from the fixed list when there is one, else generated."""
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        if self.fixed_tasks is not None:
            if not self.fixed_tasks:
                raise ValueError("tasks: the fixed task list is empty")
            return self.fixed_tasks[int(rng.integers(len(self.fixed_tasks)))]
        if difficulty is None:
            difficulty = self.difficulty
        if difficulty is None:
            difficulty = self.draw_difficulty(rng)
        return self.generate_task(rng, difficulty)

    def make_tasks(self, n: int, seed: int = 0, difficulty: int | None = None) -> list[Task]:
        """``n`` tasks from one seed (a held-out set uses a different seed than training)."""
        if self.fixed_tasks is not None:
            rng = np.random.default_rng(seed)
            order = rng.permutation(len(self.fixed_tasks))
            return [self.fixed_tasks[int(i)] for i in order[:n]]
        rng = np.random.default_rng(seed)
        return [self.sample_task(rng, difficulty) for _ in range(n)]

    def opening(self, task: Task) -> list[dict[str, Any]]:
        """The first messages of an episode for ``task``: system prompt (with tools) and user."""
        toolbox = self.make_toolbox(task)
        return [
            {"role": "system", "content": self._render_system(task, toolbox)},
            {"role": "user", "content": task.prompt},
        ]

    def _render_system(self, task: Task, toolbox: Toolbox) -> str:
        text = self.system_prompt(task)
        if len(toolbox):
            schemas = ", ".join(json.dumps(s["function"], ensure_ascii=False) for s in toolbox.schemas)
            # "List of tools: [...]" is how LFM2/LFM2.5 chat templates present tools.
            text += "\nList of tools: [" + schemas + "]\n" + TOOL_FORMAT_INSTRUCTIONS[self.tool_format]
        return text

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Start an episode. ``options`` may hold ``task`` (a :class:`Task`), ``index`` (into the
        fixed task list) or ``difficulty``. Returns ``(messages, info)``."""
        super().reset(seed=seed)
        options = options or {}
        if "task" in options:
            task = options["task"]
            if not isinstance(task, Task):
                raise TypeError(f"options['task'] must be a Task, got {type(task).__name__}")
        elif "index" in options:
            if self.fixed_tasks is None:
                raise ValueError("options['index'] needs an env built with tasks=[...]")
            index = options["index"]
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(self.fixed_tasks):
                raise ValueError(f"options['index']: expected an integer in [0, {len(self.fixed_tasks)}), got {index!r:.60}")
            task = self.fixed_tasks[int(index)]
        else:
            difficulty = options.get("difficulty")
            if difficulty is not None and difficulty not in self.difficulties:
                raise ValueError(f"options['difficulty']: {difficulty!r:.60} is not one of {self.difficulties}")
            task = self.sample_task(self.np_random, difficulty)
        self.toolbox = self.make_toolbox(task)
        self.episode = Episode(task=task, messages=[])
        self.episode.messages = [
            {"role": "system", "content": self._render_system(task, self.toolbox)},
            {"role": "user", "content": task.prompt},
        ]
        self.on_reset(task, self.episode)
        self._done = False
        return self._observation(), {"task_id": task.id, "difficulty": task.difficulty}

    def on_reset(self, task: Task, episode: Episode) -> None:
        """Hook for env-specific per-episode state (called after the toolbox is built)."""

    def step(self, action: str):
        """Play one assistant message. Returns ``(messages, reward, terminated, truncated, info)``."""
        if self.episode is None or self._done:
            raise RuntimeError("call reset() before step() (the episode is over or never started)")
        ep = self.episode
        if not isinstance(action, str):
            action = "" if action is None else str(action)
        ep.turns += 1
        ep.messages.append({"role": "assistant", "content": action})
        errors_before = len(ep.parse_errors)
        try:
            feedback, terminated = self.handle_action(action, ep)
            feedback = list(feedback)
        except (Exception, SystemExit) as exc:  # an env bug (or a tool's sys.exit) is feedback, not a dead trainer
            message = f"{type(exc).__name__}: {_short(exc)}"
            ep.parse_errors.append(f"{ENV_ERROR_PREFIX} {message}")
            feedback, terminated = [{"role": "user", "content": f"Error: {message}"}], False
        ep.messages.extend(feedback)
        truncated = not terminated and ep.turns >= self.max_turns
        looped = self.stop_on_loop and not (terminated or truncated) and _loops_across_turns(ep.messages)
        truncated = truncated or looped
        info: dict[str, Any] = {
            "task_id": ep.task.id,
            "turn": ep.turns,
            "parse_ok": len(ep.parse_errors) == errors_before,
            "new_messages": feedback,
            "tool_calls": [c.to_dict() for c in ep.tool_calls],
            "tool_errors": list(ep.tool_errors),
            "parse_errors": list(ep.parse_errors),
        }
        if looped:
            info["truncation_reason"] = "loop"
        reward = 0.0
        if terminated or truncated:
            self._done = True
            components = self.reward_components(ep)
            reward = self.total_reward(components)
            info["reward_components"] = components
            info["final_answer"] = ep.final_answer
        return self._observation(), float(reward), bool(terminated), bool(truncated), info

    def reward_components(self, episode: Episode) -> dict[str, float]:
        """:meth:`score` plus the repetition penalty and episode metrics, all as floats."""
        from lfmgym.rewards.ngram import ngram_repetition_penalty

        try:
            components = {str(k): float(v) for k, v in self.score(episode.task, episode).items()}
            bad = sorted(k for k, v in components.items() if not math.isfinite(v))
            if bad:
                raise ValueError(f"non-finite reward component(s) {bad}")
        except Exception as exc:  # a scorer bug on junk output must not crash a trainer
            components = {k: 0.0 for k in self.reward_weights if k != "repetition"}
            components["score_error"] = 1.0
            episode.parse_errors.append(f"{SCORE_ERROR_PREFIX} {type(exc).__name__}: {_short(exc)}")
        try:
            text = self.repetition_text(episode)
            components["repetition"] = float(ngram_repetition_penalty(text, n=3, max_penalty=-1.0, unit="word"))
        except Exception as exc:  # same guarantee for the penalty every env adds
            components["repetition"] = 0.0
            components["score_error"] = 1.0
            episode.parse_errors.append(f"{SCORE_ERROR_PREFIX} repetition: {type(exc).__name__}: {_short(exc)}")
        components.setdefault("parse_ok", float(not episode.parse_errors))
        components.setdefault("tool_calls", float(len(episode.tool_calls)))
        components.setdefault("tool_errors", float(len(episode.tool_errors)))
        components.setdefault("turns", float(episode.turns))
        return components

    def repetition_text(self, episode: Episode) -> str:
        """The text the repetition penalty reads: the assistant's words, with each tool call
        collapsed to one word, so the format's markup (identical in every call) is not
        mistaken for repetition while a call repeated over and over still is."""
        from lfmgym.toolcalls import render_python_call_list

        parts = []
        for text in episode.assistant_texts:
            parsed = parse_tool_calls(text, self.tool_format)
            if not parsed.ok:
                parts.append(text)
                continue
            calls = " ".join(_call_word(c, render_python_call_list) for c in parsed.calls)
            parts.append(f"{parsed.content} {calls}".strip())
        return "\n".join(parts)

    def total_reward(self, components: dict[str, float], weights: Mapping[str, float] | None = None) -> float:
        """Weighted sum of the components (weight 0 or absent = metric only).

        The one weighted sum of lfmgym (:class:`lfmgym.rewards.compose.WeightedSum`): the env's
        ``reward_weights``, or ``weights`` when a trainer adds rewards of its own (GRPO's token
        n-gram penalty) so they are composed the same way. A weighted component the episode did
        not produce counts 0.
        """
        from lfmgym.rewards.compose import WeightedSum

        weights = self.reward_weights if weights is None else weights
        total, _ = WeightedSum(weights, missing="zero")(components)
        return float(total)

    def success(self, components: dict[str, float]) -> bool:
        """Whether an episode with these components solved its task (eval's success rate, pass@k).

        Default: a ``success`` or ``correct`` component reached 1 when the env reports one; else
        the weighted task reward (the repetition penalty aside) reached the top of ``reward_range``.
        Override when an env has a better notion.
        """
        for key in ("success", "correct"):
            if key in components:
                return components[key] >= 1.0 - 1e-9
        task_reward = sum(w * components.get(k, 0.0) for k, w in self.reward_weights.items() if k != "repetition")
        return task_reward >= type(self).reward_range[1] - 1e-6

    def score_transcript(self, task: Task, messages: list[dict[str, Any]]) -> tuple[float, dict[str, float]]:
        """Replay a full transcript's assistant turns through a fresh episode of ``task`` and score it.

        Used to score demonstrations and saved rollouts with exactly the rules of :meth:`step`.
        """
        self.reset(options={"task": task})
        reward, info = 0.0, {}
        for m in messages[2:]:
            if m["role"] != "assistant":
                continue
            _, reward, term, trunc, info = self.step(m["content"])
            if term or trunc:
                break
        return reward, info.get("reward_components", {})

    def _observation(self) -> list[dict[str, Any]]:
        return [dict(m) for m in self.episode.messages]

    def render(self) -> str | None:
        if self.render_mode != "ansi" or self.episode is None:
            return None
        return "\n".join(f"[{m['role']}] {m['content']}" for m in self.episode.messages)

    def close(self) -> None:
        self.episode = None
