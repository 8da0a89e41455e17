"""A small env used by the core tests: look up a capital with a tool (one tool raises on purpose)."""

from lfmgym import Env, Episode, Task
from lfmgym.toolcalls import ToolCall, render_tool_calls

CAPITALS = {"france": "Paris", "japan": "Tokyo", "peru": "Lima", "kenya": "Nairobi"}


def capital(country: str) -> str:
    """Look up the capital city of a country.

    Args:
        country: The country name in English.
    """
    return CAPITALS[country.lower()]  # KeyError for an unknown country -> error message in the episode


def divide(a: float, b: float) -> float:
    """Divide two numbers.

    Args:
        a: The dividend.
        b: The divisor.
    """
    return a / b


class CapitalsEnv(Env):
    name = "capitals"
    description = "Find a country's capital with a lookup tool."
    difficulties = (0,)
    reward_weights = {"correct": 1.0}
    reward_range = (0.0, 1.0)
    default_max_turns = 3

    def generate_task(self, rng, difficulty):
        country = str(rng.choice(sorted(CAPITALS)))
        return Task(id=f"capital-{country}", prompt=f"What is the capital of {country.title()}?",
                    answer=CAPITALS[country], meta={"country": country})

    def tools(self, task):
        return [capital, divide]

    def score(self, task: Task, episode: Episode):
        return {"correct": float((episode.final_answer or "").strip() == task.answer)}

    def demonstrate(self, task):
        call = ToolCall("capital", {"country": task.meta["country"]})
        return self.opening(task) + [
            {"role": "assistant", "content": render_tool_calls([call], self.tool_format)},
            {"role": "tool", "content": task.answer},
            {"role": "assistant", "content": task.answer},
        ]
