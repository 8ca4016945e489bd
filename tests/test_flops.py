"""The FLOP counts: XLA's count of a compiled block against a hand count, and the hand
count of a whole train step against XLA's."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lawm_jax.flops import block_flops, compiled_flops, train_step_flops
from lawm_jax.models.attention import step_causal_mask
from lawm_jax.models.layers import Block
from lawm_jax.world_model import WorldModel
from tests.helpers import tiny_world_model_config


def test_xla_counts_one_block_as_the_hand_count():
    """One pre-norm block, 64 tokens of width 256, 4 heads, MLP 1024: XLA's count is the
    hand-counted matrix products plus under 6 % of elementwise work (one projection
    missed or counted twice would be 8 %)."""
    b, length, width, hidden = 1, 64, 256, 1024
    block = Block(width, 4, hidden)
    x = jnp.ones((b, length, width))
    params = block.init(jax.random.key(0), x)
    exe = jax.jit(block.apply).lower(params, x).compile()
    hand = b * block_flops(length, width, hidden)
    assert hand == b * (8 * length * width**2 + 4 * length**2 * width + 4 * length * width * hidden)
    xla = compiled_flops(exe)
    assert hand <= xla <= 1.06 * hand, (xla, hand)
    # A mask changes nothing in a dense count: the masked blocks are still computed.
    masked = jax.jit(lambda p, x: block.apply(p, x, step_causal_mask(4, 16))).lower(params, x).compile()
    assert compiled_flops(masked) >= hand


@pytest.mark.slow  # a compiled value-and-grad of the IDM and predictor, ~9 s
def test_train_step_hand_count_agrees_with_xla():
    """The hand count of the IDM's and predictor's forward and backward is within 12 %
    of XLA's count of their value-and-grad (elementwise work, the loss and the first
    layers' unneeded input gradients make up the difference)."""
    cfg = tiny_world_model_config()
    cfg = dataclasses.replace(cfg, predictor=dataclasses.replace(cfg.predictor, width=64, mlp_hidden=128),
                              idm=dataclasses.replace(cfg.idm, width=64, mlp_hidden=128))
    wm = WorldModel(cfg)
    params = wm.init(jax.random.key(0))
    states = jnp.ones((3, cfg.steps, cfg.grid[0] * cfg.grid[1], cfg.encoder.width))

    def loss(p):
        z = wm.infer_actions(p, states).z
        return jnp.abs(wm.predict(p, states[:, :-1], z) - states[:, 1:]).mean()

    trainable = {k: v for k, v in params.items() if k != "encoder"}
    xla = compiled_flops(jax.jit(jax.value_and_grad(loss)).lower(trainable).compile())
    hand = train_step_flops(cfg, 3, with_encoder=False)
    assert hand["encoder"] == 0 and hand["idm"] > 0 and hand["predictor"] > 0
    np.testing.assert_allclose(hand["total"], xla, rtol=0.12)


def taps_inside(n_in, kernel, stride, pad, n_out):
    """Kernel taps that fall inside a 1-D input, summed over the outputs."""
    return sum(0 <= o * stride - pad + t < n_in for o in range(n_out) for t in range(kernel))


def test_xla_counts_the_alexnet_encoder_as_the_hand_count():
    """AlexNet's five convolutions on 2 clips of 3 frames of 128 px (encoder kind
    "alexnet"). The hand count is dense (every tap, the zero padding's too, as model FLOPs
    count); XLA counts only the taps inside the frame: equal to that count, written out
    here, plus under 1 % of elementwise work (ReLUs, pools)."""
    from lawm_jax.models.encoder import EncoderConfig, VideoEncoder
    from lawm_jax.models.lpips import ALEXNET
    cfg = dataclasses.replace(tiny_world_model_config(), encoder=EncoderConfig.preset("alexnet"),
                              image_size=(128, 128), frames=3)
    video = jnp.ones((2, 3, 128, 128, 3))
    encoder = VideoEncoder(cfg.encoder)
    params = jax.eval_shape(encoder.init, jax.random.key(0), video)
    xla = compiled_flops(jax.jit(encoder.apply).lower(params, video).compile())
    hand = train_step_flops(cfg, 2)["encoder"]
    inside, side, channels_in = 0, 128, 3
    for k, (channels, kernel, stride, pad) in enumerate(ALEXNET):
        side = (side - 3) // 2 + 1 if k in (1, 2) else side  # the max pools
        out = (side + 2 * pad - kernel) // stride + 1
        inside += 2 * taps_inside(side, kernel, stride, pad, out) ** 2 * channels_in * channels
        side, channels_in = out, channels
    assert inside * 6 <= xla <= 1.01 * inside * 6, (xla, inside * 6)
    assert 0.8 * hand < inside * 6 < hand  # the padding's share at 128 px
