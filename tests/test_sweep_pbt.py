"""Population-based training of GRPO (``early_stop: {type: pbt}``): what can be mutated, a GRPO
stage continued from another run's checkpoint at a new learning rate (the optimizer really uses
it), a plain resume with changed settings still refused, and a local Ray Tune run in which PBT
exploits a trial.
"""

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from lfmgym import reporting
from lfmgym.sweep import pbt
from lfmgym.sweep.space import SweepConfigError, load_sweep

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.yaml"


def _tiny_grpo(**grpo):
    """The smoke model on one env, GRPO only, 1-token-step checkpoints: seconds per run."""
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg.update(envs={"math": {"weight": 1.0, "kwargs": {"difficulty": 0}}}, stages=["grpo"], threads=1,
               eval={"n": 1, "max_new_tokens": 8, "batch_size": 8})
    cfg["grpo"].update({"max_steps": 4, "save_steps": 1, "logging_steps": 1, "max_new_tokens": 8,
                        "max_completion_length": 16, "prompts_per_step": 1, "num_generations": 2, "prompt_pool": 8,
                        "lr_scheduler_type": "constant", **grpo})
    return cfg


def _pbt_sweep(**extra):
    return {"name": "pbt", "base": _tiny_grpo(), "space": {"grpo.learning_rate": [1e-3, 3e-3]},
            "metric": {"name": "reward", "mode": "max"}, "early_stop": {"type": "pbt", "interval": 1},
            "executor": {"type": "ray", "parallel": 2}} | extra


# --------------------------------------------------------------------------- what PBT may change


@pytest.mark.parametrize(
    "change, needle",
    [
        ({"executor": {"type": "optuna"}}, "early_stop.type: pbt needs executor.type ray"),
        ({"space": {"grpo.num_generations": [2, 4]}}, "space.grpo.num_generations: population-based training"),
        ({"space": {"model.name": ["tiny", "tiny"]}}, "space.model.name"),
        ({"space": {"grpo.beta": {"uniform": [0.0, 0.1]}}, "search": {"algorithm": "random", "trials": 2}},
         "space.grpo.beta: must stay above 0"),
        ({"search": {"algorithm": "tpe", "trials": 2}}, "search.algorithm"),
        ({"base": _tiny_grpo() | {"stages": ["grpo", "sft"]}}, "base.stages"),
        ({"early_stop": {"type": "pbt", "quantile": 0.9}}, "early_stop.quantile"),
    ],
)
def test_pbt_refuses_what_cannot_change_mid_run(change, needle):
    with pytest.raises(SweepConfigError) as exc:
        load_sweep(_pbt_sweep(**change))
    assert needle in str(exc.value)


def test_pbt_asked_for_on_the_command_line_with_optuna_is_refused(tmp_path):
    from lfmgym.sweep.runner import run_sweep

    spec = load_sweep(_pbt_sweep())
    with pytest.raises(SweepConfigError, match="early_stop.type: pbt needs executor.type ray"):
        run_sweep(spec, tmp_path, executor="optuna", progress=False)


# --------------------------------------------------------------------------- continuing GRPO


def _stop_at(step):
    """A reporter that stops the run at the log of GRPO step ``step`` (before its checkpoint)."""
    def reporter(metrics, at, stage):
        if stage == "grpo" and at >= step:
            raise reporting.TrialPruned(f"stopped at step {at}")
    return reporter


def test_a_continued_grpo_stage_runs_at_the_new_learning_rate(tmp_path):
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    from lfmgym.stages.config import ConfigError
    from lfmgym.stages.pipeline import run_pipeline

    lr_donor, lr_own, lr_new = 1e-3, 5e-4, 3e-3
    donor, recipient = tmp_path / "t000", tmp_path / "t001"
    saved = []
    with reporting.reporting_to(_stop_at(3), on_checkpoint=lambda path, step, stage: saved.append((path, step))), \
            pytest.raises(reporting.TrialPruned):
        run_pipeline(_tiny_grpo(learning_rate=lr_donor), donor, progress=False)
    assert [s for _, s in saved] == [1, 2] and all((p / "trainer_state.json").is_file() for p, _ in saved)
    with reporting.reporting_to(_stop_at(2)), pytest.raises(reporting.TrialPruned):
        run_pipeline(_tiny_grpo(learning_rate=lr_own), recipient, progress=False)

    # PBT hands t001 the checkpoint t000 made at step 2, with a new learning rate.
    staged = pbt.stage_checkpoint(saved[-1][0], tmp_path / "tune-checkpoint", {
        "trial": "t000", "stage": "grpo", "step": 2, "reports": 2, "params": {"grpo.learning_rate": lr_donor}})
    from lfmgym.stages.config import load_config

    new = {"grpo.learning_rate": lr_new}
    assert pbt.restore(staged, recipient, load_config(_tiny_grpo(), overrides=new), "t001", new) == 2

    # Without that record a changed setting is still refused, naming the field.
    with pytest.raises(ConfigError, match="grpo.learning_rate"):
        run_pipeline(_tiny_grpo(learning_rate=1e-2), recipient, progress=False)

    used = []
    hook = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: used.append(opt.param_groups[0]["lr"]))
    try:
        run_pipeline(_tiny_grpo(learning_rate=lr_new), recipient, progress=False)
    finally:
        hook.remove()
    assert used == [lr_new, lr_new]  # steps 3 and 4, from the donor's step-2 state
    grpo = recipient / "grpo"
    logs = [json.loads(x) for x in (grpo / "log.jsonl").read_text().splitlines()]
    record = json.loads((grpo / "stage.json").read_text())["continued"]
    assert [(r["trial"], r["step"], r["values"], r["donor_values"]) for r in record] == [
        ("t000", 2, new, {"grpo.learning_rate": lr_donor})]
    after = [x for x in logs if x["time"] > record[0]["time"] and "learning_rate" in x]
    assert [(x["step"], x["learning_rate"]) for x in after] == [(3, lr_new), (4, lr_new)]
    before = [x["learning_rate"] for x in logs if x["time"] < record[0]["time"] and "learning_rate" in x]
    assert before == [lr_own, lr_own]  # its own steps 1-2, before it took the donor's checkpoint
    assert (grpo / "resume.log").read_text().splitlines() == [
        "continued from trial t000 checkpoint-2 (step 2) with grpo.learning_rate=0.003 (was 0.001) "
        "(population-based training)",
        "resumed from checkpoint-2",
        "learning rate 0.003 (the checkpoint's was 0.001)",
    ]
    assert json.loads((recipient / "config.json").read_text())["grpo"]["learning_rate"] == lr_new


# --------------------------------------------------------------------------- Ray Tune


def test_ray_pbt_exploits_and_the_continued_trial_runs_at_its_mutated_learning_rate(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'lfmgym[ray]')")
    from lfmgym.sweep.runner import run_sweep

    # Synchronous PBT: both trials stop at report 2 (of 4) and are compared there. The metric is the
    # logged learning rate, so which trial is worse is known: the 1e-3 trial continues from the 1e-2
    # one's step-2 checkpoint with a learning rate drawn again from the list.
    sweep = _pbt_sweep(base=_tiny_grpo(max_steps=4), space={"grpo.learning_rate": [1e-3, 1e-2]},
                       metric={"name": "learning_rate", "mode": "max"},
                       early_stop={"type": "pbt", "interval": 2, "resample_probability": 1.0, "synch": True})
    cwd = os.getcwd()
    os.chdir(REPO)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1",
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})
    try:
        rows = run_sweep(sweep, tmp_path / "out", progress=False)
    finally:
        ray.shutdown()
        os.chdir(cwd)
    # Both trials run to their end: the exploited one too, although Ray Tune queues a STOP on it when it is
    # exploited while its synch-pause checkpoint is still being saved (pbt.drop_stale_stop undoes it).
    assert [r["status"] for r in rows] == ["ok", "ok"], rows
    continued = [r for r in rows if r.get("continued")]
    assert [(r["id"], r["continued"]) for r in continued] == [("t000", ["t001@2"])]
    for row in continued:
        grpo = tmp_path / "out" / "trials" / row["id"] / "run" / "grpo"
        records = json.loads((grpo / "stage.json").read_text())["continued"]
        last = records[-1]
        lr = last["values"]["grpo.learning_rate"]
        assert lr in (1e-3, 1e-2) and row["params"]["grpo.learning_rate"] == lr
        logs = [json.loads(x) for x in (grpo / "log.jsonl").read_text().splitlines()]
        after = [x for x in logs if x["time"] > last["time"] and "learning_rate" in x]
        assert after and all(x["learning_rate"] == lr for x in after)
        assert after[0]["step"] == last["step"] + 1
        assert f"continued from trial {last['trial']} checkpoint-{last['step']}" in (grpo / "resume.log").read_text()
    md = (tmp_path / "out" / "results.md").read_text()
    assert "continued from" in md.splitlines()[0]
    shutil.rmtree(tmp_path / "out" / "ray", ignore_errors=True)


def test_the_shipped_pbt_sweep_validates():
    spec = load_sweep(REPO / "configs" / "sweeps" / "grpo_pbt.yaml")
    assert spec.early_stop["type"] == "pbt" and spec.executor["type"] == "ray" and spec.n_trials == 4


def test_an_exploited_trial_loses_the_stop_tune_queued_while_it_was_saving():
    from types import SimpleNamespace

    # Tune (2.x) queues STOP "after the save" on a trial exploited mid-save, then cancels the save:
    # the restarted trial would be stopped at its next checkpoint. Other trials' decisions stay.
    controller = SimpleNamespace(_cached_trial_decisions={"a": "STOP", "b": "STOP", "c": "PAUSE"})
    wrapper = SimpleNamespace(_tune_controller=controller)
    pbt.drop_stale_stop(wrapper, SimpleNamespace(trial_id="a"))
    pbt.drop_stale_stop(wrapper, SimpleNamespace(trial_id="c"))
    assert controller._cached_trial_decisions == {"b": "STOP", "c": "PAUSE"}
    pbt.drop_stale_stop(SimpleNamespace(), SimpleNamespace(trial_id="a"))  # another Tune: nothing to undo
