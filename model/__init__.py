"""Models for lfmgym: LFM2 hybrid presets, a small tokenizer, parameter breakdowns, operator profiling.

- :mod:`lfmgym.model.presets`: ``PRESETS``, ``preset_config``, ``build_model`` (``tiny``, ``small``,
  ``lfm2-350m``, ``lfm2-700m``, ``lfm2-1.2b``);
- :mod:`lfmgym.model.tokenizer`: ``train_tokenizer`` (byte-level BPE, LFM2 special tokens, LFM2.5
  chat template from TRL), ``default_corpus``;
- :mod:`lfmgym.model.loading`: ``load_model_and_tokenizer`` (preset, local dir or hub id), ``save``;
- :mod:`lfmgym.model.info`: ``param_breakdown`` (embedding share, effective parameters);
- :mod:`lfmgym.model.profile`: ``run_profile`` (short conv vs GQA vs SWA vs gated DeltaNet);
- :mod:`lfmgym.model.cli`: the ``lfmgym model`` commands.

The main functions are also reachable from here (``lfmgym.model.load_model_and_tokenizer``);
they are imported on first use so ``import lfmgym.model`` does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PRESETS": "presets",
    "preset_config": "presets",
    "build_model": "presets",
    "train_tokenizer": "tokenizer",
    "default_corpus": "tokenizer",
    "load_model_and_tokenizer": "loading",
    "save": "loading",
    "param_breakdown": "info",
    "run_profile": "profile",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
