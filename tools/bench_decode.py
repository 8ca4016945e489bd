"""Decode throughput: clips at 4 fps (16 frames, 256x256 by default), random-resized-
cropped, from 640x360 H.264 sources (30 fps, keyframe every 2 s), on one core.

    python tools/bench_decode.py --clips=40 --repeats=3
    python tools/bench_decode.py --frames=8 --size=32     # what configs/tiny.py reads

Writes the sources into a temporary folder, times `load_clip` (seek + decode + one
swscale resize + crop) over random clips, then random reads of the same clips from
ArrayRecord shards (tools/make_shards.py), and prints the median clips/s of the repeats

"""
from __future__ import annotations

import tempfile
import time
from fractions import Fraction

import numpy as np
from absl import app, flags

from lawm_jax.data.clips import ClipSpec, build_index, load_clip
from lawm_jax.data.shards import shard_dataset, write_shards

_CLIPS = flags.DEFINE_integer("clips", 40, "clips per timed repeat")
_REPEATS = flags.DEFINE_integer("repeats", 3, "timed repeats (the median is reported)")
_FRAMES = flags.DEFINE_integer("frames", 16, "frames per clip (at 4 fps)")
_SIZE = flags.DEFINE_integer("size", 256, "output frame size")


def write_source(path, seconds=20, fps=30, size=(360, 640), seed=0):
    """Moving noise blobs: H.264 has real work to do, unlike a flat colour."""
    import av
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size[0] // 8, size[1] // 8, 3), dtype=np.uint8)
    with av.open(path, "w") as c:
        s = c.add_stream("libx264", rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = size[1], size[0], "yuv420p"
        s.options = {"g": str(2 * fps), "crf": "23"}
        for i in range(seconds * fps):
            img = np.kron(np.roll(base, i, axis=1), np.ones((8, 8, 1), np.uint8))
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def main(argv):
    del argv
    spec = ClipSpec(frames=_FRAMES.value, fps=4.0, size=_SIZE.value, stride=0.5)
    with tempfile.TemporaryDirectory() as folder:
        for i in range(2):
            write_source(f"{folder}/source{i}.mp4", seed=i)
        index = build_index(folder, spec, cache=False)
        rng = np.random.default_rng(0)
        rates = []
        for _ in range(_REPEATS.value):
            picks = rng.integers(0, len(index.clips), _CLIPS.value)
            t0 = time.perf_counter()
            for k in picks:
                video, start = index.clips[k]
                load_clip(index.videos[video], start, index.sizes[video], spec, rng)
            rates.append(_CLIPS.value / (time.perf_counter() - t0))
        # The same clips pre-decoded into ArrayRecord shards, read back at random.
        clips = (load_clip(index.videos[v], t, index.sizes[v], spec, None) for v, t in index.clips)
        write_shards(clips, f"{folder}/shards", {"frames": spec.frames, "fps": spec.fps,
                                                 "size": spec.size})
        shards = shard_dataset(f"{folder}/shards", spec.frames, spec.size)
        read_rates = []
        for _ in range(_REPEATS.value):
            picks = rng.integers(0, len(shards), 10 * _CLIPS.value)
            t0 = time.perf_counter()
            for k in picks:
                shards[int(k)]
            read_rates.append(10 * _CLIPS.value / (time.perf_counter() - t0))
    median = float(np.median(rates))
    print(f"decode: {median:.1f} clips/s per core ({spec.frames} x {spec.size}^2 from 640x360 H.264; "
          f"repeats {', '.join(f'{r:.1f}' for r in rates)})")
    print(f"shards: {float(np.median(read_rates)):.0f} clips/s per core (random reads of the same "
          f"clips from ArrayRecord; repeats {', '.join(f'{r:.0f}' for r in read_rates)})")


if __name__ == "__main__":
    app.run(main)
