"""Generation backends: one interface (:class:`GenerationBackend`), three engines.

``get_backend(spec)`` picks the engine from a string, as the command line does::

    get_backend("tiny")                                   # preset / local dir / hub id -> transformers
    get_backend("openai:http://localhost:8000/v1")        # any OpenAI-compatible endpoint
    get_backend("http://localhost:8000/v1", model="m")    # same, a bare URL
    get_backend("vllm:LiquidAI/LFM2-350M")                # in-process vLLM (GPU only)

Heavy engines are imported only when asked for, so ``import lfmgym.backends`` stays cheap.
"""

from __future__ import annotations

from typing import Any

from lfmgym.backends.base import BackendError, Generation, GenerationBackend, SamplingParams

__all__ = ["BackendError", "Generation", "GenerationBackend", "SamplingParams", "get_backend", "BACKEND_KINDS"]

BACKEND_KINDS = ("transformers", "openai", "vllm")


def get_backend(spec: str, **kwargs: Any) -> GenerationBackend:
    """Build a backend from ``spec``.

    Args:
        spec: ``openai:<base_url>`` or a bare ``http(s)://`` URL (OpenAI-compatible endpoint),
            ``vllm:<model>`` (in-process vLLM), ``transformers:<model>`` or just ``<model>``
            (a preset name such as ``tiny``, a local directory or a hub id, run with transformers).
        **kwargs: passed to the backend's constructor (``OpenAIBackend``, ``VLLMBackend``) or to
            ``TransformersBackend.from_pretrained``; ``None`` values are dropped so a CLI can
            forward its optional flags unconditionally.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"backend spec: expected a model name, path or URL, got {spec!r}")
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    spec = spec.strip()
    kind, _, rest = spec.partition(":")
    if spec.startswith(("http://", "https://")):
        kind, rest = "openai", spec
    if kind == "openai":
        from lfmgym.backends.openai_backend import OpenAIBackend

        if not rest:
            raise ValueError("backend spec: 'openai:' needs a base URL, e.g. openai:http://localhost:8000/v1")
        return OpenAIBackend(rest, **kwargs)
    if kind == "vllm":
        from lfmgym.backends.vllm_backend import VLLMBackend

        if not rest:
            raise ValueError("backend spec: 'vllm:' needs a model, e.g. vllm:LiquidAI/LFM2-350M")
        return VLLMBackend(rest, **kwargs)
    if kind == "transformers" and rest:
        spec = rest
    if spec.startswith(("/", "./", "../", "~")):
        from pathlib import Path

        # A path, not a preset or hub id: say so plainly rather than let the hub client
        # complain that it is a malformed repo id.
        if not Path(spec).expanduser().exists():
            raise FileNotFoundError(f"model {spec!r}: no such file or directory")
    from lfmgym.backends.transformers_backend import TransformersBackend

    return TransformersBackend.from_pretrained(spec, **kwargs)
