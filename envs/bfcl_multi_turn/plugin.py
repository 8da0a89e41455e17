"""The bfcl_multi_turn plugin: registers the ``bfcl_multi_turn`` environment through lfmgym's
hooks, exactly as a third-party plugin would."""

from __future__ import annotations

from lfmgym import Spec, hookimpl

VERSION = "0.1"


@hookimpl
def lfmgym_environments():
    from lfmgym.envs.bfcl_multi_turn.env import BfclMultiTurnEnv

    return [Spec("bfcl_multi_turn", BfclMultiTurnEnv, BfclMultiTurnEnv.description, VERSION)]
