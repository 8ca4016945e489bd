"""Held-out splits by video and the evaluation clips."""
import os

import numpy as np
import pytest

from configs import tiny
from lawm_jax.data.clips import ClipSpec, build_index, split_videos
from lawm_jax.data.pipeline import evaluation_clips
from lawm_jax.errors import DataError


def test_split_by_video_is_disjoint_and_names_bad_patterns(tmp_path):
    c = tiny.get_config()
    assert c.data.holdout == "fraction:0.2"
    spec = ClipSpec(frames=8, fps=4.0, size=32)
    train = build_index(c.data.path, spec, holdout=c.data.holdout, split="train")
    held = build_index(c.data.path, spec, holdout=c.data.holdout, split="holdout")
    every = build_index(c.data.path, spec)
    assert sorted(v.rsplit("/", 1)[1] for v in held.videos) == ["city_timelapse.mp4", "cockatoo.mp4"]
    assert not set(train.videos) & set(held.videos)
    assert sorted(train.videos + held.videos) == sorted(every.videos)
    d = str(tmp_path)
    videos = [f"{d}/a.mp4", f"{d}/sub/b.mp4", f"{d}/c.mp4"]
    assert split_videos(videos, d, "sub/*", "holdout") == [f"{d}/sub/b.mp4"]
    assert split_videos(videos, d, "b.mp4, c.mp4", "train") == [f"{d}/a.mp4"]
    with pytest.raises(DataError, match="'nope.mp4' matches no video"):
        split_videos(videos, d, "nope.mp4", "train")
    with pytest.raises(DataError, match="nothing is left to train on"):
        split_videos(videos, d, "*.mp4", "train")
    many = [f"{d}/v{i}.mp4" for i in range(200)]
    held = split_videos(many, d, "fraction:0.25", "holdout")
    assert 30 < len(held) < 70 and held == split_videos(many[::-1], d, "fraction:0.25", "holdout")[::-1]
    assert set(held) | set(split_videos(many, d, "fraction:0.25", "train")) == set(many)
    assert set(held) < set(split_videos(many, d, "fraction:0.5", "holdout"))  # a video keeps its side
    with pytest.raises(DataError, match="selects none of the 3 videos"):
        split_videos(videos, d, "fraction:0.0001", "holdout")
    with pytest.raises(DataError, match="fraction:F"):
        split_videos(many, d, "fraction:2", "train")
    with pytest.raises(DataError, match="set config.data.holdout"):
        split_videos(videos, d, "", "holdout")


def test_evaluation_clips_come_from_held_out_videos_only():
    c = tiny.get_config()
    video, ids = evaluation_clips(c.data, 2, seed=0, stride=1.0, max_clips=9)
    assert video.shape == (9, 8, 32, 32, 3) and video.dtype == np.uint8
    assert sorted(set(ids.tolist())) == ["city_timelapse.mp4", "cockatoo.mp4"]  # both held-out videos, by name
    assert ids.tolist() == sorted(ids.tolist())  # in order
    again, _ = evaluation_clips(c.data, 2, seed=0, stride=1.0, max_clips=9)
    np.testing.assert_array_equal(video, again)  # centre crops, no randomness


def test_evaluation_needs_clips_not_features():
    c = tiny.get_config()
    c.data.source = "features"
    with pytest.raises(DataError, match="not cached features"):
        evaluation_clips(c.data, 2, seed=0)


def test_the_readme_names_the_videos_the_tiny_config_holds_out():
    from lawm_jax.data.clips import list_videos
    c = tiny.get_config()
    held = split_videos(list_videos(c.data.path), c.data.path, c.data.holdout, "holdout")
    names = " and ".join(f"`{os.path.basename(p)}`" for p in sorted(held))
    readme = " ".join(open(os.path.join(os.path.dirname(__file__), "..", "..", "README.md")).read().split())
    assert f"the tiny config holds out {names}" in readme
