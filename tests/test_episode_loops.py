"""Doom loops across turns: the episode detector on chat messages and the labeled episode set."""

import json
from pathlib import Path

import pytest

from lfmgym.rewards.episode_loops import episode_loop_verdict, episode_loop_verdicts

DATA = Path(__file__).parent / "data" / "doom_loops"
OPEN = [{"role": "system", "content": "You have tools."}, {"role": "user", "content": "Weather in Oslo?"}]


def turn(content, *results):
    return [{"role": "assistant", "content": content}] + [{"role": "tool", "content": r} for r in results]


PY = "<|tool_call_start|>[get_weather(city='Oslo')]<|tool_call_end|>"
JS = '<tool_call>{{"id": "call_{k}", "name": "get_weather", "arguments": {{"city": "Oslo"}}}}</tool_call>'


def test_the_same_call_and_result_until_the_limit_is_a_loop_in_both_formats():
    py = OPEN + turn(PY, "3 C") * 4
    js = OPEN + sum((turn(JS.format(k=19 + k), "3 C") for k in range(4)), [])  # call ids count up: ignored
    for messages in (py, js):
        v = episode_loop_verdict(messages, finished=False)
        assert (v.loop, v.kind, v.cycle, v.turn, v.turns) == (True, "repeated_call", 1, 0, 4)
        assert not episode_loop_verdict(messages, finished=True).loop  # it answered in the end


def test_prose_around_a_repeated_call_does_not_hide_it():
    messages = OPEN + turn("Let me check. " + PY, "3 C") + turn("Trying again. " + PY, "3 C") + turn(PY, "3 C")
    assert episode_loop_verdict(messages, False).kind == "repeated_call"


def test_two_calls_alternating_is_a_cycle():
    other = "<|tool_call_start|>[get_time(city='Oslo')]<|tool_call_end|>"
    messages = OPEN + (turn(PY, "3 C") + turn(other, "12:00")) * 2
    v = episode_loop_verdict(messages, False)
    assert (v.loop, v.kind, v.cycle) == (True, "repeated_call", 2)


def test_the_same_message_every_turn():
    messages = OPEN
    for left in (3, 2, 1):
        messages = messages + [{"role": "assistant", "content": "I  cannot do that."},
                               {"role": "user", "content": f"{left} turns left."}]
    assert episode_loop_verdict(messages, False).kind == "repeated_message"


def test_a_turn_that_is_a_text_loop():
    messages = OPEN + turn(PY, "3 C") + [{"role": "assistant", "content": "It is 3 C. " + "So it is cold. " * 40}]
    v = episode_loop_verdict(messages, False)
    assert (v.loop, v.kind, v.turn) == (True, "turn_loop", 1)
    assert not episode_loop_verdict(messages, False, turn_text=False).loop


@pytest.mark.parametrize("messages", [
    OPEN + sum((turn(f"<|tool_call_start|>[search(q='news', page={p})]<|tool_call_end|>", f"item {p}") for p in range(1, 6)), []),
    OPEN + sum((turn(PY, f"{10 * k}% done") for k in range(5)), []),
    OPEN + turn(PY, "busy") * 2 + turn("<|tool_call_start|>[get_time()]<|tool_call_end|>", "12:00"),
    OPEN + turn(PY, "3 C") + [{"role": "assistant", "content": "It is 3 C in Oslo."}],
])
def test_progress_polling_and_two_tries_are_not_loops(messages):
    assert not episode_loop_verdict(messages, None).loop


def test_malformed_episodes_name_the_problem():
    with pytest.raises(TypeError, match="episode 1: message 0"):
        episode_loop_verdicts([OPEN, ["hello"]])
    with pytest.raises(ValueError, match="finished has 1 flags for 2 episodes"):
        episode_loop_verdicts([OPEN, OPEN], [True])


@pytest.mark.parametrize("split", ["dev", "test"])
def test_episode_set_gates(split):
    rows = [r for r in (json.loads(l) for l in (DATA / "episodes.jsonl").read_text(encoding="utf-8").splitlines())
            if r["split"] == split]
    verdicts = episode_loop_verdicts([r["messages"] for r in rows], [r["finished"] for r in rows])
    tp = sum(v.loop and r["label"] for r, v in zip(rows, verdicts))
    fp = sum(v.loop and not r["label"] for r, v in zip(rows, verdicts))
    fn = sum(not v.loop and r["label"] for r, v in zip(rows, verdicts))
    assert tp / (tp + fp) >= 0.95 and tp / (tp + fn) >= 0.95, (tp, fp, fn)
    kinds = {r["kind"]: v.kind for r, v in zip(rows, verdicts) if v.loop}
    assert kinds["repeated_message"] == "repeated_message" and kinds["turn_loop"] == "turn_loop"
