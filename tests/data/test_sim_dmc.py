"""DeepMind Control Suite bodies (data/sim_dmc.py): episodes by seed, replayable, as trajectories."""
import numpy as np
import pytest

from lawm_jax.data.trajectories import generate_trajectories, read_trajectories, record_episode
from tests.helpers import need_package


@pytest.fixture(scope="module")
def sim():
    need_package("dm_control", "dmc")
    from lawm_jax.data.sim_dmc import DmcConfig, DmcSim
    s = DmcSim(DmcConfig(domain="cheetah", task="run", image_size=32))
    yield s
    s.close()


def test_episodes_are_determined_by_their_seed_and_differ_between_seeds(sim):
    a = record_episode(sim, np.random.default_rng([3, 0]), 5)
    b = record_episode(sim, np.random.default_rng([3, 0]), 5)
    c = record_episode(sim, np.random.default_rng([3, 1]), 5)
    for key in ("frames", "actions", "states"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.allclose(a["states"][0], c["states"][0])  # another seed, another start
    assert a["frames"].shape == (5, 32, 32, 3) and a["frames"].dtype == np.uint8
    assert a["actions"].shape == (4, 6) and a["states"].shape == (5, len(sim.state_names))
    assert np.all(np.abs(a["actions"]) <= 1.0)  # the suite's bounds
    assert sim.state_names[:3] == ("rootx", "rootz", "rooty") and sim.action_names[0] == "bthigh"


def test_recorded_actions_reproduce_the_recorded_states(sim):
    episode = record_episode(sim, np.random.default_rng([5, 2]), 6)
    sim.reset(np.random.default_rng([5, 2]))  # the same start
    replayed = [sim.state()]
    for action in episode["actions"]:
        np.testing.assert_array_equal(sim.step(action), action)  # recorded actions are already in bounds
        replayed.append(sim.state())
    np.testing.assert_allclose(np.stack(replayed), episode["states"], atol=1e-6)
    # The body moves, and the frames show it.
    assert np.abs(np.diff(episode["states"][:, 3:9], axis=0)).max() > 0.05
    assert all(np.abs(np.diff(episode["frames"].astype(int), axis=0)).reshape(5, -1).mean(1) > 0.5)


def test_a_dmc_folder_is_written_in_the_trajectory_format(tmp_path):
    need_package("dm_control", "dmc")
    out = str(tmp_path / "walker")
    assert generate_trajectories("dmc:walker-walk", out, episodes=2, length=5, size=16, seed=1) == 2
    meta, episodes = read_trajectories(out)
    assert meta["env"] == "dmc:walker-walk" and meta["config"]["domain"] == "walker" and meta["lengths"] == [5, 5]
    assert episodes[0]["frames"].shape == (5, 16, 16, 3) and len(meta["action_names"]) == 6
    with pytest.raises(ValueError, match="env='dmc:walker-dance': no such dm_control task"):
        generate_trajectories("dmc:walker-dance", str(tmp_path / "x"), episodes=1, length=3)
