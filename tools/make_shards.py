"""Decodes every clip of a video folder once into ArrayRecord shards.

    python tools/make_shards.py --path=/data/videos --out=/data/shards --frames=16 --fps=4 --size=256
    python -m lawm_jax.main --config=configs/tiny.py --workdir=/tmp/run \
        --config.data.source=shards --config.data.path=/data/shards

Clips are centre-cropped, or with --random_crops=N written N times with different
random-resized crops (augmentation baked in, since reading shards does not decode).
Unusable videos are skipped and listed, as for data.source=video.
"""
from __future__ import annotations

import os
import sys

import numpy as np
from absl import app, flags

from lawm_jax.data.clips import ClipSpec, build_index, load_clip
from lawm_jax.data.shards import write_shards
from lawm_jax.data.video import BadVideo
from lawm_jax.cli import run_main
from lawm_jax.progress import progress_bar

_PATH = flags.DEFINE_string("path", None, "folder (recursive) or list file of videos")
_OUT = flags.DEFINE_string("out", None, "new folder for the shards")
_FRAMES = flags.DEFINE_integer("frames", 16, "frames per clip")
_FPS = flags.DEFINE_float("fps", 4.0, "clip frame rate")
_SIZE = flags.DEFINE_integer("size", 256, "frame size (square)")
_CROPS = flags.DEFINE_integer("random_crops", 0, "0: one centre crop per clip; N: N random crops")
_PER_SHARD = flags.DEFINE_integer("records_per_shard", 256, "clips per ArrayRecord file")
_SEED = flags.DEFINE_integer("seed", 0, "seed of the random crops")


def make_shards(path, out, frames, fps, size, random_crops=0, records_per_shard=256, seed=0,
                progress=None, index_progress=None) -> int:
    """Returns the number of clips written; `index_progress(i, total, video)` follows the
    probing of the videos, `progress(n, total)` the clips written."""
    spec = ClipSpec(frames=frames, fps=fps, size=size,
                    crop="random_resized" if random_crops else "center")
    index = build_index(path, spec, progress=index_progress)
    rng = np.random.default_rng(seed) if random_crops else None

    def clips():
        for video, start in index.clips:
            for _ in range(max(random_crops, 1)):
                try:
                    yield load_clip(index.videos[video], start, index.sizes[video], spec, rng)
                except BadVideo as e:
                    print(f"\nskipped a clip of {index.videos[video]} at {start:.2f}s: {e}",
                          file=sys.stderr)

    total = len(index.clips) * max(random_crops, 1)
    meta = {"frames": frames, "fps": fps, "size": size, "source": path}
    return write_shards(clips(), out, meta, records_per_shard,
                        progress=progress and (lambda n: progress(n, total)))


def main(argv):
    del argv
    if not _PATH.value or not _OUT.value:
        raise app.UsageError("--path and --out are required")
    count = make_shards(_PATH.value, _OUT.value, _FRAMES.value, _FPS.value, _SIZE.value,
                        _CROPS.value, _PER_SHARD.value, _SEED.value,
                        progress=lambda n, total: progress_bar(n, total, "clips written"),
                        index_progress=lambda i, total, video: progress_bar(
                            i + 1, total, f"indexing {os.path.basename(video)}"))
    print(f"wrote {count} clips to {_OUT.value}")


if __name__ == "__main__":
    run_main(main)  # a bad path, unusable data or an existing --out: one line (--debug: its traceback)
