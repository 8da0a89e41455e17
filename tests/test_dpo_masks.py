"""DPO trains only what the policy wrote: pairs are the engine's token records, with a mask that
is 1 on assistant-generated tokens and 0 on tool results, feedback and the end-of-turn token the
template adds after a reply cut at the length cap; and ``dpo.rounds`` samples on-policy again."""

from __future__ import annotations

import json

import pytest

from lfmgym import Task
from lfmgym.engine import Budgets, RolloutEngine, Sampling
from lfmgym.stages import common
from lfmgym.stages.dpo import AssistantMaskCollator, pair_row
from lfmgym.stages.jury import Group, Rollout
from tests.example_env import CapitalsEnv
from tests.test_stages import small_config, tiny  # noqa: F401 (the module-scoped tiny model fixture)

TASK = Task(id="capital-peru", prompt="What is the capital of Peru?", answer="Lima", meta={"country": "peru"})


class Scripted:
    """A token policy replaying fixed replies (ids of the real tokenizer), the first one cut at the cap."""

    def __init__(self, tok, codec, replies, capped_first: bool):
        self.codec = codec
        self.replies = [tok(r, add_special_tokens=False)["input_ids"] for r in replies]
        self.capped_first = capped_first
        self.generator = self

    def generate_ids(self, prompts, caps, *, temperature, top_p, seeds):
        from lfmgym.engine import Sampled

        out = []
        for p in prompts:
            k = p.count(self.codec.tokenizer.convert_tokens_to_ids("<|im_start|>")) - 3  # turns so far
            ids = list(self.replies[min(k, len(self.replies) - 1)])
            capped = self.capped_first and k == 0
            out.append(Sampled(ids if capped else ids + [self.codec.eos_id], not capped))
        return out


def _record(tok, replies, capped_first=False, max_completion_tokens=None):
    from lfmgym.engine import ChatCodec

    codec = ChatCodec(tok)
    engine = RolloutEngine(Scripted(tok, codec, replies, capped_first), sampling=Sampling(max_new_tokens=64),
                           budgets=Budgets(max_completion_tokens=max_completion_tokens), strict_tokens=True)
    return engine.play(lambda: CapitalsEnv(max_turns=3), [TASK], [0])[0], codec


def test_mask_is_one_exactly_on_assistant_tokens(tiny):
    _, tok, _ = tiny
    call = "<|tool_call_start|>[capital(country='peru')]<|tool_call_end|>"
    rec, codec = _record(tok, [call, "Lima"], capped_first=True)
    assert [m["role"] for m in rec.messages[2:]] == ["assistant", "tool", "assistant"]
    ids = rec.prompt_ids + rec.completion_ids
    mask = [0] * len(rec.prompt_ids) + rec.env_mask
    # Token by token through the real chat template: the ids are the template's rendering of the
    # transcript, except the end-of-turn token after the capped call, which the template writes
    # and the policy never sampled.
    rendered = tok(tok.apply_chat_template(rec.messages, tokenize=False), add_special_tokens=False)["input_ids"]
    assert rendered[: len(ids)] == ids
    call_ids = tok(call, add_special_tokens=False)["input_ids"]
    start = len(rec.prompt_ids)
    assert ids[start:start + len(call_ids)] == call_ids and mask[start:start + len(call_ids)] == [1] * len(call_ids)
    synthetic_eot = start + len(call_ids)
    assert ids[synthetic_eot] == codec.eos_id and mask[synthetic_eot] == 0  # capped reply: no EOT in the loss
    tool_text = tok.decode([t for t, m in zip(ids, mask) if not m][len(rec.prompt_ids):], skip_special_tokens=False)
    assert "Lima" in tool_text and "tool" in tool_text  # the tool's answer and its header: masked
    answer = tok("Lima", add_special_tokens=False)["input_ids"] + [codec.eos_id]
    assert ids[-len(answer):] == answer and mask[-len(answer):] == [1] * len(answer)  # a finished reply keeps its EOT
    assert sum(mask) == len(call_ids) + len(answer)


def _loss(model, tok, row):
    from trl import DPOConfig

    from lfmgym.stages.dpo import MaskedDPOTrainer
    from datasets import Dataset

    args = DPOConfig(output_dir="/tmp/lfmgym-dpo-mask-test", loss_type=["sigmoid_norm", "sft"], loss_weights=[1.0, 1.0],
                     report_to=[], per_device_train_batch_size=1, max_length=512, use_cpu=True)
    cols = ("prompt_ids", "chosen_ids", "chosen_mask", "rejected_ids", "rejected_mask")
    trainer = MaskedDPOTrainer(model=model, args=args, train_dataset=Dataset.from_list([{k: row[k] for k in cols}]),
                               processing_class=tok, data_collator=AssistantMaskCollator(pad_token_id=tok.pad_token_id,
                                                                                        max_length=512))
    batch = trainer.data_collator([{k: row[k] for k in cols}])
    model.eval()
    import torch

    with torch.no_grad():
        return float(trainer.compute_loss(model, batch))


def test_loss_ignores_tool_result_text(tiny):
    """Episodes cut by the completion budget right after a tool result end on feedback: replacing
    that tool text changes the ids but not the loss (the mask gives it none)."""
    _, _, path = tiny
    model, tok = common.load_model(path)  # from disk: TRL builds the reference model from its path
    call = "<|tool_call_start|>[capital(country='peru')]<|tool_call_end|>"
    other = "<|tool_call_start|>[capital(country='kenya')]<|tool_call_end|>"
    full, _ = _record(tok, [call, "Lima"])
    first = full.turns[0]
    budget = len(first.ids) + len(first.feedback_ids) + 3  # no room for another turn after the tool result
    chosen, _ = _record(tok, [call, "Lima"], max_completion_tokens=budget)
    rejected, _ = _record(tok, [other, "Lima"], max_completion_tokens=budget)
    assert chosen.truncation_reason == rejected.truncation_reason == "completion_length"
    assert chosen.env_mask[-1] == 0  # ends on the tool's feedback
    group = Group(env="capitals", task_id=TASK.id, prompt=chosen.messages[:2],
                  rollouts=[Rollout.of("sampled", chosen), Rollout.of("sampled", rejected)])
    row = pair_row(group, 0, 1)
    base = _loss(model, tok, row)
    swapped = dict(row)
    fb = [i for i, m in enumerate(row["chosen_mask"]) if m == 0]
    filler = tok("completely different tool output text", add_special_tokens=False)["input_ids"]
    ids = list(row["chosen_ids"])
    for j, i in enumerate(fb[1:-3]):  # the tool's text, inside the feedback
        ids[i] = filler[j % len(filler)]
    swapped["chosen_ids"] = ids
    assert swapped["chosen_ids"] != row["chosen_ids"]
    assert _loss(model, tok, swapped) == pytest.approx(base, abs=1e-6)


@pytest.mark.slow
def test_two_rounds_sample_from_the_updated_policy_and_resume(tiny, tmp_path):
    from lfmgym.stages.dpo import run_dpo

    _, _, path = tiny
    cfg = small_config(**{"dpo.rounds": 2, "dpo.prompts": 3, "dpo.learning_rate": 5e-3, "dpo.max_steps": 2,
                          "dpo.samples": 2, "dpo.max_new_tokens": 12, "dpo.temperature": 1.5})
    stage = tmp_path / "dpo"
    run_dpo(cfg, path, stage)
    r1, r2 = stage / "round_1", stage / "round_2"
    j1, j2 = json.loads((r1 / "jury.json").read_text()), json.loads((r2 / "jury.json").read_text())
    assert j1["from"] == str(path) and j2["from"] == str(r1 / "model")  # round 2 sampled from round 1's model
    p1 = [json.loads(x) for x in (r1 / "pairs.jsonl").read_text().splitlines()]
    p2 = [json.loads(x) for x in (r2 / "pairs.jsonl").read_text().splitlines()]
    assert {p["task_id"] for p in p1} | {p["task_id"] for p in p2}  # the same prompts, different rollouts
    assert [p["chosen_ids"] for p in p1] != [p["chosen_ids"] for p in p2]
    assert (stage / "model" / "model.safetensors").is_file()
    # A kill between rounds: round 2 gone, round 1 kept -> the rerun resumes at round 2.
    import shutil

    shutil.rmtree(r2)
    shutil.rmtree(stage / "model")
    mtime = (r1 / "model" / "model.safetensors").stat().st_mtime
    run_dpo(cfg, path, stage)
    assert (r1 / "model" / "model.safetensors").stat().st_mtime == mtime  # round 1 reused, not retrained
    assert (r2 / "model" / "model.safetensors").is_file() and (stage / "model" / "model.safetensors").is_file()


def test_jury_with_an_llm_judge_reports_agreement(tiny):
    """A CPU-sized LLM judge (the tiny model through the ``hf`` judge) sits on the jury next to the
    env reward and the n-gram juror; the report holds per-juror scores, how often leaving each
    juror out changes a pick, and the agreement between jurors."""
    from lfmgym.stages.dpo import make_pairs
    from lfmgym.stages.judges import hf_judge
    from lfmgym.stages.jury import Jury

    _, tok, path = tiny
    call = "<|tool_call_start|>[capital(country='peru')]<|tool_call_end|>"
    good, _ = _record(tok, [call, "Lima"])
    wrong, _ = _record(tok, ["Paris"])
    loop, _ = _record(tok, ["Lima Lima Lima Lima Lima Lima Lima Lima Lima Lima Lima Lima Lima Lima Lima Lima"],
                      capped_first=True)
    groups = [Group(env="capitals", task_id=TASK.id, prompt=good.messages[:2],
                    rollouts=[Rollout.of("sampled", r) for r in (good, wrong, loop)])]
    cfg = small_config()["dpo"]["jury"]
    jury = Jury(cfg, [("hf", hf_judge(str(path), max_new_tokens=4, fallback=0.25), 1.0)])
    rows, summary = make_pairs(groups, jury)
    report = summary["jury"]
    assert report["jurors"] == ["env", "judge:hf", "ngram"]
    assert set(report["pick_changes_without"]) == {"env", "judge:hf", "ngram"}
    assert set(report["agreement"]) == {"env~judge:hf", "env~ngram", "judge:hf~ngram"}
    assert report["scores"]["env"]["n"] == 3 and summary["judges"]["hf"]["calls"] == 3
    assert rows and rows[0]["chosen_index"] == 0  # the correct episode wins; a looping or wrong one loses
    assert rows[0]["rejected_index"] in (1, 2)
