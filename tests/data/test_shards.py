"""ArrayRecord shards of pre-decoded clips: round trip, validation, training source."""
import numpy as np
import pytest

from lawm_jax.data.clips import ClipSpec, build_index, load_clip
from lawm_jax.data.pipeline import batch_iterator
from lawm_jax.data.shards import RandomFlip, shard_dataset
from lawm_jax.errors import DataError
from tests.helpers import write_video
from tools.make_shards import make_shards


@pytest.fixture
def videos(tmp_path):
    (tmp_path / "videos").mkdir()
    write_video(tmp_path / "videos" / "a.mp4", 90)
    write_video(tmp_path / "videos" / "b.mp4", 60)
    return tmp_path / "videos"


def test_shards_hold_exactly_the_decoded_clips(videos, tmp_path):
    count = make_shards(str(videos), str(tmp_path / "shards"), frames=4, fps=4.0, size=16,
                        records_per_shard=2)
    assert count == 3 + 2
    assert len(list((tmp_path / "shards").glob("*.array_record"))) == 3  # 2 + 2 + 1
    ds = shard_dataset(str(tmp_path / "shards"), frames=4, size=16)
    spec = ClipSpec(frames=4, fps=4.0, size=16, crop="center")
    index = build_index(str(videos), spec)
    for i, (video, start) in enumerate(index.clips):
        want = load_clip(index.videos[video], start, index.sizes[video], spec, None)
        np.testing.assert_array_equal(ds[i]["video"], want)


def test_shard_mismatches_and_overwrites_are_refused(videos, tmp_path):
    make_shards(str(videos), str(tmp_path / "shards"), frames=4, fps=4.0, size=16)
    with pytest.raises(DataError, match="the config asks for data.frames=8"):
        shard_dataset(str(tmp_path / "shards"), frames=8, size=16)
    with pytest.raises(FileExistsError):
        make_shards(str(videos), str(tmp_path / "shards"), frames=4, fps=4.0, size=16)
    with pytest.raises(DataError, match="no shards.json.*tools/make_shards.py"):
        shard_dataset(str(videos), frames=4, size=16)


def test_shard_pipeline_flips_and_resumes(videos, tmp_path):
    make_shards(str(videos), str(tmp_path / "shards"), frames=4, fps=4.0, size=16, random_crops=2)
    ds = shard_dataset(str(tmp_path / "shards"), frames=4, size=16)
    assert len(ds) == 10
    it = batch_iterator(ds, 3, seed=0, decode=RandomFlip())
    next(it)
    state = it.get_state()
    want = [next(it)["video"] for _ in range(4)]
    again = batch_iterator(ds, 3, seed=0, decode=RandomFlip())
    again.set_state(state)
    assert all(np.array_equal(w, next(again)["video"]) for w in want)
    it.close()
    again.close()


def test_weighted_mixture_of_sources(tmp_path):
    from configs import tiny
    from lawm_jax.config import validate
    from lawm_jax.data.pipeline import config_batches
    from lawm_jax.errors import ConfigError
    for name, size in (("a", (48, 64)), ("b", (64, 48))):
        (tmp_path / name).mkdir()
        write_video(tmp_path / name / "v.mp4", 120, size=size)
        make_shards(str(tmp_path / name), str(tmp_path / f"shards_{name}"), frames=4, fps=4.0, size=16)
    fingerprints = {name: {shard_dataset(str(tmp_path / f"shards_{name}"), 4, 16)[i]["video"].tobytes()
                           for i in range(4)} for name in "ab"}
    assert not fingerprints["a"] & fingerprints["b"]
    c = tiny.get_config()
    c.data.update(mixture=f"shards:{tmp_path}/shards_a=0.75,shards:{tmp_path}/shards_b=0.25",
                  frames=4, image_size=16, flip=False)

    def sources(n_batches):
        it, _ = config_batches(c.data, seed=0, frames_per_step=2, global_batch=4)
        clips = [clip.tobytes() for _ in range(n_batches) for clip in next(it)["video"]]
        it.close()  # stop Grain's reader threads before pytest tears down
        return ["a" if x in fingerprints["a"] else "b" if x in fingerprints["b"] else "?" for x in clips]

    drawn = sources(10)
    assert drawn.count("?") == 0 and drawn.count("b") == 10  # exactly a quarter of 40
    assert drawn == sources(10)  # deterministic under the seed
    c.data.mixture = "shards:/x=0.5,youtube:/y=0.5"
    with pytest.raises(ConfigError, match="source must be one of"):
        validate(c)
    c.data.mixture = "shards/x"
    with pytest.raises(ConfigError, match="is not SOURCE:PATH=WEIGHT"):
        validate(c)


def test_records_decode_like_np_load_without_parsing_python(monkeypatch):
    """decode_array / decode_episode give what np.load gives, for every dtype and layout
    the project writes, without ast (Grain runs them in threads; on CPython 3.11 an ast
    parse in a thread can break one in the main thread); damaged records are refused."""
    import ast
    import io

    from lawm_jax.data.shards import decode_array, encode_array
    from lawm_jax.data.trajectories import decode_episode, encode_episode
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 255, (3, 5, 7, 3), dtype=np.uint8), rng.normal(size=(4, 6)).astype(np.float32),
              rng.normal(size=(11,)), np.zeros((0, 3), np.float32), np.arange(5, dtype=">i4")]
    fortran = io.BytesIO()
    np.save(fortran, np.asfortranarray(rng.normal(size=(3, 4))))
    episode = {"frames": arrays[0][:3], "actions": rng.normal(size=(2, 4)), "states": rng.normal(size=(3, 7))}
    expected = [np.load(io.BytesIO(encode_array(a))) for a in arrays] + [np.load(io.BytesIO(fortran.getvalue()))]
    with np.load(io.BytesIO(encode_episode(episode))) as npz:
        expected_episode = {k: npz[k] for k in npz.files}

    def no_ast(*args, **kwargs):
        raise AssertionError("ast used while decoding a record")
    monkeypatch.setattr(ast, "literal_eval", no_ast)
    monkeypatch.setattr(ast, "parse", no_ast)
    got = [decode_array(encode_array(a)) for a in arrays] + [decode_array(fortran.getvalue())]
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape and np.array_equal(g, e)
        assert g.flags.writeable and g.flags.f_contiguous == e.flags.f_contiguous
    got_episode = decode_episode(encode_episode(episode))
    assert sorted(got_episode) == sorted(expected_episode)
    for k, e in expected_episode.items():
        assert got_episode[k].dtype == e.dtype and np.array_equal(got_episode[k], e)
    record = encode_array(arrays[0])
    with pytest.raises(ValueError, match="truncated or damaged"):
        decode_array(record[:-5])
    with pytest.raises(ValueError, match="NUMPY magic"):
        decode_array(b"PK\x03\x04" + record[4:])
    structured = io.BytesIO()
    np.save(structured, np.zeros(2, dtype=[("a", "<f4"), ("b", "u1")]))
    with pytest.raises(ValueError, match="unsupported .npy header"):
        decode_array(structured.getvalue())
