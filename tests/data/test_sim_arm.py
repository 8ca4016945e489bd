"""The MuJoCo arm (fixed camera, moving agent): actions move the gripper as specified."""
import numpy as np
import pytest

from lawm_jax.data.sim_arm import FINGER_TRAVEL, WORKSPACE, ArmConfig, ArmSim
from lawm_jax.data.trajectories import record_episode


@pytest.fixture(scope="module")
def sim():
    s = ArmSim(ArmConfig(image_size=32, num_blocks=2))
    yield s
    s.close()


def raise_gripper(sim):
    """Above the blocks (their tops are at 5 cm, the fingertips 5.2 cm below the palm)."""
    while sim.target[2] < 0.15:
        sim.step([0, 0, 0.05, 0])


def test_zero_action_leaves_everything_still(sim):
    sim.reset(np.random.default_rng(0))
    frame, state, qpos = sim.render(), sim.state(), sim.data.qpos.copy()
    for _ in range(3):
        np.testing.assert_array_equal(sim.step(np.zeros(4)), np.zeros(4))
    np.testing.assert_allclose(sim.data.qpos, qpos, atol=1e-6)
    np.testing.assert_allclose(sim.state(), state, atol=1e-6)
    np.testing.assert_array_equal(sim.render(), frame)


def test_actions_displace_the_end_effector_and_gripper(sim):
    sim.reset(np.random.default_rng(1))
    raise_gripper(sim)
    for _ in range(5):  # to the centre, half closed
        sim.step(np.clip([-sim.target[0], -sim.target[1], 0, 0.5 - sim.target[3]], -0.05, 0.05))
    sim.step(np.zeros(4))
    rng = np.random.default_rng(2)
    for sign in (1, -1, 1, -1, 1, -1):
        before = sim.state()
        action = np.concatenate([rng.uniform(-0.03, 0.03, 3), [sign * rng.uniform(0.05, 0.2)]])
        applied = sim.step(action)
        np.testing.assert_allclose(applied, action, atol=1e-6)  # inside the workspace: not clipped
        after = sim.state()
        np.testing.assert_allclose(after[:3] - before[:3], action[:3], atol=2e-3)
        np.testing.assert_allclose(after[3] - before[3], action[3], atol=0.05)
    assert abs(sim.data.qpos[3] - sim.target[3] * FINGER_TRAVEL) < 1e-3


def test_the_workspace_clips_actions_and_the_record_says_so(sim):
    sim.reset(np.random.default_rng(3))
    for _ in range(10):  # 40 cm of workspace at 5 cm a step, and then some
        applied = sim.step([0.05, 0.05, 0.05, 0.5])  # pushes into the corner
    assert np.all(applied[:3] == 0) and applied[3] == 0  # at the bounds: nothing applied
    np.testing.assert_allclose(sim.state()[:3], WORKSPACE[:, 1], atol=2e-3)
    np.testing.assert_allclose(sim.step([1.0, 0, 0, 0]), [0, 0, 0, 0])  # clipped twice over


def test_pushing_a_block_moves_it(sim):
    sim.reset(np.random.default_rng(4))
    block = sim.state()[4:7]
    raise_gripper(sim)
    # Hover 8 cm to the block's left, go down, then sweep right through it.
    for _ in range(6):
        sim.step(np.clip([block[0] - 0.08 - sim.target[0], block[1] - sim.target[1], 0, 0], -0.05, 0.05))
    for _ in range(3):
        sim.step([0, 0, -0.05, 0])
    assert sim.state()[2] < 0.065
    np.testing.assert_allclose(sim.state()[4:7], block, atol=2e-3)  # not touched yet
    for _ in range(4):
        sim.step([0.05, 0, 0, 0])
    assert sim.state()[4] - block[0] > 0.05


def test_episodes_are_deterministic_and_consistent(sim):
    a = record_episode(sim, np.random.default_rng(5), 6)
    b = record_episode(sim, np.random.default_rng(5), 6)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert a["frames"].shape == (6, 32, 32, 3) and a["frames"].dtype == np.uint8
    assert a["actions"].shape == (5, 4) and a["states"].shape == (6, 4 + 3 * 2)
    assert len(sim.state_names) == a["states"].shape[1]
    assert np.abs(np.diff(a["frames"].astype(int), axis=0)).max() > 0  # the scene moves
