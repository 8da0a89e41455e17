"""Stages building blocks: config validation, task streams, the jury, judges, GRPO token plumbing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lfmgym.stages import common
from lfmgym.stages.config import ConfigError, apply_overrides, check_trainer_args, config_diff, load_config

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.yaml"

TINY_OVERRIDES = {"num_hidden_layers": 2, "hidden_size": 64, "intermediate_size": 128,
                  "num_attention_heads": 2, "num_key_value_heads": 1}


def small_config(**overrides) -> dict:
    """The smoke config (configs/smoke.yaml) with dotted-path overrides."""
    return load_config(SMOKE, overrides)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 2-block tiny LFM2 with a tokenizer trained on the smoke envs' text, saved to disk."""
    from lfmgym.stages.pipeline import build_base_model

    model, tok = build_base_model(small_config())
    path = tmp_path_factory.mktemp("tiny") / "model"
    common.save_model(model, tok, path)
    return model, tok, path


# --------------------------------------------------------------------------- config


def test_shipped_configs_validate():
    from lfmgym.stages.demo import demo_config_path, load_demo_config

    for path in sorted((REPO / "configs").glob("*.yaml")):
        cfg = load_config(path)
        check_trainer_args(cfg, this_machine=False)  # configs/gpu.yaml: bf16 on a GPU machine
        if path.stem in {"smoke", "demo", "gpu", "demo_smollm2-135m"}:  # the full recipe; others are studies
            assert cfg.stages == ("sft", "dpo", "grpo"), path
            assert set(cfg.envs) >= {"math", "math_calculator", "tool_calling"}, path
    assert load_demo_config().model.name == "tiny"
    # configs/demo.yaml is the copy users edit; the package ships the same file.
    assert (REPO / "configs" / "demo.yaml").read_text() == demo_config_path().read_text()


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"sft.learning_rte": 1e-3}, "sft.learning_rte"),
        ({"colour": "red"}, "colour"),
        ({"dpo.jury.aggregate": "mode"}, "dpo.jury.aggregate"),
        ({"grpo.num_generations": 1}, "grpo.num_generations"),
        ({"sft.max_steps": "many"}, "sft.max_steps"),
        ({"eval.sampled": "yes"}, "eval.sampled"),
        ({"stages": ["sft", "ppo"]}, "stages"),
        ({"stages": ["sft", "sft"]}, "stages"),
        ({"envs.nope": {"weight": 1.0}}, "envs.nope"),
        ({"envs.math.kwargs": {"difficulty": 99}}, "envs.math.kwargs"),
        ({"envs.math.kwargs": {"colour": 1}}, "envs.math.kwargs"),
        ({"envs.math.wieght": 2.0}, "envs.math.wieght"),
        ({"dpo.jury.judges": [{"name": "nobody"}]}, "dpo.jury.judges[0].name"),
        ({"dpo.jury.judges": [{"name": "hf", "wait": 1}]}, "dpo.jury.judges[0].wait"),
        ({"grpo.max_new_tokens": 999}, "grpo.max_new_tokens"),
        ({"sft.learning_rate": float("nan")}, "sft.learning_rate"),
        ({"grpo.env_weights": {"maths": 1.0}}, "grpo.env_weights.maths"),
        ({"grpo.env_weights": {"math": -1}}, "grpo.env_weights.math"),
        ({"dpo.env_weights": {"math": 0, "math_calculator": 0, "tool_calling": 0}}, "dpo.env_weights"),
        ({"dpo.sft_weight": -0.5}, "dpo.sft_weight"),
    ],
)
def test_config_errors_name_the_field(overrides, field):
    with pytest.raises(ConfigError) as exc:
        small_config(**overrides)
    assert str(exc.value).startswith(field), str(exc.value)


def test_trainer_extras_are_checked_against_trl():
    check_trainer_args(small_config(**{"sft.trainer": {"max_grad_norm": 0.5}}))
    with pytest.raises(ConfigError, match=r"^sft\.trainer\.max_grad_nrm: not a trl\.SFTConfig argument"):
        check_trainer_args(small_config(**{"sft.trainer": {"max_grad_nrm": 0.5}}))
    with pytest.raises(ConfigError, match=r"^grpo\.trainer\.learning_rate: set by the stage"):
        check_trainer_args(small_config(**{"grpo.trainer": {"learning_rate": 0.1}}))
    with pytest.raises(ConfigError, match=r"^dpo\.trainer\.loss_weights: set by the stage"):
        check_trainer_args(small_config(**{"dpo.trainer": {"loss_weights": [1.0, 0.5]}}))


def test_yaml_numbers_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    # PyYAML reads 1e-3 (no dot) as a string: it must still be a float learning rate.
    path.write_text("envs: {math: {}}\nsft: {learning_rate: 1e-3}\n")
    cfg = load_config(path, {"sft.max_steps": 7, "envs.math.kwargs.difficulty": 2, "stages": ["sft"]})
    assert cfg.sft.learning_rate == pytest.approx(1e-3)
    assert cfg.sft.max_steps == 7 and cfg.envs["math"].kwargs == {"difficulty": 2}
    assert cfg.envs["math"].weight == 1.0 and cfg.stages == ("sft",)
    with pytest.raises(ConfigError, match=r"^sft\.max_steps: is a int"):
        apply_overrides({"sft": {"max_steps": 3}}, {"sft.max_steps.x": 1})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    assert config_diff(cfg, load_config(cfg)) is None
    assert config_diff(cfg, load_config(cfg, {"grpo.beta": 0.5})) == "grpo.beta"


# --------------------------------------------------------------------------- task streams


def test_split_counts():
    assert common.split_counts(10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert sum(common.split_counts(7, {"a": 5, "b": 0.01}).values()) == 7
    assert common.split_counts(7, {"a": 5, "b": 0.01})["b"] == 1  # every env gets cold-start data
    assert "z" not in common.split_counts(3, {"a": 1, "z": 0})


def test_training_streams_never_contain_heldout_tasks():
    cfg = small_config(**{"eval.n": 40})
    for name in cfg.envs:
        held = common.heldout_tasks(cfg, name)
        assert len(held) == 40
        train = common.training_tasks(cfg, name, 300, "sft")
        assert {t.id for t in held}.isdisjoint(t.id for t in train)
        assert {t.prompt for t in held}.isdisjoint(t.prompt for t in train)
        # Streams differ by stage, and are reproducible.
        assert [t.id for t in common.training_tasks(cfg, name, 20, "grpo")] != [t.id for t in train[:20]]
        assert [t.id for t in common.training_tasks(cfg, name, 20, "sft")] == [t.id for t in train[:20]]
    mixed = common.mixture_tasks(cfg, 30, "dpo")
    assert {n for n, _ in mixed} == set(cfg.envs) and len(mixed) == 30
    # A stage's env_weights override the global weights (0 drops the env from that stage).
    cfg = small_config(**{"grpo.env_weights": {"math": 0.0, "tool_calling": 3.0}})
    counts = common.split_counts(40, common.stage_weights(cfg, "grpo"))
    assert counts == {"math_calculator": 10, "tool_calling": 30}
    assert {n for n, _ in common.mixture_tasks(cfg, 40, "grpo")} == {"math_calculator", "tool_calling"}


def test_sft_rows_are_env_demonstrations():
    from lfmgym.stages.sft import sft_rows

    cfg = small_config()
    rows = sft_rows(cfg, 12)
    assert {r["env"] for r in rows} == set(cfg.envs)
    for r in rows:
        env = common.make_env(r["env"], cfg.envs[r["env"]].kwargs)
        task = next(t for t in common.training_tasks(cfg, r["env"], 12, "sft") if t.id == r["task_id"])
        reward, _ = env.score_transcript(task, r["messages"])
        assert reward == pytest.approx(type(env).reward_range[1]), r  # gold demonstrations score the max


@pytest.mark.filterwarnings("ignore:`gradient_checkpointing` is deprecated:FutureWarning")
def test_sft_group_by_length_batches_rows_of_similar_length(tiny, tmp_path):
    """``sft.group_by_length``: the trainer's batches carry far less padding than random ones."""
    from trl import SFTConfig, SFTTrainer

    from lfmgym.stages.sft import build_sft_dataset, length_grouping

    model, tok, _ = tiny
    cfg = small_config()
    dataset = build_sft_dataset(cfg, 96)
    assert length_grouping(False) == {}

    def real_share(grouped: bool) -> float:
        args = SFTConfig(output_dir=str(tmp_path / str(grouped)), per_device_train_batch_size=8, report_to=[],
                         assistant_only_loss=True, bf16=False, seed=0, dataloader_pin_memory=False,
                         **length_grouping(grouped))
        loader = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tok).get_train_dataloader()
        masks = [b["attention_mask"] for b in loader]
        return sum(int(m.sum()) for m in masks) / sum(m.numel() for m in masks)

    random_share, grouped_share = real_share(False), real_share(True)
    assert grouped_share > random_share + 0.1, (random_share, grouped_share)


def test_sft_stops_at_a_cold_start_on_dev_success(tiny, tmp_path):
    """``sft.stop_at``: checks every ``every`` steps from ``after``; stops at the first check whose
    dev success reaches the threshold, logs each check, and saves the model it stopped with."""
    from lfmgym.stages.sft import run_sft

    _, _, path = tiny
    base = {"sft.max_steps": 6, "sft.save_steps": 6, "sft.stop_at.env": "math", "sft.stop_at.every": 2,
            "sft.stop_at.after": 2, "sft.stop_at.tasks": 3}
    run_sft(small_config(**base, **{"sft.stop_at.success": 0.0}), path, tmp_path / "stop")
    (check,) = [json.loads(x) for x in (tmp_path / "stop" / "cold_start.jsonl").read_text().splitlines()]
    assert check["step"] == 2 and check["stop"] and check["tasks"] == 3 and check["env"] == "math"
    assert json.loads((tmp_path / "stop" / "log.jsonl").read_text().splitlines()[-1])["step"] == 2
    assert (tmp_path / "stop" / "model" / "config.json").exists()

    run_sft(small_config(**base, **{"sft.stop_at.success": 1.0}), path, tmp_path / "cap")  # untrained: never 1.0
    checks = [json.loads(x) for x in (tmp_path / "cap" / "cold_start.jsonl").read_text().splitlines()]
    assert [c["step"] for c in checks] == [2, 4, 6] and not any(c["stop"] for c in checks)


def test_stop_at_names_an_env_of_the_config():
    with pytest.raises(ConfigError, match=r"sft.stop_at.env: 'nope' is not one of the envs"):
        small_config(**{"sft.stop_at.env": "nope"})


# --------------------------------------------------------------------------- jury


def _rollout(kind, reward, ids, finished=True, doom=False, text="x"):
    from lfmgym import Task
    from lfmgym.engine import EpisodeRecord, Turn
    from lfmgym.stages.jury import Rollout

    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
            {"role": "assistant", "content": text}]
    record = EpisodeRecord(env_name="math", task=Task(id="t", prompt="u", answer="7"), messages=msgs, reward=reward,
                           components={"correct": reward}, turns=[Turn(text=text, ids=ids, finished=finished)],
                           doom_loop=doom, episode_loop=doom)
    return Rollout(kind=kind, record=record)


def _jury(**over):
    from lfmgym.stages.jury import Jury

    return Jury(small_config(**{f"dpo.jury.{key}": value for key, value in over.items()}).dpo.jury)


def test_weighted_median():
    from lfmgym.stages.jury import weighted_median

    assert weighted_median([0.0, 1.0, 0.5], [1, 1, 1]) == 0.5
    assert weighted_median([0.0, 1.0], [1, 1]) == 0.5
    assert weighted_median([0.0, 1.0], [1, 3]) == 1.0
    with pytest.raises(ValueError):
        weighted_median([1.0], [0.0])


def test_jury_picks_best_and_worst_forces_doom_loops_and_skips_ties():
    from lfmgym.stages.jury import Group

    jury = _jury()
    loop_ids = [5, 6, 7, 8] * 20
    good = _rollout("sampled", 1.0, [1, 2, 3, 4], text="Answer: 7")
    wrong = _rollout("sampled", 0.0, [1, 2, 9, 4], text="Answer: 8")
    looping = _rollout("greedy", 1.0, loop_ids, finished=False, doom=True, text="7 7 7")
    groups = [
        Group("math", "t1", good.messages[:2], [good, wrong, looping]),
        Group("math", "t2", good.messages[:2], [_rollout("sampled", 1.0, [1, 2, 3]), _rollout("greedy", 1.0, [1, 2, 3])]),
    ]
    jury.score(groups)
    rows, counts = jury.pairs(groups)
    assert counts == {"groups": 2, "pairs": 1, "skipped_all_equal": 1, "skipped_identical": 0}
    row = rows[0]
    assert row["chosen_index"] == 0 and row["rejected_index"] == 2  # the loop is rejected despite reward 1
    assert row["rollouts"][2]["aggregate"] == -1.0 and row["rollouts"][2]["doom_loop"] is True
    assert set(row["rollouts"][0]["scores"]) == {"env", "ngram"}
    assert row["chosen"] == [{"role": "assistant", "content": "Answer: 7"}]
    json.dumps(rows)  # the pairs file must be JSON


def test_jury_mean_median_and_judges():
    from lfmgym.stages.jury import Group, Jury

    calls = []

    def judge(prompt, completion):
        calls.append(completion)
        return 1.0 if "good" in completion else 0.0

    settings = small_config().dpo.jury
    a, b = _rollout("sampled", 0.0, [1, 2, 3], text="good"), _rollout("sampled", 0.0, [1, 2, 3], text="bad")
    jury = Jury(settings, [("fake", judge, 2.0)])
    g = Group("math", "t", a.messages[:2], [a, b])
    jury.score([g])
    assert calls == ["good", "bad"]
    assert a.scores["judge:fake"] == 1.0 and a.aggregate == pytest.approx((0 + 1 + 2) / 4)
    rows, _ = jury.pairs([g])
    assert rows[0]["chosen"][0]["content"] == "good"
    med = Jury(dataclasses.replace(settings, aggregate="median"), [("fake", judge, 2.0)])
    med.score([g])
    assert a.aggregate == 1.0 and b.aggregate == 0.0


# --------------------------------------------------------------------------- judges


def test_parse_score():
    from lfmgym.stages.judges import parse_score

    assert parse_score("Score: 10") == 1.0
    assert parse_score("I'd say score = 1.") == 0.0
    assert parse_score("The reply is fine. 7") == pytest.approx(6 / 9)
    assert parse_score("no idea") is None and parse_score("Score: 42") is None and parse_score(None) is None


class _FixedBackend:
    """A generation backend that always answers ``text`` (stands in for a judge model)."""

    def __init__(self, text):
        self.text = text
        self.seen = []

    def generate(self, batch, *, n=1, temperature=0.0, top_p=1.0, max_new_tokens=256, seed=None):
        from lfmgym.backends.base import Generation

        self.seen.extend(batch)
        return [[Generation(self.text) for _ in range(n)] for _ in batch]


def test_openai_judge_over_a_loopback_server():
    from lfmgym.backends.serve import make_server
    from lfmgym.plugins import get_registry
    from lfmgym.stages.judges import openai_judge

    backend = _FixedBackend("Score: 8")
    with make_server(backend, "judge") as server:
        judge = openai_judge(server.base_url, "judge", max_retries=0)
        assert judge([{"role": "user", "content": "What is 2+2?"}], "4") == pytest.approx(7 / 9)
    system, user = backend.seen[0]
    assert "Score: N" in system["content"] and "What is 2+2?" in user["content"] and "4" in user["content"]
    assert {"hf", "openai"} <= set(get_registry().judges)


def test_hf_judge_on_a_local_model(tiny):
    from lfmgym.stages.judges import hf_judge

    _, _, path = tiny
    judge = hf_judge(str(path), max_new_tokens=4, fallback=0.25)
    scores = judge.score_batch([([{"role": "user", "content": "hi"}], "hello")] * 2)
    assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)
    assert judge.calls == 2 and judge.unparsed <= 2  # a random model rarely writes a score: fallback


# --------------------------------------------------------------------------- GRPO token plumbing


def test_grpo_rollout_tokens_match_the_chat_template(tiny):
    """prompt + generated turns + feedback tokens == the template's rendering of the episode,
    env tokens are masked out, and an oracle policy gets the env's full reward."""
    from lfmgym.stages.grpo import EnvRollout, build_prompt_pool

    _, tok, _ = tiny
    cfg = small_config(**{"grpo.prompt_pool": 6})
    prompts, pool = build_prompt_pool(cfg)
    kwargs = {n: e.kwargs for n, e in cfg.envs.items()}

    demos = []
    for p in prompts:
        name, task = pool[common.prompt_key(p)]
        demo = common.make_env(name, kwargs[name]).demonstrate(task)
        opening = tok.apply_chat_template(demo[:2], add_generation_prompt=True, tokenize=False)
        demos.append((opening, [m["content"] for m in demo if m["role"] == "assistant"]))

    def generate(prompt_ids, caps):  # an oracle: the demonstration's next assistant turn
        out = []
        for ids in prompt_ids:
            text = tok.decode(ids, skip_special_tokens=False)
            opening, turns = next(d for d in demos if text.startswith(d[0]))
            turn = turns[text.count("<|im_start|>assistant") - 1]
            out.append((tok(turn, add_special_tokens=False)["input_ids"] + [tok.eos_token_id], True, None))
        return out

    rollout = EnvRollout(pool, kwargs, tok, max_new_tokens=64, max_completion_length=512, generate=generate)
    result = rollout(prompts, trainer=None)
    for i, p in enumerate(prompts):
        name, task = pool[common.prompt_key(p)]
        env = common.make_env(name, kwargs[name])
        demo = env.demonstrate(task)
        full = tok(tok.apply_chat_template(demo, tokenize=False), add_special_tokens=False)["input_ids"]
        ids = result["prompt_ids"][i] + result["completion_ids"][i]
        assert full[: len(ids)] == ids  # identical up to the template's trailing newline
        assert len(result["env_mask"][i]) == len(result["completion_ids"][i])
        masked = [t for t, m in zip(result["completion_ids"][i], result["env_mask"][i]) if m]
        expected = [t for m in demo if m["role"] == "assistant"
                    for t in tok(m["content"], add_special_tokens=False)["input_ids"] + [tok.eos_token_id]]
        assert masked == expected  # exactly the policy's tokens carry loss
        comps = result["components"][i]
        env_part = env.total_reward({k: v for k, v in comps.items() if k != "ngram"})
        assert env_part == pytest.approx(type(env).reward_range[1])
        # One weighted sum: the env's components plus the token n-gram penalty (weight 1 here).
        assert result["env_reward"][i] == pytest.approx(env_part + comps["ngram"])
        assert result["success"][i] == 1.0 and result["doom_loop"][i] is False
    assert result["logprobs"] is None  # transformers generation: TRL recomputes them


# --------------------------------------------------------------------------- demo claims and progress


def _row(stage, env, success, greedy=0.0, sampled=0.0):
    return {"stage": stage, "env": env, "success": success, "parse_rate": 1.0, "doom_loop_greedy": greedy,
            "doom_loop_sampled": sampled, "mean_length": 10.0, "n": 32}


def test_demo_claims_are_checked_on_the_table():
    from lfmgym.stages.demo import check_claims, claims_markdown

    rows = [_row("sft", "math", 0.0), _row("sft", "math_calculator", 0.5, 0.2, 0.1),
            _row("dpo", "math", 0.0), _row("dpo", "math_calculator", 0.6, 0.1, 0.0),
            _row("grpo", "math", 0.0), _row("grpo", "math_calculator", 0.9, 0.0, 0.0)]
    claims = check_claims(rows)
    assert [holds for _, holds, _ in claims] == [True, True, True]
    assert "math_calculator 0.90 vs math 0.00" in claims[0][2]
    worse = rows[:4] + [_row("grpo", "math", 0.0), _row("grpo", "math_calculator", 0.2, 0.3, 0.3)]
    assert [holds for _, holds, _ in check_claims(worse)] == [False, False, False]
    assert [holds for _, holds, _ in check_claims(rows[:2])] == [True, None, None]
    assert "does NOT hold" in claims_markdown(check_claims(worse), 12.0)
    # SFT left no loops: nothing to remove, so the loop claim holds only if none come back.
    clean = [_row(r["stage"], r["env"], r["success"]) for r in rows]
    assert check_claims(clean)[2][1] is True and "SFT left no loops" in check_claims(clean)[2][2]
    back = clean[:4] + [_row("grpo", "math", 0.0), _row("grpo", "math_calculator", 0.9, 0.1, 0.0)]
    assert check_claims(back)[2][1] is False


def test_stage_progress_phases():
    from lfmgym.stages.common import StageProgress

    prog = StageProgress(enabled=True, total_phases=2).start()
    with prog.phase("a", total=4):
        prog.advance(1, info="x")
        prog.set(3)
    with pytest.raises(RuntimeError):
        with prog.phase("b", total=2):
            raise RuntimeError("boom")
    prog.stop()
    overall, a, b = prog._prog.tasks
    assert (overall.completed, a.completed, a.total) == (1, 4, 4)  # an interrupted phase does not count
    assert b.fields["info"] == "interrupted"
    quiet = StageProgress(enabled=False)
    with quiet.phase("c", total=1):
        quiet.advance(1)  # a disabled display accepts every call


def test_grpo_rollout_survives_text_the_template_rewrites(tiny):
    """A generated '</think>' followed by a parse-error feedback (a user message) would be cut by
    the LFM2.5 template when re-rendered; the rollout keeps it (preserve_thinking), and a template
    that still rewrites history ends that episode, scored, instead of raising in the trainer."""
    from lfmgym.stages.grpo import EnvRollout, build_prompt_pool

    _, tok, _ = tiny
    cfg = small_config(**{"grpo.prompt_pool": 4})
    prompts, pool = build_prompt_pool(cfg)
    kwargs = {n: e.kwargs for n, e in cfg.envs.items()}
    junk = tok("x</think><|tool_call_start|>[oops(", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]

    def generate(prompt_ids, caps):
        return [(list(junk), True, None) for _ in prompt_ids]

    rollout = EnvRollout(pool, kwargs, tok, max_new_tokens=32, max_completion_length=256, generate=generate)
    result = rollout(prompts, trainer=None)
    assert rollout.template_breaks == 0 and not any(result["ended_early"])
    with_tools = [c for c, name in zip(result["completion_ids"], result["env_name"]) if name != "math"]
    assert with_tools and all(len(c) > len(junk) for c in with_tools)  # feedback followed, episodes went on

    # A template that rewrites an assistant turn once other messages follow it is never prefix-preserving.
    class Rewriting:
        def __getattr__(self, name):
            return getattr(tok, name)

        def apply_chat_template(self, messages, **kw):
            if messages[-1]["role"] != "assistant":
                messages = [{**m, "content": m["content"].upper()} if m["role"] == "assistant" else m
                            for m in messages]
            return tok.apply_chat_template(messages, **kw)

        def __call__(self, *a, **kw):
            return tok(*a, **kw)

    rewriting = EnvRollout(pool, kwargs, Rewriting(), max_new_tokens=32, max_completion_length=256, generate=generate)
    with pytest.warns(UserWarning, match="ended early"):
        result = rewriting(prompts, trainer=None)
    assert rewriting.template_breaks == sum(result["ended_early"]) > 0
    assert len(result["env_reward"]) == len(prompts) and all(isinstance(r, float) for r in result["env_reward"])
