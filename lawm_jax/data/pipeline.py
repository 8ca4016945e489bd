"""Batched, shuffled, process-sharded, checkpointable iterators over the data sources.

Order of operations (Grain): records -> shuffle(seed) -> this process's shard ->
repeat -> decode/augment (per-record seeded) -> batch -> optional worker processes.
Decoding after the repeat gives every epoch fresh augmentations; sharding after the
shuffle gives every process a disjoint share of each epoch.
"""
from __future__ import annotations

import grain

from lawm_jax.data.clips import ClipSpec, build_index, clip_source
from lawm_jax.data.shards import RandomFlip, shard_dataset
from lawm_jax.data.synthetic import ShapesConfig, shapes_dataset

SOURCES = ("shapes", "video", "shards")


def clip_spec(data_cfg) -> ClipSpec:
    return ClipSpec(frames=data_cfg.frames, fps=data_cfg.fps, size=data_cfg.image_size,
                    crop=data_cfg.crop, flip=data_cfg.flip, max_bad_fraction=data_cfg.max_bad_fraction)


def source_dataset(data_cfg, seed: int, frames_per_step: int, train: bool = True):
    """The config's source: (MapDataset of records, RandomMap that decodes one or None)."""
    if data_cfg.source == "shapes":
        return shapes_dataset(ShapesConfig(num_clips=data_cfg.num_clips, frames=data_cfg.frames,
                                           image_size=data_cfg.image_size,
                                           frames_per_step=frames_per_step), seed), None
    if data_cfg.source == "video":
        spec = clip_spec(data_cfg)
        return clip_source(build_index(data_cfg.path, spec), spec, train)
    if data_cfg.source == "shards":
        records = shard_dataset(data_cfg.path, data_cfg.frames, data_cfg.image_size)
        return records, RandomFlip() if (train and data_cfg.flip) else None
    raise ValueError(f"config.data.source={data_cfg.source!r}: unknown source; use one of {SOURCES}")


def batch_iterator(dataset: grain.MapDataset, batch_size: int, seed: int, decode=None,
                   shard_index: int = 0, shard_count: int = 1, workers: int = 0):
    """Endless batches of `batch_size` (this process's share of the global batch).

    `get_state()` / `set_state()` resume it exactly.
    """
    ds = dataset.shuffle(seed=seed)[shard_index::shard_count].repeat(None)
    if decode is not None:
        ds = ds.random_map(decode, seed=seed)
    it = ds.batch(batch_size, drop_remainder=True).to_iter_dataset()
    if workers > 0:
        it = it.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
    return iter(it)
