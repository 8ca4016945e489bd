"""Grain pipelines: determinism, exact resume, process sharding, on real decoded clips."""
import numpy as np
import pytest

from lawm_jax.data.clips import ClipSpec, build_index, clip_source
from lawm_jax.data.pipeline import batch_iterator
from tests.helpers import read_indices, write_video


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    for i in range(3):  # 6 s, 4 s, 2 s at 30 fps -> 12 + 8 + 4 clips of 0.5 s
        write_video(root / f"v{i}.mp4", 180 - 60 * i)
    spec = ClipSpec(frames=2, fps=4.0, size=16)
    return build_index(str(root), spec), spec


def batches(index, n, seed=0, shard=(0, 1), state=None):
    idx, spec = index
    numbers, decode = clip_source(idx, spec)
    it = batch_iterator(numbers, 4, seed, decode, process_index=shard[0], process_count=shard[1])
    if state is not None:
        it.set_state(state)
    out = [next(it)["video"] for _ in range(n)]
    state_after = it.get_state()
    it.close()  # stop Grain's reader threads before pytest tears down
    return state_after, out


def test_same_seed_same_batches_other_seed_other_batches(index):
    _, a = batches(index, 3)
    _, b = batches(index, 3)
    _, c = batches(index, 3, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    assert a[0].shape == (4, 2, 16, 16, 3) and a[0].dtype == np.uint8


def test_resumed_iterator_sees_exactly_the_batches_it_would_have_seen(index):
    state, _ = batches(index, 2)
    straight = batches(index, 8)[1]
    _, resumed = batches(index, 6, state=state)
    assert all(np.array_equal(x, y) for x, y in zip(straight[2:], resumed))


def test_processes_read_their_own_parts_of_the_same_global_batches(index):
    """2 processes, global batch 4: each decodes 2 clips per batch, disjoint, and side by
    side they are exactly the batches of a single process (data independent of hosts)."""
    _, single = batches(index, 6)
    _, first = batches(index, 6, shard=(0, 2))
    _, second = batches(index, 6, shard=(1, 2))
    for whole, a, b in zip(single, first, second):
        assert a.shape[0] == b.shape[0] == 2
        np.testing.assert_array_equal(np.concatenate([a, b]), whole)
        assert not any(np.array_equal(x, y) for x in a for y in b)  # no clip read twice


def test_epochs_reshuffle_and_reaugment(index):
    idx, spec = index
    numbers, decode = clip_source(idx, spec)
    ds = numbers.shuffle(seed=0).repeat(None)
    first = [int(ds[i]) for i in range(len(idx.clips))]
    second = [int(ds[i + len(idx.clips)]) for i in range(len(idx.clips))]
    assert sorted(first) == sorted(second) == list(range(len(idx.clips)))
    assert first != second  # a new order every epoch


def test_decoded_clips_show_the_indexed_frames(tmp_path):
    write_video(tmp_path / "square.mp4", 90, size=(64, 64))  # the centre crop is the frame
    spec = ClipSpec(frames=3, fps=4.0, size=32, crop="center", flip=False)
    idx = build_index(str(tmp_path), spec)
    _, decode = clip_source(idx, spec, train=False)
    for number in (0, 3):
        clip = decode.random_map(number, np.random.default_rng(0))["video"]
        _, start = idx.clips[number]
        want = np.floor((start + np.arange(3) / 4.0) * 30 + 1e-6)
        np.testing.assert_array_equal(read_indices(clip), want)


@pytest.mark.parametrize("cache_mb", [0, 1])
def test_frame_stride_jitter_takes_every_kth_frame(tmp_path, cache_mb):
    """data.frame_strides: a training clip is every k-th frame at fps (k drawn per clip) from
    a random offset inside the clip's window; the index counts windows long enough for the
    largest k; evaluation (no rng) takes k = 1 from the window's start."""
    write_video(tmp_path / "square.mp4", 90, size=(64, 64))  # 3 s at 30 fps
    spec = ClipSpec(frames=3, fps=4.0, size=32, crop="center", flip=False, frame_strides=(1, 3), cache_mb=cache_mb)
    idx = build_index(str(tmp_path), spec)
    assert spec.window() == 7 and len(idx.clips) == 1  # 7 frames at 4 fps = 1.75 s: one window in 3 s
    _, decode = clip_source(idx, spec, train=True)
    window = np.floor(np.arange(7) / 4.0 * 30 + 1e-6)
    seen = set()
    for seed in range(12):
        shown = read_indices(decode.random_map(0, np.random.default_rng(seed))["video"])
        steps = set(np.diff(np.searchsorted(window, shown)))
        assert len(steps) == 1 and steps <= {1, 3}, shown  # one stride per clip, from the window
        seen.add((steps.pop(), int(np.searchsorted(window, shown[0]))))
    assert {k for k, _ in seen} == {1, 3} and len({o for k, o in seen if k == 1}) > 1  # strides and offsets vary
    _, evaluate = clip_source(idx, spec, train=False)
    np.testing.assert_array_equal(read_indices(evaluate.random_map(0, None)["video"]), window[:3])


def test_the_clip_cache_changes_nothing_but_speed(tmp_path):
    """data.cache_mb: a clip decoded once and cropped afresh each time; hits and misses
    give the same pixels, the budget is kept, and the frames are still the right ones."""
    import dataclasses
    write_video(tmp_path / "square.mp4", 90, size=(64, 64))
    spec = ClipSpec(frames=3, fps=4.0, size=32, crop="center", flip=False, cache_mb=1)
    idx = build_index(str(tmp_path), spec)
    _, cached = clip_source(idx, spec, train=False)
    miss = cached.random_map(2, np.random.default_rng(0))["video"]
    assert list(cached.cache) == [2] and cached.cached_bytes == 3 * 64 * 64 * 3  # short side <= 2 x 32
    np.testing.assert_array_equal(cached.random_map(2, np.random.default_rng(0))["video"], miss)
    _, start = idx.clips[2]
    np.testing.assert_array_equal(read_indices(miss), np.floor((start + np.arange(3) / 4.0) * 30 + 1e-6))
    _, uncached = clip_source(idx, dataclasses.replace(spec, cache_mb=0), train=False)
    direct = uncached.random_map(2, np.random.default_rng(0))["video"]
    assert np.abs(direct.astype(int) - miss).mean() < 3  # two resizes vs one: near-identical
    # Training crops differ per draw even from one cached decode; the budget caps the cache.
    train_spec = dataclasses.replace(spec, crop="random_resized", cache_mb=2 * 3 * 64 * 64 * 3 / 2**20)
    _, decode = clip_source(idx, train_spec, train=True)
    first = decode.random_map(0, np.random.default_rng(1))["video"]
    assert not np.array_equal(decode.random_map(0, np.random.default_rng(2))["video"], first)
    for number in (1, 3):
        decode.random_map(number, np.random.default_rng(1))
    assert sorted(decode.cache) == [0, 1] and decode.cached_bytes <= train_spec.cache_mb * 2**20


def test_resize_frames_is_exact_where_it_can_be_and_does_not_alias():
    from lawm_jax.data.clips import resize_frames
    frames = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    np.testing.assert_array_equal(resize_frames(frames, 16), frames)  # same size: identity
    checker = (np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8)[None, ..., None].repeat(3, -1)
    halved = resize_frames(checker, 16)  # a pixel-level checkerboard averages to grey
    assert np.abs(halved[:, 1:-1, 1:-1].astype(int) - 128).max() <= 1  # (edges renormalise)
    ramp = np.broadcast_to(np.arange(0, 256, 8, dtype=np.uint8)[None, None, :, None], (1, 4, 32, 3))
    assert np.all(np.diff(resize_frames(np.ascontiguousarray(ramp), 8)[0, 0, :, 0].astype(int)) > 0)
