"""Sub-models for ``llm_query``: adapters from what a run already has to ``messages -> str``.

In a Recursive Language Model the sub-calls are made by the model itself, so a rollout should
give the env its own policy::

    env.set_sub_model(policy_sub_model(policy))

or, with only a generation backend at hand (e.g. a bigger model serving sub-calls)::

    env.set_sub_model(backend_sub_model(backend, max_new_tokens=512))
"""

from __future__ import annotations

from typing import Any

from lfmgym.env import Task

from lfmgym.envs.long_context.repl import Messages, SubModel

__all__ = ["policy_sub_model", "backend_sub_model"]

_SUB_TASK = Task(id="long_context-sub-call", prompt="", answer="")


def policy_sub_model(policy: Any, task: Task | None = None) -> SubModel:
    """``llm_query`` answered by a rollout policy (anything with ``act(observations, tasks)``)."""

    def sub_model(messages: Messages) -> str:
        return policy.act([messages], [task or _SUB_TASK])[0].text

    return sub_model


def backend_sub_model(backend: Any, *, max_new_tokens: int = 512, temperature: float = 0.0,
                      top_p: float = 1.0, seed: int | None = 0) -> SubModel:
    """``llm_query`` answered by a :class:`lfmgym.backends.base.GenerationBackend`."""

    def sub_model(messages: Messages) -> str:
        return backend.generate([messages], n=1, temperature=temperature, top_p=top_p,
                                max_new_tokens=max_new_tokens, seed=seed)[0][0].text

    return sub_model
