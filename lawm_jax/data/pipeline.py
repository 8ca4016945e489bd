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
import os
from typing import Any, Callable

import grain
import numpy as np

from lawm_jax.data.clips import ClipSpec, CropFrames, build_index, clip_source
from lawm_jax.data.scenes import scenes_dataset
from lawm_jax.data.shards import RandomFlip, feature_dataset, shard_dataset
from lawm_jax.data.synthetic import ShapesConfig, moving_shapes, shapes_dataset
from lawm_jax.data.trajectories import action_stats, normalize_actions, trajectory_windows
from lawm_jax.errors import DataError

# 16 reader threads but only 16 batches read ahead: Grain's default of 500 keeps the
# readers busy competing with the train step for the cores (on 2 cores the tiny config
# trained from shards at 0.6x the data-free rate with it, 0.9-1.0x with 16;
# tools/bench_pipeline.py).
READ_OPTIONS = grain.ReadOptions(num_threads=16, prefetch_buffer_size=16)


def clip_spec(data_cfg) -> ClipSpec:
    return ClipSpec(frames=data_cfg.frames, fps=data_cfg.fps, size=data_cfg.image_size,
                    crop=data_cfg.crop, flip=data_cfg.flip, frame_strides=tuple(data_cfg.frame_strides),
                    max_bad_fraction=data_cfg.max_bad_fraction,
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


@dataclasses.dataclass(frozen=True)
class Read:
    """What a job asks of one source (the arguments of source_dataset)."""
    data: Any                 # config.data
    path: str
    seed: int
    frames_per_step: int
    train: bool               # augment (random crops, flips); else centre crops
    split: str                # of a video source: "train", "holdout" or "all"
    spec: ClipSpec | None     # overrides the video clip spec (evaluation windows)
    with_actions: bool        # records also hold normalised "actions" (T-1, A)
    report: dict | None       # collects what was found


def _shapes(r: Read):
    d = r.data
    return shapes_dataset(ShapesConfig(num_clips=d.num_clips, frames=d.frames, image_size=d.image_size,
                                       frames_per_step=r.frames_per_step), r.seed), None


def _video(r: Read):
    spec = r.spec or clip_spec(r.data)
    index = build_index(r.path, spec, holdout=r.data.holdout, split=r.split)
    if r.report is not None:
        r.report["clips"] = r.report.get("clips", 0) + len(index.clips)
        r.report["videos"] = r.report.get("videos", 0) + len(index.videos)
        r.report.setdefault("bad_files", {}).update(index.bad)
    return clip_source(index, spec, r.train)


def _scenes(r: Read):  # procedural clips over photographs: every clip drawn from (seed, number)
    return scenes_dataset(r.data, r.path, r.seed, r.frames_per_step, r.split, r.report)


def _shards(r: Read):
    records = shard_dataset(r.path, r.data.frames, r.data.image_size)
    return records, RandomFlip() if (r.train and r.data.flip) else None


def _trajectories(r: Read):  # without actions: latent actions are learnt without labels
    d = r.data
    repeat = r.frames_per_step if d.duplicate_frames else 1
    if r.with_actions and r.frames_per_step // repeat != 1:
        raise DataError(f"one action per transition needs one frame per state, but a state spans "
                        f"{r.frames_per_step} frames: set config.data.duplicate_frames=True")
    windows = trajectory_windows(r.path, d.frames // repeat, d.image_size, d.fps, repeat=repeat)
    if r.with_actions:  # no flips: a mirrored frame would need a mirrored action
        stats = action_stats(r.path)
        return windows.map(lambda w: {"video": w["video"], "actions": normalize_actions(w["actions"], stats)}), None
    keep = ("video",) if r.train else ("video", "episode")  # evaluation pairs windows of other episodes
    records = windows.map(lambda w: {key: w[key] for key in keep})
    return records, RandomFlip() if (r.train and d.flip) else None


def _tfds(r: Read):  # RLDS episodes; every frame_step-th step, cropped like video
    from lawm_jax.data.tfds_source import EpisodeSource, episode_windows
    t, k = r.data.tfds, r.data.tfds.frame_step
    episodes = EpisodeSource(r.path, t.split, t.image_key, t.action_key)
    windows = episode_windows(episodes, frames=(r.data.frames - 1) * k + 1, stride=r.data.frames * k)
    keep = ("video",) if r.train else ("video", "episode")  # evaluation pairs windows of other episodes
    records = windows.map(lambda w: {key: w[key] for key in keep})
    return records.map(lambda w: {**w, "video": w["video"][::k]}), CropFrames(clip_spec(r.data), r.train)


def _features(r: Read):  # encoder outputs cached by the features job: {"states": (T, N, D)}
    meta, records = feature_dataset(r.path)
    if r.report is not None:
        r.report["features"] = meta
    return records, None


@dataclasses.dataclass(frozen=True)
class Source:
    read: Callable[[Read], tuple]  # Read -> (MapDataset of records, RandomMap that decodes one, or None)
    mixable: bool = True           # may be one part of config.data.mixture
    actions: bool = False          # can give "actions" (the action-conditioned baseline, the controller)


# config.data.source -> its reader; a new source is one function and one line here.
SOURCES = {
    "shapes": Source(_shapes, mixable=False),
    "video": Source(_video),
    "scenes": Source(_scenes),
    "shards": Source(_shards),
    "trajectories": Source(_trajectories, actions=True),
    "tfds": Source(_tfds),
    "features": Source(_features, mixable=False),
}
MIXABLE = tuple(k for k, v in SOURCES.items() if v.mixable)
# Sources whose held-out data can only come from config.eval.path (no split by video).
NO_HOLDOUT = ("shards", "trajectories", "tfds")


def source_dataset(data_cfg, seed: int, frames_per_step: int, train: bool = True,
                   source: str | None = None, path: str | None = None, report: dict | None = None,
                   split: str = "train", spec: ClipSpec | None = None, with_actions: bool = False):
    """One source as (MapDataset of records, RandomMap that decodes one or None).

    `report`, if given, collects what was found: clips, videos and unusable files.
    split: of a video source, "train" leaves out the videos data_cfg.holdout names,
    "holdout" keeps only them, "all" takes every video (data/clips.split_videos).
    `spec` overrides the clip spec of a video source (evaluation windows).
    with_actions: records also hold "actions" (T-1, A), normalised per dimension
    (trajectories.normalize_actions), one per transition between states.
    """
    source = source or data_cfg.source
    if source not in SOURCES:
        raise DataError(f"config.data.source={source!r}: unknown source; use one of {tuple(SOURCES)}")
    if with_actions and not SOURCES[source].actions:
        raise DataError(f"config.data.source={source!r} has no actions this job can use: the action-"
                        "conditioned baseline and the controller read data.source=trajectories")
    return SOURCES[source].read(Read(data_cfg, path or data_cfg.path, seed, frames_per_step, train, split, spec,
                                     with_actions, report))


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
    the video of each clip (M,): its file name relative to the data folder, its episode
    (trajectories, tfds), a name for each procedural clip, else its number), centre crops
    without flips.

    Where they come from: `path` (all of it, read as data_cfg.source) if given (shards,
    trajectories and tfds have no held-out split: they need it, unless split="train"); else the
    videos data_cfg.holdout names (video source; split="train" reads the training videos
    instead, to measure the generalisation gap); else, for the procedural shapes, clips
    drawn with another seed than training's (split="train": with training's seed); for
    the scenes, clips drawn with another seed over data.scenes.holdout's photographs
    (split="train": over the training photographs: unseen scenes, seen photographs).
    `stride` (seconds, video only) spaces the windows (0: back to back); `max_clips` > 0
    keeps that many, evenly spread.
    """
    if data_cfg.source == "shapes" and not path:
        video, _ = moving_shapes(ShapesConfig(num_clips=max_clips or 64, frames=data_cfg.frames,
                                              image_size=data_cfg.image_size, frames_per_step=frames_per_step),
                                 seed=seed if split == "train" else 10_000 + seed)
        return video, np.array([f"shapes clip {i}" for i in range(len(video))])
    if data_cfg.source == "scenes" and not path:  # unseen generator seeds over the split's photographs
        records, draw = scenes_dataset(data_cfg, data_cfg.path, 10_000 + seed, frames_per_step, split,
                                       clips=max_clips or 64)
        photos = "held-out" if split == "holdout" else "training"
        return (np.stack([draw.draw(i)[0] for i in range(len(records))]),
                np.array([f"scene {i} ({photos} photos)" for i in range(len(records))]))
    if data_cfg.mixture and not path:
        raise DataError("evaluation reads one source: set config.eval.path to held-out data")
    if data_cfg.source in NO_HOLDOUT and not path and split == "holdout":
        raise DataError(f"config.data.source={data_cfg.source!r} has no held-out split, so evaluating would score "
                        "training clips: set config.eval.path to held-out data of that source (or eval.split=train "
                        "to score the training data on purpose)")
    if data_cfg.source == "features":
        raise DataError("evaluation needs the clips themselves, not cached features: set config.data.source "
                        "and data.path to the videos (or shards) the features came from")
    spec = dataclasses.replace(clip_spec(data_cfg), crop="center", flip=False, frame_strides=(1,),
                               stride=stride or None)
    report = {}
    records, decode = source_dataset(data_cfg, seed, frames_per_step, train=False, path=path or None,
                                     report=report, split="all" if path else split, spec=spec)
    n = len(records)
    keep = np.unique(np.linspace(0, n - 1, max_clips).round().astype(int)) if 0 < max_clips < n else np.arange(n)
    clips = [decode.random_map(records[int(i)], None) if decode is not None else records[int(i)] for i in keep]
    video = np.stack([c["video"] for c in clips])
    if decode is not None and hasattr(decode, "index"):  # video: the file each window comes from
        base = path or data_cfg.path
        base = base if os.path.isdir(base) else os.path.dirname(os.path.abspath(base))
        names = [os.path.relpath(v, base) for v in decode.index.videos]
        ids = np.array([names[decode.index.clips[int(records[int(i)])][0]] for i in keep])
    elif "episode" in clips[0]:  # trajectories, tfds: windows of one episode overlap
        ids = np.array([c["episode"] for c in clips])
    else:
        ids = keep
    return video, ids
