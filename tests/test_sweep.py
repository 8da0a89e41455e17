"""`lfmgym sweep`: validation, the reporting hook, early stopping with Optuna, Ray Tune with ASHA,
failures, resume after an interruption.

The engine tests run synthetic trials (tests/sweep_targets.py) that report through the same hook
as the real stages: half of them "diverge" (an absurd learning rate, success 0 from the first
step) and must be stopped at their first report.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lfmgym import reporting
from lfmgym.sweep.runner import run_sweep
from lfmgym.sweep.space import SweepConfigError, grid_points, load_sweep

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.yaml"
STEPS = 4
GOOD, BAD = [0.01, 0.02, 0.03], [10.0, 20.0, 30.0]
# Grid order: a sane trial first, then the diverging ones interleaved.
LRS = [0.01, 10.0, 0.02, 20.0, 0.03, 30.0]


def _base():
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg["grpo"]["max_steps"] = STEPS
    return cfg


def _sweep(lrs=LRS, **extra):
    return {"name": "diverging", "base": _base(), "space": {"grpo.learning_rate": lrs},
            "search": {"algorithm": "grid"}, "metric": {"name": "success", "mode": "max"},
            "early_stop": {"type": "asha", "grace": 1, "reduction_factor": 3},
            "target": "tests.sweep_targets:fake_grpo"} | extra


def _steps_run(markers: Path) -> dict[float, int]:
    """Steps each learning rate actually ran (from the target's marker files)."""
    out: dict[float, int] = {}
    for p in markers.iterdir():
        lr = float(p.name.split("-")[0][2:])
        out[lr] = out.get(lr, 0) + 1
    return out


# --------------------------------------------------------------------------- the sweep file


@pytest.mark.parametrize(
    "sweep, needle",
    [
        ({"base": {}, "space": {"sft.learning_rate": [1e-3]}, "metrik": {}}, "metrik: unknown field"),
        ({"base": {}, "space": {"sft.learnig_rate": [1e-3]}}, "sft.learnig_rate"),
        ({"base": {}, "space": {"sft.learning_rate": []}}, "space.sft.learning_rate"),
        ({"base": {}, "space": {"dpo.beta": {"gauss": [0, 1]}}}, "space.dpo.beta"),
        ({"base": {}, "space": {"dpo.beta": {"loguniform": [0, 1]}}}, "space.dpo.beta.loguniform"),
        ({"base": {}, "space": {"dpo.beta": {"uniform": [0.1, 1]}}, "search": {"algorithm": "grid"}},
         "space.dpo.beta: a grid search needs a list"),
        ({"base": {}, "space": {"dpo.beta": {"uniform": [0.1, 1]}}, "search": {"algorithm": "tpe"}}, "search.trials"),
        ({"base": {}, "space": {"seed": [1]}, "executor": {"type": "slurm"}}, "executor.type"),
        ({"base": {}, "space": {"seed": [1]}, "early_stop": {"type": "hyperband"}}, "early_stop.type"),
        ({"base": {}, "space": {"seed": [1]}, "early_stop": {"reduction_factor": 1}}, "early_stop.reduction_factor"),
        ({"base": {}, "space": {"envs": [{"math": 1.0}]}}, "put whole sub-configs in `alternatives`"),
        ({"base": {}, "space": {"seed": [1]}, "alternatives": [{"sft.max_stepz": 3}]}, "sft.max_stepz"),
        ({"space": {"seed": [1]}}, "base: missing"),
    ],
)
def test_validation_names_the_field(sweep, needle):
    with pytest.raises((SweepConfigError, ValueError)) as exc:
        load_sweep(sweep)
    assert needle in str(exc.value)


def test_grid_is_every_combination_in_file_order_with_alternatives():
    spec = load_sweep({"base": _base(), "space": {"grpo.learning_rate": [1e-4, 1e-3], "grpo.temperature": [0.7, 1.0]},
                       "alternatives": [{"grpo.num_generations": 2}, {"grpo.num_generations": 4}],
                       "search": {"algorithm": "grid"}})
    points = grid_points(spec)
    assert spec.n_trials == len(points) == 8
    assert points[0] == {"grpo.learning_rate": 1e-4, "grpo.temperature": 0.7, "alternative": 0}
    assert points[1] == {"grpo.learning_rate": 1e-4, "grpo.temperature": 0.7, "alternative": 1}


def test_example_sweep_file_validates():
    spec = load_sweep(REPO / "configs" / "sweeps" / "smoke.yaml")
    assert spec.n_trials == 4 and spec.executor["type"] == "optuna" and spec.early_stop["type"] == "asha"


# --------------------------------------------------------------------------- the reporting hook


def test_trainer_logs_and_evals_reach_the_installed_reporter(tmp_path):
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from lfmgym.stages.common import StageProgress, trainer_callback

    (tmp_path / "grpo").mkdir()
    cb = trainer_callback(StageProgress(enabled=False), tmp_path / "grpo" / "log.jsonl")
    state = TrainerState()
    state.global_step = 3
    logs = {"reward": 0.25, "success/math": 0.5, "success/tool_calling": 0.0, "episodes/doom_loop_ratio": 0.125,
            "episodes/parse_rate": 0.75, "lr_note": "text is dropped"}
    args = TrainingArguments(output_dir=str(tmp_path / "args"), report_to=[])
    cb.on_log(args, state, TrainerControl(), logs=logs)  # nothing installed: a no-op

    got = []
    with reporting.reporting_to(lambda m, step, stage: got.append((m, step, stage))):
        cb.on_log(args, state, TrainerControl(), logs=logs)
        eval_rows = [{"stage": "grpo", "env": "math", "success": 1.0, "parse_rate": 1.0, "doom_loop_greedy": 0.0},
                     {"stage": "grpo", "env": "tool_calling", "success": 0.5, "parse_rate": 0.5, "doom_loop_greedy": 1.0}]
        reporting.report(reporting.eval_metrics(eval_rows), 0, "grpo:eval")
    cb.on_log(args, state, TrainerControl(), logs=logs)  # uninstalled after the with
    assert len(got) == 2
    train, step, stage = got[0]
    assert (step, stage) == (3, "grpo")
    assert train["success"] == 0.25 and train["reward"] == 0.25 and train["success/math"] == 0.5
    assert train["doom_loop_sampled"] == 0.125 and train["parse_rate"] == 0.75 and "lr_note" not in train
    ev = got[1][0]
    assert ev["success"] == 0.75 and ev["success/tool_calling"] == 0.5 and ev["doom_loop_greedy"] == 0.5

    def prune(m, step, stage):
        raise reporting.TrialPruned("stop here")

    with reporting.reporting_to(prune), pytest.raises(reporting.TrialPruned):
        cb.on_log(args, state, TrainerControl(), logs=logs)


def test_a_training_metric_is_judged_by_its_last_report(tmp_path, monkeypatch):
    from lfmgym.sweep.trial import run_trial

    monkeypatch.setenv("SWEEP_MARKER_DIR", str(tmp_path))
    seen = []
    spec = {"id": "t000", "target": "tests.sweep_targets:fake_grpo", "base": _base(), "params": {},
            "overrides": {"grpo.learning_rate": 0.05}, "metric": {"name": "reward", "mode": "max"},
            "report_key": "reward"}
    result = run_trial(spec, tmp_path / "t000", lambda value, step, metrics: seen.append((step, value)))
    assert result["status"] == "ok" and result["reports"] == STEPS
    assert [s for s, _ in seen] == [1, 2, 3, 4] and result["metric"] == seen[-1][1] == pytest.approx(0.65)
    lines = (tmp_path / "t000" / "reports.jsonl").read_text().splitlines()
    assert [json.loads(x)["stage"] for x in lines] == ["grpo"] * STEPS


# --------------------------------------------------------------------------- Optuna


@pytest.fixture(scope="module")
def optuna_sweep(tmp_path_factory):
    """The diverging grid (plus one crashing trial) through the Optuna executor, run once."""
    root = tmp_path_factory.mktemp("optuna")
    markers = root / "markers"
    markers.mkdir()
    old = os.environ.get("SWEEP_MARKER_DIR")
    os.environ["SWEEP_MARKER_DIR"] = str(markers)
    cwd = os.getcwd()
    os.chdir(REPO)  # the trial subprocesses import tests.sweep_targets
    try:
        rows = run_sweep(_sweep(LRS + [0.5]), root / "out", progress=False)
    finally:
        os.chdir(cwd)
        if old is None:
            os.environ.pop("SWEEP_MARKER_DIR")
        else:
            os.environ["SWEEP_MARKER_DIR"] = old
    return rows, root / "out", markers


def test_optuna_prunes_diverging_trials_at_their_first_report(optuna_sweep):
    import optuna

    rows, out, markers = optuna_sweep
    by_lr = {r["params"]["grpo.learning_rate"]: r for r in rows}
    assert {lr: by_lr[lr]["status"] for lr in GOOD + BAD} == {**{lr: "ok" for lr in GOOD}, **{lr: "pruned" for lr in BAD}}
    # Pruned trials stopped after their first report: one step run, one value in the study.
    steps = _steps_run(markers)
    assert all(steps[lr] == 1 for lr in BAD) and all(steps[lr] == STEPS for lr in GOOD)
    study = optuna.load_study(study_name="diverging", storage=f"sqlite:///{out / 'study.db'}")
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(pruned) == 3 and all(list(t.intermediate_values) == [1] for t in pruned)
    # The best trial is the best sane one; the crash is recorded and the sweep went on.
    assert rows[0]["params"]["grpo.learning_rate"] == 0.03 and rows[0]["metric"] == pytest.approx(0.59)
    assert by_lr[0.5]["status"] == "failed" and "diverged into NaN" in by_lr[0.5]["error"]
    saved = json.loads((out / "results.json").read_text())
    assert saved["summary"]["pruned"] == 3 and saved["summary"]["reports"] == 3 * STEPS + 3
    md = (out / "results.md").read_text()
    assert "| pruned |" in md and "failed" in md and (out / "metric_vs_params.png").stat().st_size > 0


def test_killed_optuna_sweep_resumes_and_runs_only_unfinished_trials(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    sweep_file = tmp_path / "sweep.yaml"
    # No early stopping here: a requeued trial runs after the others and ASHA would judge it on order.
    sweep_file.write_text(yaml.safe_dump(_sweep([0.01, 0.02, 0.03], early_stop={"type": "none"})))
    out = tmp_path / "out"
    env = dict(os.environ, SWEEP_MARKER_DIR=str(markers), SWEEP_SLEEP="1.0",
               PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    cmd = [sys.executable, "-m", "lfmgym.cli", "sweep", str(sweep_file), "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not list(out.glob("trials/*/result.json")):
        time.sleep(0.2)
    while time.time() < deadline and len(list(out.glob("trials/*/trial.json"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and the trial it was running
    proc.wait()
    finished = {json.loads(p.read_text())["params"]["grpo.learning_rate"] for p in out.glob("trials/*/result.json")}
    assert 1 <= len(finished) < 3
    before = _steps_run(markers)

    res = subprocess.run(cmd, env={**env, "SWEEP_SLEEP": "0"}, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    rows = json.loads((out / "results.json").read_text())["trials"]
    assert sorted(r["params"]["grpo.learning_rate"] for r in rows) == [0.01, 0.02, 0.03]
    assert all(r["status"] == "ok" for r in rows)
    after = _steps_run(markers)
    for lr in finished:  # finished trials did not run again
        assert after[lr] == before[lr] == STEPS
    assert "sorted by success" in res.stdout


# --------------------------------------------------------------------------- Ray Tune


def test_ray_tune_asha_stops_diverging_trials_resumes_and_writes_the_same_table(optuna_sweep, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'lfmgym[ray]')")
    markers = tmp_path / "markers"
    markers.mkdir()
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(yaml.safe_dump(_sweep(LRS + [0.5], executor={"type": "ray", "parallel": 2})))
    out = tmp_path / "out"
    env = dict(os.environ, SWEEP_MARKER_DIR=str(markers), SWEEP_SLEEP="1.0", RAY_DEDUP_LOGS="0",
               PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    cmd = [sys.executable, "-m", "lfmgym.cli", "sweep", str(sweep_file), "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and not list(out.glob("trials/*/result.json")):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: Tune saves its state and stops
    try:
        proc.wait(timeout=300)
    except subprocess.TimeoutExpired:  # a loaded machine: a hard kill is an interruption too
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = {json.loads(p.read_text())["params"]["grpo.learning_rate"]
                for p in out.glob("trials/*/result.json") if json.loads(p.read_text())["status"] == "ok"}
    assert not (out / "results.json").exists() or len(finished) < 7
    before = _steps_run(markers)

    # Resume in this process on a local two-CPU Ray.
    old_marker = os.environ.get("SWEEP_MARKER_DIR")
    os.environ["SWEEP_MARKER_DIR"] = str(markers)
    cwd = os.getcwd()
    os.chdir(REPO)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1",
             runtime_env={"env_vars": {"SWEEP_MARKER_DIR": str(markers), "PYTHONPATH": str(REPO)}})
    try:
        rows = run_sweep(str(sweep_file), out, progress=False)
    finally:
        ray.shutdown()
        os.chdir(cwd)
        if old_marker is None:
            os.environ.pop("SWEEP_MARKER_DIR")
        else:
            os.environ["SWEEP_MARKER_DIR"] = old_marker
    by_lr = {r["params"]["grpo.learning_rate"]: r for r in rows}
    assert sorted(by_lr) == sorted(LRS + [0.5])
    assert all(by_lr[lr]["status"] == "ok" for lr in GOOD), rows
    assert by_lr[0.5]["status"] == "failed" and "diverged into NaN" in by_lr[0.5]["error"]
    # ASHA stops a diverging trial at its first report once a sane one has reported at that rung.
    assert all(by_lr[lr]["status"] in ("pruned", "ok") for lr in BAD)
    assert any(by_lr[lr]["status"] == "pruned" and by_lr[lr]["reports"] == 1 for lr in BAD)
    assert rows[0]["params"]["grpo.learning_rate"] == 0.03 and rows[0]["metric"] == pytest.approx(0.59)
    after = _steps_run(markers)
    for lr in finished:  # trials finished before the interruption did not run again
        assert after[lr] == before[lr]
    # The same results table as the Optuna executor's for the same sweep.
    _, optuna_out, _ = optuna_sweep
    assert (out / "results.md").read_text().splitlines()[0] == (optuna_out / "results.md").read_text().splitlines()[0]
    assert (out / "results.csv").read_text().splitlines()[0] == (optuna_out / "results.csv").read_text().splitlines()[0]
    assert (out / "metric_vs_params.png").stat().st_size > 0


def test_a_sweep_name_is_one_plain_name(tmp_path):
    from lfmgym.sweep.space import SweepConfigError, load_sweep

    path = tmp_path / "sweep.yaml"
    path.write_text(f"name: ../../x\nbase: {REPO / 'configs' / 'smoke.yaml'}\nspace: {{grpo.learning_rate: [0.1]}}\n")
    with pytest.raises(SweepConfigError, match="name"):
        load_sweep(path)
