"""bfcl_multi_turn: the API suites, BFCL's multi-turn checker, the env and its generator."""

from __future__ import annotations

import copy
import json
import random

import numpy as np
import pytest

from lfmgym.envs.bfcl_multi_turn.apis import SUITES
from lfmgym.envs.bfcl_multi_turn.bfcl_data import CATEGORIES, entry_task, load_entries, load_tasks
from lfmgym.envs.bfcl_multi_turn.checker import check_entry, is_long_context
from lfmgym.envs.bfcl_multi_turn.env import ADDED_FUNCTIONS_PROMPT, BfclMultiTurnEnv
from lfmgym.envs.bfcl_multi_turn.generator import generate_task
from lfmgym.envs.bfcl_multi_turn.session import Call, Session, parse_calls, render_call


def _check(entry, turns):
    return check_entry(turns, entry["ground_truth"], entry["involved_classes"], entry["initial_config"],
                       is_long_context(entry["id"]))


def _as_steps(turns):
    return [[list(t)] if t else [] for t in turns]


# ------------------------------------------------------------------ ground truth and perturbations


@pytest.mark.parametrize("category", CATEGORIES)
def test_every_ground_truth_passes_the_checker(category):
    entries = load_entries(category)
    if category != "multi_turn_base":  # base in full; a sample of the others keeps the test fast
        entries = entries[::10]
    failed = [e["id"] for e in entries if not _check(e, _as_steps(e["ground_truth"])).valid]
    assert failed == []


def _mutate(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 7
    if isinstance(value, str):
        return value + "_x"
    if isinstance(value, list):
        return value[:-1] if value else ["x"]
    return {"x": 1}


def test_perturbed_ground_truths_fail():
    rng = random.Random(0)
    outcomes = {"drop": [], "arg": [], "swap": []}
    for entry in load_entries("multi_turn_base"):
        gt = entry["ground_truth"]
        spots = [(i, j) for i, turn in enumerate(gt) for j in range(len(turn))]
        i, j = rng.choice(spots)
        dropped = copy.deepcopy(gt)
        del dropped[i][j]
        outcomes["drop"].append(_check(entry, _as_steps(dropped)).valid)
        call = parse_calls(gt[i][j])[0]
        if call.kwargs:
            key = rng.choice(list(call.kwargs))
            changed = copy.deepcopy(gt)
            changed[i][j] = render_call(Call(call.name, call.args, {**call.kwargs, key: _mutate(call.kwargs[key])}))
            outcomes["arg"].append(_check(entry, _as_steps(changed)).valid)
        if len(gt) < 2:
            continue
        k = rng.randrange(len(gt) - 1)
        swapped = copy.deepcopy(gt)
        swapped[k], swapped[k + 1] = swapped[k + 1], swapped[k]
        if swapped != gt:
            outcomes["swap"].append(_check(entry, _as_steps(swapped)).valid)
    # A few perturbations are neutral in BFCL too (ls(a=False) in a folder without hidden files).
    for kind, passed in outcomes.items():
        assert len(passed) > 150, kind
        assert sum(passed) / len(passed) <= 0.03, (kind, sum(passed))


def test_checker_kinds_and_partial_credit():
    entry = load_entries("multi_turn_base")[0]  # 4 turns, all with calls
    gt = entry["ground_truth"]
    ok = _check(entry, _as_steps(gt))
    assert ok.valid and ok.turns == [True] * 4 and ok.turn_accuracy == 1.0
    # Turn 2's read-only call made in turn 1: turn 1 still passes, turn 2 has no call.
    early = _check(entry, _as_steps([gt[0], gt[1] + gt[2], [], gt[3]]))
    assert not early.valid and early.failed_turn == 2 and early.error_type == "multi_turn:empty_turn_model_response"
    assert early.turns == [True, True, False, True] and early.turn_accuracy == 0.75
    # The move left out of turn 0: the file-system state differs from there on.
    no_move = _check(entry, _as_steps([gt[0][:2], gt[1], gt[2], gt[3]]))
    assert no_move.error_type == "multi_turn:instance_state_mismatch" and no_move.failed_turn == 0
    assert "GorillaFileSystem" in no_move.details["differences"]
    stopped = _check(entry, _as_steps(gt[:2]))
    assert not stopped.valid and stopped.error_type == "multi_turn:force_terminated" and stopped.turn_accuracy == 0.5
    # A read-only result missing: grep's output is required in turn 1.
    no_grep = _as_steps([gt[0], [c for c in gt[1] if not c.startswith("grep")], gt[2], gt[3]])
    assert _check(entry, no_grep).error_type == "multi_turn:execution_response_mismatch"


def test_calls_in_an_unanswerable_turn_are_judged_by_the_next_state():
    entry = next(e for e in load_entries("multi_turn_miss_param") if e["id"] == "multi_turn_miss_param_0")
    gt = entry["ground_truth"]
    empty = [i for i, t in enumerate(gt) if not t][0]
    guessed = copy.deepcopy(gt)
    guessed[empty] = ["cd(folder='..')", "mv(source='report_final.pdf', destination='temp')"]  # acts on a guess
    assert _check(entry, _as_steps(gt)).valid
    verdict = _check(entry, _as_steps(guessed))
    assert not verdict.valid and verdict.failed_turn == empty + 1


# ------------------------------------------------------------------ the suites


def test_suite_state_is_loaded_compared_and_copied():
    entry = load_entries("multi_turn_base")[0]
    a = Session(entry["involved_classes"], entry["initial_config"])
    b = Session(entry["involved_classes"], entry["initial_config"])
    assert a.state() == b.state() and a.differences(b) == {}
    a.execute(["cd(folder='document')", "touch(file_name='new.txt')"])
    assert a.differences(b) == {"GorillaFileSystem": {"root": {"model": a.instances["GorillaFileSystem"].root,
                                                               "ground_truth": b.instances["GorillaFileSystem"].root}}}
    assert entry["initial_config"]["GorillaFileSystem"]["root"]["workspace"]["contents"]["document"]["contents"].keys() == {
        "final_report.pdf", "previous_report.pdf"}  # the entry itself is never mutated


def test_file_system_behaves_like_bfcl():
    fs = Session(["GorillaFileSystem"], {"GorillaFileSystem": {"root": {"alex": {"type": "directory", "contents": {
        "docs": {"type": "directory", "contents": {"a.txt": {"type": "file", "content": "b line\na line"}}}}}}}})
    out = fs.execute(["pwd()", "cd(folder='docs/sub')", "cd(folder='docs')", "pwd()", "sort('a.txt')",
                      "wc(file_name='a.txt', mode='w')", "cat(file_name='nope')", "cd(folder='..')", "cd(folder='..')",
                      "cp(source='docs', destination='copy')", "cd(folder='copy')", "echo(content='x', file_name='a.txt')",
                      "cd(folder='..')", "cd(folder='docs')", "cat(file_name='a.txt')"])
    assert json.loads(out[0]) == {"current_working_directory": "/alex"}
    assert "Unsupported path" in out[1]
    assert json.loads(out[3]) == {"current_working_directory": "/alex/docs"}
    assert json.loads(out[4]) == {"sorted_content": "a line\nb line"}
    assert json.loads(out[5]) == {"count": 4, "type": "words"}
    assert json.loads(out[6]) == {"error": "cat: 'nope': No such file or directory"}
    assert json.loads(out[8]) == {"error": "Current directory is already the root. Cannot go back."}
    assert json.loads(out[14]) == {"file_content": "x"}  # a copied folder shares its files, as in BFCL


def test_results_are_rendered_like_bfcl_and_ids_are_deterministic():
    config = {"MessageAPI": {}, "TicketAPI": {}}
    runs = [Session(["MessageAPI", "TicketAPI", "MathAPI"], config).execute(
        ["message_login(user_id='USR001')", "send_message(receiver_id='USR002', message='hi')", "get_ticket(ticket_id=3)",
         "add(a=1, b=2)", "square_root(number=2, precision=5)", "nope(x=1)", "add(a=1)", "get_user_id('Bob')"])
        for _ in range(2)]
    assert runs[0] == runs[1]
    out = runs[0]
    assert json.loads(out[1])["message_id"] == json.loads(runs[1][1])["message_id"]
    assert json.loads(out[2]) == {"error": "Ticket with ID 3 not found."}
    assert out[3] == '{"result": 3}'
    assert out[4] == "{'result': Decimal('1.4142')}"  # not JSON: str of the dict, as in BFCL
    assert out[5] == "Error during execution: name 'nope' is not defined"
    assert out[6].startswith("Error during execution: ") and "b" in out[6]
    assert json.loads(out[7]) == {"user_id": "USR002"}  # positional arguments bind by position


def test_every_documented_function_exists_with_its_parameters():
    import inspect

    from lfmgym.envs.bfcl_multi_turn.bfcl_data import function_docs

    for name, cls in SUITES.items():
        docs = function_docs([name])
        assert sorted(d["name"] for d in docs) == sorted(cls.function_names()), name
        for doc in docs:
            params = set(inspect.signature(getattr(cls, doc["name"])).parameters) - {"self"}
            assert set(doc["parameters"].get("properties", {})) == params, (name, doc["name"])


def test_long_context_pads_the_suites():
    config = load_entries("multi_turn_base")[0]["initial_config"]
    short = Session(["GorillaFileSystem"], config).execute(["cd(folder='document')", "ls()"])
    long = Session(["GorillaFileSystem"], config, long_context=True).execute(["cd(folder='document')", "ls()"])
    assert len(json.loads(long[1])["current_directory_content"]) > len(json.loads(short[1])["current_directory_content"])


# ------------------------------------------------------------------ the env


def _play(env, task, actions):
    env.reset(options={"task": task})
    for action in actions:
        _, reward, term, trunc, info = env.step(action)
        if term or trunc:
            return reward, info
    raise AssertionError("episode did not end")


def test_oracle_solves_and_random_fails_bfcl_and_generated_tasks():
    from lfmgym.rollout import OraclePolicy, RandomPolicy, run_episodes

    tasks = [t for c in CATEGORIES for t in load_tasks(c)[:3]]
    env = BfclMultiTurnEnv(tasks=tasks)
    tasks += [env.generate_task(np.random.default_rng(s), d) for s in range(3) for d in env.difficulties]
    for fmt in ("pythonic", "json"):
        oracle = run_episodes(lambda: BfclMultiTurnEnv(tool_format=fmt, tasks=tasks), OraclePolicy(BfclMultiTurnEnv(tool_format=fmt)), tasks)
        assert [r.task.id for r in oracle if not r.success] == []
    junk = run_episodes(lambda: BfclMultiTurnEnv(tasks=tasks), RandomPolicy(0), tasks)
    assert sum(r.success for r in junk) == 0


def test_turns_advance_on_text_and_held_out_functions_are_announced():
    task = load_tasks("multi_turn_miss_func_0")[0]
    env = BfclMultiTurnEnv(tasks=[task])
    obs, _ = env.reset(options={"task": task})
    assert '"sort"' not in obs[0]["content"] and '"name": "ls"' in obs[0]["content"]
    messages = []
    for turn in range(len(task.answer) - 1):
        obs, *_ = env.step("Nothing to do.")
        messages.append(obs[-1]["content"])
    assert messages[0] == task.meta["turns"][1]
    assert messages[2].endswith(ADDED_FUNCTIONS_PROMPT) and '"sort"' in messages[2]
    _, reward, term, _, info = env.step("Still nothing.")
    assert term and info["reward_components"]["success"] == 0.0 and info["bfcl_turns"] == [[]] * 5
    assert info["reward_components"]["abstained"] == 1.0  # nothing called where nothing could be done


def test_compact_documents_shorten_the_prompt_and_keep_every_function():
    task = load_tasks("multi_turn_base_0")[0]
    compact = BfclMultiTurnEnv(tasks=[task]).opening(task)[0]["content"]
    full = BfclMultiTurnEnv(tasks=[task], docs="bfcl").opening(task)[0]["content"]
    assert len(compact) < 0.7 * len(full)
    assert "This tool belongs to" in full and "This tool belongs to" not in compact
    for name in ("cd", "mv", "post_tweet", "authenticate_twitter"):
        assert f'"name": "{name}"' in compact
    with pytest.raises(ValueError, match="docs"):
        BfclMultiTurnEnv(docs="short")


def test_step_limit_and_strict_parsing():
    task = load_tasks("multi_turn_base_0")[0]
    env = BfclMultiTurnEnv(tasks=[task], step_limit=2)
    reward, info = _play(env, task, ["<|tool_call_start|>[pwd()]<|tool_call_end|>"] * 3)  # a 3rd step ends it
    assert info["reward_components"]["force_terminated"] == 1.0 and reward <= 0 and len(info["bfcl_turns"][0]) == 3
    # Cut in the last turn after its work is done: the entry still passes, as in BFCL.
    last = load_tasks("multi_turn_base_3")[0]  # 2 turns
    demo = [m["content"] for m in BfclMultiTurnEnv(tasks=[last]).demonstrate(last) if m["role"] == "assistant"]
    final_steps = len(demo) - demo.index("Done.") - 2  # messages with calls in the last turn
    cut = BfclMultiTurnEnv(tasks=[last], step_limit=final_steps - 1)
    _, info = _play(cut, last, demo[: demo.index("Done.") + 1] + demo[demo.index("Done.") + 1: -1] + ["<|tool_call_start|>[pwd()]<|tool_call_end|>"])
    assert info["reward_components"]["success"] == 1.0
    strict = BfclMultiTurnEnv(tasks=[task], strict=True)
    strict.reset(options={"task": task})
    obs, *_ = strict.step("<|tool_call_start|>[cd(folder=]<|tool_call_end|>")
    assert obs[-1] == {"role": "user", "content": task.meta["turns"][1]}  # a broken call ends the turn
    lenient = BfclMultiTurnEnv(tasks=[task])
    lenient.reset(options={"task": task})
    obs, *_ = lenient.step("<|tool_call_start|>[cd(folder=]<|tool_call_end|>")
    assert obs[-1]["content"].startswith("Error: your tool call could not be parsed")


def test_generated_tasks_are_deterministic_and_their_ground_truth_passes():
    for tier in (0, 1, 2, 3):
        a = generate_task(np.random.default_rng(tier), tier)
        b = generate_task(np.random.default_rng(tier), tier)
        assert a == b
        assert len(a.answer) == {0: 1, 1: 2, 2: 3, 3: 4}[tier]
    for seed in range(40):
        task = generate_task(np.random.default_rng(seed), seed % 4)
        meta = task.meta
        verdict = check_entry(_as_steps(task.answer), task.answer, meta["involved_classes"], meta["initial_config"])
        assert verdict.valid, task.id
        if task.difficulty == 3:
            assert [] in task.answer  # one turn to answer by asking


def test_malformed_entries_name_the_problem():
    entry = dict(load_entries("multi_turn_base")[0])
    with pytest.raises(ValueError, match="multi_turn_base_0: 4 question turns but 3"):
        entry_task(entry, entry["ground_truth"][:3])
    with pytest.raises(ValueError, match="unsupported suite"):
        entry_task({**entry, "involved_classes": ["WebSearchAPI"]}, entry["ground_truth"])
    with pytest.raises(ValueError, match="neither a category"):
        load_tasks("simple_python_3")


@pytest.mark.parametrize("env_kwargs", [{"tool_format": "json"}, {"bfcl": ["multi_turn_miss_func_0", "multi_turn_long_context_5"]}])
def test_conformance_kit_passes(env_kwargs):
    from lfmgym.testing import check_env

    report = check_env("bfcl_multi_turn", env_kwargs=env_kwargs, n_tasks=6, n_junk=200)
    assert report.ok, report
