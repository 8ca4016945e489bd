"""The paper-reproduction scripts run end to end at a toy size on the bundled footage
(a handful of steps per model: this checks the plumbing and the reports, not results)."""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def script(name, root, *args):
    cmd = [sys.executable, os.path.join(REPO, "experiments", f"{name}.py"), f"--root={root}", "--steps=4",
           "--max_clips=8", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    report = open(os.path.join(root, f"{name}.md")).read()
    return report, json.load(open(os.path.join(root, f"{name}.json")))


@pytest.mark.slow
def test_experiment_scripts(tmp_path):
    root = str(tmp_path)
    report, rows = script("capacity_sweep", root, "--sparse=0.1", "--noisy=0.01", "--vq=8", "--decoder_steps=2")
    assert [r["kind"] for r in rows["held_out"]] == ["deterministic", "unconstrained", "sparse", "noisy", "vq",
                                                     "copy_last", "decoded real states"]
    assert len(rows["training_videos"]) == 7
    assert "| sparse | 0.1 |" in report and os.path.exists(os.path.join(root, "capacity_sweep_pixel_l1.png"))
    report, results = script("leakage_table", root, "--decoder_steps=2")
    assert set(results) == {"sparse_0.1", "sparse_0.01", "noisy_0.01", "noisy_0.0001", "vq_8", "vq_512",
                            "deterministic", "unconstrained"}
    assert "×2.4" in report  # the paper's sparse-high ratio beside ours
    report, results = script("transfer_table", root, "--decoder_steps=2")
    assert "0.19 / 0.24 (×1.26)" in report and os.path.exists(os.path.join(root, "sparse_0.01/eval/transfer_0.png"))
    report, results = script("sampling_table", root, "--sgld_steps=20")
    assert set(results) == {"sparse_0.1", "sparse_0.01", "noisy_0.01", "noisy_0.0001", "vq_8", "vq_512"}
    assert all(0 <= r["separability"] <= 1 for r in results.values()) and "| noisy | high |" in report
    report, rows = script("scaling_study", root, "--kinds=noisy", "--steps=4")
    assert {r["axis"] for r in rows} == {"steps", "width", "data"} and len(rows) == 10
    assert os.path.exists(os.path.join(root, "scaling_study.png"))


@pytest.mark.slow
def test_planning_table_script(tmp_path):
    """The whole planning chain on a few generated arm episodes, a few steps per model."""
    root = str(tmp_path)
    cmd = [sys.executable, os.path.join(REPO, "experiments", "planning_table.py"), f"--root={root}",
           f"--config={os.path.join(REPO, 'configs', 'arm.py')}", f"--data={root}/arm", f"--test_data={root}/test",
           "--generate=3", "--length=6", "--steps=2", "--controller_steps=2", "--plan_episodes=2"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.load(open(os.path.join(root, "planning_table.json")))
    assert set(results) == {"noisy"} and results["noisy"]["episodes"] == 2
    assert set(results["noisy"]["methods"]) == {"random", "zero", "lam", "lam_mlp", "action_conditioned"}
    report = open(os.path.join(root, "planning_table.md")).read()
    assert "| LAM (noisy) + controller |" in report and "delta_xyz − random" in report and "0.15 m" in report
    assert os.path.exists(os.path.join(root, "plan_noisy", "plan", "trajectories.png"))
