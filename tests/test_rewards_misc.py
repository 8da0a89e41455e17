"""Composition, the TRL adapter, format metrics, the plugin hook and ``lfmgym loops``."""

import json
import pickle

import pytest

import lfmgym.rewards as rewards
from lfmgym.cli import main
from lfmgym.plugins import load_registry
from lfmgym.rewards import plugin as rewards_plugin
from lfmgym.rewards.compose import ComposedReward, WeightedSum, as_info
from lfmgym.rewards.format import AnswerExtracted, ToolCallParseOK, ToolCallSchemaValid, schema_errors
from lfmgym.rewards.math import MathReward
from lfmgym.rewards.ngram import NgramRepetitionPenalty
from lfmgym.rewards.trl_adapter import as_trl_reward, completion_text

# ----------------------------------------------------------------------------- composition


def test_weighted_sum_keeps_every_component_and_weight_zero_is_metric_only():
    combine = WeightedSum({"correct": 1.0, "repetition": 0.5, "answer_extracted": 0.0})
    total, comps = combine({"correct": 1.0, "repetition": -0.4, "answer_extracted": 1.0, "turns": 3.0})
    assert total == pytest.approx(1.0 - 0.2)
    assert comps == {"correct": 1.0, "repetition": -0.4, "answer_extracted": 1.0, "turns": 3.0}
    assert combine({"correct": 1.0, "repetition": None})[0] == 1.0  # None: not applicable
    with pytest.raises(KeyError, match="repetition"):
        combine({"correct": 1.0})
    with pytest.raises(ValueError, match="correct"):
        combine({"correct": float("nan"), "repetition": 0.0})
    with pytest.raises(ValueError, match="finite"):
        WeightedSum({"a": float("inf")})
    assert pickle.loads(pickle.dumps(combine)).weights == combine.weights


def test_composed_reward_and_info():
    composed = ComposedReward({"math": MathReward(), "repetition": NgramRepetitionPenalty(n=1)},
                              {"math": 1.0, "repetition": 0.0})
    assert composed("The answer is \\boxed{4}. 4 4 4", answer="4") == 1.0
    comps = composed.components("The answer is \\boxed{4}.", answer="4")
    assert set(comps) == {"math", "repetition"}
    info = as_info(1.0, comps)
    assert info["reward/total"] == 1.0 and "reward/repetition" in info
    with pytest.raises(KeyError, match="unknown rewards"):
        ComposedReward({"math": MathReward()}, {"nope": 1.0})


# ----------------------------------------------------------------------------- TRL adapter


def test_trl_adapter_signature_columns_and_conversational_completions():
    fn = as_trl_reward(MathReward(), "math")
    assert fn.__name__ == "math"
    prompts = ["What is 2+2?", [{"role": "user", "content": "What is 3+3?"}]]
    completions = ["\\boxed{4}", [{"role": "assistant", "content": "The answer is 7."}]]
    out = fn(prompts=prompts, completions=completions, completion_ids=[[1], [2]], answer=["4", "6"], trainer_state=object())
    assert out == [1.0, 0.0]
    restored = pickle.loads(pickle.dumps(fn))
    assert restored(prompts=prompts, completions=completions, answer=["4", "7"]) == [1.0, 1.0]


def only_completion(completion):
    return len(completion)


def crashes(completion, **kw):
    raise RuntimeError("boom")


def test_trl_adapter_passes_only_accepted_keywords_and_never_raises():
    assert as_trl_reward(only_completion, "length")(prompts=["p"], completions=["abc"], answer=["x"]) == [3.0]
    with pytest.warns(UserWarning, match="boom"):
        assert as_trl_reward(crashes, "bad")(prompts=["p", "q"], completions=["a", "b"]) == [None, None]
    ids = as_trl_reward(NgramRepetitionPenalty(n=1), "rep")(prompts=["p"], completions=["a a"], completion_ids=[[5, 6]])
    assert ids == [0.0]  # token ids win over the text
    assert completion_text([{"role": "assistant", "content": "a"}, {"role": "tool", "content": "b"}]) == "a"


# ----------------------------------------------------------------------------- format metrics

FUNCS = [{"name": "add", "parameters": {"properties": {"a": {"type": "integer"}, "b": {"type": "float"}}, "required": ["a"]}}]


def test_format_metrics():
    assert AnswerExtracted()("so 4") == 1.0 and AnswerExtracted()("no idea") == 0.0
    assert AnswerExtracted(marked_only=True)("so 4") == 0.0 and AnswerExtracted(marked_only=True)("Answer: 4") == 1.0
    assert ToolCallParseOK()("<|tool_call_start|>[add(a=1)]<|tool_call_end|>") == 1.0
    assert ToolCallParseOK()("<|tool_call_start|>[add(a=]<|tool_call_end|>") == 0.0
    valid = ToolCallSchemaValid()
    assert valid("<|tool_call_start|>[add(a=1, b=2)]<|tool_call_end|>", meta={"functions": FUNCS}) == 1.0
    assert valid("<|tool_call_start|>[add(b=2.0)]<|tool_call_end|>", meta={"functions": FUNCS}) == 0.0
    assert valid("no calls", meta={"functions": FUNCS}) == 1.0
    errors = schema_errors([{"name": "add", "arguments": {"a": "1", "c": 2}}, {"name": "sub", "arguments": {}}], FUNCS)
    assert len(errors) == 3 and "unknown function 'sub'" in errors[-1]


# ----------------------------------------------------------------------------- plugin hook


def test_plugin_registers_picklable_reward_callables():
    reg = load_registry(extra_plugins=[("rewards", rewards_plugin)], entry_points=False, quiet=True)
    assert not reg.broken
    expected = {"math", "qa_f1", "qa_em", "toolcall_ast", "ngram_repetition", "doom_loop", "answer_extracted",
                "toolcall_parse_ok", "toolcall_schema_valid"}
    assert expected <= set(reg.rewards)
    gold_calls = [{"add": {"a": [1]}}]
    for name in expected:
        fn = pickle.loads(pickle.dumps(reg.rewards[name].factory()))
        assert fn.__doc__, name
        answer = gold_calls if name == "toolcall_ast" else "4"
        for junk in ("", "\\boxed{", "<|tool_call_start|>[", "x" * 5000, "[add(a=1)]"):
            value = fn(junk, answer=answer, meta={"functions": FUNCS})
            assert isinstance(value, float), (name, junk)
    assert reg.rewards["toolcall_ast"].factory()("[add(a=1)]", answer=gold_calls, meta={"functions": FUNCS}) == 1.0


def test_package_exports_load_lazily():
    assert rewards.math_reward("\\boxed{2}", "2")["reward"] == 1.0
    assert callable(rewards.detect_doom_loop) and callable(rewards.generic_attacks)
    with pytest.raises(AttributeError):
        rewards.not_a_reward  # noqa: B018


# ----------------------------------------------------------------------------- lfmgym loops


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_loops_command_writes_one_verdict_per_line(tmp_path, capsys):
    src = write_jsonl(tmp_path / "gens.jsonl", [
        {"id": "a", "token_ids": [1, 2, 3] * 60, "finished": False},
        {"id": "b", "token_ids": list(range(300)), "finished": False},
        {"id": "c", "text": "wait, let me check again. " * 40},
        {"id": "d", "token_ids": [7] * 100, "finish_reason": "stop"},
        {"id": "e", "token_ids": [7] * 100, "finish_reason": "length"},
    ])
    out = tmp_path / "verdicts.jsonl"
    assert main(["loops", src, "--out", str(out)]) == 0
    verdicts = [json.loads(l) for l in out.read_text().splitlines()]
    assert [v["id"] for v in verdicts] == ["a", "b", "c", "d", "e"]
    assert [v["loop"] for v in verdicts] == [True, False, True, False, True]
    assert verdicts[0]["period"] == 3 and verdicts[0]["start"] == 0 and verdicts[0]["seq_rep_4"] > 0.9
    assert verdicts[2]["finished"] is None and verdicts[3]["finished"] is True
    assert "doom-loop ratio: 0.6000" in capsys.readouterr().out


def test_loops_command_to_stdout_and_explicit_fields(tmp_path, capsys):
    src = write_jsonl(tmp_path / "g.jsonl", [{"gen": "ab" * 100, "done": False}, {"gen": "abc", "done": True}])
    assert main(["loops", src, "--field", "gen", "--finished-field", "done", "--unit", "char"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(l) for l in captured.out.splitlines()]
    assert [v["loop"] for v in lines] == [True, False] and lines[0]["period"] == 2
    assert "doom-loop ratio: 0.5000" in captured.err


def test_loops_command_bad_input_names_the_line(tmp_path, capsys):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"text": "fine"}\n\nnot json\n')
    assert main(["loops", str(src)]) == 2
    assert "bad.jsonl:3: invalid JSON" in capsys.readouterr().err
    src.write_text('{"text": "fine"}\n{"other": 1}\n')
    assert main(["loops", str(src)]) == 2
    assert "bad.jsonl:2: no generation field" in capsys.readouterr().err
    assert main(["loops", str(tmp_path / "missing.jsonl")]) == 2


def test_loops_command_with_a_local_tokenizer(tmp_path, capsys):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["[UNK]", "the", "loop", "goes", "on", "and", "stops", "."]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(tmp_path / "tok")
    src = write_jsonl(tmp_path / "g.jsonl", [{"text": "the loop goes on and " * 30, "finished": False},
                                             {"text": "the loop stops.", "finished": False}])
    assert main(["loops", src, "--tokenizer", str(tmp_path / "tok")]) == 0
    lines = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert lines[0]["loop"] and lines[0]["period"] == 5 and lines[0]["length"] == 150
    assert not lines[1]["loop"] and lines[1]["length"] == 4
