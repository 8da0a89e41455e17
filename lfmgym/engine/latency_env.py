"""An env whose steps take time, like a search API or a sandbox: for engine tests and benchmarks.

Every assistant turn is a "tool call" that waits a latency drawn from the episode's seed (uniform
in ``[min_latency_s, max_latency_s]``), then answers with a tool message; the episode ends after
``max_turns`` turns (truncated). The reward is deterministic in the text the policy wrote, so two
engines that play the same episodes give the same rewards.
"""

from __future__ import annotations

import time
import zlib

import numpy as np

from lfmgym.env import Env, Episode, Task

__all__ = ["LatencyEnv"]


class LatencyEnv(Env):
    name = "latency"
    description = "Every turn waits a seeded random latency (a slow tool); ends after max_turns."
    difficulties = (0,)
    reward_weights = {"score": 1.0}
    reward_range = (0.0, 1.0)
    default_max_turns = 4

    def __init__(self, *, min_latency_s: float = 0.05, max_latency_s: float = 0.5, sleep_on_turn: int | None = None,
                 sleep_s: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.min_latency_s, self.max_latency_s = float(min_latency_s), float(max_latency_s)
        # One chosen turn of one chosen task may hang (tests of the per-step limit).
        self.sleep_on_turn, self.sleep_s = sleep_on_turn, float(sleep_s)
        self._rng = np.random.default_rng(0)

    def generate_task(self, rng, difficulty):
        k = int(rng.integers(1_000_000))
        return Task(id=f"latency-{k}", prompt=f"Look up item {k}, then keep looking.", answer=str(k),
                    difficulty=difficulty, meta={"hang": False})

    def on_reset(self, task: Task, episode: Episode) -> None:
        self._rng = np.random.default_rng(zlib.crc32(task.id.encode()))

    def handle_action(self, action: str, episode: Episode):
        latency = float(self._rng.uniform(self.min_latency_s, self.max_latency_s))
        if episode.task.meta.get("hang") and self.sleep_on_turn == episode.turns:
            latency = self.sleep_s
        time.sleep(latency)
        return [{"role": "tool", "content": f"result {episode.turns} for {episode.task.answer}"}], False

    def score(self, task: Task, episode: Episode):
        text = "".join(episode.assistant_texts)
        return {"score": (zlib.crc32(text.encode()) % 1000) / 1000.0}

    def demonstrate(self, task: Task):
        return self.opening(task) + [{"role": "assistant", "content": "lookup"}] * 1
