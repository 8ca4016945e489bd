"""The pictures: each file written, of the expected size, and not blank."""
import numpy as np
import pytest
from PIL import Image

from lawm_jax import plots


def picture(path):
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.std() > 5, f"{path} is blank"
    return img


def test_frame_grid_layout(tmp_path):
    rng = np.random.default_rng(0)
    rows = {"real": rng.integers(0, 255, (4, 10, 12, 3), np.uint8),
            "predicted (short)": rng.integers(0, 255, (3, 10, 12, 3), np.uint8)}
    img = picture(plots.frame_grid(rows, str(tmp_path / "g.png"), scale=2, gap=1))
    label_w = 8 + 7 * len("predicted (short)")
    assert img.shape == (2 * (20 + 1), label_w + 4 * (24 + 1), 3)
    # frame 0 of row 0 sits right of the label, upscaled 2x (nearest)
    np.testing.assert_array_equal(img[0:20:2, label_w:label_w + 24:2], rows["real"][0])
    assert np.all(img[21:41, label_w + 3 * 25:label_w + 3 * 25 + 24] == 128)  # padding of the short row


def test_capacity_scaling_and_profile_plots(tmp_path):
    rows = [{"kind": "sparse", "coef": c, "repr_l1": 0.2 + c} for c in (0.4, 0.1, 0.01)]
    rows += [{"kind": "noisy", "coef": c, "repr_l1": 0.2 + 10 * c} for c in (1e-2, 1e-4)]
    rows += [{"kind": "vq", "coef": n, "repr_l1": 0.5 - n / 1e4} for n in (8, 512)]
    rows += [{"kind": k, "coef": None, "repr_l1": v} for k, v in
             (("deterministic", 0.6), ("unconstrained", 0.2), ("copy_last", 0.7))]
    assert picture(plots.capacity_curve(rows, str(tmp_path / "c.png"))).shape == (420, 800, 3)
    # Over seeds: error bars, and a band around a bound; the picture differs where they are.
    spread = [{**r, "repr_l1_std": 0.02} for r in rows]
    with_bars = picture(plots.capacity_curve(spread, str(tmp_path / "c2.png")))
    assert with_bars.shape == (420, 800, 3) and (with_bars != picture(str(tmp_path / "c.png"))).any()
    scaling = [{"kind": k, "axis": a, "value": v, "repr_l1": 1 / v} for k in ("sparse", "noisy")
               for a, vs in (("steps", (10, 20)), ("width", (0.5, 1)), ("data", (0.25, 1))) for v in vs]
    plain = picture(plots.scaling_curves(scaling, str(tmp_path / "s.png")))
    assert plain.shape == (320, 1020, 3)
    bars = picture(plots.scaling_curves([{**r, "repr_l1_std": 0.05} for r in scaling], str(tmp_path / "s2.png"),
                                        title="budget smoke"))
    assert bars.shape == plain.shape and (bars != plain).any()  # seed spread and the title drawn
    one_width = [r for r in scaling if r["axis"] != "width" or r["value"] == 1]  # no panel for one point
    assert picture(plots.scaling_curves(one_width, str(tmp_path / "s3.png"))).shape == (320, 680, 3)
    assert picture(plots.leakage_profile({"repr_l1": {"model": [1, 3, 1]}}, 2, str(tmp_path / "p.png"))).shape == \
        (320, 420, 3)
    two = {"repr_l1": {"model": [0.2, 0.5, 0.2], "copy_last": [0.3, 0.6, 0.3]}, "lpips": {"model": [0.1, 0.3, 0.1]}}
    assert picture(plots.leakage_profile(two, 2, str(tmp_path / "p2.png"))).shape == (320, 840, 3)


def test_animation_gif_and_mp4(tmp_path):
    """Each time step is one frame holding every row; GIF and MP4 agree on the count and
    the size (MP4 padded to even sizes), and the MP4 decodes back to the same picture."""
    import av

    rng = np.random.default_rng(1)
    rows = {"real": rng.integers(0, 255, (5, 9, 9, 3), np.uint8), "rollout": rng.integers(0, 255, (5, 9, 9, 3),
                                                                                           np.uint8)}
    gif = Image.open(plots.animation(rows, str(tmp_path / "a.gif"), fps=2, scale=4))
    assert gif.n_frames == 5 and gif.info["duration"] == 500
    w, h = gif.size
    assert h == 2 * (36 + 2)
    with av.open(plots.animation(rows, str(tmp_path / "a.mp4"), fps=2, scale=4)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 5 and frames[0].shape == (h + h % 2, w + w % 2, 3)
    for step in range(5):  # frame `step` shows every row's frame `step`, scaled up
        gif.seek(step)
        tile = np.asarray(gif.convert("RGB"), np.float32)[:36, w - 38:w - 2]  # the label, the tile, a 2-px gap
        wanted = np.kron(rows["real"][step], np.ones((4, 4, 1)))
        assert np.abs(tile - wanted).mean() < 8, step  # GIF's 256-colour palette
        np.testing.assert_allclose(frames[step][:36, w - 38:w - 2].mean(), tile.mean(), atol=12)  # lossy H.264
    with pytest.raises(ValueError, match=".gif or .mp4"):
        plots.animation(rows, str(tmp_path / "a.avi"))


def test_state_colours_share_the_reference_scale():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(4, 6, 8)).astype(np.float32)  # (T, N = 2x3 tokens, D)
    out = plots.state_colours({"real": real, "copy": real, "shifted": real + 5.0}, (2, 3), reference=real)
    assert out["real"].shape == (4, 2, 3, 3) and out["real"].dtype == np.uint8
    np.testing.assert_array_equal(out["copy"], out["real"])
    assert out["real"].std() > 20  # spread over the colour range
    assert not np.array_equal(out["shifted"], out["real"])  # the reference's scale, not refitted


def test_state_colours_follow_the_states_main_direction():
    """States that vary along one direction only: the first colour channel (the first
    principal component) runs monotonically along it, from one end of the range to the
    other; the other channels hold no structure."""
    rng = np.random.default_rng(3)
    direction = rng.normal(size=16)
    states = np.linspace(-1, 1, 10)[:, None, None] * direction + 1e-4 * rng.normal(size=(10, 1, 16))
    red = plots.state_colours({"s": states}, (1, 1))["s"][:, 0, 0, 0].astype(int)
    steps = np.diff(red)
    assert np.all(steps > 0) or np.all(steps < 0), red
    assert abs(red[-1] - red[0]) > 200


def test_mp4_codec_falls_back_and_names_the_alternative():
    import av

    assert plots.mp4_codec(av.codecs_available) in av.codecs_available
    assert plots.mp4_codec({"mpeg4", "libopenh264"}) == "libopenh264"
    assert plots.mp4_codec({"mpeg4"}) == "mpeg4"
    with pytest.raises(ValueError, match=r"\.gif instead"):
        plots.mp4_codec({"h264_nvenc"})
