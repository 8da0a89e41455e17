"""Math environments: ``math`` (answer in text) and ``math_calculator`` (with a safe calculator).

::

    import lfmgym
    from lfmgym.envs.math import load_tasks

    env = lfmgym.make("math_calculator", difficulty=2)          # 3-digit addition
    gsm8k = lfmgym.make("math", tasks=load_tasks("openai/gsm8k", split="test"))
"""

from lfmgym.envs.math.calculator import calculator, evaluate
from lfmgym.envs.math.data import load_tasks
from lfmgym.envs.math.env import MathCalculatorEnv, MathEnv
from lfmgym.envs.math.generators import TIER_NAMES

__all__ = ["MathEnv", "MathCalculatorEnv", "load_tasks", "calculator", "evaluate", "TIER_NAMES"]
