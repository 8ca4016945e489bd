"""RLDS episodes from a real TFDS ArrayRecord dataset, read without TensorFlow.

The fixture prepares a tiny dataset with TFDS itself (GeneratorBasedBuilder,
file_format="array_record"), so the files on disk are in the true TFDS format. Images are
given to TFDS as PIL images: it stores them as PNG without TensorFlow (numpy arrays would
be encoded with tf.image.encode_png), and PNG is lossless, so pixels come back exactly.
"""
import json
import pathlib
import shutil
import sys

import numpy as np
import PIL.Image
import pytest
import tensorflow_datasets as tfds

from lawm_jax.data.tfds_source import EpisodeSource, episode_windows, tfds_episodes
from lawm_jax.errors import DataError

LENGTHS = {"train": [2, 7, 5, 3], "val": [4]}  # steps per episode; episode ids run on across splits
SIZE = 16


def image(episode: int, step: int, camera: int) -> np.ndarray:
    """Channel 0: episode id, 1: step, 2: a pattern that shows flips and transposes."""
    img = np.empty((SIZE, SIZE, 3), np.uint8)
    img[..., 0], img[..., 1] = episode, step
    img[..., 2] = 100 * camera + np.arange(SIZE)[:, None] * 3 + np.arange(SIZE)[None, :]
    return img


def action(episode: int, step: int) -> np.ndarray:
    return np.array([episode, step, 0.5 + step, -1, 0, 0, 1], np.float32)  # 7-D, like DROID


class TinyEpisodes(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    VERSION = tfds.core.Version("1.0.0")
    # TFDS looks for a checksums file beside the builder's code; for a builder in a package
    # (tests.data) that lookup imports importlib_resources, which Python 3.11 does not ship.
    code_path = None

    def _info(self):
        step = {"observation": {"image": tfds.features.Image(shape=(SIZE, SIZE, 3)),
                                "wrist_image": tfds.features.Image(shape=(SIZE, SIZE, 3)),
                                "state": tfds.features.Tensor(shape=(3,), dtype=np.float32)},
                "action": tfds.features.Tensor(shape=(7,), dtype=np.float32),
                "is_last": tfds.features.Scalar(dtype=np.bool_)}
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "steps": tfds.features.Dataset(step),
            "episode_metadata": {"episode_id": tfds.features.Scalar(dtype=np.int32)}}))

    def _split_generators(self, dl_manager):
        first = {"train": 0, "val": len(LENGTHS["train"])}
        return {split: self._generate_examples(first[split], lengths) for split, lengths in LENGTHS.items()}

    def _generate_examples(self, first: int, lengths: list[int]):
        for episode, n in enumerate(lengths, first):
            steps = [{"observation": {"image": PIL.Image.fromarray(image(episode, t, 0)),
                                      "wrist_image": PIL.Image.fromarray(image(episode, t, 1)),
                                      "state": np.zeros(3, np.float32)},
                      "action": action(episode, t), "is_last": t == n - 1} for t in range(n)]
            yield episode, {"steps": steps, "episode_metadata": {"episode_id": episode}}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> str:
    builder = TinyEpisodes(data_dir=str(tmp_path_factory.mktemp("tfds")), file_format="array_record")
    builder.download_and_prepare()
    return str(builder.data_dir)


def episode_id(frames: np.ndarray) -> int:
    return int(frames[0, 0, 0, 0])


def test_the_fixture_is_what_tfds_itself_reads(dataset):
    builder = tfds.builder_from_directory(dataset)
    assert builder.info.file_format.value == "array_record"
    records = builder.as_data_source("train")
    assert sorted(len(r["steps"]) for r in records) == sorted(LENGTHS["train"])
    step = records[0]["steps"][0]
    assert step["observation"]["image"].shape == (SIZE, SIZE, 3)
    assert step["action"].shape == (7,)


def test_episodes_come_back_exactly(dataset):
    episodes = tfds_episodes(dataset)
    assert len(episodes) == len(LENGTHS["train"])
    seen = set()
    for i in range(len(episodes)):
        ep = episodes[i]
        e = episode_id(ep["frames"])  # TFDS stores episodes in a hashed order, not as generated
        n = LENGTHS["train"][e]
        assert ep["frames"].dtype == np.uint8 and ep["frames"].shape == (n, SIZE, SIZE, 3)
        assert ep["actions"].dtype == np.float32 and ep["actions"].shape == (n, 7)
        for t in range(n):
            np.testing.assert_array_equal(ep["frames"][t], image(e, t, 0))
            np.testing.assert_array_equal(ep["actions"][t], action(e, t))
        seen.add(e)
    assert seen == set(range(len(LENGTHS["train"])))


def test_other_image_key_and_split(dataset):
    ep = tfds_episodes(dataset, split="val", image_key="observation/wrist_image")[0]
    np.testing.assert_array_equal(ep["frames"], np.stack([image(4, t, 1) for t in range(4)]))
    ep = tfds_episodes(dataset, split="val", action_key="observation/state")[0]
    assert ep["actions"].shape == (4, 3)
    ep = tfds_episodes(dataset, split="val", action_key="is_last")[0]  # scalars become (T, 1)
    np.testing.assert_array_equal(ep["actions"], [[0], [0], [0], [1]])


def test_lengths_without_decoding_images(dataset, monkeypatch):
    ids = [episode_id(ep["frames"]) for ep in tfds_episodes(dataset)]
    source = EpisodeSource(dataset)
    monkeypatch.setattr(source, "_decode", None)  # decoding any image would now fail
    assert source.lengths() == [LENGTHS["train"][e] for e in ids]


def test_windows_align_actions_with_transitions(dataset):
    source = EpisodeSource(dataset)
    windows = episode_windows(source, frames=3, stride=2)
    # lengths 2, 7, 5, 3 -> 0 + 3 + 2 + 1 windows (starts 0, 2, 4 | 0, 2 | 0)
    assert len(windows) == 6
    starts = set()
    for n in range(len(windows)):
        clip = windows[n]
        assert clip["video"].shape == (3, SIZE, SIZE, 3) and clip["video"].dtype == np.uint8
        assert clip["actions"].shape == (2, 7) and clip["actions"].dtype == np.float32
        e, t0 = episode_id(clip["video"]), int(clip["video"][0, 0, 0, 1])
        for k in range(3):
            np.testing.assert_array_equal(clip["video"][k], image(e, t0 + k, 0))
        # actions[k] is the action of the step of video[k]: it leads to video[k + 1].
        np.testing.assert_array_equal(clip["actions"], np.stack([action(e, t0), action(e, t0 + 1)]))
        starts.add((e, t0))
    assert starts == {(1, 0), (1, 2), (1, 4), (2, 0), (2, 2), (3, 0)}


def test_windows_are_random_access_and_back_to_back_by_default(dataset):
    windows = episode_windows(EpisodeSource(dataset), frames=2)  # stride 2: 1 + 3 + 2 + 1
    assert len(windows) == 7
    last = windows[len(windows) - 1]
    again = windows[len(windows) - 1]
    np.testing.assert_array_equal(last["video"], again["video"])
    shuffled = windows.shuffle(seed=0)
    assert sorted(episode_id(shuffled[i]["video"]) * 100 + int(shuffled[i]["video"][0, 0, 0, 1])
                  for i in range(len(shuffled))) == [0, 100, 102, 104, 200, 202, 300]


def test_given_lengths_are_used_and_checked(dataset):
    source = EpisodeSource(dataset)
    lengths = source.lengths()
    assert len(episode_windows(source, frames=3, stride=1, lengths=lengths)) == sum(
        max(0, n - 2) for n in LENGTHS["train"])
    with pytest.raises(DataError, match="3 episode lengths"):
        episode_windows(source, frames=3, lengths=lengths[:3])
    with pytest.raises(DataError, match="has 8 steps"):
        episode_windows(source, frames=8)


def test_reads_without_tensorflow(dataset, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` now fails
    source = EpisodeSource(dataset)
    assert len(episode_windows(source, frames=2, stride=1)[0]["video"]) == 2
    assert source[0]["frames"].shape[1:] == (SIZE, SIZE, 3)


@pytest.mark.parametrize("key", ["image_key", "action_key"])
def test_unknown_key_lists_the_keys(dataset, key):
    with pytest.raises(DataError) as e:
        EpisodeSource(dataset, **{key: "observation/nope"})
    assert "observation/nope" in str(e.value) and key in str(e.value)
    assert "observation/wrist_image" in str(e.value) and "is_last" in str(e.value)


def test_a_non_image_key_is_refused(dataset):
    with pytest.raises(DataError, match="observation/state"):
        EpisodeSource(dataset, image_key="observation/state")


def test_unknown_split_lists_the_splits(dataset):
    with pytest.raises(DataError, match="'test'.*train, val|'test'.*val, train"):
        EpisodeSource(dataset, split="test")


def test_missing_path(tmp_path):
    with pytest.raises(DataError, match="nowhere"):
        EpisodeSource(str(tmp_path / "nowhere"))


def test_folder_without_dataset_info_points_at_the_version_folder(dataset):
    parent = str(pathlib.Path(dataset).parent)  # .../tiny_episodes, above 1.0.0
    with pytest.raises(DataError, match="dataset_info.json.*1.0.0"):
        EpisodeSource(parent)


def test_tfrecord_dataset_says_to_convert(dataset, tmp_path):
    # TFDS writes tfrecord only through TensorFlow; a copy whose dataset_info.json says
    # tfrecord is what EpisodeSource sees of one (it refuses before opening any file).
    copy = tmp_path / "tfrecord_copy"
    shutil.copytree(dataset, copy)
    info = json.loads((copy / "dataset_info.json").read_text())
    info["fileFormat"] = "tfrecord"
    (copy / "dataset_info.json").write_text(json.dumps(info))
    with pytest.raises(DataError, match="tfrecord.*file_format='array_record'") as e:
        EpisodeSource(str(copy))
    assert str(copy) in str(e.value)


def test_missing_tensorflow_datasets_says_what_to_install(dataset, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # `import` now fails
    with pytest.raises(DataError, match=r'pip install -e "\.\[tfds\]"'):
        EpisodeSource(dataset)


def test_tfds_as_a_training_source(dataset):
    """data.source=tfds: every frame_step-th step of each window, cropped and resized."""
    from configs import tiny
    from lawm_jax.config import validate
    from lawm_jax.data.pipeline import config_batches
    c = tiny.get_config()
    c.data.update(source="tfds", path=dataset, frames=4, image_size=8, crop="center", flip=False)
    c.data.tfds.frame_step = 2  # windows of 7 steps, frames at steps 0, 2, 4, 6
    validate(c)
    it, _ = config_batches(c.data, seed=0, frames_per_step=1, global_batch=2)
    clips = [clip for _ in range(4) for clip in next(it)["video"]]
    it.close()
    for clip in clips:
        assert clip.shape == (4, 8, 8, 3) and clip.dtype == np.uint8
        # Channels 0 and 1 hold episode and step, flat over the image, so resizing keeps them.
        assert list(clip[:, 4, 4, 1]) == [0, 2, 4, 6]
        assert set(clip[:, 4, 4, 0]) == {1}  # the only episode of >= 7 steps
