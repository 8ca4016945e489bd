"""Batched, shuffled, checkpointable iterators over the data sources (Grain)."""
from __future__ import annotations

import grain

from lawm_jax.data.synthetic import ShapesConfig, shapes_dataset


def source_dataset(data_cfg, seed: int, frames_per_step: int) -> grain.MapDataset:
    """The config's data source as a Grain MapDataset of {"video": uint8 (F, H, W, C)}."""
    if data_cfg.source == "shapes":
        return shapes_dataset(ShapesConfig(num_clips=data_cfg.num_clips, frames=data_cfg.frames,
                                           image_size=data_cfg.image_size,
                                           frames_per_step=frames_per_step), seed)
    raise ValueError(f"config.data.source={data_cfg.source!r}: unknown source; use 'shapes'")


def batch_iterator(dataset: grain.MapDataset, batch_size: int, seed: int):
    """Endless shuffled batches; `get_state()`/`set_state()` resume it exactly."""
    return iter(dataset.shuffle(seed=seed).repeat(None).batch(batch_size, drop_remainder=True)
                .to_iter_dataset())
