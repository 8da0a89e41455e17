"""`lfmgym sweep`: validation, local and Ray executors, failures, resume after a kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lfmgym.sweep.runner import run_sweep
from lfmgym.sweep.space import SweepConfigError, expand_trials, load_sweep

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.yaml"


def _tiny_base():
    """The smoke config cut down to one env and one short stage: a real pipeline in seconds."""
    cfg = yaml.safe_load(SMOKE.read_text())
    cfg["envs"] = {"math": cfg["envs"]["math"]}
    cfg["stages"] = ["sft"]
    cfg["eval"] = {**cfg["eval"], "n": 2, "sampled": False}
    cfg["sft"] = {**cfg["sft"], "max_steps": 2, "examples": 8}
    return cfg


def test_space_expansion_grid_random_alternatives():
    trials = expand_trials({
        "grid": {"sft.learning_rate": [1e-3, 3e-3]},
        "random": {"n": 3, "seed": 7, "params": {"dpo.beta": {"loguniform": [0.01, 1.0]},
                                                 "grpo.num_generations": {"choice": [2, 4]}}},
        "alternatives": [{"stages": ["sft"]}, {"stages": ["sft", "grpo"]}],
    })
    assert len(trials) == 2 * 3 * 2
    assert len({t.id for t in trials}) == len(trials)
    again = expand_trials({"random": {"n": 3, "seed": 7, "params": {"dpo.beta": {"loguniform": [0.01, 1.0]}}}})
    assert [t.overrides for t in again] == [t.overrides for t in expand_trials(
        {"random": {"n": 3, "seed": 7, "params": {"dpo.beta": {"loguniform": [0.01, 1.0]}}}})]
    assert all(0.01 <= t.overrides["dpo.beta"] <= 1.0 for t in again)


@pytest.mark.parametrize(
    "sweep, needle",
    [
        ({"base": {}, "space": {"grid": {"sft.learning_rate": [1e-3]}}, "metrik": {}}, "metrik: unknown field"),
        ({"base": {}, "space": {"grid": {"sft.learnig_rate": [1e-3]}}}, "sft.learnig_rate"),
        ({"base": {}, "space": {"grid": {"sft.learning_rate": []}}}, "space.grid.sft.learning_rate"),
        ({"base": {}, "space": {"random": {"n": 2, "params": {"dpo.beta": {"gauss": [0, 1]}}}}}, "space.random.params.dpo.beta"),
        ({"base": {}, "space": {"grid": {"seed": [1]}}, "executor": {"type": "slurm"}}, "executor.type"),
        ({"space": {"grid": {"seed": [1]}}}, "base: missing"),
    ],
)
def test_validation_names_the_field(sweep, needle):
    with pytest.raises((SweepConfigError, ValueError)) as exc:
        load_sweep(sweep)
    assert needle in str(exc.value)


def _run_real_sweep(tmp_path, executor):
    sweep = {
        "name": f"tiny-{executor}",
        "base": _tiny_base(),
        "space": {"grid": {"sft.learning_rate": [1e-3, 3e-3]}},
        "metric": {"name": "success", "stage": "last", "mode": "max"},
        "executor": {"type": executor, "parallel": 2, "num_cpus": 1},
    }
    return run_sweep(sweep, tmp_path / executor, progress=False)


def test_local_and_ray_executors_give_the_same_table_shape(tmp_path):
    local = _run_real_sweep(tmp_path, "local")
    assert [r["status"] for r in local] == ["ok", "ok"], [r.get("error") for r in local]
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'lfmgym[ray]')")
    assert ray
    remote = _run_real_sweep(tmp_path, "ray")
    assert [r["status"] for r in remote] == ["ok", "ok"], [r.get("error") for r in remote]
    for rows in (local, remote):
        assert {r["params"]["sft.learning_rate"] for r in rows} == {1e-3, 3e-3}
        assert all(isinstance(r["metric"], float) for r in rows)
    assert [sorted(r) for r in local] == [sorted(r) for r in remote]
    for ex in ("local", "ray"):
        out = tmp_path / ex
        header_local = (out / "results.csv").read_text().splitlines()[0]
        assert header_local == (tmp_path / "local" / "results.csv").read_text().splitlines()[0]
        assert (out / "results.md").exists() and (out / "metric_vs_params.png").stat().st_size > 0
        # Each trial is a real pipeline run with its own results.json.
        for r in json.loads((out / "results.json").read_text()):
            assert (out / "trials" / r["id"] / "run" / "results.json").exists()


def _fake_sweep(tmp_path, lrs):
    return {
        "name": "fake",
        "base": _tiny_base(),
        "space": {"grid": {"sft.learning_rate": lrs}},
        "metric": {"name": "success"},
        "target": "tests.sweep_targets:fake_pipeline",
    }


def test_failing_trial_is_recorded_and_sweep_continues(tmp_path, monkeypatch):
    monkeypatch.setenv("SWEEP_MARKER_DIR", str(tmp_path))
    monkeypatch.chdir(REPO)
    rows = run_sweep(_fake_sweep(tmp_path, [0.1, 0.5, 0.2]), tmp_path / "s", progress=False)
    assert [r["status"] for r in rows] == ["ok", "ok", "failed"]  # sorted by metric, failures last
    assert rows[0]["params"]["sft.learning_rate"] == 0.2
    assert "diverged" in rows[2]["error"]
    md = (tmp_path / "s" / "results.md").read_text()
    assert "failed" in md and "diverged" in md


def test_killed_sweep_resumes_and_skips_finished_trials(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(yaml.safe_dump(_fake_sweep(tmp_path, [0.01, 0.02, 0.03, 0.04])))
    out = tmp_path / "out"
    env = dict(os.environ, SWEEP_MARKER_DIR=str(markers), SWEEP_SLEEP="1.5",
               PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    cmd = [sys.executable, "-m", "lfmgym.cli", "sweep", str(sweep_file), "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(out.glob("trials/*/result.json"))) < 1:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # kill the sweep and its running trial
    proc.wait()
    finished_before = {p.parent.name for p in out.glob("trials/*/result.json")}
    assert 1 <= len(finished_before) < 4
    runs_before = len(list(markers.iterdir()))

    res = subprocess.run(cmd, env={**env, "SWEEP_SLEEP": "0"}, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    rows = json.loads((out / "results.json").read_text())
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows)
    # Only unfinished trials ran again.
    runs_after = len(list(markers.iterdir()))
    assert runs_after - runs_before == 4 - len(finished_before)
    assert "sorted by success" in res.stdout


def test_example_sweep_file_validates():
    spec = load_sweep(REPO / "configs" / "sweeps" / "smoke.yaml")
    assert len(spec.trials) == 4 and spec.executor["type"] == "local"
