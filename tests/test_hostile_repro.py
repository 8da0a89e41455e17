"""Issue 23's bad-input reproductions that had no test of their own, each as a user meets it: one
clear line naming the field, file or line (no traceback, non-zero exit) or feedback inside the
episode.

The others are tested next to their mechanism: hostile arguments in ``step`` (1e309, NaN, 1e400,
unhashable keys, deep ``-``) in test_env_contract, >= 2,000 hostile outputs per env and format in
test_fuzz_envs, the whole-sandbox memory limit, nested user namespaces and /dev/shm in
test_sandbox_limits, output kept on SIGSEGV / os._exit / timeout, forged frames and threads
between cells in test_sandbox_adversarial, slow ``__repr__`` in test_env_stalls, tool and search
deadlines in test_tool_deadline, ``math_reward`` off the main thread in test_reward_deadline,
plugins in test_plugins, config values in test_config_validation, BFCL duplicate ids and empty
predictions in test_eval_bfcl, sweep names in test_sweep.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lfmgym.cli import main

REPO = Path(__file__).resolve().parent.parent
SMOKE = REPO / "configs" / "smoke.yaml"


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- lfmgym loops ---------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [2**70, -(2**70)])
def test_loops_with_a_token_id_past_64_bits_names_the_line_and_field(token, tmp_path, capsys):
    src = tmp_path / "gens.jsonl"
    src.write_text(json.dumps({"token_ids": [1, 2, 3] * 30}) + "\n"
                   + json.dumps({"token_ids": [1, 2, 3, token] * 30}) + "\n")
    assert main(["loops", str(src)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "gens.jsonl:2: field 'token_ids'" in line and str(token) in line and "64-bit" in line



@pytest.mark.parametrize("ids, needle", [([1, True], "item 1 is true"), ([1, 2, 2.5], "item 2 is 2.5"),
                                         ([None], "item 0 is null")])
def test_loops_with_a_token_id_that_is_not_an_integer_names_the_item(ids, needle, tmp_path, capsys):
    src = tmp_path / "gens.jsonl"
    src.write_text(json.dumps({"token_ids": ids}) + "\n")
    assert main(["loops", str(src)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "gens.jsonl:1: field 'token_ids': " + needle + ", not an integer token id" in line

# -- YAML syntax errors: sweep files, pipeline configs, --set values --------------------------------

def test_sweep_file_with_a_yaml_syntax_error_is_one_line_naming_file_and_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: x\nbase: {SMOKE}\nspace: {{grpo.learning_rate: [0.1, 0.2}}\n")
    assert main(["sweep", str(path)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"{path}:3:" in line and "not valid YAML" in line and "<unicode string>" not in line


def test_pipeline_config_and_set_values_with_yaml_syntax_errors_name_their_line(tmp_path, capsys):
    from lfmgym.stages.config import ConfigError, load_config
    from stages.cli import parse_overrides

    path = tmp_path / "cfg.yaml"
    path.write_text(SMOKE.read_text() + "seed: [1\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}:") and "not valid YAML" in message
    assert main(["pipeline", str(path), "--check"]) == 2
    assert f"{path.name}:" in capsys.readouterr().out  # the config error line (rich may wrap it)
    with pytest.raises(SystemExit) as exc:
        parse_overrides(["seed=[1"])
    assert str(exc.value).startswith("--set 'seed=[1':1:") and "\n" not in str(exc.value)


# -- lfmgym sandbox exec ------------------------------------------------------------------------------

@pytest.mark.parametrize("flags, needle", [
    (["--timeout", "inf"], "--timeout: must be a positive finite number, got inf"),
    (["--timeout", "nan"], "--timeout: must be a positive finite number, got nan"),
    (["--timeout", "-1"], "--timeout: must be a positive finite number"),
    (["--timeout", "1e9"], "--timeout: must be at most 604800"),
    (["--memory", "0"], "--memory: must be a positive finite number, got 0"),
    (["--output-limit", "-1"], "--output-limit: must be a positive finite number"),
])
def test_sandbox_exec_bad_limits_are_one_line_naming_the_flag(flags, needle, tmp_path, capsys):
    program = tmp_path / "F.py"
    program.write_text("print('never run')\n")
    assert main(["sandbox", "exec", str(program), *flags]) == 2
    captured = capsys.readouterr()
    assert needle in _one_line(captured.err) and captured.out == ""


# -- play / env show with bad env arguments --------------------------------------------------------

@pytest.mark.parametrize("arg, needle", [
    ("max_turns=[1]", "max_turns: expected a positive integer, got [1]"),
    ("max_turns=0", "max_turns: expected a positive integer, got 0"),
    ("max_turns=1e309", "max_turns: expected a positive integer, got inf"),
    ("difficulty=99", "difficulty: 99 is not one of"),
])
def test_play_with_a_bad_env_arg_is_one_line(arg, needle, capsys):
    assert main(["play", "math", "--env-arg", arg]) == 2
    assert needle in _one_line(capsys.readouterr().err)


def test_reset_with_an_unknown_difficulty_names_the_option_in_every_env():
    import lfmgym
    from lfmgym.plugins import get_registry

    names = sorted(get_registry().envs)
    assert {"math", "tool_calling", "long_context", "web_search"} <= set(names)
    for name in names:
        env = lfmgym.make(name)
        try:
            for bad in (99, -1, 2**70, "hard"):
                with pytest.raises(ValueError, match=r"options\['difficulty'\]"):
                    env.reset(seed=0, options={"difficulty": bad})
        finally:
            env.close()


def test_a_search_backend_without_open_is_one_line_in_every_command(tmp_path, monkeypatch, capsys):
    import types

    from lfmgym import Spec, hookimpl, plugins

    class SearchOnly:  # a third-party backend that forgot open()
        def __init__(self, **kwargs):
            pass

        def search(self, query, k=5):
            return []

    plugin = types.SimpleNamespace(lfmgym_search_backends=hookimpl(lambda: [Spec("search_only", SearchOnly, "no open")]))
    monkeypatch.setattr(plugins, "_REGISTRY",
                        plugins.load_registry(extra_plugins=[("search_only_plugin", plugin)], quiet=True))
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "q", "answers": "a"}) + "\n")
    env_args = ["--env-arg", "backend=search_only", "--env-arg", f"qa_file={qa}"]
    for argv in (["env", "show", "web_search"], ["play", "web_search", "--policy", "random"], ["check", "web_search"]):
        assert main([*argv, *env_args]) == 2
        line = _one_line(capsys.readouterr().err)
        assert "backend: SearchOnly has no search(query, k) and open(url_or_id)" in line


# -- lfmgym pipeline --check ----------------------------------------------------------------------

@pytest.mark.parametrize("setting, needle", [
    ("seed=-1", "seed: must be >= 0, got -1"),
    (f"seed={2**70}", f"seed: {2**70} is out of the 64-bit integer range"),
    ("model.overrides.hidden_size=-5", "model.overrides.hidden_size: expected an integer >= 1, got -5"),
])
def test_check_refuses_bad_values_naming_the_field_and_leaves_nothing_behind(setting, needle, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["pipeline", str(SMOKE), "--check", "--set", setting]) == 2
    assert needle in " ".join(capsys.readouterr().out.split())
    # A run with the bad value fails the same way before writing anything, so the corrected rerun
    # into the same directory is not refused by a leftover config.
    assert main(["pipeline", str(SMOKE), "--set", setting, "--out", str(out)]) == 2
    assert needle in " ".join(capsys.readouterr().out.split())
    assert not out.exists() or not any(out.iterdir())
    assert main(["pipeline", str(SMOKE), "--check", "--out", str(out)]) == 0


# -- tool calls per message ---------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["pythonic", "json"])
def test_a_megabyte_of_tool_calls_is_capped_quickly_and_is_feedback(fmt):
    import lfmgym
    from lfmgym.toolcalls import JSON_END, JSON_START, MAX_CALLS_PER_MESSAGE, PY_END, PY_START, parse_tool_calls

    start, end = (PY_START, PY_END) if fmt == "pythonic" else (JSON_START, JSON_END)
    one = "[f()]" if fmt == "pythonic" else '{"name": "f", "arguments": {}}'
    reply = (start + one + end) * (1_000_000 // len(start + one + end))
    began = time.perf_counter()
    parsed = parse_tool_calls(reply, fmt)
    assert parsed.calls == [] and f"> {MAX_CALLS_PER_MESSAGE})" in parsed.error
    # Just past the cap inside one block, too (the 240k calls were one pythonic list).
    body = "[" + "f(), " * (MAX_CALLS_PER_MESSAGE + 1) + "]" if fmt == "pythonic" else \
        json.dumps([{"name": "f", "arguments": {}}] * (MAX_CALLS_PER_MESSAGE + 1))
    assert "too many calls" in parse_tool_calls(start + body + end, fmt).error
    env = lfmgym.make("tool_calling", tool_format=fmt)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(reply)
    assert time.perf_counter() - began < 10
    assert not info["parse_ok"] and "too many tool calls" in info["new_messages"][0]["content"]
    env.close()


# -- one hostile reply in a batch, and in a BFCL predictions file ---------------------------------

HOSTILE_REPLIES = ["<|tool_call_start|>[f(x=1e309)]<|tool_call_end|>",
                   "<|tool_call_start|>[f(x={(1,2): 3})]<|tool_call_end|>",
                   "<|tool_call_start|>[f(x={[1]: 2})]<|tool_call_end|>",
                   "<|tool_call_start|>[f(x=" + "-" * 1000 + "1)]<|tool_call_end|>"]


def test_hostile_replies_end_their_own_episodes_and_the_batch_finishes():
    """The issue: one such reply aborted a whole run_episodes batch (and a GRPO step)."""
    import dataclasses

    import lfmgym
    from lfmgym.backends.base import Generation
    from lfmgym.rollout import run_episodes

    replies = HOSTILE_REPLIES + ["The answer is 4."]

    class Hostile:  # episode i replies replies[i], every turn
        def act(self, observations, tasks):
            return [Generation(replies[int(t.id)], finished=True) for t in tasks]

    drawn = lfmgym.make("math").make_tasks(len(replies), seed=0)
    tasks = [dataclasses.replace(t, id=str(i)) for i, t in enumerate(drawn)]
    records = run_episodes(lambda: lfmgym.make("math", max_turns=2), Hostile(), tasks, batch_size=len(tasks))
    assert [r.task.id for r in records] == [t.id for t in tasks]
    for record in records[:-1]:  # every hostile reply was answered with feedback, turn after turn
        assert len(record.turns) == 2 and record.truncated
        assert any("could not be parsed" in str(m["content"]) for m in record.messages if m["role"] != "assistant")
    assert records[-1].terminated  # the plain answer in the same batch still ends its episode


def test_bfcl_predictions_with_hostile_rows_score_every_row(tmp_path, capsys):
    from lfmgym.eval.bfcl import load_bfcl

    entries = [e for e in load_bfcl(None, ["simple_python"])][:4]
    name = entries[0].functions[0]["name"]
    bodies = [f"[{name}(base=1e309)]", f"[{name}(base={{(1,2): 3}})]", f"[{name}(base={{[1]: 2}})]",
              f"[{name}(base=" + "-" * 1000 + "1)]"]
    preds = tmp_path / "preds.jsonl"
    preds.write_text("".join(json.dumps({"id": e.id, "result": b}) + "\n" for e, b in zip(entries, bodies)))
    out = tmp_path / "scored"
    assert main(["eval", "bfcl", "--predictions", str(preds), "--categories", "simple_python", "--out", str(out)]) == 0
    verdicts = {v["id"]: v for v in map(json.loads, (out / "verdicts.jsonl").read_text().splitlines())}
    assert all(not verdicts[e.id]["valid"] and verdicts[e.id]["error"] for e in entries)
