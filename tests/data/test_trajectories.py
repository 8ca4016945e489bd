"""The trajectory format: round trip, windows and their action alignment, bad folders."""
import json

import numpy as np
import pytest

from lawm_jax.data.trajectories import (action_stats, denormalize_actions, normalize_actions,
                                        read_trajectories, trajectory_windows,
                                        write_trajectories)
from lawm_jax.errors import DataError


def labelled_episode(e, length, size=8):
    """Frame t of episode e is filled with 10 * e + t; action t is (e, t); state t is (e, t, 0)."""
    frames = np.zeros((length, size, size, 3), np.uint8) + (10 * e + np.arange(length))[:, None, None, None]
    actions = np.stack([np.full(length - 1, e), np.arange(length - 1)], 1)
    states = np.stack([np.full(length, e), np.arange(length), np.zeros(length)], 1)
    return {"frames": frames.astype(np.uint8), "actions": actions, "states": states}


@pytest.fixture
def folder(tmp_path):
    out = tmp_path / "traj"
    count = write_trajectories((labelled_episode(e, n) for e, n in enumerate([5, 3, 4])), str(out),
                               {"env": "test", "fps": 4.0, "image_size": 8}, records_per_shard=2)
    assert count == 3
    return out


def test_episodes_round_trip(folder):
    meta, episodes = read_trajectories(str(folder))
    assert meta["lengths"] == [5, 3, 4] and meta["count"] == 3 and meta["env"] == "test"
    assert len(list(folder.glob("episodes-*.array_record"))) == 2
    for e, n in enumerate([5, 3, 4]):
        want = labelled_episode(e, n)
        for key in ("frames", "actions", "states"):
            np.testing.assert_array_equal(episodes[e][key], want[key])
        assert episodes[e]["actions"].dtype == np.float32


def test_windows_align_each_action_with_its_transition(folder):
    ds = trajectory_windows(str(folder), frames=3, size=8, fps=4.0)
    assert len(ds) == 3 + 1 + 2  # windows per episode: n - 3 + 1
    for w in ds:
        e, t0 = int(w["states"][0, 0]), int(w["states"][0, 1])
        assert w["video"].shape == (3, 8, 8, 3)
        np.testing.assert_array_equal(w["video"][:, 0, 0, 0], 10 * e + t0 + np.arange(3))
        # actions[i] is the one taken at frame i, leading to frame i + 1
        np.testing.assert_array_equal(w["actions"][:, 1], t0 + np.arange(2))
        np.testing.assert_array_equal(w["states"][:, 1], t0 + np.arange(3))


def test_bad_folders_and_mismatches_are_clear_errors(folder, tmp_path):
    with pytest.raises(DataError, match="no trajectories.json.*make_trajectories"):
        read_trajectories(str(tmp_path))
    with pytest.raises(DataError, match="data.image_size=16"):
        trajectory_windows(str(folder), frames=3, size=16)
    with pytest.raises(DataError, match="data.fps=2"):
        trajectory_windows(str(folder), frames=3, fps=2.0)
    with pytest.raises(DataError, match="no episode .* has 6 frames"):
        trajectory_windows(str(folder), frames=6)
    with pytest.raises(FileExistsError):
        write_trajectories([labelled_episode(0, 3)], str(folder), {})
    meta = json.loads((folder / "trajectories.json").read_text())
    (folder / "trajectories.json").write_text(json.dumps({**meta, "count": 4}))
    with pytest.raises(DataError, match="3 records but trajectories.json says 4"):
        read_trajectories(str(folder))


def test_inconsistent_episodes_are_refused(tmp_path):
    bad = labelled_episode(0, 4)
    bad["actions"] = bad["actions"][:2]
    with pytest.raises(ValueError, match="needs 3 actions"):
        write_trajectories([bad], str(tmp_path / "t"), {})


def test_duplicated_windows_repeat_each_frame_and_keep_one_action_per_frame(folder):
    """The paper's frame duplication: every frame twice, so a 2-frame tubelet is one frame."""
    plain = trajectory_windows(str(folder), frames=3, size=8, fps=4.0)
    doubled = trajectory_windows(str(folder), frames=3, size=8, fps=4.0, repeat=2)
    assert len(doubled) == len(plain)
    for a, b in zip(plain, doubled):
        assert b["video"].shape == (6, 8, 8, 3)
        np.testing.assert_array_equal(b["video"][0::2], a["video"])
        np.testing.assert_array_equal(b["video"][1::2], a["video"])
        np.testing.assert_array_equal(b["actions"], a["actions"])


def test_action_statistics_are_written_and_normalisation_round_trips(folder):
    meta, episodes = read_trajectories(str(folder))
    every = np.concatenate([episodes[i]["actions"] for i in range(len(episodes))])
    stats = action_stats(str(folder))
    assert stats == meta["action_stats"]
    np.testing.assert_allclose(stats["mean"], every.mean(0), rtol=1e-6)
    np.testing.assert_allclose(stats["std"], every.std(0), rtol=1e-6)
    np.testing.assert_allclose(stats["low"], every.min(0))
    np.testing.assert_allclose(stats["high"], every.max(0))
    z = normalize_actions(every, stats)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(z.std(0), 1, rtol=1e-5)
    np.testing.assert_allclose(denormalize_actions(z, stats), every, atol=1e-5)
    # A folder written before the statistics were kept: computed from its episodes.
    (folder / "trajectories.json").write_text(json.dumps({k: v for k, v in meta.items() if k != "action_stats"}))
    np.testing.assert_allclose(action_stats(str(folder))["std"], stats["std"], rtol=1e-6)


def test_evaluation_never_scores_training_windows_nor_pairs_one_episodes_windows(folder):
    from configs import tiny
    from lawm_jax.data.pipeline import evaluation_clips
    from lawm_jax.eval.leakage import partners
    c = tiny.get_config()
    c.data.update(source="trajectories", path=str(folder), holdout="", frames=3, image_size=8, fps=4.0)
    with pytest.raises(DataError, match=r"'trajectories' has no held-out split.*config\.eval\.path"):
        evaluation_clips(c.data, 1, seed=0)
    # Held-out data named, or the training data asked for on purpose: windows with their episode.
    for kwargs in ({"path": str(folder)}, {"split": "train"}):
        video, ids = evaluation_clips(c.data, 1, seed=0, **kwargs)
        assert len(video) == 6
        np.testing.assert_array_equal(ids, video[:, 0, 0, 0, 0] // 10)  # frame t of episode e holds 10 e + t
        pair = partners(ids)
        assert (ids[pair] != ids).all()  # overlapping windows of one episode are never partners
