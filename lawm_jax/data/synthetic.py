"""Procedural moving-shape clips with known per-step actions, for tests and demos.

Each clip shows a few coloured squares on a noisy background. A square's velocity
is drawn afresh for every step of `frames_per_step` frames, so the past does not
determine the next step: a model can only predict it well if something (a latent
action) tells it the new velocities. That is the property the learning tests need.
"""
from __future__ import annotations

import dataclasses

import grain
import numpy as np


@dataclasses.dataclass(frozen=True)
class ShapesConfig:
    num_clips: int = 512
    frames: int = 8
    image_size: int = 32
    frames_per_step: int = 2
    num_shapes: int = 2
    shape_size: int = 8
    max_speed: int = 3  # pixels per frame, per axis


def moving_shapes(cfg: ShapesConfig, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (clips uint8 (M, F, S, S, 3), actions int8 (M, F / frames_per_step, shapes, 2))."""
    rng = np.random.default_rng(seed)
    m, f, s, k, size = cfg.num_clips, cfg.frames, cfg.image_size, cfg.num_shapes, cfg.shape_size
    steps = f // cfg.frames_per_step
    # A dim, textured background, fixed over the clip: only the squares move.
    background = rng.integers(0, 40, (m, 1, s, s, 3), dtype=np.uint8)
    clips = np.repeat(background, f, axis=1)
    colours = rng.integers(80, 256, (m, k, 3), dtype=np.uint8)
    pos = rng.integers(0, s - size, (m, k, 2)).astype(np.int64)
    actions = rng.integers(-cfg.max_speed, cfg.max_speed + 1, (m, steps, k, 2)).astype(np.int8)
    for frame in range(f):
        step = frame // cfg.frames_per_step
        if frame:  # bounce off the borders
            pos = pos + actions[:, step].astype(np.int64)
            pos = np.abs(pos)
            pos = np.where(pos > s - size, 2 * (s - size) - pos, pos)
        for i in range(m):
            for j in range(k):
                y, x = pos[i, j]
                clips[i, frame, y:y + size, x:x + size] = colours[i, j]
    return clips, actions


def shapes_dataset(cfg: ShapesConfig, seed: int) -> grain.MapDataset:
    """A Grain MapDataset of {"video": uint8 (F, S, S, 3), "actions": ...} records."""
    clips, actions = moving_shapes(cfg, seed)
    records = [{"video": c, "actions": a} for c, a in zip(clips, actions)]
    return grain.MapDataset.source(records)
