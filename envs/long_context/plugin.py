"""The long-context plugin: registers the ``long_context`` environment through lfmgym's hooks,
exactly as a third-party plugin would."""

from __future__ import annotations

from lfmgym import Spec, hookimpl

VERSION = "0.1"


@hookimpl
def lfmgym_environments():
    from lfmgym.envs.long_context.env import LongContextEnv

    return [Spec("long_context", LongContextEnv, LongContextEnv.description, VERSION)]
