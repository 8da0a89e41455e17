"""The long-context plugin: registers ``long_context`` (the REPL env) and ``long_context_direct``
(the same tasks answered directly, the baseline) through lfmgym's hooks, exactly as a
third-party plugin would."""

from __future__ import annotations

from lfmgym import Spec, hookimpl

VERSION = "0.2"


@hookimpl
def lfmgym_environments():
    from lfmgym.envs.long_context.direct import LongContextDirectEnv
    from lfmgym.envs.long_context.env import LongContextEnv

    return [Spec("long_context", LongContextEnv, LongContextEnv.description, VERSION),
            Spec("long_context_direct", LongContextDirectEnv, LongContextDirectEnv.description, VERSION)]
