"""The `features` job: the frozen encoder's states of a dataset, computed once.

    python -m lawm_jax.main --config=configs/tiny.py --config.job=features --workdir=/tmp/feats
    python -m lawm_jax.main --config=configs/tiny.py --workdir=/tmp/lam \
        --config.data.source=features --config.data.path=/tmp/feats/features

Training on cached features (data.source=features) skips the encoder's forward pass in
every step. The cache holds one pass over config.data in the source's order, without
augmentation (centre crops, no flips): an augmentation would be frozen into the cache.
WORKDIR/features holds ArrayRecord shards of (T, N, D) states, one record per clip, and
features.json: the encoder (architecture and checkpoint), clip shape, dtype and count.
"""
from __future__ import annotations

import dataclasses
import glob
import os

import jax
import numpy as np
from absl import logging

from lawm_jax import checkpoint
from lawm_jax.config import validate
from lawm_jax.data.pipeline import READ_OPTIONS, source_dataset
from lawm_jax.data.shards import FEATURES_META, encode_array, write_records
from lawm_jax.errors import ConfigError
from lawm_jax.progress import progress_bar
from lawm_jax.train import sharding
from lawm_jax.train.loop import mesh_for, prepare_encoder
from lawm_jax.world_model import WorldModel

def encode_features(config, workdir: str) -> str:
    """Writes WORKDIR/features for config.data through config's frozen encoder; returns
    the folder. A finished folder is kept as it is (re-running does nothing)."""
    wm_cfg = validate(config, paths=True)
    d = config.data
    if d.mixture or d.source == "features":
        raise ConfigError(f"config.data: the features job encodes one source (data.source={d.source!r}, "
                          f"data.mixture={d.mixture!r}); name a video, shards, trajectories, tfds or "
                          "shapes source")
    if jax.process_count() > 1:
        raise ConfigError("the features job runs in one process (it uses all of that host's devices)")
    out = os.path.join(workdir, checkpoint.FEATURES_DIR)
    if os.path.exists(os.path.join(out, FEATURES_META)):
        logging.info("%s is complete; nothing to do", out)
        return out
    for partial in glob.glob(os.path.join(out, "*.array_record")):  # an interrupted run's
        os.remove(partial)
    wm = WorldModel(wm_cfg)
    mesh = mesh_for(config)
    # The random encoder (no checkpoint named) is the one `train` builds from the same seed.
    encoder_params, encoder_path = prepare_encoder(
        config, wm, lambda: wm.init(jax.random.key(config.seed))["encoder"], workdir)
    encode = jax.jit(lambda p, v: wm.encode({"encoder": p}, v))

    records, decode = source_dataset(d, config.seed, wm_cfg.encoder.frames_per_step(), train=False)
    ds = records.random_map(decode, seed=config.seed) if decode is not None else records
    count = len(ds) if config.features.max_clips <= 0 else min(len(ds), config.features.max_clips)
    batch = d.global_batch
    dtype = np.dtype(config.features.dtype)

    def states():
        it = iter(ds[:count].batch(batch).to_iter_dataset(READ_OPTIONS))
        try:
            done = 0
            for clips in it:
                video = clips["video"]
                n = len(video)
                if n < batch:  # the last batch, padded so that one compiled shape serves all
                    video = np.concatenate([video, np.repeat(video[-1:], batch - n, axis=0)])
                out_states = np.asarray(encode(encoder_params, sharding.global_batch(mesh, video)))
                for s in out_states[:n]:
                    yield encode_array(s, dtype)
                done += n
                progress_bar(done, count, "clips encoded")
        finally:
            it.close()

    t, n = wm_cfg.steps, wm_cfg.tokens
    meta = {"encoder": dataclasses.asdict(wm_cfg.encoder), "encoder_checkpoint": os.path.abspath(encoder_path),
            "normalize_states": wm_cfg.normalize_states, "frames": wm_cfg.frames,
            "image_size": list(wm_cfg.image_size), "shape": [t, n, wm_cfg.encoder.width],
            "dtype": dtype.name, "source": d.source, "path": d.path}
    written = write_records(states(), out, FEATURES_META, meta, "states")
    logging.info("wrote %d clips of encoder features to %s", written, out)
    return out

