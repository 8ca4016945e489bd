"""Both planning protocols end to end on tiny models trained for a few steps on simulated
trajectories (the session's arm_runs: LAM, action-conditioned baseline, controller; the
camera's here): the plan job's results and picture; and the errors a user can cause."""
import json
import os

import numpy as np
import pytest

from configs import arm, camera
from lawm_jax.api import load_controller, load_world_model
from lawm_jax.data.trajectories import generate_trajectories
from lawm_jax.errors import ConfigError, DataError
from lawm_jax.eval.run import evaluate
from lawm_jax.planning.run import draw_plan, plan
from lawm_jax.train.controller import train_controller
from lawm_jax.train.lam import train
from tests.helpers import frame_causal, looks_like_a_picture, small

def plan_config(module, test, **plan):
    c = module.get_config("plan")
    c.plan.update(dict(path=test, episodes=3, samples=8, elites=2, iterations=2, pictures=2), **plan)
    return c


def test_droid_protocol_end_to_end(arm_runs, tmp_path):
    _, test, runs = arm_runs
    ctrl = load_controller(runs["ctrl"])
    assert ctrl.world_model.wm.config.bottleneck.kind == "noisy" and ctrl.action_names[0] == "dx"
    assert ctrl.world_model.wm.config.encoder.frames_per_step() == 2  # plans on duplicated frames
    assert load_world_model(runs["ac"]).action_stats == ctrl.action_stats  # the same training data
    summary = plan(plan_config(arm, test, controller=runs["ctrl"], baseline=runs["ac"]), str(tmp_path))
    out = tmp_path / "plan"
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(summary))
    assert set(summary["methods"]) == {"random", "zero", "lam", "lam_latent", "action_conditioned"}
    assert summary["headline"] == "delta_xyz" and summary["episodes"] == 3
    for name, r in summary["methods"].items():
        assert len(r["per_episode"]["delta_xyz"]) == 3
        assert r["delta_xyz"] == pytest.approx(np.mean(r["per_episode"]["delta_xyz"]))
        assert r["delta_xyz"] >= 0 and r["seconds_per_plan"] >= 0
    # "zero" plans no movement: its Δxyz is the size of the true displacement.
    assert summary["methods"]["zero"]["delta_xyz"] > 0
    assert "| lam |" in (out / "results.md").read_text()
    looks_like_a_picture(out / "planned_paths.png")
    saved = json.loads((out / "paths.json").read_text())  # what tools/visualize.py --plan draws
    assert saved["protocol"] == "droid" and set(saved["paths"]) == {"true", *summary["methods"]}
    assert all(len(v) == 3 and np.shape(v[0]) == (4, 2) for v in saved["paths"].values())  # H + 1 points
    looks_like_a_picture(draw_plan(str(tmp_path), episodes=3))
    looks_like_a_picture(draw_plan(str(tmp_path), str(tmp_path / "new" / "folder" / "paths.png"), episodes=1))
    with pytest.raises(ConfigError, match="episodes=0"):
        draw_plan(str(tmp_path), episodes=0)
    # How well each model's cost ranks the true actions, on the same episodes.
    from lawm_jax.planning.run import truth_ranks
    ranks = truth_ranks(plan_config(arm, test, controller=runs["ctrl"], baseline=runs["ac"]), draws=8)
    assert set(ranks) == {"lam", "action_conditioned"}
    assert all(len(r["per_episode"]) == 3 and 0 <= r["truth_rank"] <= 1 for r in ranks.values())
    with pytest.raises(ConfigError, match="offline protocol"):
        truth_ranks(plan_config(arm, "", protocol="closed_loop", env="arm", baseline=runs["ac"]))


def test_recon_protocol_end_to_end(tmp_path):
    data, test = str(tmp_path / "data"), str(tmp_path / "test")
    generate_trajectories("camera", data, episodes=2, length=11, size=32)
    generate_trajectories("camera", test, episodes=2, length=11, size=32, seed=1)
    c = small(camera, "actions", data)
    c.data.frames = 9  # 9 states: a plan of 8 steps from 1 context state
    train(c, str(tmp_path / "ac"))
    c = plan_config(camera, test, baseline=str(tmp_path / "ac"))
    assert c.plan.straight_line and c.plan.horizon == 8
    summary = plan(c, str(tmp_path / "run"))
    assert set(summary["methods"]) == {"random", "zero", "action_conditioned"}
    assert summary["headline"] == "rpe"
    for r in summary["methods"].values():
        assert r["ate"] > 0 and r["rpe"] >= 0 and len(r["per_episode"]["ate"]) == 3
    looks_like_a_picture(tmp_path / "run" / "plan" / "planned_paths.png")


def test_closed_loop_in_the_simulator_end_to_end(arm_runs, tmp_path):
    """plan.protocol=closed_loop: every method replans in the arm simulator towards the goal
    frame of each episode; the scores, the pictures, and the mistakes a user can make."""
    from lawm_jax.data.sim_arm import ArmConfig, ArmSim
    from lawm_jax.planning.closed_loop import episode_seed, make_goal
    _, _, runs = arm_runs
    c = plan_config(arm, "", protocol="closed_loop", env="arm", controller=runs["ctrl"], baseline=runs["ac"],
                    episodes=2, frames=3, replan_every=2, goal_frames=3)
    summary = plan(c, str(tmp_path))
    out = tmp_path / "plan"
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(summary))
    assert summary["headline"] == "final_distance" and summary["path"] == "arm" and summary["episodes"] == 2
    assert set(summary["methods"]) == {"random", "zero", "lam", "lam_latent", "action_conditioned"}
    for r in summary["methods"].values():
        assert len(r["per_episode"]["final_distance"]) == 2 and r["seconds_per_plan"] >= 0
        assert r["final_distance"] == pytest.approx(np.mean(r["per_episode"]["final_distance"]))
    # "zero" leaves the arm where it started: its distance is the start's to the goal.
    sim = ArmSim(ArmConfig(image_size=32))
    want = []
    for e in range(2):
        goal = make_goal(sim, episode_seed(c.seed, e), 3)
        sim.reset(np.random.default_rng(episode_seed(c.seed, e)))
        start = sim.state()
        want.append(float(np.linalg.norm(start[:3] - goal["state"][:3])))
        sim.reset(np.random.default_rng([c.seed, e]))  # training episode e's start: another one
        assert not np.allclose(sim.state(), start)
    sim.close()
    np.testing.assert_allclose(summary["methods"]["zero"]["per_episode"]["final_distance"], want, rtol=1e-5)
    assert min(want) > 0.005  # the goals are somewhere else
    assert "| lam |" in (out / "results.md").read_text()
    for e in range(2):
        looks_like_a_picture(out / f"closed_loop_{e}.png")
    with pytest.raises(ConfigError, match="config.plan.env='': must name the simulator"):
        plan(plan_config(arm, "", protocol="closed_loop", baseline=runs["ac"]), str(tmp_path / "x"))
    with pytest.raises(ConfigError, match="the closed loop needs a model"):
        plan(plan_config(arm, "", protocol="closed_loop", env="arm"), str(tmp_path / "x"))
    with pytest.raises(ConfigError, match="plan.replan_every=4: must be <= plan.horizon=3"):
        plan(plan_config(arm, "", protocol="closed_loop", env="arm", replan_every=4, baseline=runs["ac"]),
             str(tmp_path / "x"))
    with pytest.raises(ConfigError, match="trained on actions .* plan on the same environment"):
        plan(plan_config(arm, "", protocol="closed_loop", env="camera", baseline=runs["ac"]), str(tmp_path / "x"))


def test_closed_loop_draws_the_planned_frames(arm_runs, tmp_path):
    """With a pixel decoder, each executed frame has beside it the frame its plan predicted
    (the imagined state decoded alone), for the first episodes only; the picture gains a
    row per model."""
    import jax
    from lawm_jax.data.sim_arm import ArmConfig, ArmSim
    from lawm_jax.planning.closed_loop import episode_seed, make_goal, run_closed_loop
    from lawm_jax.planning.cem import CEMConfig
    from lawm_jax.planning.protocols import reference_methods, world_model_method
    from lawm_jax.planning.run import draw_closed_loop
    from tests.helpers import random_decoder
    _, _, runs = arm_runs
    model = load_world_model(runs["ac"])
    q = model.wm.config.encoder.frames_per_step()
    decoder = random_decoder(model)
    methods = reference_methods(model.action_stats, False) + [world_model_method(
        "action_conditioned", model, model.action_stats, CEMConfig(horizon=3, samples=8, elites=2, iterations=2),
        "actions")]
    sim = ArmSim(ArmConfig(image_size=32))
    results = run_closed_loop(sim, methods, 2, 0, 3, 4, 3, 2, 3, q, decode=decoder.decode, imagined_episodes=1)
    imagined = results["action_conditioned"]["imagined"]
    assert len(imagined) == 1 and imagined[0].shape == (3, 32, 32, 3) and imagined[0].dtype == np.uint8
    assert "imagined" not in results["random"]  # no model, nothing imagined
    # The first two frames by hand: the first plan, imagined from the start and decoded.
    goal = make_goal(sim, episode_seed(0, 0), 3)
    sim.reset(np.random.default_rng(episode_seed(0, 0)))
    episode = {"video": np.repeat(np.stack([sim.render(), goal["frame"]]), q, axis=0),
               "actions": np.zeros((3, 4), np.float32)}
    sim.close()
    key = jax.random.fold_in(jax.random.split(jax.random.key(0), 2)[0], 1)
    planned = methods[-1].plan(key, episode)
    states = methods[-1].imagine(episode, planned)[:2]
    want = np.round(np.clip(np.asarray(decoder.decode(states[:, None]))[:, -1], 0, 1) * 255)
    np.testing.assert_allclose(imagined[0][:2], want, atol=1)
    with_plans = draw_closed_loop(results, [m.name for m in methods], 0, str(tmp_path / "a.png"), "x")
    without = draw_closed_loop(results, [m.name for m in methods], 1, str(tmp_path / "b.png"), "x")
    from PIL import Image
    assert Image.open(with_plans).height > Image.open(without).height
    looks_like_a_picture(with_plans)


def test_truth_rank_reads_what_a_cost_knows():
    """A cost that is the distance to the true actions ranks the truth first (0), its
    negation last (1), a cost blind to the plan in the middle (0.5: ties count half); real
    random plans from the data's statistics, straight lines included."""
    from lawm_jax.planning.protocols import Method, reference_methods, truth_rank
    stats = {"mean": [0.0, 0.1], "std": [1.0, 0.5], "low": [-2.0, -1.0], "high": [2.0, 1.0]}
    rng = np.random.default_rng(0)
    episodes = [{"actions": rng.normal(size=(3, 2)).astype(np.float32)} for _ in range(4)]
    oracle = lambda ep, plans: np.abs(plans - ep["actions"]).sum(axis=(1, 2))  # noqa: E731
    for straight in (False, True):
        random = reference_methods(stats, straight)[0]
        knows = truth_rank(Method("m", None, score=oracle), random, episodes, draws=16, seed=0)
        assert knows["truth_rank"] == 0 and knows["per_episode"] == [0.0] * 4 and knows["draws"] == 16
        wrong = truth_rank(Method("m", None, score=lambda ep, p: -oracle(ep, p)), random, episodes, 16, 0)
        assert wrong["truth_rank"] == 1
        blind = truth_rank(Method("m", None, score=lambda ep, p: np.zeros(len(p))), random, episodes, 16, 0)
        assert blind["truth_rank"] == 0.5
    # Half the draws nearer the truth than a cost that moves the truth: the share counts them.
    shifted = lambda ep, plans: np.abs(plans - ep["actions"] - 0.7).sum(axis=(1, 2))  # noqa: E731
    some = truth_rank(Method("m", None, score=shifted), reference_methods(stats, False)[0], episodes, 64, 1)
    assert 0 < some["truth_rank"] < 1 and some["truth_rank"] == pytest.approx(np.mean(some["per_episode"]))


def test_mistakes_are_named(arm_runs, tmp_path):
    data, test, runs = arm_runs
    with pytest.raises(ConfigError, match="plan.path is empty"):
        plan(plan_config(arm, ""), str(tmp_path))
    with pytest.raises(ConfigError, match="plan.baseline.*model.conditioning=actions"):
        plan(plan_config(arm, test, baseline=runs["lam"]), str(tmp_path))
    wrong_size = str(tmp_path / "test64")
    generate_trajectories("arm", wrong_size, episodes=1, length=5, size=64)
    with pytest.raises(ConfigError, match="takes 32px frames.*--size=32"):
        plan(plan_config(arm, wrong_size, baseline=runs["ac"]), str(tmp_path))
    with pytest.raises(ConfigError, match="no latent actions to evaluate"):
        c = frame_causal(small(arm, "actions", data))
        c.job = "evaluate"
        evaluate(c, runs["ac"])
    with pytest.raises(ConfigError, match=r"latent_dim=3.*set model.bottleneck.latent_dim=4"):
        c = frame_causal(small(arm, "actions", data))
        c.model.bottleneck.latent_dim = 3
        train(c, str(tmp_path / "bad_ac"))
    c = frame_causal(small(arm, "controller", data))
    c.controller.world_model = runs["ac"]
    with pytest.raises(ConfigError, match="no latent actions"):
        train_controller(c, str(tmp_path / "bad_ctrl"))
    c = frame_causal(small(arm, "actions", data))
    c.data.duplicate_frames = False
    with pytest.raises(DataError, match="duplicate_frames=True"):
        train(c, str(tmp_path / "no_dup"))
    assert not os.path.exists(tmp_path / "no_dup" / "checkpoints" / "2")
