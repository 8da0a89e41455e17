"""One deadline per tool call: a tool that blocks (a network that swallows packets) cannot stall
an episode past it, retries included."""

from __future__ import annotations

import threading
import time

import lfmgym
from lfmgym.toolcalls import ToolCall
from lfmgym.tools import Toolbox


def make_tools(release: threading.Event):
    def slow(x: int) -> int:
        """Wait for the test.

        Args:
            x: a number.
        """
        release.wait(10)
        return x

    def boom(x: int) -> int:
        """Raise.

        Args:
            x: a number.
        """
        raise RuntimeError(f"bad {x}")

    return [slow, boom]


def test_a_call_past_its_deadline_is_an_error_and_later_calls_wait_for_it():
    release = threading.Event()
    box = Toolbox(make_tools(release), timeout_s=0.3)
    started = time.monotonic()
    result = box.call(ToolCall("slow", {"x": 1}))
    assert result.error == "tool_timeout" and "0.3 s deadline" in result.output
    assert time.monotonic() - started < 2
    refused = box.call(ToolCall("boom", {"x": 2}))  # the slow call still holds the toolbox
    assert refused.error == "tool_timeout" and "still running" in refused.output
    release.set()
    box._running.join(5)
    raised = box.call(ToolCall("boom", {"x": 3}))
    assert raised.error == "tool_raised" and "RuntimeError: bad 3" in raised.output
    assert box.call(ToolCall("slow", {"x": 4})).output == "4"


def test_live_search_gives_up_within_its_deadline():
    from lfmgym.envs.web_search.ddgs_backend import DDGSBackend, SearchError

    class Swallowing:
        def text(self, *args, **kwargs):
            time.sleep(0.2)  # every request times out after a while
            raise TimeoutError("read timed out")

    backend = DDGSBackend(client_factory=lambda timeout: Swallowing(), cache=None, retries=50, backoff=0.05,
                          deadline=1.0)
    started = time.monotonic()
    try:
        backend.search("anything")
    except SearchError as exc:
        assert "TimeoutError" in str(exc)
    else:
        raise AssertionError("the search should have failed")
    assert time.monotonic() - started < 2.0


def test_web_search_env_tool_calls_have_a_deadline():
    env = lfmgym.make("web_search")
    env.reset(seed=0)
    assert env.toolbox.timeout_s == env.tool_timeout == 30.0
    _, _, _, _, info = env.step('<|tool_call_start|>[search(query="capital")]<|tool_call_end|>')
    assert info["tool_calls"] and not info["tool_errors"]
