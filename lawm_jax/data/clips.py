"""A random-access clip dataset over a folder (or list file) of videos, on Grain.

    spec = ClipSpec(frames=16, fps=4.0, size=256)
    index = build_index("/data/videos", spec)
    clip_numbers, decode = clip_source(index, spec)   # data/pipeline.py composes them

The index lists every (video, start time) clip once; it is cached beside the data
(`<folder>/.lawm_clip_index.json`, or `<list file>.lawm_clip_index.json`) and only files
whose size or modification time changed are probed again. Bad files (unreadable,
zero-byte, truncated, no video stream, shorter than one clip) are skipped, reported once
each with their path and reason, and counted in `index.bad`; more than
`max_bad_fraction` of them stops the run with an error listing some.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import functools
import hashlib
import json
import os
import time

import grain
import numpy as np
from absl import logging

from lawm_jax.data.video import VIDEO_EXTENSIONS, BadVideo, VideoInfo, decode_clip, num_clips, probe
from lawm_jax.errors import DataError

INDEX_VERSION = 1
PROGRESS_EVERY_S = 10.0  # build_index without a progress callback logs this often
# Real footage shipped with the package (88 s, licences in its LICENSES.md): the tiny
# config's default data, so a fresh install trains on real video.
BUNDLED_FOOTAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "footage")


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    frames: int = 16
    fps: float = 4.0
    stride: float | None = None  # seconds between clip starts; None = back to back
    size: int = 256              # output frames are size x size
    crop: str = "random_resized"  # or "center"
    scale: tuple[float, float] = (0.3, 1.0)  # area fraction of random-resized crops
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True            # random horizontal flip
    # Frame-stride jitter: a training clip takes every k-th frame at fps, k drawn from
    # these, at a random offset in a window long enough for the largest k (so the same
    # clips exist whatever k is drawn); evaluation (no rng) takes k = 1 from the start.
    frame_strides: tuple[int, ...] = (1,)
    max_bad_fraction: float = 0.5
    cache_mb: float = 0          # keep decoded clips in memory, up to this many MiB (see DecodeClip)

    def window(self) -> int:
        """Frames decoded per clip at fps: enough for the largest frame stride."""
        return (self.frames - 1) * max(self.frame_strides) + 1


@dataclasses.dataclass
class ClipIndex:
    clips: list[tuple[int, float]]   # (video number, start seconds)
    videos: list[str]
    sizes: list[tuple[int, int]]     # (height, width) as displayed
    bad: dict[str, str]              # path -> reason


def list_videos(path: str) -> list[str]:
    """Video files under a folder (recursive, sorted) or named by a list file."""
    if not os.path.exists(path):
        raise DataError(f"video path {path} does not exist: set config.data.path (a tool's --path) to a "
                        "folder or a list file of videos")
    if os.path.isdir(path):
        found = sorted(os.path.join(root, f) for root, _, files in os.walk(path) for f in files
                       if f.lower().endswith(VIDEO_EXTENSIONS))
        if not found:
            raise DataError(f"{path} holds no video files ({', '.join(VIDEO_EXTENSIONS)}): add some, or set "
                            "config.data.path (a tool's --path) to the folder that holds them")
        return found
    if path.lower().endswith(VIDEO_EXTENSIONS):
        raise DataError(f"{path} is one video: set config.data.path (a tool's --path) to the folder that "
                        "holds it, or to a list file naming it")
    base = os.path.dirname(os.path.abspath(path))
    try:
        with open(path) as f:
            names = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    except UnicodeDecodeError:
        raise DataError(f"{path} is not a list file (one video path per line): set config.data.path "
                        "(a tool's --path) to a folder or a list file of videos") from None
    if not names:
        raise DataError(f"list file {path} names no videos: write one video path per line")
    return [n if os.path.isabs(n) else os.path.join(base, n) for n in names]


def _cache_path(path: str) -> str:
    if os.path.isdir(path):
        return os.path.join(path, ".lawm_clip_index.json")
    return path + ".lawm_clip_index.json"


def _stamp(path: str):
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns]


SPLITS = ("all", "train", "holdout")


def split_videos(videos: list[str], path: str, holdout: str, split: str, field: str = "config.data.holdout",
                 noun: str = "video") -> list[str]:
    """The videos of one split: `holdout` is a comma-separated list of file names or glob
    patterns (relative to the folder or list file `path`, or bare file names) of the
    videos kept out of training, or "fraction:F" for a fixed pseudo-random share F of
    the videos (chosen by a hash of each relative path: the same on every machine, and a
    video keeps its side when others are added); split "train" drops them, "holdout"
    keeps only them, "all" keeps every video. Splitting by video, never by clip, keeps
    every window of a held-out video out of training. `field` and `noun` name the setting
    and the files in errors (the scenes source splits photographs the same way)."""
    if split not in SPLITS:
        raise DataError(f"split {split!r}: use one of {SPLITS}")
    patterns = [p.strip() for p in holdout.split(",") if p.strip()]
    if split == "all" or (split == "train" and not patterns):
        return videos
    if not patterns:
        raise DataError(f"no held-out {noun}s: set {field} to the names (or glob patterns) "
                        f"of {noun}s under {path} to evaluate on, e.g. {os.path.basename(videos[-1])!r}")
    base = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    names = {v: (os.path.relpath(v, base), os.path.basename(v)) for v in videos}
    held = set()
    for pattern in patterns:
        if pattern.startswith("fraction:"):
            try:
                share = float(pattern.split(":", 1)[1])
            except ValueError:
                share = -1.0
            if not 0 < share < 1:
                raise DataError(f"{field} item {pattern!r}: write fraction:F with 0 < F < 1")
            held |= {v for v, ns in names.items() if _unit_hash(ns[0]) < share}
            continue
        hits = {v for v, ns in names.items() if any(fnmatch.fnmatchcase(n, pattern) for n in ns)}
        if not hits:
            examples = ", ".join(sorted(n[0] for n in names.values())[:8])
            raise DataError(f"{field} pattern {pattern!r} matches no {noun} under {path} "
                            f"({noun}s: {examples})")
        held |= hits
    chosen = [v for v in videos if (v in held) == (split == "holdout")]
    if not chosen and split == "holdout":
        raise DataError(f"{field}={holdout!r} selects none of the {len(videos)} {noun}s under "
                        f"{path}: name some, or raise the fraction")
    if not chosen:
        raise DataError(f"{field}={holdout!r} holds out every {noun} under {path}: "
                        "nothing is left to train on")
    return chosen


def _unit_hash(name: str) -> float:
    """A stable number in [0, 1) for a relative path."""
    return int(hashlib.sha1(name.encode()).hexdigest()[:8], 16) / 2 ** 32


def build_index(path: str, spec: ClipSpec, cache: bool = True, progress=None, holdout: str = "",
                split: str = "all") -> ClipIndex:
    """Probes every video (reusing the cache where files are unchanged) and lists the
    clips of `split` (see split_videos). `progress(i, total, path)` is called before each
    file; without one, probing that takes a while is logged every PROGRESS_EVERY_S seconds."""
    videos = list_videos(path)
    cache_file = _cache_path(path)
    cached = {}
    if cache and os.path.exists(cache_file):
        try:
            with open(cache_file) as f:
                saved = json.load(f)
            if saved.get("version") == INDEX_VERSION:
                cached = saved["files"]
        except (OSError, ValueError):
            logging.warning("ignoring unreadable index cache %s", cache_file)
    files = {}
    began = reported = time.monotonic()
    for i, video in enumerate(videos):
        if progress:
            progress(i, len(videos), video)
        elif time.monotonic() - reported > PROGRESS_EVERY_S:  # one clock read per file
            reported = time.monotonic()
            logging.info("indexing the videos under %s: %d of %d probed (%.0f s)%s", path, i, len(videos),
                         reported - began, f"; the index is cached in {cache_file} for later runs" if cache else "")
        entry = cached.get(video)
        try:
            stamp = _stamp(video)
        except OSError as e:
            files[video] = {"stamp": None, "bad": f"cannot stat ({e.strerror})"}
            continue
        if entry is None or entry["stamp"] != stamp:
            if stamp[0] == 0:
                entry = {"stamp": stamp, "bad": "zero-byte file"}
            else:
                try:
                    info = probe(video)
                    entry = {"stamp": stamp, "info": dataclasses.asdict(info)}
                except BadVideo as e:
                    entry = {"stamp": stamp, "bad": str(e)}
        files[video] = entry
    if cache:
        try:
            tmp = f"{cache_file}.{os.getpid()}.tmp"  # processes indexing the same folder at once
            with open(tmp, "w") as f:
                json.dump({"version": INDEX_VERSION, "files": files}, f)
            os.replace(tmp, cache_file)  # atomic: a reader never sees half a cache
        except OSError as e:
            logging.warning("could not write the index cache %s (%s)", cache_file, e.strerror)

    clips, good, sizes, bad = [], [], [], {}
    videos = split_videos(videos, path, holdout, split)
    for video in videos:
        entry = files[video]
        if "bad" in entry:
            bad[video] = entry["bad"]
            continue
        info = VideoInfo(**entry["info"])
        n = num_clips(info, spec.window(), spec.fps, spec.stride)
        if n == 0:
            bad[video] = (f"too short: {info.duration:.2f}s < one clip of {spec.window()} frames "
                          f"at {spec.fps} fps")
            continue
        stride = spec.stride or spec.window() / spec.fps
        clips += [(len(good), k * stride) for k in range(n)]
        good.append(video)
        sizes.append((info.height, info.width))
    for video, reason in bad.items():
        logging.warning("skipping %s: %s", video, reason)
    fraction = len(bad) / len(videos)
    if fraction > spec.max_bad_fraction or not clips:
        examples = "; ".join(f"{v}: {r}" for v, r in list(bad.items())[:5])
        raise DataError(f"{len(bad)} of {len(videos)} videos under {path} are unusable "
                         f"({fraction:.0%} > max_bad_fraction {spec.max_bad_fraction:.0%}"
                         f"{'' if clips else '; no clips left'}): {examples}")
    return ClipIndex(clips=clips, videos=good, sizes=sizes, bad=bad)


def crop_box(rng: np.random.Generator | None, height: int, width: int, spec: ClipSpec):
    """(top, left, h, w) in source pixels: random-resized (Inception-style), or the
    centre square when spec.crop is "center" or there is no rng (evaluation)."""
    if spec.crop == "random_resized" and rng is not None:
        area = height * width
        for _ in range(10):
            target = area * rng.uniform(*spec.scale)
            aspect = np.exp(rng.uniform(np.log(spec.ratio[0]), np.log(spec.ratio[1])))
            w = int(round(np.sqrt(target * aspect)))
            h = int(round(np.sqrt(target / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    side = min(height, width)  # centre square crop (also the fallback)
    return (height - side) // 2, (width - side) // 2, side, side


def load_clip(path: str, start: float, source_hw, spec: ClipSpec, rng: np.random.Generator | None):
    """Decodes one clip, crops it and resizes it to spec.size, in one swscale pass: the
    whole frame is scaled so that the crop box becomes size x size, then sliced.
    Without an rng (evaluation) the crop is the centre square and nothing is flipped."""
    height, width = source_hw
    top, left, h, w = crop_box(rng, height, width, spec)
    sy, sx = spec.size / h, spec.size / w
    scaled = (max(spec.size, int(round(height * sy))), max(spec.size, int(round(width * sx))))
    frames = pick_frames(decode_clip(path, start, spec.window(), spec.fps, size=scaled), spec, rng)
    y0 = min(int(round(top * sy)), scaled[0] - spec.size)
    x0 = min(int(round(left * sx)), scaled[1] - spec.size)
    return _maybe_flip(frames[:, y0:y0 + spec.size, x0:x0 + spec.size], spec, rng)


def crop_frames(frames: np.ndarray, spec: ClipSpec, rng: np.random.Generator | None) -> np.ndarray:
    """Already decoded frames (F, H, W, 3) of any size -> the crop, resize and flip that
    load_clip applies to video (for the clip cache and sources that store frames)."""
    top, left, h, w = crop_box(rng, frames.shape[1], frames.shape[2], spec)
    frames = pick_frames(frames, spec, rng)
    return _maybe_flip(resize_frames(frames[:, top:top + h, left:left + w], spec.size), spec, rng)


def pick_frames(frames: np.ndarray, spec: ClipSpec, rng: np.random.Generator | None) -> np.ndarray:
    """A window of spec.window() frames -> spec.frames of them, every k-th from a random
    offset (frame-stride jitter; k from spec.frame_strides), or the first spec.frames
    without an rng. Clips of exactly spec.frames (shards, trajectories) pass unchanged."""
    if len(frames) == spec.frames:
        return frames
    k = int(rng.choice(spec.frame_strides)) if rng is not None else 1
    span = (spec.frames - 1) * k + 1
    offset = int(rng.integers(0, len(frames) - span + 1)) if rng is not None else 0
    return frames[offset:offset + span:k]


def resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of an antialiased linear (triangle) resampling, as PIL's
    bilinear: the filter widens with the downscaling factor, so nothing aliases."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale
    weights = np.maximum(0.0, 1.0 - np.abs((np.arange(n_in) + 0.5)[None] - centres[:, None]) / support)
    return (weights / weights.sum(1, keepdims=True)).astype(np.float32)


@functools.lru_cache(maxsize=4096)
def _taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """resize_matrix as (n_out, K) input indices and weights of its non-zero taps; cached,
    since every clip of the data loader asks for them (crop sizes repeat)."""
    weights = resize_matrix(n_in, n_out)
    k = int((weights > 0).sum(1).max())
    index = np.argsort(weights <= 0, axis=1, kind="stable")[:, :k]  # the non-zero taps first
    return index, np.take_along_axis(weights, index, 1)


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """uint8 (F, H, W, 3) -> (F, size, size, 3), rows then columns. Gathers and sums, not
    matrix products: BLAS would start its own threads under each of Grain's reader threads
    (measured 2.6x slower on 2 cores)."""
    index, w = _taps(frames.shape[1], size)
    x = (frames[:, index].astype(np.float32) * w[None, :, :, None, None]).sum(2)
    index, w = _taps(frames.shape[2], size)
    x = (x[:, :, index] * w[None, None, :, :, None]).sum(3)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _maybe_flip(frames, spec: ClipSpec, rng) -> np.ndarray:
    if spec.flip and rng is not None and rng.random() < 0.5:
        frames = frames[:, :, ::-1]
    return np.ascontiguousarray(frames)


class CropFrames(grain.transforms.RandomMap):
    """{"video": frames of any size} -> {"video": uint8 (F, size, size, 3)}, seeded per record."""

    def __init__(self, spec: ClipSpec, train: bool):
        self.spec, self.train = spec, train

    def random_map(self, element, rng: np.random.Generator):
        return {**element, "video": crop_frames(element["video"], self.spec, rng if self.train else None)}


def cache_size(source_hw, size: int) -> tuple[int, int]:
    """(h, w) at which clips are kept in memory: short side 2 x size (no larger than the
    source), so that even the smallest random-resized crop is downscaled, never blown up."""
    height, width = source_hw
    scale = min(1.0, 2 * size / min(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


class DecodeClip(grain.transforms.RandomMap):
    """Index entry -> {"video": uint8 (F, size, size, 3)}; per-record seeded augmentation.

    A clip that fails to decode now (the file changed or is damaged past its header) is
    replaced by the next clip of the index, and the file is reported once.

    With spec.cache_mb > 0 (small datasets) each clip is decoded once, at cache_size,
    kept in memory while the total stays under the budget, and every epoch crops it
    afresh (crop_frames). Hits and misses take the same path, so the output does not
    depend on what is cached; without the cache, load_clip crops in one swscale pass.
    """

    def __init__(self, index: ClipIndex, spec: ClipSpec, train: bool):
        self.index, self.spec, self.train = index, spec, train
        self.reported: set[str] = set()
        self.cache: dict[int, np.ndarray] = {}
        self.cached_bytes = 0

    def _clip(self, number: int, rng):
        video, start = self.index.clips[number]
        path, hw = self.index.videos[video], self.index.sizes[video]
        if not self.spec.cache_mb:
            return load_clip(path, start, hw, self.spec, rng)
        frames = self.cache.get(number)
        if frames is None:
            frames = decode_clip(path, start, self.spec.window(), self.spec.fps,
                                 size=cache_size(hw, self.spec.size))
            if self.cached_bytes + frames.nbytes <= self.spec.cache_mb * 2**20:
                self.cache[number] = frames
                self.cached_bytes += frames.nbytes
        return crop_frames(frames, self.spec, rng)

    def random_map(self, element, rng: np.random.Generator):
        position = element
        for attempt in range(len(self.index.clips)):
            number = (position + attempt) % len(self.index.clips)
            path = self.index.videos[self.index.clips[number][0]]
            try:
                return {"video": self._clip(number, rng if self.train else None)}
            except BadVideo as e:
                if path not in self.reported:
                    self.reported.add(path)
                    logging.warning("skipping clips of %s: %s", path, e)
        raise DataError("no clip of the index could be decoded")


def clip_source(index: ClipIndex, spec: ClipSpec, train: bool = True):
    """(MapDataset of clip numbers, the transform that decodes one) for data/pipeline.py."""
    return grain.MapDataset.range(len(index.clips)), DecodeClip(index, spec, train)
