"""The rollout engine: budgets end episodes with a reason, steps run next to each other, sampling
does not depend on batching, the records are what the policy produced."""

from __future__ import annotations

import time

import pytest

from lfmgym import Task
from lfmgym.backends.base import Generation
from lfmgym.engine import Budgets, RolloutEngine
from lfmgym.engine.latency_env import LatencyEnv
from lfmgym.rollout import run_episodes


class Echo:
    """A text policy: the same reply every turn."""

    def act(self, observations, tasks):
        return [Generation("lookup", finished=True) for _ in observations]


def _tasks(n, hang_index=None):
    return [Task(id=f"latency-{i}", prompt=f"item {i}", answer=str(i), meta={"hang": i == hang_index})
            for i in range(n)]


def test_a_step_past_the_limit_ends_its_episode_only():
    """One env step sleeps 30 s; with max_step_s=0.5 that episode ends truncated (step_timeout),
    the others finish their 3 turns, and the whole run takes about the others' time."""
    tasks = _tasks(6, hang_index=2)
    factory = lambda: LatencyEnv(min_latency_s=0.01, max_latency_s=0.05, sleep_on_turn=2, sleep_s=30.0,  # noqa: E731
                                 max_turns=3)
    t0 = time.perf_counter()
    recs = run_episodes(factory, Echo(), tasks, budgets=Budgets(max_step_s=0.5))
    wall = time.perf_counter() - t0
    assert wall < 5.0
    hung = recs[2]
    assert hung.truncated and hung.truncation_reason == "step_timeout"
    assert hung.components["step_timeout"] == 1.0 and not hung.success and len(hung.turns) == 2
    for i, r in enumerate(recs):
        if i != 2:
            assert r.truncation_reason == "max_turns" and len(r.turns) == 3 and "step_timeout" not in r.components


def test_episode_wall_clock_and_token_budgets():
    factory = lambda: LatencyEnv(min_latency_s=0.2, max_latency_s=0.2, max_turns=10)  # noqa: E731
    recs = run_episodes(factory, Echo(), _tasks(3), budgets=Budgets(max_episode_s=0.5))
    assert all(r.truncation_reason == "episode_timeout" and len(r.turns) <= 3 for r in recs)

    class Ids:  # a text policy that reports token ids: the token budget counts them
        def act(self, observations, tasks):
            return [Generation("abc", token_ids=[1, 2, 3], finished=True) for _ in observations]

    factory = lambda: LatencyEnv(min_latency_s=0.0, max_latency_s=0.0, max_turns=10)  # noqa: E731
    engine = RolloutEngine(Ids(), budgets=Budgets(max_episode_tokens=7))
    # Text policies cannot be capped mid-turn: the budget ends the episode once it is spent.
    recs = engine.play(factory, _tasks(2), [0, 1])
    assert all(r.truncated for r in recs)


def test_env_steps_run_concurrently():
    """16 episodes x 3 turns of 0.2 s steps: lockstep-and-sequential would take 9.6 s."""
    factory = lambda: LatencyEnv(min_latency_s=0.2, max_latency_s=0.2, max_turns=3)  # noqa: E731
    t0 = time.perf_counter()
    recs = run_episodes(factory, Echo(), _tasks(16), workers=16)
    assert time.perf_counter() - t0 < 3.0
    assert all(len(r.turns) == 3 for r in recs)


@pytest.fixture(scope="module")
def tiny_backend():
    from lfmgym.backends.transformers_backend import TransformersBackend
    from lfmgym.model.loading import load_model_and_tokenizer

    model, tok = load_model_and_tokenizer("tiny", overrides={"num_hidden_layers": 2, "hidden_size": 64,
                                                             "intermediate_size": 128, "num_attention_heads": 2,
                                                             "num_key_value_heads": 1}, tokenizer_examples=20)
    return TransformersBackend(model, tok, batch_size=8)


def test_sampled_episodes_do_not_depend_on_batching(tiny_backend):
    """The same seeds give the same token-level episodes one at a time or 8 at a time, with
    concurrent steps: each row samples from its own stream."""
    from lfmgym.rollout import ModelPolicy

    policy = ModelPolicy(tiny_backend, temperature=1.0, max_new_tokens=12)
    factory = lambda: LatencyEnv(min_latency_s=0.0, max_latency_s=0.03, max_turns=2)  # noqa: E731
    tasks = _tasks(6)
    a = run_episodes(factory, policy, tasks, seed=5, batch_size=1)
    b = run_episodes(factory, policy, tasks, seed=5, batch_size=8)
    assert [r.completion_ids for r in a] == [r.completion_ids for r in b]
    assert [r.reward for r in a] == [r.reward for r in b]
    r = a[0]
    # Token-in/token-out: prompt + generated + feedback ids, the mask on generated ids only.
    codec = tiny_backend.codec
    assert r.prompt_ids == codec.encode_prompt(r.messages[:2])
    assert sum(r.env_mask) == sum(len(t.ids) for t in r.turns)
    assert [t for t, m in zip(r.completion_ids, r.env_mask) if m] == r.assistant_ids
    assert r.completion_logprobs is not None and len(r.completion_logprobs) == len(r.completion_ids)
    assert all(lp <= 0 for lp, m in zip(r.completion_logprobs, r.env_mask) if m)
    assert [t.text for t in r.turns] == [codec.decode(t.ids) for t in r.turns]
    assert r.to_dict()["generated_tokens"] == len(r.assistant_ids)


def test_grpo_adapter_passes_the_engine_records_through(tiny_backend):
    """What GRPO hands TRL is exactly what the engine sampled: ids, env_mask and logprobs."""
    from lfmgym.engine import HFGenerator, RolloutEngine, Sampling
    from lfmgym.stages.grpo import EnvRollout, _GeneratorPolicy

    codec = tiny_backend.codec
    gen = HFGenerator(tiny_backend.model, codec, batch_size=4)
    seen = {}

    def generate(prompts, caps):  # the engine's own generator behind the adapter's custom hook
        out = gen.generate_ids(prompts, caps, temperature=1.0, top_p=1.0, seeds=[len(seen) + i for i in range(len(prompts))])
        for p, s in zip(prompts, out):
            seen[tuple(p)] = s
        return [(s.ids, s.finished, s.logprobs) for s in out]

    tasks = _tasks(3)
    pool = {}
    from lfmgym.stages.common import prompt_key

    env = LatencyEnv(min_latency_s=0.0, max_latency_s=0.0, max_turns=2)
    prompts = [env.opening(t) for t in tasks]
    for p, t in zip(prompts, tasks):
        pool[prompt_key(p)] = ("latency", t)

    import lfmgym.stages.grpo as grpo

    real = grpo.make_env
    grpo.make_env = lambda name, kwargs: LatencyEnv(min_latency_s=0.0, max_latency_s=0.0, max_turns=2)
    try:
        rollout = EnvRollout(pool, {"latency": {}}, tiny_backend.tokenizer, max_new_tokens=8,
                             max_completion_length=64, generate=generate, ngram_weight=0.0)

        class Trainer:
            use_vllm = True  # so the adapter hands TRL the logprobs
            accelerator = None

        result = rollout(prompts, Trainer())
    finally:
        grpo.make_env = real
    for i in range(3):
        ctx, ids, mask, lps = list(result["prompt_ids"][i]), result["completion_ids"][i], result["env_mask"][i], \
            result["logprobs"][i]
        assert len(ids) == len(mask) == len(lps)
        k = 0
        while k < len(ids):  # walk the episode: each generated run is exactly one sampled turn
            s = seen[tuple(ctx)]
            assert ids[k:k + len(s.ids)] == s.ids and mask[k:k + len(s.ids)] == [1] * len(s.ids)
            assert lps[k:k + len(s.ids)] == s.logprobs
            ctx += s.ids
            k += len(s.ids)
            while k < len(ids) and mask[k] == 0:  # feedback: context only
                ctx.append(ids[k])
                k += 1
    assert isinstance(_GeneratorPolicy(gen, True).chat([{"role": "user", "content": "hi"}]), str)
    del RolloutEngine, Sampling


class _CoinEnv(LatencyEnv):
    """Success is the env's own definition (an override), reached by about half of random texts."""

    name = "coin"

    def __init__(self, **kwargs):
        super().__init__(**{"min_latency_s": 0.0, "max_latency_s": 0.0, "max_turns": 2, **kwargs})

    def success(self, components):
        return components["score"] >= 0.5


class _HalfEnv(LatencyEnv):
    """Default success (the weighted task reward reaches the top of ``reward_range``), at 0.5."""

    name = "half"
    reward_range = (0.0, 0.5)

    def __init__(self, **kwargs):
        super().__init__(**{"min_latency_s": 0.0, "max_latency_s": 0.0, "max_turns": 2, **kwargs})


def test_eval_pipeline_and_grpo_agree_on_every_episode(tiny_backend, monkeypatch, tmp_path):
    """The same greedy episodes played by ``lfmgym eval``'s evaluator, the pipeline's per-stage
    eval and GRPO's rollout adapter: the same ids, the same success per episode (an env's own
    ``success`` honoured by training too, and not moved by ``grpo.env_weight``), the same loop
    verdicts, and the per-env success GRPO logs is eval's success rate."""
    import json
    import types

    import yaml
    from accelerate import Accelerator

    from lfmgym import plugins
    from lfmgym.eval.envs import evaluate_envs
    from lfmgym.stages.common import heldout_tasks, prompt_key
    from lfmgym.stages.config import load_config
    from lfmgym.stages.evaluate import evaluate_model
    from lfmgym.stages.grpo import EnvRollout, EpisodeReward

    test_envs = types.SimpleNamespace(lfmgym_environments=lambda: [
        plugins.Spec("coin", _CoinEnv), plugins.Spec("half", _HalfEnv)])
    monkeypatch.setattr(plugins, "_REGISTRY", plugins.load_registry(extra_plugins=[("test-envs", test_envs)],
                                                                    quiet=True))
    raw = yaml.safe_load(open("configs/smoke.yaml"))
    raw["envs"] = {"coin": {"weight": 1.0}, "half": {"weight": 1.0}}
    raw["eval"] = {"n": 5, "max_new_tokens": 8, "batch_size": 16, "sampled": False}
    cfg = load_config(raw)
    names = list(cfg.envs)
    tasks = {name: heldout_tasks(cfg, name) for name in names}

    # 1. lfmgym eval's evaluator.
    ev = evaluate_envs(tiny_backend, names, samples=0, max_new_tokens=8, tasks=tasks, keep_records=True,
                       seed=int(cfg.eval.seed))
    # 2. The pipeline's per-stage eval (episodes.jsonl is what it keeps per episode).
    rows = evaluate_model(tiny_backend.model, tiny_backend.tokenizer, cfg, stage="base", out_dir=tmp_path)
    pipe = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    # 3. GRPO's rollout adapter, greedy, on the same tasks, with the env's weights doubled.
    pool, prompts = {}, []
    for name in names:
        env = plugins.make_env(name)
        for task in tasks[name]:
            prompts.append(env.opening(task))
            pool[prompt_key(prompts[-1])] = (name, task)
    rollout = EnvRollout(pool, {name: {} for name in names}, tiny_backend.tokenizer, max_new_tokens=8,
                         max_completion_length=4096, temperature=0.0, env_weight=2.0, ngram_weight=0.0)
    trainer = types.SimpleNamespace(accelerator=Accelerator(cpu=True), model_wrapped=tiny_backend.model,
                                    args=types.SimpleNamespace(ds3_gather_for_generation=True), use_vllm=False)
    played = []
    play = rollout.play
    rollout.play = lambda *args: played.append(play(*args)) or played[-1]
    columns = rollout(prompts, trainer)
    logged = {}
    EpisodeReward()(prompts, None, log_metric=lambda k, v: logged.__setitem__(k, v), **{
        k: v for k, v in columns.items() if k not in ("prompt_ids", "completion_ids", "logprobs", "env_mask")})

    evaled = [r for name in names for r in ev["records"][name]["greedy"]]
    grpo = played[0]
    assert [r.assistant_ids for r in grpo] == [r.assistant_ids for r in evaled]  # the same episodes
    verdicts = lambda rs: [(r.success, r.doom_loop, r.episode_loop, r.loop_kind) for r in rs]  # noqa: E731
    assert verdicts(grpo) == verdicts(evaled)
    assert [(e["success"], e["doom_loop"], e["episode_loop"], e["loop_kind"]) for e in pipe] == verdicts(evaled)
    assert columns["success"] == [float(r.success) for r in evaled]
    for name, row in zip(names, rows):
        assert row["success"] == ev["envs"][name]["success"] == logged[f"success/{name}"]
        assert row["doom_loop_greedy"] == ev["envs"][name]["doom_loop_greedy"]
    # Not vacuous: both verdicts occur among these episodes.
    assert 0 < sum(r.success for r in evaled) < len(evaled)


def test_grpo_envs_get_the_policy_as_sub_model_on_several_ddp_processes(tiny_backend, monkeypatch):
    """long_context's llm_query under GRPO with 2 DDP processes: generate is not collective there
    (no ZeRO-3/FSDP synced_gpus), so every env the adapter makes gets the policy as its sub-model."""
    import types

    from accelerate import Accelerator

    import lfmgym.stages.grpo as grpo
    from lfmgym.stages.common import prompt_key

    class Recursive(LatencyEnv):
        sub_model = None

        def set_sub_model(self, fn):
            self.sub_model = fn

    made = []
    monkeypatch.setattr(grpo, "make_env", lambda name, kwargs: made.append(
        Recursive(min_latency_s=0.0, max_latency_s=0.0, max_turns=1)) or made[-1])
    tasks = _tasks(2)
    prompts = [LatencyEnv().opening(t) for t in tasks]
    rollout = grpo.EnvRollout({prompt_key(p): ("latency", t) for p, t in zip(prompts, tasks)}, {"latency": {}},
                              tiny_backend.tokenizer, max_new_tokens=4, max_completion_length=64)

    class TwoRanks:  # rank 0 of two DDP processes (the other rank has as many live episodes)
        num_processes, process_index = 2, 0

        def __init__(self):
            self.real = Accelerator(cpu=True)

        def __getattr__(self, name):
            return getattr(self.real, name)

        def gather(self, tensor):
            return tensor

    trainer = types.SimpleNamespace(accelerator=TwoRanks(), model_wrapped=tiny_backend.model, use_vllm=False,
                                    args=types.SimpleNamespace(ds3_gather_for_generation=True))
    records = rollout.play(prompts, trainer)
    assert len(records) == 2 and len(made) == 2
    assert all(env.sub_model is not None for env in made)
    assert all(env.sub_model.__self__.generator.model is tiny_backend.model for env in made)  # the policy itself
