"""Metaworld's Sawyer tasks (data/sim_metaworld.py): seeded episodes, replayable random
actions, the scripted policies and Metaworld's success criterion, the trajectory format."""
import numpy as np
import pytest

from lawm_jax.data.trajectories import generate_trajectories, read_trajectories, record_episode
from tests.helpers import need_package


@pytest.fixture(scope="module")
def reach():
    need_package("metaworld", "metaworld")
    from lawm_jax.data.sim_metaworld import MetaworldConfig, MetaworldSim
    sims = {policy: MetaworldSim(MetaworldConfig(task="reach", image_size=16, policy=policy, policy_noise=0.0))
            for policy in ("random", "scripted")}
    yield sims
    for s in sims.values():
        s.close()


def test_episodes_are_determined_by_their_seed(reach):
    sim = reach["random"]
    a = record_episode(sim, np.random.default_rng([1, 0]), 4)
    b = record_episode(sim, np.random.default_rng([1, 0]), 4)
    c = record_episode(sim, np.random.default_rng([1, 1]), 4)
    for key in ("frames", "actions", "states"):
        np.testing.assert_array_equal(a[key], b[key])
    goal = slice(7, 10)
    assert not np.allclose(a["states"][0, goal], c["states"][0, goal])  # another seed, another goal
    assert a["frames"].shape == (4, 16, 16, 3) and a["actions"].shape == (3, 4) and a["states"].shape == (4, 10)


def test_random_actions_move_the_arm_as_recorded_and_replay_exactly(reach):
    sim = reach["random"]
    episode = record_episode(sim, np.random.default_rng([2, 0]), 5)
    # Small moves inside the workspace are applied as commanded (the mocap target's displacement).
    sim.reset(np.random.default_rng(9))
    for action in ([0.02, 0.0, 0.0, 1.0], [0.0, -0.03, 0.01, -1.0]):
        np.testing.assert_allclose(sim.step(action), action, atol=1e-6)
    # Replaying the recorded actions from the same start gives the recorded states.
    sim.reset(np.random.default_rng([2, 0]))
    replayed = [sim.state()]
    for action in episode["actions"]:
        np.testing.assert_allclose(sim.step(action), action, atol=1e-6)
        replayed.append(sim.state())
    np.testing.assert_allclose(np.stack(replayed), episode["states"], atol=1e-5)
    # The end effector follows the summed displacement (it lags the target a little).
    moved = episode["states"][-1, :3] - episode["states"][0, :3]
    assert np.linalg.norm(moved - episode["actions"][:, :3].sum(0)) < 0.02


def test_the_scripted_reach_policy_succeeds_by_metaworlds_criterion(reach):
    sim = reach["scripted"]
    episode = record_episode(sim, np.random.default_rng([3, 0]), 6)
    assert sim.success()  # within 5 frames (100 Metaworld steps; the noise-free policy needs ~40-75)
    ee, goal = episode["states"][-1, :3], episode["states"][-1, 7:10]
    assert np.linalg.norm(ee - goal) < 0.05  # Metaworld's reach radius
    assert np.linalg.norm(episode["states"][0, :3] - goal) > 0.05  # it did not start there
    # A random start is no success.
    reach["random"].reset(np.random.default_rng([3, 0]))
    assert not reach["random"].success()


def test_a_metaworld_folder_and_its_errors(tmp_path):
    need_package("metaworld", "metaworld")
    out = str(tmp_path / "push")
    assert generate_trajectories("metaworld:push", out, episodes=2, length=3, size=16, seed=4, policy="mixed") == 2
    meta, episodes = read_trajectories(out)
    assert meta["env"] == "metaworld:push" and meta["config"]["task"] == "push" and meta["config"]["policy"] == "mixed"
    assert meta["action_names"] == ["dx", "dy", "dz", "gripper"] and meta["state_names"][4] == "obj_x"
    assert episodes[1]["frames"].shape == (3, 16, 16, 3)
    with pytest.raises(ValueError, match="env='metaworld:fly': no such Metaworld task"):
        generate_trajectories("metaworld:fly", str(tmp_path / "x"), episodes=1, length=3)
    with pytest.raises(ValueError, match="policy='expert': choose one of"):
        generate_trajectories("metaworld:reach", str(tmp_path / "y"), episodes=1, length=3, policy="expert")
