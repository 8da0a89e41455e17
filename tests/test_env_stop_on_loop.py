"""Env(stop_on_loop=True): an episode that loops across turns ends early, truncated for "loop"."""

from tests.example_env import CapitalsEnv

CALL = "<|tool_call_start|>[capital(country='Peru')]<|tool_call_end|>"


def play(env, actions):
    env.reset(seed=0, options={"index": 0} if env.fixed_tasks else None)
    for n, action in enumerate(actions, start=1):
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return n, terminated, truncated, info
    return None


def test_the_same_call_and_result_ends_the_episode_at_the_third_turn():
    n, terminated, truncated, info = play(CapitalsEnv(max_turns=8, stop_on_loop=True), [CALL] * 8)
    assert (n, terminated, truncated, info["truncation_reason"]) == (3, False, True, "loop")
    assert "reward_components" in info  # scored like any truncated episode


def test_off_by_default_and_progress_is_not_a_loop():
    n, _, truncated, info = play(CapitalsEnv(max_turns=4), [CALL] * 4)
    assert (n, truncated) == (4, True) and "truncation_reason" not in info
    varied = [CALL.replace("Peru", c) for c in ("Peru", "Japan", "Kenya", "France")]
    n, _, truncated, info = play(CapitalsEnv(max_turns=4, stop_on_loop=True), varied)
    assert (n, truncated) == (4, True) and "truncation_reason" not in info
    n, terminated, _, _ = play(CapitalsEnv(max_turns=6, stop_on_loop=True), [CALL, CALL, "Lima"])
    assert (n, terminated) == (3, True)
