"""``long_context``: answer questions about inputs of 10k to over 1M characters through a Python REPL.

Recursive-Language-Model style: the long input never enters the prompt. It sits in a sandboxed
Python REPL (:mod:`lfmgym.sandbox`) as ``context``; the prompt gives only its type, total length
and chunk lengths, the question, and the REPL protocol (:mod:`.repl`). The model writes ```repl
code cells to inspect it, may call ``llm_query(prompt)`` on pieces of it, and answers with
``FINAL(text)``, ``FINAL_VAR("name")`` or ``answer["content"]`` + ``answer["ready"] = True``.

The sub-model behind ``llm_query`` is, by default, the policy being rolled out (the rollout
engine calls :meth:`LongContextEnv.set_sub_model`); ``sub_model=`` chooses an oracle, a keyword
rule, a separate checkpoint or an OpenAI-compatible endpoint instead (:mod:`.submodel`), or
``"none"`` to leave ``llm_query`` out. Every sub-call's tokens are counted into the episode.

Difficulty = context length tier (:data:`.tasks.LENGTHS`: 10k, 50k, 250k, 1M characters); the
family is drawn at random: four procedural ones that code alone solves (needle, aggregation,
multi_hop, pairwise) and three semantic ones whose labels only a model can read
(sentiment_count, ticket_count, label_aggregate; :mod:`.semantic`). The number of items needing
a judgment grows with the length. :class:`.direct.LongContextDirectEnv` plays the same tasks with
the context in the prompt and no REPL: the baseline that says whether the REPL helps.

Reward components:
    ``correct`` (weight 1.0): normalized exact match of the final answer with the gold answer
        (:func:`lfmgym.rewards.qa.exact_match`).
    metrics (weight 0): ``f1`` (token F1), ``answered``, ``cells_run``, ``cell_errors``,
        ``sub_calls``, ``sub_call_errors``, ``sub_call_depth``, ``sub_tokens`` (prompt and reply
        tokens of every sub-model call, nested ones included), ``answer_from_variable``
        (FINAL_VAR or the ``answer`` dict, rather than a literal FINAL).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from lfmgym.env import Env, Episode, Task

from lfmgym.envs.long_context.repl import ReplSession, SubCallBudget, SubModel, system_prompt
from lfmgym.envs.long_context.semantic import oracle_sub_model
from lfmgym.envs.long_context.submodel import PerTaskSubModel, resolve_sub_model, token_counter
from lfmgym.envs.long_context.tasks import LENGTHS, check_task_args, context_summary, generate

__all__ = ["LongContextEnv"]


class LongContextEnv(Env):
    """See the module docstring.

    Args:
        families: task families to draw from, or the groups ``"procedural"`` / ``"semantic"``
            (default: all of :data:`.tasks.FAMILIES`).
        context_lengths: ``{tier: characters}`` overriding :data:`.tasks.LENGTHS`.
        sub_model: what answers ``llm_query``: ``"policy"`` (default: set by the rollout engine),
            ``"oracle"``, ``"keyword"``, ``"none"``, ``"openai:<url>"``, a model preset or
            checkpoint path, or a callable ``messages -> str`` (see :mod:`.submodel`).
        sub_model_args: constructor arguments of a model sub-model's backend (e.g.
            ``{"model": "served-name"}`` for an endpoint, ``{"device": "cpu"}``).
        sub_max_new_tokens: reply cap of a model sub-model.
        max_sub_calls: ``llm_query`` calls per episode, all depths together.
        max_sub_tokens: sub-model tokens (prompts and replies) per episode; ``None`` = no limit.
        max_depth: 1 = ``llm_query`` is a plain model call; 2+ = sub-calls are REPL episodes too.
        sub_prompt_chars: the longest prompt ``llm_query`` accepts.
        sub_max_turns: turns of a nested REPL episode (``max_depth > 1``).
        output_chars: characters of each cell's output shown to the model.
        max_cells_per_turn: ```repl blocks run per assistant message.
        cell_timeout, episode_timeout, memory_mb: sandbox limits (seconds, seconds, MiB).
        unsafe_sandbox: run the REPL without bubblewrap isolation (warns; never for training on
            a shared machine).
        **kwargs: see :class:`lfmgym.Env`.
    """

    name: ClassVar[str] = "long_context"
    description: ClassVar[str] = "Answer questions about 10k-1M character inputs through a Python REPL (RLM-style)"
    difficulties: ClassVar[tuple[int, ...]] = tuple(LENGTHS)
    reward_weights = {"correct": 1.0}
    reward_range = (0.0, 1.0)
    default_max_turns: ClassVar[int] = 8

    def __init__(
        self,
        *,
        families: Sequence[str] | None = None,
        context_lengths: dict[int, int] | None = None,
        sub_model: str | SubModel | None = "policy",
        sub_model_args: dict[str, Any] | None = None,
        sub_max_new_tokens: int = 256,
        max_sub_calls: int = 32,
        max_sub_tokens: int | None = None,
        max_depth: int = 1,
        sub_prompt_chars: int = 50_000,
        sub_max_turns: int = 4,
        output_chars: int = 4_000,
        max_cells_per_turn: int = 4,
        cell_timeout: float = 10.0,
        episode_timeout: float = 120.0,
        memory_mb: int = 1024,
        unsafe_sandbox: bool = False,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.families, self.context_lengths = check_task_args(families, context_lengths)
        for field_name, value in (("max_sub_calls", max_sub_calls), ("max_depth", max_depth),
                                  ("sub_prompt_chars", sub_prompt_chars), ("sub_max_turns", sub_max_turns),
                                  ("output_chars", output_chars), ("max_cells_per_turn", max_cells_per_turn)):
            if int(value) < (0 if field_name == "max_sub_calls" else 1):
                raise ValueError(f"{field_name}: must be positive, got {value!r}")
        if max_sub_tokens is not None and int(max_sub_tokens) < 1:
            raise ValueError(f"max_sub_tokens: must be positive or None, got {max_sub_tokens!r}")
        self.llm_query_enabled = sub_model != "none"
        self.sub_model = resolve_sub_model(sub_model, args=sub_model_args, max_new_tokens=int(sub_max_new_tokens))
        self.max_sub_calls = int(max_sub_calls)
        self.max_sub_tokens = None if max_sub_tokens is None else int(max_sub_tokens)
        self.max_depth = int(max_depth)
        self.sub_prompt_chars = int(sub_prompt_chars)
        self.sub_max_turns = int(sub_max_turns)
        self.output_chars = int(output_chars)
        self.max_cells_per_turn = int(max_cells_per_turn)
        self.sandbox_options = {
            "cell_timeout": float(cell_timeout),
            "episode_timeout": float(episode_timeout),
            "memory_mb": int(memory_mb),
            "unsafe": bool(unsafe_sandbox),
        }
        self.session: ReplSession | None = None

    def set_sub_model(self, sub_model: SubModel | None) -> None:
        """Set the callable behind ``llm_query`` (``messages -> str``); applies from the next reset.

        A rollout should pass the policy being trained (see :func:`.submodel.policy_sub_model`),
        so sub-calls are made by the model itself, as in a Recursive Language Model.
        """
        if sub_model is not None and not callable(sub_model):
            raise ValueError("sub_model: must be a callable taking chat messages and returning text")
        self.sub_model = sub_model
        self.llm_query_enabled = sub_model is not None or self.llm_query_enabled
        if self.session is not None and self.episode is not None:
            if isinstance(sub_model, PerTaskSubModel):
                sub_model = sub_model.for_task(self.episode.task)
            self.session.sub_model = sub_model
            self.session.budget.count = token_counter(sub_model)[0]

    def oracle_sub_model(self) -> SubModel:
        """The sub-model that answers every labelling prompt correctly: what an oracle policy
        (``OraclePolicy``: replaying :meth:`demonstrate`, as ``lfmgym check`` does) calls through."""
        return PerTaskSubModel("oracle", oracle_sub_model)

    # ------------------------------------------------------------------ tasks

    def generate_task(self, rng: np.random.Generator, difficulty: int) -> Task:
        task = generate(rng, difficulty, self.families, self.context_lengths)
        task.prompt = self._user_prompt(task)
        return task

    def _user_prompt(self, task: Task) -> str:
        return (f"Question: {task.meta['question']}\n\n"
                f"The context is {context_summary(task.meta['context'])}. It is loaded in the REPL as "
                "`context` and is not shown here.")

    def _new_session(self, task: Task, sub_model: SubModel | None = None) -> ReplSession:
        if "context" not in task.meta:
            raise ValueError(f"task {task.id}: meta['context'] (the long input) is missing")
        sub_model = sub_model or self.sub_model
        if isinstance(sub_model, PerTaskSubModel):
            sub_model = sub_model.for_task(task)
        count, _ = token_counter(sub_model)
        return ReplSession(
            task.meta["context"],
            sub_model=sub_model,
            budget=SubCallBudget(limit=self.max_sub_calls, token_limit=self.max_sub_tokens, count=count),
            max_depth=self.max_depth,
            sub_prompt_chars=self.sub_prompt_chars,
            sub_max_turns=self.sub_max_turns,
            output_chars=self.output_chars,
            max_cells_per_turn=self.max_cells_per_turn,
            sandbox_options=self.sandbox_options,
        )

    def system_prompt(self, task: Task) -> str:
        return system_prompt(_PromptOnly(self))  # type: ignore[arg-type]

    def on_reset(self, task: Task, episode: Episode) -> None:
        # reset() rendered the system prompt before this hook; the session only adds the REPL.
        if self.session is not None:
            self.session.close()
        self.session = self._new_session(task)

    # ------------------------------------------------------------------ the REPL turn

    def handle_action(self, action: str, episode: Episode) -> tuple[list[dict[str, Any]], bool]:
        assert self.session is not None
        outcome = self.session.step(action)
        episode.state.update(self._metrics())
        if outcome.final is not None:
            episode.final_answer = outcome.final.text
            episode.state["answer_from_variable"] = float(outcome.final.from_variable)
            episode.state["answer_via"] = outcome.final.via
            self.session.close()
            return [], True
        return [{"role": "user", "content": outcome.feedback}], False

    def _metrics(self) -> dict[str, float]:
        assert self.session is not None
        budget = self.session.budget
        return {
            "cells_run": float(self.session.cells_run),
            "cell_errors": float(self.session.cell_errors),
            "sub_calls": float(budget.calls),
            "sub_call_errors": float(budget.errors),
            "sub_call_depth": float(budget.max_depth_used),
            "sub_tokens": float(budget.tokens),
        }

    # ------------------------------------------------------------------ scoring

    def score(self, task: Task, episode: Episode) -> dict[str, float]:
        from lfmgym.rewards.qa import exact_match, token_f1

        aliases = [str(a) for a in task.answer] if isinstance(task.answer, (list, tuple)) else [str(task.answer)]
        pred = episode.final_answer
        names = ("cells_run", "cell_errors", "sub_calls", "sub_call_errors", "sub_call_depth", "sub_tokens",
                 "answer_from_variable")
        metrics = {k: float(episode.state.get(k, 0.0)) for k in names}
        return {
            "correct": float(exact_match(pred, aliases)) if pred else 0.0,
            "f1": float(token_f1(pred, aliases)) if pred else 0.0,
            "answered": float(pred is not None),
            **metrics,
        }

    # ------------------------------------------------------------------ demonstrations

    def demonstrate(self, task: Task) -> list[dict[str, Any]]:
        """The gold code cells of ``task`` with the REPL output they really produce.

        The ``llm_query`` calls of a semantic task are answered correctly (:func:`.semantic.oracle_sub_model`),
        whatever the env's sub-model: a demonstration shows what a right sub-call returns.
        """
        cells = task.meta.get("gold_cells")
        if not cells:
            raise ValueError(f"task {task.id}: meta['gold_cells'] (the gold trajectory) is missing")
        messages = self.opening(task)
        session = self._new_session(task, oracle_sub_model(task) if "labels" in task.meta else None)
        try:
            for cell in cells:
                messages.append({"role": "assistant", "content": cell})
                outcome = session.step(cell)
                if outcome.final is not None:
                    return messages
                messages.append({"role": "user", "content": outcome.feedback})
        finally:
            session.close()
        raise ValueError(f"task {task.id}: the gold cells never gave a final answer")

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
        super().close()


class _PromptOnly:
    """The settings :func:`.repl.system_prompt` reads, without starting a sandbox."""

    def __init__(self, env: LongContextEnv):
        self.llm_query_enabled = env.llm_query_enabled
        self.sub_prompt_chars = env.sub_prompt_chars
        self.output_chars = env.output_chars
        self.budget = SubCallBudget(limit=env.max_sub_calls)
