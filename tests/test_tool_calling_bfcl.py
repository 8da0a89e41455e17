"""BFCL data as tool_calling tasks: loading, errors that name file and line, oracle, scoring."""

from __future__ import annotations

import json
import keyword
from pathlib import Path

import pytest

from lfmgym import ToolCall, data, render_tool_calls
from lfmgym.envs.tool_calling.bfcl import (
    DeclaredToolbox,
    bfcl_files,
    bundled_categories,
    canonical_calls,
    load_bfcl_source,
    load_bfcl_tasks,
)
from lfmgym.envs.tool_calling.env import ToolCallingEnv

FORMATS = ("pythonic", "json")
NON_LIVE = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance", "simple_java",
            "simple_javascript")
LIVE = ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance",
        "live_relevance")


def _lines(category: str) -> int:
    return sum(1 for line in data.read_text(f"bfcl/BFCL_v4_{category}.json").splitlines() if line.strip())


def _keyword_params(task) -> bool:
    """Does the gold use a Python keyword as a parameter name (``from=...``, two Java tasks)?"""
    return any(keyword.iskeyword(p) for entry in task.answer for params in entry.values() for p in params)


@pytest.fixture(scope="module")
def all_tasks():
    """The non-live categories, by file name, from the data bundled with lfmgym."""
    return {f"BFCL_v4_{c}.json": load_bfcl_source(c) for c in NON_LIVE}


def test_every_single_turn_category_is_bundled_and_loads(all_tasks):
    assert set(bundled_categories()) == set(NON_LIVE + LIVE)  # multi-turn files are not single-turn tasks
    for name, tasks in all_tasks.items():
        assert len(tasks) == _lines(name[len("BFCL_v4_"):-len(".json")])
        for t in tasks:
            assert t.meta["source"] == "bfcl" and t.prompt and t.meta["functions"]
    shapes = {t.meta["shape"] for ts in all_tasks.values() for t in ts}
    assert shapes == {"simple", "multiple", "parallel", "parallel_multiple", "irrelevance"}
    assert all(t.answer == [] for t in all_tasks["BFCL_v4_irrelevance.json"])
    assert {t.meta["language"] for t in all_tasks["BFCL_v4_simple_java.json"]} == {"java"}
    assert {t.meta["language"] for t in all_tasks["BFCL_v4_simple_javascript.json"]} == {"javascript"}


def test_live_categories_are_task_sources():
    live = load_bfcl_source("live_*")
    assert len(live) == sum(_lines(c) for c in LIVE)
    shapes = {c: {t.meta["shape"] for t in load_bfcl_source(c)} for c in LIVE}
    assert shapes == {"live_simple": {"simple"}, "live_multiple": {"multiple"}, "live_parallel": {"parallel"},
                      "live_parallel_multiple": {"parallel_multiple"}, "live_irrelevance": {"irrelevance"},
                      "live_relevance": {"relevance"}}
    # A question that replays an earlier exchange keeps it in the prompt.
    replay = next(t for t in live if t.id == "bfcl-live_irrelevance_553-169-6")
    assert replay.prompt.startswith("user: hi") and "assistant: " in replay.prompt
    env = ToolCallingEnv(bfcl="live_simple", tool_format="json")
    assert len(env.fixed_tasks) == _lines("live_simple")
    # The live AST tasks' demonstrations earn the maximum, as the non-live ones do.
    for task in [t for t in live if t.meta["shape"] not in ("irrelevance", "relevance")][::25]:
        reward, c = env.score_transcript(task, env.demonstrate(task))
        assert c["calls"] == c["outcome"] == 1.0, (task.id, env.episode.state["calls_match"])
    # live_relevance: any call to a declared function is right, a plain reply is not.
    task = next(t for t in live if t.meta["shape"] == "relevance")
    env.reset(options={"task": task})
    _, _, term, _, info = env.step("I cannot help with that.")
    assert term and info["reward_components"]["calls"] == 0.0
    env.reset(options={"task": task})
    env.step(render_tool_calls([ToolCall(task.meta["functions"][0]["name"], {})], "json"))
    _, _, _, _, info = env.step("Done.")
    assert info["reward_components"]["calls"] == 1.0
    with pytest.raises(FileNotFoundError, match="bundled category"):
        load_bfcl_source("live_nonsense")


@pytest.mark.parametrize("fmt", FORMATS)
def test_oracle_earns_the_maximum_on_all_bfcl_tasks(all_tasks, fmt):
    env = ToolCallingEnv(tool_format=fmt)
    played = keyword_tasks = 0
    for tasks in all_tasks.values():
        for task in tasks:
            # ``from=20.5`` is not Python, but the pythonic parser reads keyword-named arguments.
            keyword_tasks += _keyword_params(task)
            reward, c = env.score_transcript(task, env.demonstrate(task))
            assert c["calls"] == c["outcome"] == 1.0, (task.id, env.episode.state["calls_match"])
            assert c["tool_errors"] == 0.0 and c["malformed"] == 0.0, (task.id, env.episode.tool_errors)
            assert reward - 0.1 * c["repetition"] == pytest.approx(1.0)
            played += 1
    total = sum(len(tasks) for tasks in all_tasks.values())
    assert played == total and keyword_tasks == 2


def test_bfcl_calls_get_a_neutral_result_and_failures_are_scored(all_tasks):
    env = ToolCallingEnv(tool_format="json")
    task = next(t for t in all_tasks["BFCL_v4_simple_python.json"] if t.id == "bfcl-simple_python_0")
    demo = env.demonstrate(task)
    assert [m["role"] for m in demo] == ["system", "user", "assistant", "tool", "assistant"]
    assert demo[3]["content"] == "OK" and "calculate_triangle_area" in demo[0]["content"]
    assert '"type": "object"' in demo[0]["content"] and '"type": "dict"' not in demo[0]["content"]

    def play(calls):
        env.reset(options={"task": task})
        env.step(render_tool_calls(calls, "json"))
        _, reward, _, _, info = env.step("Done.")
        return reward, info["reward_components"], env.episode.state["calls_match"]

    reward, c, match = play([ToolCall("calculate_triangle_area", {"base": 10, "height": 6})])
    assert c["calls"] == c["outcome"] == 0.0 and c["wrong_value"] == 1.0 and "height" in match["error"]
    reward, c, match = play([ToolCall("area_of_triangle", {"base": 10, "height": 5})])
    assert c["unknown_tool"] == 1.0 and c["wrong_function"] == 1.0 and reward < 0
    assert "unknown tool" in env.episode.tool_results[0]
    reward, c, match = play([ToolCall("calculate_triangle_area", {"base": 10})])
    assert c["invalid_args"] == 1.0 and c["wrong_params"] == 1.0
    reward, c, match = play([ToolCall("calculate_triangle_area", {"base": 10, "height": 5, "unit": "units"})])
    assert match["valid"] and reward - 0.1 * c["repetition"] == pytest.approx(1.0)


def test_bfcl_irrelevance_and_java(all_tasks):
    env = ToolCallingEnv()
    task = all_tasks["BFCL_v4_irrelevance.json"][0]
    env.reset(options={"task": task})
    _, reward, term, _, info = env.step("I cannot do that with these functions.")
    assert term and info["reward_components"]["calls"] == 1.0
    java = all_tasks["BFCL_v4_simple_java.json"][0]
    system = env.opening(java)[0]["content"]
    assert "Java" in system and java.meta["functions"][0]["name"] in system


def test_env_takes_a_bfcl_path_and_passes_the_conformance_kit(bfcl_dir):
    from lfmgym.testing import check_env

    env = ToolCallingEnv(bfcl=bfcl_dir)  # a user's own copy of the data: every single-turn file in it
    assert len(env.fixed_tasks) == sum(_lines(c) for c in NON_LIVE + LIVE)
    assert [f.name for f in bfcl_files(bfcl_dir)] == sorted(f"BFCL_v4_{c}.json" for c in NON_LIVE + LIVE)
    report = check_env(ToolCallingEnv, env_kwargs={"bfcl": bfcl_dir / "BFCL_v4_parallel_multiple.json",
                                                   "tool_format": "json"}, n_junk=300)
    assert report.ok, str(report)
    # With irrelevance tasks ("do not call": any plain reply is right) the kit must still pass:
    # the reward-hacking attacks only target tasks that have a gold answer to dress up.
    report = check_env(ToolCallingEnv, env_kwargs={"bfcl": ["irrelevance", "simple_python"]}, n_junk=50)
    assert report.ok, str(report)
    assert any(p.startswith("reward hacking") and "attacks" in p for p in report.passed)
    with pytest.raises(ValueError, match="not both"):
        ToolCallingEnv(bfcl="bfcl", tasks=[])


def test_declared_toolbox_checks_names_only():
    box = DeclaredToolbox([{"name": "f", "description": "d", "parameters": {
        "type": "dict", "properties": {"x": {"type": "float", "description": "x"}, "y": {"type": "any"}}, "required": ["x"]}}])
    assert box.schemas[0]["function"]["parameters"]["properties"]["x"]["type"] == "number"
    assert box.call(ToolCall("f", {"x": "a variable"})).output == "OK"
    assert box.call(ToolCall("f", {"y": 1})).error == "invalid_arguments"
    assert box.call(ToolCall("f", {"x": 1, "z": 2})).error == "invalid_arguments"
    assert box.call(ToolCall("g", {})).error == "unknown_tool"


def test_canonical_calls_omit_only_optional_parameters():
    functions = [{"name": "f", "parameters": {"type": "dict", "properties": {}, "required": ["a"]}}]
    gold = [{"f": {"a": ["", 1], "b": ["", 2], "c": [[{"k": ["v"], "o": ["", "w"]}]]}}]
    assert canonical_calls(gold, functions) == [ToolCall("f", {"a": 1, "c": [{"k": "v"}]})]


# --------------------------------------------------------------------------- bad files


def _write(tmp_path: Path, name: str, rows: list) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


GOOD_Q = {"id": "simple_python_0", "question": [[{"role": "user", "content": "Area of a 10 by 5 triangle?"}]],
          "function": [{"name": "area", "description": "Area.", "parameters": {"type": "dict", "properties": {
              "base": {"type": "integer"}, "height": {"type": "integer"}}, "required": ["base", "height"]}}]}
GOOD_A = {"id": "simple_python_0", "ground_truth": [{"area": {"base": [10], "height": [5]}}]}


def test_bad_question_line_names_file_and_line(tmp_path):
    q = _write(tmp_path, "BFCL_v4_simple_python.json", [GOOD_Q, "{not json"])
    (tmp_path / "possible_answer").mkdir()
    _write(tmp_path / "possible_answer", "BFCL_v4_simple_python.json", [GOOD_A])
    with pytest.raises(ValueError, match=r"BFCL_v4_simple_python\.json:2: invalid JSON"):
        load_bfcl_tasks(q)
    no_function = dict(GOOD_Q, id="simple_python_1", function=[])
    q = _write(tmp_path, "BFCL_v4_simple_python.json", [GOOD_Q, no_function])
    with pytest.raises(ValueError, match=r"\.json:2: field 'function'"):
        load_bfcl_tasks(q)
    two_turns = dict(GOOD_Q, question=GOOD_Q["question"] * 2)
    q = _write(tmp_path, "BFCL_v4_simple_python.json", [two_turns])
    with pytest.raises(ValueError, match=r"\.json:1: 2 turns"):
        load_bfcl_tasks(q)
    q = _write(tmp_path, "BFCL_v4_simple_python.json", [GOOD_Q, GOOD_Q])
    with pytest.raises(ValueError, match=r"\.json:2: duplicate id"):
        load_bfcl_tasks(q)
    q = _write(tmp_path, "BFCL_v4_simple_python.json", [{"question": []}])
    with pytest.raises(ValueError, match=r"\.json:1: missing string field 'id'"):
        load_bfcl_tasks(q)


def test_answer_problems_are_named(tmp_path):
    q = _write(tmp_path, "BFCL_v4_simple_python.json", [GOOD_Q])
    with pytest.raises(FileNotFoundError, match="needs answers"):
        load_bfcl_tasks(q)
    with pytest.raises(FileNotFoundError, match="answer file not found"):
        load_bfcl_tasks(q, tmp_path / "missing.json")
    a = _write(tmp_path, "answers.json", [{"id": "other", "ground_truth": []}])
    with pytest.raises(ValueError, match="has no ground truth"):
        load_bfcl_tasks(q, a)
    a = _write(tmp_path, "answers.json", [{"id": "simple_python_0", "ground_truth": [{"area": {"base": 10}}]}])
    with pytest.raises(ValueError, match=r"answers\.json:1: .*list of accepted values"):
        load_bfcl_tasks(q, a)
    a = _write(tmp_path, "answers.json", [GOOD_A])
    (task,) = load_bfcl_tasks(q, a)
    assert task.id == "bfcl-simple_python_0" and task.answer == GOOD_A["ground_truth"]
    with pytest.raises(FileNotFoundError, match="question file not found"):
        load_bfcl_tasks(tmp_path / "nope.json")
