"""generate_trajectories (tools/make_trajectories.py): both simulators to the trajectory format."""
import numpy as np
import pytest

from lawm_jax.data.trajectories import read_trajectories
from lawm_jax.data.trajectories import generate_trajectories


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("traj")
    calls = []
    for env in ("arm", "camera"):
        generate_trajectories(env, str(root / env), episodes=3, length=6, size=16, seed=7,
                          progress=lambda n, total: calls.append((n, total)))
    assert calls[-1] == (3, 3) and len(calls) == 6
    return root


@pytest.mark.parametrize("env,actions,states", [("arm", 4, 4 + 3 * 3), ("camera", 3, 3)])
def test_generated_folders_hold_labelled_episodes(folders, env, actions, states):
    meta, episodes = read_trajectories(str(folders / env))
    assert meta["env"] == env and meta["lengths"] == [6, 6, 6] and meta["image_size"] == 16
    assert len(meta["action_names"]) == actions and len(meta["state_names"]) == states
    ep = episodes[1]
    assert ep["frames"].shape == (6, 16, 16, 3) and ep["actions"].shape == (5, actions)
    assert ep["states"].shape == (6, states)
    assert not np.array_equal(episodes[0]["frames"], episodes[1]["frames"])


def test_episode_i_is_reproducible_alone(folders, tmp_path):
    generate_trajectories("camera", str(tmp_path / "again"), episodes=2, length=6, size=16, seed=7)
    _, a = read_trajectories(str(folders / "camera"))
    _, b = read_trajectories(str(tmp_path / "again"))
    np.testing.assert_array_equal(a[1]["frames"], b[1]["frames"])


def test_trajectories_as_training_data(folders):
    from configs import tiny
    from lawm_jax.config import validate
    from lawm_jax.data.pipeline import config_batches
    c = tiny.get_config()
    c.data.update(mixture=f"trajectories:{folders}/arm=0.5,trajectories:{folders}/camera=0.5",
                  frames=4, image_size=16)
    validate(c)
    it, _ = config_batches(c.data, seed=0, frames_per_step=2, global_batch=4)
    batch = next(it)
    it.close()
    assert set(batch) == {"video"} and batch["video"].shape == (4, 4, 16, 16, 3)
    assert batch["video"].dtype == np.uint8


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 2 frames"):
        generate_trajectories("arm", str(tmp_path / "x"), episodes=1, length=1)
    with pytest.raises(ValueError, match="choose one of"):
        generate_trajectories("car", str(tmp_path / "y"), episodes=1, length=3)
