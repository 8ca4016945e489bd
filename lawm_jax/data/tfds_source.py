"""RLDS-style robot episodes (e.g. DROID) from a TFDS ArrayRecord dataset, without TensorFlow.

    source = EpisodeSource("/data/droid/1.0.0", split="train",
                           image_key="observation/exterior_image_1_left")
    episodes = tfds_episodes("/data/droid/1.0.0")     # MapDataset of whole episodes:
    episodes[0]   # {"frames": uint8 (T, H, W, 3), "actions": float32 (T, A)}
    clips = episode_windows(source, frames=16, stride=8)
    clips[0]      # {"video": uint8 (16, H, W, 3), "actions": float32 (15, A)}

`path` is one version folder of a prepared TFDS dataset: dataset_info.json, features.json
and `<name>-<split>.array_record-NNNNN-of-NNNNN` files. Each record is one episode whose
`steps` feature is a `tfds.features.Dataset` of per-step dicts; keys inside a step are
named with "/" between levels ("observation/image").

How it works without TensorFlow: `tfds.builder_from_directory(path).as_data_source(split)`
reads the ArrayRecord files with `array_record` and parses each record (a tf.train.Example
proto) with TFDS's NumPy parser (its own copy of the proto, no TF). We pass the decoder
`{"steps": tfds.decode.SkipDecoding()}`, which returns the whole `steps` sequence at once
as arrays: numeric features as (T, ...) arrays, images still compressed (one PNG/JPEG
bytes string per step). So an episode's length costs one read and parse but no image
decoding, and a window decodes only its own frames, of the one camera asked for (DROID
holds three). Images are then decoded by the TFDS Image feature's NumPy path (OpenCV if
installed, else Pillow).

Limitations: TFDS reads TFRecord files only through TensorFlow, so a dataset stored as
tfrecord (as Open X-Embodiment / DROID are on GCS) must be converted once, where
TensorFlow is installed: `tfds convert_format --dataset_version_dir=PATH
--out_file_format=array_record --out_dir=NEW_PATH`. Records are whole episodes, so a
window reads its whole episode from disk (all cameras) even though it decodes only its
frames. Episode lengths are not in dataset_info.json: `EpisodeSource.lengths()` reads
every episode once (no image decoding) and keeps the result in memory; pass
`lengths=` to `episode_windows` to reuse lengths saved elsewhere.
"""
from __future__ import annotations

import glob
import os
import time
from collections.abc import Sequence

import grain
import numpy as np
from absl import logging

from lawm_jax.errors import DataError

STEPS = "steps"  # the RLDS name of the per-step sequence in an episode
_LENGTH_BATCH = 64  # episodes read per batch when counting steps (array_record reads them in parallel)


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise DataError('reading TFDS datasets needs tensorflow_datasets: pip install -e ".[tfds]" '
                        f"({e})") from e
    return tfds


def _flat_features(features, prefix: str = "") -> dict:
    """{"observation/image": Image(...), "action": Tensor(...), ...} of a FeaturesDict."""
    tfds = _import_tfds()
    flat = {}
    for name, feature in features.items():
        if isinstance(feature, tfds.features.FeaturesDict):
            flat.update(_flat_features(feature, f"{prefix}{name}/"))
        else:
            flat[f"{prefix}{name}"] = feature
    return flat


def _nested_get(tree: dict, key: str):
    for part in key.split("/"):
        tree = tree[part]
    return tree


def _open_builder(path: str):
    """The TFDS builder of one dataset version folder, with errors that say what to fix."""
    tfds = _import_tfds()
    if not os.path.exists(path):
        raise DataError(f"TFDS dataset path {path} does not exist: point it at one version folder "
                        "of a prepared dataset, e.g. /data/droid/1.0.0")
    if not os.path.isfile(os.path.join(path, "dataset_info.json")):
        # A common slip is to name the dataset folder rather than its version folder.
        # Looks 1 to 3 levels down (dataset/config/version), not through a whole data tree.
        below = sorted(os.path.relpath(os.path.dirname(f), path) for depth in (1, 2, 3)
                       for f in glob.glob(os.path.join(path, *["*"] * depth, "dataset_info.json")))[:5]
        hint = f"; folders below it that hold one: {', '.join(below)}" if below else ""
        raise DataError(f"{path} is not a TFDS dataset version folder (no dataset_info.json){hint}")
    if not os.path.isfile(os.path.join(path, "features.json")):
        raise DataError(f"{path} has no features.json, so its features cannot be decoded; "
                        "prepare the dataset again with a recent tensorflow_datasets")
    builder = tfds.builder_from_directory(path)
    array_record = tfds.core.file_adapters.FileFormat.ARRAY_RECORD
    if array_record not in builder.info.available_file_formats():
        stored = ", ".join(sorted(f.value for f in builder.info.available_file_formats())) or "unknown"
        raise DataError(
            f"{path} is stored as {stored}, which needs TensorFlow to read; this reader needs "
            "array_record: re-prepare it with download_and_prepare(file_format='array_record') or "
            f"convert it once where TensorFlow is installed: tfds convert_format "
            f"--dataset_version_dir={path} --out_file_format=array_record --out_dir=NEW_FOLDER")
    return builder


class EpisodeSource:
    """The episodes of one split, random access (a Grain data source: len(), [i]).

    `source[i]` decodes a whole episode: {"frames": uint8 (T, H, W, 3), "actions": float32
    (T, A)}, one action per step as stored. `window(i, start, frames)` decodes only the
    frames of one training clip.
    """

    def __init__(self, path: str, split: str = "train", image_key: str = "observation/image",
                 action_key: str = "action"):
        tfds = _import_tfds()
        builder = _open_builder(path)
        info = builder.info
        splits = list(info.splits)
        # "train[:90%]" or "train+test": check the split names; TFDS checks the slicing.
        for name in (part.split("[")[0].strip() for part in split.split("+")):
            if name not in splits:
                raise DataError(f"{path} has no split {name!r}; its splits are: {', '.join(splits)}")
        steps = dict(info.features.items()).get(STEPS)  # FeaturesDict has no .get
        if not isinstance(steps, tfds.features.Dataset):
            raise DataError(f"{path} is not an RLDS-style episode dataset: it has no {STEPS!r} "
                            f"sequence feature (top-level features: {', '.join(info.features.keys())})")
        flat = _flat_features(steps.feature)
        for what, key in (("image_key", image_key), ("action_key", action_key)):
            if key not in flat:
                raise DataError(f"{what} {key!r} is not a feature of the steps of {path}; the step "
                                f"features are: {', '.join(sorted(flat))}")
        image, action = flat[image_key], flat[action_key]
        if not (isinstance(image, tfds.features.Image) and image.shape[-1] == 3
                and image.np_dtype == np.uint8):
            raise DataError(f"image_key {image_key!r} of {path} is {image!r}, not an RGB uint8 "
                            "Image feature; choose another key")
        if not isinstance(action, tfds.features.Tensor) or len(action.shape) > 1:
            raise DataError(f"action_key {action_key!r} of {path} is {action!r}, not a scalar or "
                            "vector Tensor per step")
        self.path, self.split, self.image_key, self.action_key = path, split, image_key, action_key
        self._image = image
        try:
            self._records = builder.as_data_source(
                split, decoders={STEPS: tfds.decode.SkipDecoding()}, file_format="array_record")
        except (ValueError, AssertionError) as e:  # bad slicing such as "train[:200%]"
            raise DataError(f"cannot read split {split!r} of {path}: {e}") from e
        self._lengths: list[int] | None = None

    def __len__(self) -> int:
        return len(self._records)

    def _steps(self, record) -> tuple[np.ndarray, np.ndarray]:
        """(compressed frames: object array of bytes (T,), actions float32 (T, A)) of a record."""
        steps = record[STEPS]
        images = _nested_get(steps, self.image_key)
        actions = np.asarray(_nested_get(steps, self.action_key), np.float32)
        return images, actions if actions.ndim == 2 else actions[:, None]  # scalar actions: (T, 1)

    def _decode(self, images: Sequence[bytes]) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, *[d or 0 for d in self._image.shape]), np.uint8)
        return np.stack([self._image.decode_example_np(image) for image in images])

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        images, actions = self._steps(self._records[i])
        return {"frames": self._decode(images), "actions": actions}

    def window(self, i: int, start: int, frames: int) -> dict[str, np.ndarray]:
        """Frames start..start+frames-1 of episode i and the frames-1 actions between them.

        RLDS convention: the action of step t is taken at observation t and leads to
        observation t+1, so the transitions of the clip are the actions of steps
        start..start+frames-2 (actions[k] goes from video[k] to video[k+1]). The action
        of the clip's last step leads out of the clip and is left out.
        """
        images, actions = self._steps(self._records[i])
        if start < 0 or start + frames > len(images):
            raise IndexError(f"window {start}..{start + frames - 1} is outside episode {i} "
                             f"({len(images)} steps) of {self.path}")
        return {"video": self._decode(images[start:start + frames]),
                "actions": actions[start:start + frames - 1]}

    def lengths(self) -> list[int]:
        """Steps per episode: one read of every record, no image decoding; kept in memory."""
        if self._lengths is None:
            began = time.time()
            logging.info("counting the steps of %d episodes of %s (%s)", len(self), self.path, self.split)
            self._lengths, reported = [], began
            for first in range(0, len(self), _LENGTH_BATCH):
                keys = list(range(first, min(first + _LENGTH_BATCH, len(self))))
                self._lengths += [len(self._steps(r)[1]) for r in self._records.__getitems__(keys)]
                if time.time() - reported > 60:  # a large dataset takes one full read: show progress
                    reported = time.time()
                    logging.info("counted the steps of %d of %d episodes", len(self._lengths), len(self))
            logging.info("counted %d steps in %.1fs", sum(self._lengths), time.time() - began)
        return self._lengths


def tfds_episodes(path: str, split: str = "train", image_key: str = "observation/image",
                  action_key: str = "action") -> grain.MapDataset:
    """MapDataset of whole episodes: {"frames": uint8 (T, H, W, 3), "actions": float32 (T, A)}."""
    return grain.MapDataset.source(EpisodeSource(path, split, image_key, action_key))


class EpisodeWindows:
    """Every window of `frames` consecutive steps, starts `stride` apart, within each episode.

    The index is the number of windows per episode, cumulated, so it takes memory per
    episode rather than per window: window n is in the episode e with
    first[e] <= n < first[e + 1], at step (n - first[e]) * stride.
    """

    def __init__(self, source: EpisodeSource, frames: int, stride: int | None = None,
                 lengths: Sequence[int] | None = None):
        stride = frames if stride is None else stride
        if frames < 2 or stride < 1:
            raise DataError(f"windows need frames >= 2 (one transition) and stride >= 1; "
                            f"got frames={frames}, stride={stride}")
        lengths = np.asarray(source.lengths() if lengths is None else lengths, np.int64)
        if len(lengths) != len(source):
            raise DataError(f"{len(lengths)} episode lengths given for the {len(source)} episodes "
                            f"of {source.path} ({source.split})")
        counts = np.where(lengths >= frames, (lengths - frames) // stride + 1, 0)
        short = int((counts == 0).sum())
        if short:
            logging.info("%d of %d episodes of %s are shorter than %d steps; they give no windows",
                         short, len(lengths), source.path, frames)
        if counts.sum() == 0:
            raise DataError(f"no episode of {source.path} ({source.split}) has {frames} steps "
                            f"(the longest has {lengths.max(initial=0)}); ask for fewer frames")
        self.source, self.frames, self.stride = source, frames, stride
        self.first = np.concatenate([[0], np.cumsum(counts)])

    def __len__(self) -> int:
        return int(self.first[-1])

    def locate(self, n: int) -> tuple[int, int]:
        """(episode, start step) of window n."""
        if not 0 <= n < len(self):
            raise IndexError(f"window {n} out of range ({len(self)} windows)")
        episode = int(np.searchsorted(self.first, n, side="right")) - 1
        return episode, int(n - self.first[episode]) * self.stride

    def __getitem__(self, n: int) -> dict[str, np.ndarray]:
        episode, start = self.locate(n)
        return {**self.source.window(episode, start, self.frames), "episode": episode}


def episode_windows(source: EpisodeSource, frames: int, stride: int | None = None,
                    lengths: Sequence[int] | None = None) -> grain.MapDataset:
    """MapDataset of training clips {"video": uint8 (frames, H, W, 3), "actions": float32
    (frames - 1, A), "episode": its number}; see EpisodeSource.window for which action goes
    with which frames.

    stride: steps between window starts (None: frames, back to back). lengths: steps per
    episode if already known; otherwise they are counted once (see EpisodeSource.lengths).
    """
    return grain.MapDataset.source(EpisodeWindows(source, frames, stride, lengths))
