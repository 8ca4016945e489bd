"""Δxyz, ATE and RPE against values computed by hand."""
import numpy as np
import pytest

from lawm_jax.data.sim_camera import integrate_poses
from lawm_jax.planning.metrics import ate, delta_xyz, rpe


def test_delta_xyz_compares_summed_displacements_and_ignores_the_gripper():
    planned = np.array([[0.1, 0.0, 0.0, 0.5], [0.0, 0.2, -0.1, -0.5]])
    true = np.array([[0.05, 0.05, 0.0, 0.0], [0.05, 0.05, 0.0, 0.0]])
    # sums: planned (0.1, 0.2, -0.1), true (0.1, 0.1, 0.0) -> |0| + |0.1| + |-0.1|
    assert delta_xyz(planned, true) == pytest.approx(0.2)
    # The order of the steps does not matter, only where they lead.
    assert delta_xyz(planned[::-1], true) == pytest.approx(0.2)


def test_ate_is_the_rms_position_error_after_the_shared_start():
    true = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]], float)
    planned = np.array([[0, 0, 0], [1, 1, 0], [2, 0, 3.0]])  # yaw does not count
    assert ate(planned, true) == pytest.approx(np.sqrt((1 + 0) / 2))
    assert ate(true, true) == 0


def test_rpe_scores_relative_motion_in_the_local_frame():
    # True: straight along x. Planned: the same steps along y after turning left first;
    # each relative motion is "1 m forward" in both, so RPE = 0 while ATE is large.
    true = integrate_poses([0, 0, 0], [[1, 0, 0], [1, 0, 0]])
    planned = integrate_poses([0, 0, np.pi / 2], [[1, 0, 0], [1, 0, 0]])
    assert rpe(planned, true) == pytest.approx(0, abs=1e-12)
    assert ate(planned, true) > 1
    # One step 0.5 m too short, one step right: errors 0.5 and 0 -> sqrt(0.25 / 2).
    short = integrate_poses([0, 0, 0], [[0.5, 0, 0], [1, 0, 0]])
    assert rpe(short, true) == pytest.approx(np.sqrt(0.125))
    # A sideways step where the truth goes forward: relative error (−1, 1) -> |.|² = 2.
    side = integrate_poses([0, 0, 0], [[1, 0, 0], [0, 1, 0]])
    assert rpe(side, true) == pytest.approx(np.sqrt((0 + 2) / 2))


def test_integrate_poses_moves_in_the_camera_frame():
    poses = integrate_poses([1.0, 2.0, np.pi / 2], [[1, 0, 0], [0, 1, np.pi / 2]])
    # Facing +y: forward 1 -> (1, 3); then left 1 while facing +y -> x - 1; turn to face -x.
    np.testing.assert_allclose(poses, [[1, 2, np.pi / 2], [1, 3, np.pi / 2], [0, 3, np.pi]], atol=1e-12)
