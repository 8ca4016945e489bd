"""Pixel decoder: shapes, the frame-causal mask, and the token-to-pixels layout."""
import chex
import jax
import jax.numpy as jnp
import numpy as np

from lawm_jax.models.decoder import DecoderConfig, PixelDecoder
from lawm_jax.models.layers import tubelets_to_video, video_to_tubelets
from tests.helpers import perturb


def test_tubelet_layout_round_trips():
    video = np.arange(2 * 4 * 12 * 8 * 3, dtype=np.float32).reshape(2, 4, 12, 8, 3)
    tubelets = video_to_tubelets(video, 2, 4)
    chex.assert_shape(tubelets, (2, 2, 3, 2, 2, 4, 4, 3))
    # token (t=1, i=2, j=0) holds frames 2-3, rows 8-11, columns 0-3
    np.testing.assert_array_equal(tubelets[0, 1, 2, 0], video[0, 2:4, 8:12, 0:4])
    np.testing.assert_array_equal(tubelets_to_video(tubelets), video)


def test_decoder_shapes_and_frame_causality():
    cfg = DecoderConfig(width=32, depth=2, num_heads=2, mlp_hidden=48, patch=4, tubelet=2)
    dec = PixelDecoder(cfg, grid=(3, 2))
    states = jax.random.normal(jax.random.key(0), (2, 3, 6, 20))
    params = perturb(dec.init(jax.random.key(1), states), scale=0.3)
    apply = jax.jit(dec.apply)
    video = apply(params, states)
    chex.assert_shape(video, (2, 6, 12, 8, 3))
    # Changing step 2's states changes frames 4-5 only: frames of step t see steps <= t.
    changed = apply(params, states.at[:, 2].add(1.0))
    np.testing.assert_allclose(changed[:, :4], video[:, :4], atol=1e-6)
    assert float(jnp.abs(changed[:, 4:] - video[:, 4:]).max()) > 1e-3
    changed = apply(params, states.at[:, 0].add(1.0))
    assert float(jnp.abs(changed[:, 4:] - video[:, 4:]).max()) > 1e-3  # the past reaches the future
