"""Decoding video clips with PyAV: probing files and frame-accurate, fps-resampled clips.

A clip is `num_frames` frames at `fps`, starting at `start` seconds: frame k is the
source frame shown at time start + k / fps (the last frame whose timestamp is <= that
time), whatever the file's native rate. Decoding seeks to the keyframe before `start`
and decodes forward, so a clip from a random start equals the same frames of a
sequential decode (tested).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".mpg", ".mpeg", ".m4v")


class BadVideo(Exception):
    """A file that cannot serve clips; the message says why."""


def _av():
    try:
        import av
    except ImportError:
        raise ImportError("decoding video needs PyAV (the av package, a dependency of lawm_jax): "
                          "pip install av", name="av") from None
    av.logging.set_level(av.logging.PANIC)  # we report problems ourselves, once per file
    return av


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    duration: float  # seconds of decodable video (last frame's time + one frame)
    fps: float       # native average frame rate
    width: int       # as displayed (after rotation)
    height: int
    rotation: int    # degrees counter-clockwise that bring a frame upright (display matrix)


def probe(path: str) -> VideoInfo:
    """Reads a file's video stream metadata; raises BadVideo with a reason."""
    av = _av()
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise BadVideo("no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            if not rate or float(rate) <= 0:
                raise BadVideo("unknown frame rate")
            fps = float(rate)
            # Decode the timestamps of every packet: trustworthy where header durations lie
            # (truncated files, variable frame rates).
            last = None
            for packet in container.demux(stream):
                if packet.pts is not None and packet.size:
                    t = float(packet.pts * stream.time_base)
                    last = t if last is None else max(last, t)
            if last is None:
                raise BadVideo("no decodable frames")
            start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
            container.seek(0)
            first = next(container.decode(stream), None)
            if first is None:
                raise BadVideo("no decodable frames")
            width, height, rotation = first.width, first.height, _rotation(first)
    except BadVideo:
        raise
    except Exception as e:  # noqa: BLE001 -- FFmpeg reports many kinds of damage
        raise BadVideo(f"unreadable ({type(e).__name__}: {e})") from None
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(duration=last - start + 1.0 / fps, fps=fps, width=width, height=height,
                     rotation=rotation)


def clip_times(start: float, num_frames: int, fps: float) -> np.ndarray:
    return start + np.arange(num_frames) / fps


def decode_clip(path: str, start: float, num_frames: int, fps: float,
                size: tuple[int, int] | None = None) -> np.ndarray:
    """Frames shown at start + k / fps, k < num_frames, as uint8 (F, H, W, 3).

    `size` = (height, width) resizes while decoding (swscale, bilinear). Raises
    BadVideo when the file ends before the clip does.
    """
    av = _av()
    targets = clip_times(start, num_frames, fps)
    out: list[np.ndarray | None] = [None] * num_frames
    try:
        with av.open(path) as container:
            # No FFmpeg frame threads (thread_type stays "SLICE"/none): with Grain's reader
            # threads around them they deadlocked here; parallelism comes from Grain.
            stream = container.streams.video[0]
            t0 = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
            container.seek(int((t0 + start) / stream.time_base), stream=stream, backward=True,
                           any_frame=False)
            # Frames between targets are decoded (they must be) but never converted: the
            # RGB conversion and resize run once per frame that a target actually picks.
            previous, previous_rgb = None, None  # the latest frame not after the next target
            k = 0
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = float(frame.pts * stream.time_base) - t0
                while k < num_frames and previous is not None and t > targets[k] + 1e-6:
                    if previous_rgb is None:
                        previous_rgb = _to_rgb(previous, size)
                    out[k] = previous_rgb
                    k += 1
                if k == num_frames:
                    break
                previous, previous_rgb = frame, None
            # The last decoded frame stays on screen until the stream ends.
            end = t + 1.0 / float(stream.average_rate or stream.guessed_rate) if previous is not None else 0
            while k < num_frames and previous is not None and targets[k] < end - 1e-6:
                if previous_rgb is None:
                    previous_rgb = _to_rgb(previous, size)
                out[k] = previous_rgb
                k += 1
    except Exception as e:  # noqa: BLE001
        raise BadVideo(f"decoding failed at {start:.2f}s ({type(e).__name__}: {e})") from None
    if k < num_frames:
        raise BadVideo(f"ends before the clip at {start:.2f}s + {num_frames} frames at {fps} fps")
    return np.stack(out)


def _rotation(frame) -> int:
    """Quarter turns only; other angles are rare and treated as upright."""
    return int(round(getattr(frame, "rotation", 0) or 0)) % 360


def _to_rgb(frame, size) -> np.ndarray:
    rotation = _rotation(frame)
    if size is not None:
        h, w = size
        if rotation in (90, 270):
            h, w = w, h
        frame = frame.reformat(width=w, height=h, format="rgb24", interpolation="BILINEAR")
        rgb = frame.to_ndarray()
    else:
        rgb = frame.to_ndarray(format="rgb24")
    if rotation in (90, 180, 270):  # the display matrix's counter-clockwise turn
        rgb = np.rot90(rgb, k=rotation // 90)
    return np.ascontiguousarray(rgb)


def num_clips(info: VideoInfo, num_frames: int, fps: float, stride: float | None = None) -> int:
    """How many clips of num_frames at fps fit, starting every `stride` seconds
    (default: back to back)."""
    length = num_frames / fps
    stride = stride or length
    if info.duration + 1e-6 < length:
        return 0
    return int(math.floor((info.duration - length) / stride + 1e-6)) + 1
