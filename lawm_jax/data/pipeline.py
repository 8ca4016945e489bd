"""Batched, shuffled, process-sharded, checkpointable iterators over the data sources.

Order of operations (Grain), per source: records -> shuffle(seed) -> repeat ->
decode/augment (seeded per position); then, for a mixture, the sources interleaved at
their weights (deterministic); then this process's slots of every global batch; then
batch and optional worker processes. Decoding after the repeat gives every epoch fresh
augmentations. The global sequence does not depend on the number of processes: with P
processes, process p reads positions p*B/P .. (p+1)*B/P - 1 of each global batch of B,
so the global batches are the same on 1 host or 64, and each process decodes only its
own clips.
"""
from __future__ import annotations

import dataclasses

import grain
import numpy as np

from lawm_jax.data.clips import ClipSpec, CropFrames, build_index, clip_source
from lawm_jax.data.shards import RandomFlip, feature_dataset, shard_dataset
from lawm_jax.data.synthetic import ShapesConfig, moving_shapes, shapes_dataset
from lawm_jax.data.trajectories import action_stats, normalize_actions, trajectory_windows
from lawm_jax.errors import DataError

# 16 reader threads but only 16 batches read ahead: Grain's default of 500 keeps the
# readers busy competing with the train step for the cores (on 2 cores the tiny config
# trained from shards at 0.6x the data-free rate with it, 0.9-1.0x with 16;
# tools/bench_pipeline.py).
READ_OPTIONS = grain.ReadOptions(num_threads=16, prefetch_buffer_size=16)
SOURCES = ("shapes", "video", "shards", "trajectories", "tfds", "features")
MIXABLE = ("video", "shards", "trajectories", "tfds")


def clip_spec(data_cfg) -> ClipSpec:
    return ClipSpec(frames=data_cfg.frames, fps=data_cfg.fps, size=data_cfg.image_size,
                    crop=data_cfg.crop, flip=data_cfg.flip, max_bad_fraction=data_cfg.max_bad_fraction,
                    cache_mb=data_cfg.cache_mb)


def parse_mixture(spec: str) -> list[tuple[str, str, float]]:
    """"shards:/data/yt=0.9,video:/data/droid=0.1" -> [(source, path, weight), ...]."""
    parts = []
    for item in filter(None, (p.strip() for p in spec.split(","))):
        try:
            source_path, weight = item.rsplit("=", 1)
            source, path = source_path.split(":", 1)
            parts.append((source, path, float(weight)))
        except ValueError:
            raise DataError(f"config.data.mixture item {item!r} is not SOURCE:PATH=WEIGHT") from None
        if source not in MIXABLE or not path or not parts[-1][2] > 0:
            raise DataError(f"config.data.mixture item {item!r}: source must be one of {MIXABLE}, "
                            "the path non-empty and the weight > 0")
    return parts


def source_dataset(data_cfg, seed: int, frames_per_step: int, train: bool = True,
                   source: str | None = None, path: str | None = None, report: dict | None = None,
                   split: str = "train", spec: ClipSpec | None = None, with_actions: bool = False):
    """One source as (MapDataset of records, RandomMap that decodes one or None).

    `report`, if given, collects what was found: clips, videos and unusable files.
    split: of a video source, "train" leaves out the videos data_cfg.holdout names,
    "holdout" keeps only them, "all" takes every video (data/clips.split_videos).
    `spec` overrides the clip spec of a video source (evaluation windows).
    with_actions: trajectories only; records also hold "actions" (T-1, A), normalised
    per dimension (trajectories.normalize_actions), one per transition between states.
    """
    source = source or data_cfg.source
    path = path or data_cfg.path
    if source == "shapes":
        return shapes_dataset(ShapesConfig(num_clips=data_cfg.num_clips, frames=data_cfg.frames,
                                           image_size=data_cfg.image_size,
                                           frames_per_step=frames_per_step), seed), None
    if source == "video":
        spec = spec or clip_spec(data_cfg)
        index = build_index(path, spec, holdout=data_cfg.holdout, split=split)
        if report is not None:
            report["clips"] = report.get("clips", 0) + len(index.clips)
            report["videos"] = report.get("videos", 0) + len(index.videos)
            report.setdefault("bad_files", {}).update(index.bad)
        return clip_source(index, spec, train)
    if source == "shards":
        records = shard_dataset(path, data_cfg.frames, data_cfg.image_size)
        return records, RandomFlip() if (train and data_cfg.flip) else None
    if with_actions and source != "trajectories":
        raise DataError(f"config.data.source={source!r} has no actions this job can use: the action-"
                        "conditioned baseline and the controller read data.source=trajectories")
    if source == "trajectories":  # without actions: latent actions are learnt without labels
        repeat = frames_per_step if data_cfg.duplicate_frames else 1
        if with_actions and frames_per_step // repeat != 1:
            raise DataError(f"one action per transition needs one frame per state, but a state spans "
                            f"{frames_per_step} frames: set config.data.duplicate_frames=True")
        windows = trajectory_windows(path, data_cfg.frames // repeat, data_cfg.image_size, data_cfg.fps,
                                     repeat=repeat)
        if with_actions:  # no flips: a mirrored frame would need a mirrored action
            stats = action_stats(path)
            return windows.map(lambda w: {"video": w["video"],
                                          "actions": normalize_actions(w["actions"], stats)}), None
        records = windows.map(lambda w: {"video": w["video"]})
        return records, RandomFlip() if (train and data_cfg.flip) else None
    if source == "tfds":  # RLDS episodes; every frame_step-th step, cropped like video
        from lawm_jax.data.tfds_source import EpisodeSource, episode_windows
        t, k = data_cfg.tfds, data_cfg.tfds.frame_step
        episodes = EpisodeSource(path, t.split, t.image_key, t.action_key)
        windows = episode_windows(episodes, frames=(data_cfg.frames - 1) * k + 1, stride=data_cfg.frames * k)
        return windows.map(lambda w: {"video": w["video"][::k]}), CropFrames(clip_spec(data_cfg), train)
    if source == "features":  # encoder outputs cached by the features job: {"states": (T, N, D)}
        meta, records = feature_dataset(path)
        if report is not None:
            report["features"] = meta
        return records, None
    raise DataError(f"config.data.source={source!r}: unknown source; use one of {SOURCES}")


def stream(records: grain.MapDataset, seed: int, decode=None) -> grain.MapDataset:
    """An endless, shuffled, decoded MapDataset of one source (the global sequence)."""
    ds = records.shuffle(seed=seed).repeat(None)
    return ds.random_map(decode, seed=seed) if decode is not None else ds


class _ProcessSlots:
    """Random access to this process's positions of each global batch of a sequence."""

    def __init__(self, ds: grain.MapDataset, global_batch: int, process_index: int, process_count: int):
        if global_batch % process_count:
            raise DataError(f"config.data.global_batch={global_batch} must be a multiple of the "
                            f"{process_count} processes")
        self.ds, self.global_batch = ds, global_batch
        self.local = global_batch // process_count
        self.offset = process_index * self.local

    def __len__(self) -> int:
        return len(self.ds) // self.global_batch * self.local

    def __getitem__(self, i: int):
        return self.ds[i // self.local * self.global_batch + self.offset + i % self.local]


def batches(ds: grain.MapDataset, global_batch: int, process_index: int = 0, process_count: int = 1,
            workers: int = 0):
    """Iterator of this process's batches (global_batch / process_count elements);
    `get_state()` / `set_state()` resume it exactly."""
    if process_count > 1:
        ds = grain.MapDataset.source(_ProcessSlots(ds, global_batch, process_index, process_count))
    it = ds.batch(global_batch // process_count, drop_remainder=True).to_iter_dataset(READ_OPTIONS)
    if workers > 0:
        it = it.mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
    return iter(it)


def batch_iterator(records, global_batch: int, seed: int, decode=None, process_index: int = 0,
                   process_count: int = 1, workers: int = 0):
    """Endless batches of this process's share of `global_batch`."""
    return batches(stream(records, seed, decode), global_batch, process_index, process_count, workers)


def config_batches(data_cfg, seed: int, frames_per_step: int, global_batch: int,
                   process_index: int = 0, process_count: int = 1, train: bool = True,
                   with_actions: bool = False):
    """The run config's data: its source, or the weighted mixture in data.mixture.

    Returns (batch iterator, report): the report counts clips, videos and unusable files
    (path -> reason) of the video sources.
    """
    parts = parse_mixture(data_cfg.mixture) or [(data_cfg.source, data_cfg.path, 1.0)]
    streams, report = [], {"bad_files": {}}
    for i, (source, path, _) in enumerate(parts):
        records, decode = source_dataset(data_cfg, seed, frames_per_step, train, source, path, report,
                                         with_actions=with_actions)
        streams.append(stream(records, seed + i, decode))
    ds = streams[0] if len(streams) == 1 else grain.MapDataset.mix(streams, [w for *_, w in parts])
    return batches(ds, global_batch, process_index, process_count, data_cfg.workers), report


def evaluation_clips(data_cfg, frames_per_step: int, seed: int, path: str = "", stride: float = 0.0,
                     max_clips: int = 0, split: str = "holdout"):
    """Held-out clips for evaluation, in a fixed order: (uint8 video (M, F, H, W, C),
    video number of each clip (M,)), centre crops without flips.

    Where they come from: `path` (all of it, read as data_cfg.source) if given; else the
    videos data_cfg.holdout names (video source; split="train" reads the training videos
    instead, to measure the generalisation gap); else, for the procedural shapes, clips
    drawn with another seed than training's (split="train": with training's seed).
    `stride` (seconds, video only) spaces the windows (0: back to back); `max_clips` > 0
    keeps that many, evenly spread.
    """
    if data_cfg.source == "shapes" and not path:
        video, _ = moving_shapes(ShapesConfig(num_clips=max_clips or 64, frames=data_cfg.frames,
                                              image_size=data_cfg.image_size, frames_per_step=frames_per_step),
                                 seed=seed if split == "train" else 10_000 + seed)
        return video, np.arange(len(video))
    if data_cfg.mixture and not path:
        raise DataError("evaluation reads one source: set config.eval.path to held-out data")
    if data_cfg.source == "features":
        raise DataError("evaluation needs the clips themselves, not cached features: set config.data.source "
                        "and data.path to the videos (or shards) the features came from")
    spec = dataclasses.replace(clip_spec(data_cfg), crop="center", flip=False, stride=stride or None)
    report = {}
    records, decode = source_dataset(data_cfg, seed, frames_per_step, train=False, path=path or None,
                                     report=report, split="all" if path else split, spec=spec)
    n = len(records)
    keep = np.unique(np.linspace(0, n - 1, max_clips).round().astype(int)) if 0 < max_clips < n else np.arange(n)
    video = np.stack([(decode.random_map(records[int(i)], None) if decode is not None else records[int(i)])["video"]
                      for i in keep])
    if decode is not None and hasattr(decode, "index"):  # video: the file each window comes from
        ids = np.array([decode.index.clips[int(records[int(i)])][0] for i in keep])
    else:
        ids = keep
    return video, ids
