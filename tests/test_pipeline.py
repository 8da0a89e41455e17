"""The pipeline end to end on the smoke config (a 2-block model, a few steps per stage): results,
pairs and GRPO logs on disk, resume after an interruption, no re-run of finished stages, config
errors before any work, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lfmgym.stages.config import ConfigError
from lfmgym.stages.evaluate import ROW_KEYS
from lfmgym.stages.pipeline import run_pipeline
from tests.test_stages import SMOKE, small_config


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke")
    rows = run_pipeline(SMOKE, out, progress=False)
    return out, rows


def test_smoke_pipeline_writes_results(smoke_run):
    out, rows = smoke_run
    envs = ["math", "math_calculator", "tool_calling"]
    assert [(r["stage"], r["env"]) for r in rows] == [(s, e) for s in ("base", "sft", "dpo", "grpo") for e in envs]
    for r in rows:
        assert tuple(r) == ROW_KEYS + ("truncated", "loop_tokens_saved")
        assert r["loop_tokens_saved"] == 0  # eval.stop_loops is off by default
        assert all(isinstance(v, int) for v in r["truncated"].values())  # episodes cut, by reason
        assert r["n"] == 3
        for key in ("success", "parse_rate", "doom_loop_greedy", "doom_loop_sampled"):
            assert 0.0 <= r[key] <= 1.0, (key, r)
        assert r["mean_length"] > 0
    assert json.loads((out / "results.json").read_text()) == rows
    md = (out / "results.md").read_text()
    assert md.startswith("| stage | env | success |") and md.count("\n| ") == len(rows)
    assert (out / "results.png").stat().st_size > 1000
    times = json.loads((out / "timings.json").read_text())
    assert set(times["wall_s"]) == set(times["cpu_s"]) == {"base", "sft", "dpo", "grpo"}
    for stage in ("base", "sft", "dpo", "grpo"):
        assert (out / stage / "model" / "config.json").is_file()
        episodes = [json.loads(line) for line in (out / stage / "episodes.jsonl").read_text().splitlines()]
        assert len(episodes) == 2 * 3 * 3 and {e["pass"] for e in episodes} == {"greedy", "sampled"}


def test_dpo_pairs_are_saved_with_every_score(smoke_run):
    out, _ = smoke_run
    summary = json.loads((out / "dpo" / "jury.json").read_text())
    assert summary["groups"] == 3
    assert summary["pairs"] + summary["skipped_all_equal"] + summary["skipped_identical"] == 3
    pairs = [json.loads(line) for line in (out / "dpo" / "pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == summary["pairs"]
    for p in pairs:
        assert len(p["rollouts"]) == 3  # 2 sampled + 1 greedy
        assert [r["kind"] for r in p["rollouts"]] == ["sampled", "sampled", "greedy"]
        for r in p["rollouts"]:
            assert set(r["scores"]) == {"env", "ngram"} and "aggregate" in r and "doom_loop" in r
        assert p["chosen_score"] > p["rejected_score"]
        assert p["chosen"][0]["role"] == "assistant" and p["prompt"][0]["role"] == "system"


def test_grpo_logs_episode_metrics_per_step(smoke_run):
    out, _ = smoke_run
    logs = [json.loads(line) for line in (out / "grpo" / "log.jsonl").read_text().splitlines()]
    steps = [entry for entry in logs if "episodes/doom_loop_ratio" in entry]
    assert [entry["step"] for entry in steps] == [1, 2]
    for entry in steps:
        for key in ("episodes/parse_rate", "episodes/tool_call_rate", "episodes/turns", "env/parse_ok",
                    "rewards/episode/mean", "env/ngram", "env/episode_loop", "episodes/loop_tokens_saved"):
            assert key in entry, key
        assert any(key.startswith("success/") for key in entry)  # per-env success of the step's episodes


def test_finished_stages_are_not_rerun(smoke_run):
    out, rows = smoke_run
    stamps = {s: (out / s / "model" / "model.safetensors").stat().st_mtime_ns for s in ("base", "sft", "dpo", "grpo")}
    again = run_pipeline(SMOKE, out, progress=False)
    assert again == rows
    assert stamps == {s: (out / s / "model" / "model.safetensors").stat().st_mtime_ns for s in stamps}
    # A different setting cannot silently mix with the finished run.
    with pytest.raises(ConfigError, match=r"^sft\.learning_rate: differs from the config"):
        run_pipeline(small_config(**{"sft.learning_rate": 0.5}), out, progress=False)


def test_interrupted_stage_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    import lfmgym.stages.common as common

    real = common.trainer_callback

    def killing_callback(*args, **kwargs):
        class Killing(type(real(*args, **kwargs))):
            def on_save(self, args, state, control, **kw):
                raise KeyboardInterrupt  # "killed" right after checkpoint-2 is on disk

        return Killing()

    monkeypatch.setattr(common, "trainer_callback", killing_callback)
    cfg = small_config(**{"stages": ["sft"], "eval.sampled": False})
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(cfg, tmp_path, progress=False)
    assert (tmp_path / "sft" / "checkpoints" / "checkpoint-2").is_dir()
    assert not (tmp_path / "sft" / "model").exists()
    base_stamp = (tmp_path / "base" / "model" / "model.safetensors").stat().st_mtime_ns
    monkeypatch.setattr(common, "trainer_callback", real)
    rows = run_pipeline(cfg, tmp_path, progress=False)
    assert [r["stage"] for r in rows] == ["base"] * 3 + ["sft"] * 3
    assert (tmp_path / "sft" / "resume.log").read_text() == "resumed from checkpoint-2\n"
    steps = [json.loads(line)["step"] for line in (tmp_path / "sft" / "log.jsonl").read_text().splitlines()
             if "loss" in json.loads(line)]
    assert steps == [1, 2, 3, 4]  # steps 1-2 before the kill, 3-4 after: nothing trained twice
    assert (tmp_path / "base" / "model" / "model.safetensors").stat().st_mtime_ns == base_stamp
    # Extending the stage list continues from the finished sft model.
    more = run_pipeline(small_config(**{"stages": ["sft", "grpo"], "eval.sampled": False,
                                        "grpo.max_steps": 1}), tmp_path, progress=False)
    assert [r["stage"] for r in more][-3:] == ["grpo"] * 3
    assert json.loads((tmp_path / "grpo" / "stage.json").read_text())["from"] == "sft"


def test_config_error_before_any_work(tmp_path, capsys):
    from lfmgym.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(SMOKE.read_text().replace("sft: {", "sft: {lerning_rate: 0.1, "))
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"^sft\.lerning_rate: unknown field"):
        run_pipeline(bad, out, progress=False)
    assert not out.exists()
    assert main(["pipeline", str(bad), "--out", str(out)]) == 2
    assert "sft.lerning_rate: unknown field" in capsys.readouterr().out
    assert main(["pipeline", str(SMOKE), "--check", "--set", "sft.max_steps=3"]) == 0
    assert main(["pipeline", str(SMOKE), "--check", "--set", "grpo.num_generations=one"]) == 2
    assert "grpo.num_generations" in capsys.readouterr().out
    assert main(["pipeline", "--show-config"]) == 0
    assert "dpo.jury.aggregate" in capsys.readouterr().out


def test_demo_command_end_to_end_ci_sized(tmp_path, capsys):
    """`lfmgym demo` on its embedded config, every stage cut to a step or two: the table, the
    claim checks (whatever they say for a model this small) and the files come out."""
    from lfmgym.cli import main

    out = tmp_path / "demo"
    small = ["model.tokenizer_examples=20", "model.overrides={num_hidden_layers: 2, hidden_size: 64, "
             "intermediate_size: 128, num_attention_heads: 2, num_key_value_heads: 1}",
             "eval.n=2", "eval.max_new_tokens=12", "sft.examples=12", "sft.max_steps=2", "sft.batch_size=4",
             "dpo.prompts=3", "dpo.samples=2", "dpo.max_new_tokens=12", "dpo.max_steps=1",
             "grpo.max_steps=1", "grpo.num_generations=2", "grpo.max_new_tokens=12",
             "grpo.max_completion_length=32", "grpo.prompt_pool=8"]
    args = ["demo", "--out", str(out), "--no-progress"] + [a for s in small for a in ("--set", s)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "tool use beats no tools" in printed and "doom loops after DPO and GRPO below SFT" in printed
    rows = json.loads((out / "results.json").read_text())
    assert {r["stage"] for r in rows} == {"base", "sft", "dpo", "grpo"}
    assert {r["env"] for r in rows} == {"math", "math_calculator", "tool_calling"}
    md = (out / "results.md").read_text()
    assert "## Demo claims (measured)" in md and "Demo wall time" in md
    # --strict turns a claim that does not hold into a failing exit code (a 2-step model cannot pass them).
    assert main(args + ["--strict"]) == 1


def test_resume_accepts_int_keyed_env_kwargs(tmp_path):
    """A config with int keys (tiers of difficulty_weights) resumes: config.json stores them as
    strings, and the comparison must not mistake that for a changed setting."""
    from lfmgym.stages.common import write_json
    from lfmgym.stages.pipeline import _check_resume

    cfg = small_config(**{"envs.tool_calling.kwargs": {"difficulty_weights": {0: 1.0, 2: 1.0}}})
    write_json(tmp_path / "config.json", cfg)
    (tmp_path / "sft").mkdir()
    (tmp_path / "sft" / "stage.json").write_text("{}")
    _check_resume(tmp_path, cfg, resume=True)  # same settings: no error
    changed = small_config(**{"envs.tool_calling.kwargs": {"difficulty_weights": {0: 1.0, 2: 2.0}}})
    with pytest.raises(ConfigError, match="difficulty_weights"):
        _check_resume(tmp_path, changed, resume=True)


def test_a_rebuilt_input_model_is_not_reused_silently(smoke_run, tmp_path, capsys):
    """sft/model rebuilt after DPO ran from it: the rerun refuses, naming dpo and its input, instead
    of reusing pairs and a model made from the old one."""
    import shutil

    import torch

    from lfmgym.stages.common import load_model, save_model

    src, _ = smoke_run
    out = tmp_path / "run"
    shutil.copytree(src, out)
    model, tokenizer = load_model(out / "sft" / "model")
    with torch.no_grad():
        next(model.parameters()).add_(0.01)
    save_model(model, tokenizer, out / "sft" / "model")
    pairs = (out / "dpo" / "pairs.jsonl").stat().st_mtime_ns
    from lfmgym.cli import main

    capsys.readouterr()
    assert main(["pipeline", str(SMOKE), "--check", "--out", str(src)]) == 0  # the untouched run resumes
    assert "holds a run" in capsys.readouterr().out
    assert main(["pipeline", str(SMOKE), "--check", "--out", str(out)]) == 2  # --check says so before a run
    assert "dpo: its input model sft/model" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(ConfigError, match=r"^dpo: its input model sft/model in .* changed since dpo started"):
        run_pipeline(SMOKE, out, progress=False)
    assert (out / "dpo" / "pairs.jsonl").stat().st_mtime_ns == pairs
    recorded = json.loads((out / "dpo" / "stage.json").read_text())
    assert recorded["from"] == "sft" and len(recorded["model"]) == 64 and "dpo" in recorded["config"]


def test_killed_dpo_resumes_from_a_checkpoint(tmp_path, monkeypatch):
    """dpo.save_steps (25) longer than the stage (4 steps) is clamped to 2: a kill during step 3
    resumes from checkpoint-2, and no step is trained twice."""
    import lfmgym.stages.common as common

    real = common.trainer_callback

    def killing_callback(progress, log_path=None, summary_keys=("loss",)):
        callback = real(progress, log_path, summary_keys)
        if log_path is None or log_path.parent.name != "dpo":
            return callback

        class Killing(type(callback)):
            def on_step_end(self, args, state, control, **kw):
                if state.global_step == 3:
                    raise KeyboardInterrupt  # killed during step 3
                return super().on_step_end(args, state, control, **kw)

        return Killing()

    monkeypatch.setattr(common, "trainer_callback", killing_callback)
    # Token trigrams: the smoke model's rollouts differ in repetition, so the jury keeps pairs to train on.
    cfg = small_config(**{"stages": ["sft", "dpo"], "eval.sampled": False, "dpo.max_steps": 4, "dpo.save_steps": 25,
                          "dpo.jury.ngram.unit": "token"})
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(cfg, tmp_path, progress=False)
    assert (tmp_path / "dpo" / "checkpoints" / "checkpoint-2").is_dir()
    assert not (tmp_path / "dpo" / "model").exists()
    monkeypatch.setattr(common, "trainer_callback", real)
    run_pipeline(cfg, tmp_path, progress=False)
    assert (tmp_path / "dpo" / "resume.log").read_text() == "resumed from checkpoint-2\n"
    steps = [json.loads(line)["step"] for line in (tmp_path / "dpo" / "log.jsonl").read_text().splitlines()
             if "loss" in json.loads(line)]
    assert steps == [1, 2, 3, 4]
