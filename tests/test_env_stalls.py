"""Host-side stalls stay inside the episode's budget: a model-written value whose __repr__
sleeps cannot make reading it (answer, FINAL_VAR) wait outside the sandbox's clock."""

from __future__ import annotations

import time

import lfmgym

SLOW = ("```repl\nclass Slow:\n    def __repr__(self):\n        import time\n        time.sleep(30)\n        return 'x'\n"
        "    __str__ = __repr__\nanswer['content'] = Slow()\nanswer['ready'] = True\n_final = {'text': Slow()}\n"
        "v = Slow()\n```\n")


def test_slow_reprs_in_four_cells_stay_within_the_episode_timeout():
    env = lfmgym.make("long_context", cell_timeout=1.0, episode_timeout=4.0,
                      context_lengths={0: 2_000, 1: 2_000, 2: 2_000, 3: 2_000})
    env.reset(seed=0)
    started = time.monotonic()
    _, reward, _, _, info = env.step(SLOW * 4 + "FINAL_VAR(v)")
    elapsed = time.monotonic() - started
    env.close()
    assert elapsed < 4.0 + 4 * 1.5, elapsed  # the episode budget, plus the kill grace per read
    assert info["new_messages"] and reward == 0.0
