"""Indexes a folder (or list file) of videos once, so training starts at once.

    python tools/prepare_videos.py --path=/data/videos --frames=16 --fps=4

Probes every file (with a progress bar), writes the cached clip index beside the data
(`.lawm_clip_index.json`; later runs re-probe only changed files), and prints the clip
count and every unusable file with its reason.
"""
from __future__ import annotations

from absl import app, flags

from lawm_jax.data.clips import ClipSpec, build_index
from lawm_jax.cli import run_main
from lawm_jax.progress import progress_bar

_PATH = flags.DEFINE_string("path", None, "folder (recursive) or list file of videos")
_FRAMES = flags.DEFINE_integer("frames", 16, "frames per clip")
_FPS = flags.DEFINE_float("fps", 4.0, "clip frame rate")
_MAX_BAD = flags.DEFINE_float("max_bad_fraction", 0.5, "fail if more files than this are unusable")


def main(argv):
    del argv
    if not _PATH.value:
        raise app.UsageError("--path is required")
    spec = ClipSpec(frames=_FRAMES.value, fps=_FPS.value, max_bad_fraction=_MAX_BAD.value)
    index = build_index(_PATH.value, spec, progress=lambda i, total, path: progress_bar(i + 1, total, path))
    print(f"{len(index.clips)} clips of {spec.frames} frames at {spec.fps} fps from "
          f"{len(index.videos)} videos; {len(index.bad)} unusable")
    for path, reason in index.bad.items():
        print(f"  skipped {path}: {reason}")


if __name__ == "__main__":
    run_main(main)  # a bad path or unusable data: one line (--debug: its traceback)
