"""The moving camera over photographs: the view and the pose follow the actions exactly."""
import numpy as np
import pytest

from lawm_jax.data.sim_camera import PHOTOS, CameraConfig, CameraSim, bilinear_mirrored, load_photo
from lawm_jax.data.trajectories import record_episode

S = 32  # view pixels; with view_metres * pixels_per_metre == S, one view pixel is one photo pixel


@pytest.fixture
def sim():
    photo = np.random.default_rng(0).integers(0, 256, (100, 120, 3), dtype=np.uint8)
    cfg = CameraConfig(image_size=S, view_metres=S / 100, max_step=(1.0, 1.0, 2 * np.pi))
    return CameraSim(cfg, photos={"noise": photo})


def put(sim, row, col, yaw=np.pi / 2):
    """Camera whose view, at yaw pi/2 (facing up the photo), is photo[row:row+S, col:col+S]."""
    h = sim.photo.shape[0]
    sim.pose = np.array([(col + S / 2) / 100, (h - row - S / 2) / 100, yaw])


def test_the_view_is_the_photo_under_the_camera(sim):
    put(sim, 20, 30)
    np.testing.assert_array_equal(sim.render(), sim.photo[20:20 + S, 30:30 + S])


def test_moves_shift_the_view_and_the_pose(sim):
    put(sim, 40, 40)
    before, pose = sim.render(), sim.state()
    sim.step([0.05, 0, 0])  # 5 px forward: the scene slides down the frame
    np.testing.assert_array_equal(sim.render(), sim.photo[35:35 + S, 40:40 + S])
    np.testing.assert_array_equal(sim.render()[5:], before[:-5])
    np.testing.assert_allclose(sim.state() - pose, [0, 0.05, 0], atol=1e-6)  # facing +y
    sim.step([0, 0.03, 0])  # 3 px to the left: the scene slides right
    np.testing.assert_array_equal(sim.render(), sim.photo[35:35 + S, 37:37 + S])
    np.testing.assert_allclose(sim.state() - pose, [-0.03, 0.05, 0], atol=1e-6)


def test_a_left_turn_rotates_the_view_clockwise(sim):
    put(sim, 30, 40)
    before = sim.render()
    sim.step([0, 0, np.pi / 2])  # what was on the left is now ahead
    np.testing.assert_array_equal(sim.render(), np.rot90(before, -1))
    sim.step([0.1, 0, 0])  # forward now means -x, to the left on the photo
    np.testing.assert_array_equal(sim.render(), np.rot90(sim.photo[30:30 + S, 30:30 + S], -1))


def test_zero_action_leaves_the_camera_still(sim):
    sim.reset(np.random.default_rng(1))
    frame, pose = sim.render(), sim.state()
    np.testing.assert_array_equal(sim.step([0, 0, 0]), np.zeros(3))
    np.testing.assert_array_equal(sim.render(), frame)
    np.testing.assert_array_equal(sim.state(), pose)


def test_the_ground_is_mirrored_beyond_the_photo():
    image = np.arange(3 * 4).reshape(3, 4, 1).repeat(3, -1).astype(np.uint8)
    rows, cols = np.meshgrid(np.arange(-3, 6), np.arange(-4, 8), indexing="ij")
    out = bilinear_mirrored(image, rows.astype(float), cols.astype(float))
    want = np.pad(image, ((3, 3), (4, 4), (0, 0)), mode="symmetric")
    np.testing.assert_array_equal(out, want)


def test_episodes_over_scikit_image_photos():
    for name in PHOTOS:
        photo = load_photo(name)
        assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3, name
    sim = CameraSim(CameraConfig(image_size=S, photos=("astronaut", "coffee")))
    a = record_episode(sim, np.random.default_rng(2), 8)
    b = record_episode(sim, np.random.default_rng(2), 8)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert a["frames"].shape == (8, S, S, 3) and a["actions"].shape == (7, 3)
    # The pose integrates the applied actions in the camera's frame.
    for t in range(7):
        x, y, yaw = a["states"][t]
        fwd, left, turn = a["actions"][t]
        want = [x + fwd * np.cos(yaw) - left * np.sin(yaw), y + fwd * np.sin(yaw) + left * np.cos(yaw),
                yaw + turn]
        np.testing.assert_allclose(a["states"][t + 1], want, atol=1e-5)
    with pytest.raises(ValueError, match="unknown photo 'lena'"):
        load_photo("lena")
