"""The scenes source: procedural clips over photographs (lawm_jax/data/scenes.py)."""
import dataclasses
import importlib.util
import os

import matplotlib.image
import numpy as np
import pytest

from configs import tiny
from lawm_jax.config import validate
from lawm_jax.data import scenes
from lawm_jax.data.pipeline import config_batches, evaluation_clips
from lawm_jax.errors import ConfigError, DataError
from tests.helpers import need

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200), (200, 30, 200),
           (120, 60, 10), (10, 120, 60), (60, 10, 120), (250, 120, 0)]


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """Ten flat-coloured photographs (one colour each, so a pixel tells its photograph), an
    unreadable file and one too small."""
    root = tmp_path_factory.mktemp("photos")
    for i, colour in enumerate(COLOURS):
        sub = root / ("sub" if i % 2 else "")
        sub.mkdir(exist_ok=True)
        matplotlib.image.imsave(sub / f"photo{i}.png", np.full((96, 128, 3), colour, np.uint8))
    (root / "broken.jpg").write_bytes(b"not an image")
    matplotlib.image.imsave(root / "tiny.png", np.zeros((8, 8, 3), np.uint8))
    return str(root)


def textured_photo(seed=0, size=256):
    """A smooth random texture: every shift of it looks different."""
    noise = np.random.default_rng(seed).random((size // 8, size // 8, 3))
    return (np.kron(noise, np.ones((8, 8, 1))) * 255).astype(np.uint8)


def config(path, **scenes_fields):
    c = tiny.get_config()
    c.data.update(source="scenes", path=path)
    c.data.scenes.update(scenes_fields)
    return c


def test_a_clip_is_a_function_of_its_seed():
    photos = scenes.Photos({"a": textured_photo(0), "b": textured_photo(1)})
    cfg = scenes.SceneConfig(frames=8, image_size=32, frames_per_step=2)
    one, motion = scenes.generate_scene(photos, cfg, (3, 7))
    again, motion_again = scenes.generate_scene(photos, cfg, (3, 7))
    other, _ = scenes.generate_scene(photos, cfg, (3, 8))
    assert one.shape == (8, 32, 32, 3) and one.dtype == np.uint8
    np.testing.assert_array_equal(one, again)
    for field in dataclasses.fields(scenes.Motion):
        np.testing.assert_array_equal(getattr(motion, field.name), getattr(motion_again, field.name))
    assert np.abs(one.astype(int) - other).mean() > 5
    assert np.abs(np.diff(one.astype(int), axis=0)).mean() > 1  # something moves


def test_an_agents_recorded_displacement_is_its_pixel_shift():
    photos = scenes.Photos({"a": textured_photo(0), "b": textured_photo(1)})
    cfg = scenes.SceneConfig(frames=12, image_size=48, frames_per_step=2, min_agents=1, max_agents=1, appear=0.0,
                             stop=0.0, camera_still=1.0, exogenous=0.0, agent_size=(0.3, 0.3), max_speed=0.05)
    checked = 0
    for seed in range(6):
        video, motion = scenes.generate_scene(photos, cfg, seed)
        h = w = round(0.3 * 48)
        for i in range(1, 12):
            (r0, c0), (r1, c1) = motion.agent_position[i - 1, 0], motion.agent_position[i, 0]
            np.testing.assert_array_equal(motion.agent_position[i, 0] - motion.agent_position[i - 1, 0],
                                          motion.agent_velocity[i, 0])
            if i % 2:  # a velocity holds for the two frames of a step
                assert i == 1 or (motion.agent_velocity[i, 0] == motion.agent_velocity[i - 1, 0]).all()
            if min(r0, c0, r1, c1) < 0 or max(r0, c0, r1, c1) > 48 - h:
                continue  # partly outside the frame
            m = h // 4  # the centre of the box, inside an ellipse or a rectangle
            np.testing.assert_array_equal(video[i, r1 + m:r1 + h - m, c1 + m:c1 + w - m],
                                          video[i - 1, r0 + m:r0 + h - m, c0 + m:c0 + w - m])
            checked += 1
        assert (motion.camera == 0).all() and motion.agent_visible[:, 0].all()
    assert checked >= 20


def test_the_recorded_camera_pan_is_the_backgrounds_shift():
    photos = scenes.Photos({"a": textured_photo(2, 512)})
    cfg = scenes.SceneConfig(frames=6, image_size=48, frames_per_step=1, min_agents=0, max_agents=0,
                             camera_still=0.0, camera_speed=0.08, camera_zoom=0.0, camera_turn=0.0, exogenous=0.0)
    for seed in range(4):
        video, motion = scenes.generate_scene(photos, cfg, seed)
        v = video.astype(np.float32)
        for i in range(1, 6):
            right, down = motion.camera[i, :2]
            # The camera moves right and down: the picture moves left and up by the pan.
            best = min(((dy, dx) for dy in range(-6, 7) for dx in range(-6, 7)),
                       key=lambda d: np.abs(v[i, 8:-8, 8:-8] - v[i - 1, 8 + d[0]:40 + d[0], 8 + d[1]:40 + d[1]]).mean())
            assert abs(best[0] - down) <= 0.75 and abs(best[1] - right) <= 0.75, (seed, i, best, (down, right))


def test_held_out_photographs_never_appear_in_training_clips(photo_folder):
    c = config(photo_folder, exogenous=0.0)
    report = {}
    photos = scenes.load_photos(photo_folder, 32, report)
    train = scenes.split_photos(photos, c.data.scenes.holdout, "train", photo_folder)
    held = scenes.split_photos(photos, c.data.scenes.holdout, "holdout", photo_folder)
    assert train and held and not set(train) & set(held) and len(train) + len(held) == len(COLOURS)
    colour_of = {f"{'sub/' if i % 2 else ''}photo{i}.png": colour for i, colour in enumerate(COLOURS)}
    assert set(photos) == set(colour_of)
    # The bad files are named with the reason and skipped.
    bad = {os.path.join(photo_folder, "broken.jpg"), os.path.join(photo_folder, "tiny.png")}
    assert set(report["bad_files"]) == bad
    assert "smaller than 32 px" in report["bad_files"][os.path.join(photo_folder, "tiny.png")]

    batches, _ = config_batches(c.data, seed=0, frames_per_step=2, global_batch=16)
    seen = np.concatenate([next(batches)["video"].reshape(-1, 3) for _ in range(4)])
    held_out = evaluation_clips(c.data, 2, seed=0, max_clips=16)[0].reshape(-1, 3)

    def colours(pixels):
        return {tuple(p) for p in np.unique(pixels, axis=0)}

    assert colours(seen) <= {colour_of[n] for n in train}
    assert colours(held_out) <= {colour_of[n] for n in held}
    assert len(colours(seen)) >= 2 and colours(held_out)


def test_scenes_mix_with_video_and_differ_every_clip(photo_folder):
    c = config(photo_folder)
    c.data.mixture = f"scenes:{photo_folder}=0.5,video:{tiny.BUNDLED_FOOTAGE}=0.5"
    validate(c)
    batches, report = config_batches(c.data, seed=0, frames_per_step=2, global_batch=8)
    video = np.concatenate([next(batches)["video"] for _ in range(3)])
    assert video.shape == (24, 8, 32, 32, 3) and report["photos"] == len(COLOURS)
    flat = video.reshape(24, -1)
    assert len(np.unique(flat, axis=0)) == 24


def test_bad_scene_settings_are_named(photo_folder):
    with pytest.raises(ConfigError, match=r"data\.scenes\.change.*\[0, 1\]"):
        validate(config(photo_folder, change=1.5))
    with pytest.raises(ConfigError, match=r"data\.scenes\.agent_size"):
        validate(config(photo_folder, agent_size=(0.5, 0.2)))
    with pytest.raises(DataError, match=r"config\.data\.scenes\.holdout pattern 'nope\*' matches no photograph"):
        evaluation_clips(config(photo_folder, holdout="nope*").data, 2, seed=0, max_clips=4)
    with pytest.raises(DataError, match=r"no usable photographs under .*empty"):
        os.makedirs(os.path.join(photo_folder, "empty"), exist_ok=True)
        scenes.load_photos(os.path.join(photo_folder, "empty"), 32)
    with pytest.raises(DataError, match="neither 'skimage'"):
        scenes.load_photos(os.path.join(photo_folder, "missing"), 32)


def test_scikit_images_photographs_and_the_documented_held_out_set():
    need(importlib.util.find_spec("skimage") is not None, "needs scikit-image (the [sim] extra)")
    photos = scenes.load_photos(scenes.BUILTIN, 32)
    assert set(photos) == set(scenes.SKIMAGE_PHOTOS)
    assert all(p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3 for p in photos.values())
    held = scenes.split_photos(photos, tiny.get_config().data.scenes.holdout, "holdout", scenes.BUILTIN)
    docs = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "DATA.md")).read()
    listed = docs.split("<!-- held-out photographs -->")[1].split("<!-- end -->")[0]
    assert sorted(n.strip(" `") for n in listed.split(",")) == sorted(held)


def test_the_motion_of_a_transition_is_its_next_steps():
    photos = scenes.Photos({"a": textured_photo(0), "b": textured_photo(1)})
    cfg = scenes.SceneConfig(frames=8, image_size=32, frames_per_step=2, max_agents=2)
    video, motion = scenes.generate_scene(photos, cfg, 5)
    per_step = scenes.step_motion(motion, 2)
    assert per_step["camera"].shape == (3, 4) and per_step["agents"].shape == (3, 4)
    for t in range(3):  # transition t -> t+1: the frames of step t+1 move by its velocities
        shift = motion.agent_position[2 * t + 2] - motion.agent_position[2 * t + 1]
        np.testing.assert_array_equal(per_step["agents"][t].reshape(2, 2),
                                      shift * motion.agent_visible[2 * t + 2][:, None])
        np.testing.assert_array_equal(per_step["camera"][t], motion.camera[2 * t + 2])
