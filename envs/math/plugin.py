"""The math plugin: registers the ``math`` and ``math_calculator`` environments and the
``calculator`` tool through lfmgym's hooks, exactly as a third-party plugin would."""

from __future__ import annotations

from lfmgym import Spec, hookimpl

VERSION = "0.1"


def _calculator_tool():
    from lfmgym.envs.math.calculator import calculator

    return calculator


@hookimpl
def lfmgym_environments():
    from lfmgym.envs.math.env import MathCalculatorEnv, MathEnv

    return [
        Spec("math", MathEnv, MathEnv.description, VERSION),
        Spec("math_calculator", MathCalculatorEnv, MathCalculatorEnv.description, VERSION),
    ]


@hookimpl
def lfmgym_tools():
    return [Spec("calculator", _calculator_tool, "Exact, size-bounded arithmetic evaluated with ast (no eval)", VERSION)]
