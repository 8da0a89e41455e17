"""Sub-models for ``llm_query``: what answers the calls the model makes from its REPL.

In a Recursive Language Model the sub-calls are made by the model itself, so by default a rollout
gives the env its own policy (:func:`lfmgym.rollout.run_episodes` calls ``env.set_sub_model``).
The env's ``sub_model`` argument chooses otherwise, as a string (:func:`resolve_sub_model`):

==========================  ================================================================
``"policy"`` (default)      the policy being rolled out, set by the rollout engine
``"oracle"``                answers every labelling prompt of the semantic families correctly,
                            from the generator's labels (tests, ``lfmgym check``, upper bounds)
``"keyword"``               answers them with a keyword rule: what plain code gets
``"none"``                  no ``llm_query`` (the prompt says so; calls are refused)
``"openai:<url>"``          an OpenAI-compatible endpoint (``sub_model_args={"model": ...}``)
``<preset or checkpoint>``  a separate model run with transformers (a preset name or a path)
==========================  ================================================================

or as any callable ``messages -> str``. Adapters from objects a run already has::

    env.set_sub_model(policy_sub_model(policy))
    env.set_sub_model(backend_sub_model(backend, max_new_tokens=512))

Tokens: every sub-call's prompt and reply are counted (:func:`token_counter`) with the
sub-model's own tokenizer when it can be reached (a transformers backend, or the policy's),
otherwise estimated at 4 characters per token.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from lfmgym.env import Task

from lfmgym.envs.long_context.repl import Messages, SubModel
from lfmgym.envs.long_context.semantic import keyword_sub_model, oracle_sub_model

__all__ = ["policy_sub_model", "backend_sub_model", "resolve_sub_model", "PerTaskSubModel", "no_sub_model", "token_counter",
           "CHARS_PER_TOKEN"]

_SUB_TASK = Task(id="long_context-sub-call", prompt="", answer="")
CHARS_PER_TOKEN = 4.0  # the estimate when no tokenizer is reachable

_BACKENDS: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}  # one load per process and spec


def policy_sub_model(policy: Any, task: Task | None = None) -> SubModel:
    """``llm_query`` answered by a rollout policy (anything with ``act(observations, tasks)``)."""

    def sub_model(messages: Messages) -> str:
        return policy.act([messages], [task or _SUB_TASK])[0].text

    sub_model.backend = getattr(policy, "backend", None)  # type: ignore[attr-defined]  # for token_counter
    return sub_model


def backend_sub_model(backend: Any, *, max_new_tokens: int = 512, temperature: float = 0.0,
                      top_p: float = 1.0, seed: int | None = 0) -> SubModel:
    """``llm_query`` answered by a :class:`lfmgym.backends.base.GenerationBackend`."""

    def sub_model(messages: Messages) -> str:
        return backend.generate([messages], n=1, temperature=temperature, top_p=top_p,
                                max_new_tokens=max_new_tokens, seed=seed)[0][0].text

    sub_model.backend = backend  # type: ignore[attr-defined]
    return sub_model


def no_sub_model(messages: Messages) -> str:
    """The sub-model of ``sub_model="none"``: every call is refused (the rollout engine leaves it be)."""
    raise RuntimeError("llm_query is not available in this run")


class PerTaskSubModel:
    """A sub-model that depends on the task (the oracles): ``for_task(task)`` gives the callable."""

    def __init__(self, name: str, make: Callable[[Task], SubModel]):
        self.name = name
        self.make = make

    def for_task(self, task: Task) -> SubModel:
        return self.make(task)

    def __call__(self, messages: Messages) -> str:
        raise RuntimeError(f"the {self.name!r} sub-model answers only inside an episode (for_task)")

    def __repr__(self) -> str:
        return f"PerTaskSubModel({self.name!r})"


def resolve_sub_model(spec: str | SubModel | None, *, args: dict[str, Any] | None = None,
                      max_new_tokens: int = 256) -> SubModel | None:
    """The callable behind ``llm_query`` for the env's ``sub_model`` argument (see the module docstring).

    ``None`` / ``"policy"`` give ``None``: the rollout engine then sets the policy. A model spec is
    loaded once per process (:func:`lfmgym.backends.get_backend` with ``args``).
    """
    if spec is None or callable(spec):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"sub_model: expected 'policy', 'oracle', 'keyword', 'openai:<url>', a model preset or "
                         f"checkpoint path, or a callable; got {spec!r}")
    spec = spec.strip()
    if spec == "policy":
        return None
    if spec == "none":
        return no_sub_model
    if spec == "oracle":
        return PerTaskSubModel("oracle", oracle_sub_model)
    if spec == "keyword":
        return PerTaskSubModel("keyword", keyword_sub_model)
    if not _looks_like_model(spec):
        raise ValueError(f"sub_model: {spec!r} is none of 'policy', 'oracle', 'keyword', 'none', 'openai:<url>', "
                         "a model preset, an existing checkpoint path or a hub id (owner/name)")
    args = dict(args or {})
    key = (spec, tuple(sorted((k, repr(v)) for k, v in args.items())))
    if key not in _BACKENDS:
        from lfmgym.backends import get_backend

        _BACKENDS[key] = get_backend(spec, **args)
    return backend_sub_model(_BACKENDS[key], max_new_tokens=max_new_tokens)


def _looks_like_model(spec: str) -> bool:
    from pathlib import Path

    from lfmgym.model.presets import PRESETS

    if spec.startswith(("openai:", "vllm:", "transformers:", "http://", "https://")) or spec in PRESETS:
        return True
    if Path(spec).expanduser().exists() or re.fullmatch(r"[\w.-]+/[\w.-]+", spec):
        return True
    try:  # named checkpoints of the model package (e.g. smollm2-135m), when it has them
        from lfmgym.model.pretrained import CHECKPOINTS
    except ImportError:
        return False
    return spec in CHECKPOINTS


def token_counter(sub_model: Any) -> tuple[Callable[[str], int], bool]:
    """``(count, exact)``: tokens of a text for ``sub_model``; exact when its tokenizer is reachable.

    The tokenizer is looked for on the callable's ``backend`` (the adapters above) or, for a bound
    method such as :meth:`lfmgym.rollout.ModelPolicy.chat`, on its object's backend.
    """
    backend = getattr(sub_model, "backend", None) or getattr(getattr(sub_model, "__self__", None), "backend", None)
    tokenizer = getattr(backend, "tokenizer", None)
    if tokenizer is not None and callable(getattr(tokenizer, "encode", None)):
        return (lambda text: len(tokenizer.encode(text, add_special_tokens=False))), True
    return (lambda text: math.ceil(len(text) / CHARS_PER_TOKEN)), False
