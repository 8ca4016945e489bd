"""Cached encoder features: the features job, and training on them equals training with
the encoder inside the step."""
import json
import os

import chex
import jax
import numpy as np
import pytest

from lawm_jax.checkpoint import load_encoder
from lawm_jax.config import validate
from lawm_jax.data.shards import feature_dataset
from lawm_jax.data.synthetic import ShapesConfig, shapes_dataset
from lawm_jax.errors import ConfigError, DataError
from lawm_jax.train.features import encode_features
from lawm_jax.train.lam import train
from lawm_jax.world_model import WorldModel
from tests.helpers import small_config


def test_features_job_writes_each_clips_states_once(tmp_path):
    """The job itself (default run; training on its output: the slow test below)."""
    c = small_config("sparse", steps=1)
    c.data.num_clips = 5  # a full batch of 4 and a padded one of 1
    path = encode_features(c, str(tmp_path / "feats"))
    meta, records = feature_dataset(path)
    assert meta["count"] == len(records) == 5 and meta["shape"] == [4, 16, 64]
    assert records[4]["states"].shape == (4, 16, 64) and np.isfinite(records[4]["states"]).all()
    c.data.source = "features"
    with pytest.raises(ConfigError, match="encodes one source"):
        encode_features(c, str(tmp_path / "again"))


@pytest.mark.slow  # two trainings and a features job: about a minute on 2 cores
def test_training_on_cached_features_equals_training_on_video(tmp_path):
    c = small_config("sparse", steps=4)
    c.data.num_clips = 10  # 2 full batches of 4 and a padded one of 2
    path = encode_features(c, str(tmp_path / "feats"))
    meta, records = feature_dataset(path)
    assert meta["count"] == len(records) == 10
    assert meta["shape"] == [4, 16, 64] and meta["encoder"]["width"] == 64
    # Each record is the encoder's output for that clip (the random encoder of seed 0).
    wm = WorldModel(validate(c))
    assert meta["encoder_checkpoint"] == str(tmp_path / "feats" / "encoder")
    enc_params, _ = load_encoder(meta["encoder_checkpoint"])
    clips = shapes_dataset(ShapesConfig(num_clips=10, frames=8, image_size=32, frames_per_step=2), c.seed)
    video = np.stack([clips[i]["video"] for i in (0, 9)])
    expect = jax.jit(wm.encode)({"encoder": enc_params}, video)
    np.testing.assert_allclose(np.stack([records[0]["states"], records[9]["states"]]), expect, atol=1e-5)
    # Re-running finds the folder complete and leaves it alone.
    stamp = os.path.getmtime(os.path.join(path, "features.json"))
    assert encode_features(c, str(tmp_path / "feats")) == path
    assert os.path.getmtime(os.path.join(path, "features.json")) == stamp

    # Same clips in the same order (the shapes are not augmented): same training.
    c.model.encoder_checkpoint = meta["encoder_checkpoint"]
    _, p_video, h_video = train(c, str(tmp_path / "video"))
    f = small_config("sparse", steps=4)
    f.data.source, f.data.path, f.data.num_clips = "features", path, 10
    _, p_feat, h_feat = train(f, str(tmp_path / "from_features"))
    np.testing.assert_allclose([r["loss"] for r in h_feat], [r["loss"] for r in h_video], rtol=1e-5)
    chex.assert_trees_all_close(p_feat, p_video, atol=1e-5, rtol=1e-4)
    saved = json.load(open(tmp_path / "from_features" / "world_model.json"))
    assert saved["encoder_checkpoint"] == meta["encoder_checkpoint"]  # the run can be reloaded

    # Features of another clip shape or encoder are refused, naming what differs.
    f.data.image_size = 48
    with pytest.raises(ConfigError, match=r"\(steps, tokens, width\): features \[4, 16, 64\] vs config \[4, 36, 64\]"):
        train(f, str(tmp_path / "wrong"))
    f.data.image_size, f.data.path = 32, str(tmp_path / "nothing")
    (tmp_path / "nothing").mkdir()  # a folder, but no features job's
    with pytest.raises(DataError, match="no features.json.*features job"):
        train(f, str(tmp_path / "wrong2"))
