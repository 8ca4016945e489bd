"""Decoding real video files (written here with PyAV) and the clip index."""
import os

import numpy as np
import pytest

from lawm_jax.data.clips import ClipSpec, build_index, clip_source, load_clip
from lawm_jax.data.video import BadVideo, decode_clip, probe
from lawm_jax.errors import DataError
from tests.helpers import read_indices, write_video


@pytest.fixture(scope="module")
def video30(tmp_path_factory):
    return str(write_video(tmp_path_factory.mktemp("v") / "v30.mp4", 90, fps=30, gop=10))


def test_random_start_equals_sequential_decode(video30):
    sequential = decode_clip(video30, 0.0, 90, 30.0)
    np.testing.assert_array_equal(read_indices(sequential), np.arange(90))
    for start in (0.0, 0.9, 1.37, 2.5):  # on and between keyframes (every 10 frames)
        clip = decode_clip(video30, start, 10, 30.0)
        first = int(np.floor(start * 30 + 1e-6))
        np.testing.assert_array_equal(clip, sequential[first:first + 10])


@pytest.mark.parametrize("fps,start", [(4.0, 0.1), (7.0, 0.0), (30.0, 1.0), (60.0, 0.5)])
def test_fps_resampling_picks_the_frame_on_screen(video30, fps, start):
    clip = decode_clip(video30, start, 8, fps)
    want = np.floor((start + np.arange(8) / fps) * 30 + 1e-6).astype(int)
    np.testing.assert_array_equal(read_indices(clip), want)


def test_probe_and_resize(video30, tmp_path):
    info = probe(video30)
    assert (info.fps, info.width, info.height, info.rotation) == (30.0, 64, 48, 0)
    assert info.duration == pytest.approx(3.0, abs=1e-6)
    assert decode_clip(video30, 0.0, 3, 4.0, size=(24, 40)).shape == (3, 24, 40, 3)
    webm = str(write_video(tmp_path / "v.webm", 30, fps=25, codec="libvpx-vp9"))
    np.testing.assert_array_equal(read_indices(decode_clip(webm, 0.2, 4, 5.0)), [5, 10, 15, 20])


def test_rotation_metadata_is_applied(tmp_path):
    plain = str(write_video(tmp_path / "plain.mp4", 4, size=(48, 64)))
    rotated = str(write_video(tmp_path / "rot.mp4", 4, size=(48, 64), rotation=90))
    info = probe(rotated)
    assert (info.width, info.height, info.rotation) == (48, 64, 90)  # as displayed
    a, b = decode_clip(plain, 0, 2, 30.0), decode_clip(rotated, 0, 2, 30.0)
    np.testing.assert_array_equal(b, np.rot90(a, k=1, axes=(1, 2)))  # counter-clockwise


def test_a_clip_past_the_end_is_refused(video30):
    with pytest.raises(BadVideo, match="ends before the clip"):
        decode_clip(video30, 2.5, 8, 4.0)


def make_folder(root):
    os.makedirs(root / "sub")
    write_video(root / "a.mp4", 90)
    write_video(root / "sub" / "b.mkv", 60, fps=25, container_format="matroska")
    return root


def test_index_skips_every_kind_of_bad_file_and_names_it(tmp_path, caplog):
    root = make_folder(tmp_path / "data")
    (root / "zero.mp4").write_bytes(b"")
    (root / "notes.avi").write_text("not a video")
    data = (root / "a.mp4").read_bytes()
    (root / "truncated.mp4").write_bytes(data[: len(data) // 3])
    write_video(root / "short.mp4", 5)
    import av  # a file with an audio stream only
    with av.open(str(root / "audio.mkv"), "w", format="matroska") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for p in s.encode(frame):
            c.mux(p)
    spec = ClipSpec(frames=4, fps=4.0, size=32, max_bad_fraction=0.9)
    index = build_index(str(root), spec)
    assert [os.path.basename(v) for v in index.videos] == ["a.mp4", "b.mkv"]
    assert len(index.clips) == 3 + 2  # 3 s and 2.4 s of video, 1 s clips back to back
    reasons = {os.path.basename(k): v for k, v in index.bad.items()}
    assert reasons["zero.mp4"] == "zero-byte file"
    assert reasons["notes.avi"].startswith("unreadable")
    assert reasons["truncated.mp4"].startswith("unreadable")
    assert reasons["short.mp4"].startswith("too short")
    assert reasons["audio.mkv"] == "no video stream"
    assert sum("truncated.mp4" in r.message for r in caplog.records) == 1  # reported once
    with pytest.raises(DataError, match=r"5 of 7 videos .* are unusable"):
        build_index(str(root), ClipSpec(frames=4, fps=4.0, size=32, max_bad_fraction=0.5))


def test_missing_or_empty_paths_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        build_index(str(tmp_path / "nope"), ClipSpec())
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no video files"):
        build_index(str(tmp_path / "empty"), ClipSpec())


def test_index_is_cached_and_refreshed_when_a_file_changes(tmp_path):
    root = make_folder(tmp_path / "data")
    spec = ClipSpec(frames=4, fps=4.0, size=32)
    first = build_index(str(root), spec)
    assert (root / ".lawm_clip_index.json").exists()
    write_video(root / "a.mp4", 30)  # now 1 s long
    second = build_index(str(root), spec)
    assert len(first.clips) == 5 and len(second.clips) == 1 + 2


def test_list_file_and_crops(tmp_path):
    make_folder(tmp_path / "data")
    (tmp_path / "list.txt").write_text("data/a.mp4\n# a comment\ndata/sub/b.mkv\n")
    spec = ClipSpec(frames=4, fps=4.0, size=32)
    index = build_index(str(tmp_path / "list.txt"), spec)
    assert len(index.videos) == 2
    centre = load_clip(index.videos[0], 0.0, index.sizes[0], spec, None)
    assert centre.shape == (4, 32, 32, 3) and centre.dtype == np.uint8
    rng = np.random.default_rng(0)
    crops = [load_clip(index.videos[0], 0.0, index.sizes[0], spec, rng) for _ in range(4)]
    assert all(c.shape == (4, 32, 32, 3) for c in crops)
    assert not all(np.array_equal(crops[0], c) for c in crops[1:])  # augmentations vary
    numbers, decode = clip_source(index, spec)
    assert len(numbers) == 5


@pytest.mark.parametrize("codec,pix_fmt,ext", [("libx264", "yuv444p", "mp4"), ("libx264", "gray", "mkv"),
                                               ("ffv1", "bgr0", "mkv"), ("png", "rgb24", "mov"),
                                               ("libx264", "yuv420p10le", "mp4")])
def test_odd_pixel_formats_decode_to_the_right_rgb_frames(tmp_path, codec, pix_fmt, ext):
    path = write_video(tmp_path / f"odd.{ext}", 60, codec=codec, pix_fmt=pix_fmt)
    clip = decode_clip(str(path), 0.5, 3, fps=4.0)
    assert clip.dtype == np.uint8 and clip.shape == (3, 48, 64, 3)
    np.testing.assert_array_equal(read_indices(clip), [15, 22, 30])  # frames at 0.5, 0.75, 1.0 s
