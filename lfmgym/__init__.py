"""lfmgym: a plugin-based reinforcement-learning gym for tiny agentic language models.

Public contracts::

    from lfmgym import Env, Task, Episode, Spec, hookimpl, make

    env = make("math")                      # any registered environment
    messages, info = env.reset(seed=0)
    messages, reward, terminated, truncated, info = env.step("The answer is 4.")

``import lfmgym`` also registers every plugin environment with gymnasium, so
``gymnasium.make("lfmgym/math")`` works.
"""

from lfmgym.env import Env, Episode, Task
from lfmgym.plugins import Spec, get_registry, hookimpl, make_env
from lfmgym.toolcalls import ToolCall, parse_tool_calls, render_tool_calls

__version__ = "0.1.0"

__all__ = [
    "Env",
    "Episode",
    "Task",
    "Spec",
    "hookimpl",
    "get_registry",
    "make",
    "make_env",
    "ToolCall",
    "parse_tool_calls",
    "render_tool_calls",
    "__version__",
]

make = make_env


def _register_with_gymnasium() -> None:
    # Never make `import lfmgym` fail because of a plugin: broken ones are reported, not raised.
    try:
        from lfmgym.plugins import register_gymnasium_envs

        register_gymnasium_envs()
    except Exception as exc:
        import sys

        print(f"lfmgym: could not register gymnasium ids: {exc}", file=sys.stderr)


_register_with_gymnasium()
