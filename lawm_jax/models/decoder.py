"""Pixel decoder: encoder states -> video, for pictures and pixel metrics only (paper §3.4).

The world model never trains through it. Architecture as the paper describes: a ViT
with the encoder's architecture (3D RoPE, pre-norm blocks) over all steps' tokens with
the frame-causal (block-causal) mask, then a linear map from each token to its tubelet
of pixels (tubelet x patch x patch x channels values; 1536 for V-JEPA 2-L). Pixels are
predicted in [0, 1] (uint8 / 255), the space of the L1 and perceptual losses.
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from lawm_jax.models.attention import grid_positions
from lawm_jax.models.layers import Block, config_layers, layer_norm, tubelets_to_video


@dataclasses.dataclass(frozen=True)
class DecoderConfig:
    width: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_hidden: int = 4096
    patch: int = 16     # the encoder's: one token decodes to one tubelet of pixels
    tubelet: int = 2
    in_chans: int = 3
    dtype: str = "float32"
    remat: bool = False
    scan: bool = False
    # Crop the decoded frames to this size (0: grid x patch as they come): a CNN
    # encoder's grid need not divide the frame, so its decoder decodes a little more.
    out_height: int = 0
    out_width: int = 0


class PixelDecoder(nn.Module):
    """States (B, T, N, D) on an (h, w) grid -> pixels (B, T * tubelet, h * patch, w * patch, C).

    Output frame f depends on states of steps <= f // tubelet only (block-causal mask).
    """

    config: DecoderConfig
    grid: tuple[int, int]

    @nn.compact
    def __call__(self, states_BTND):
        cfg = self.config
        dtype = jnp.dtype(cfg.dtype)
        b, t, n, _ = states_BTND.shape
        h, w = self.grid
        if n != h * w:
            raise ValueError(f"states have {n} tokens per step; the decoder's grid {h}x{w} needs {h * w}")
        x = nn.Dense(cfg.width, dtype=dtype, name="embed")(states_BTND).reshape(b, t * n, cfg.width)
        x = config_layers(Block, cfg, x, None, grid_positions(t, h, w), step_tokens=n)  # block-causal
        x = layer_norm("norm")(x)
        q, p, c = cfg.tubelet, cfg.patch, cfg.in_chans
        # Zero kernel, mid-grey bias: the untrained decoder draws flat grey, not unit-variance
        # noise in [0, 1] pixel space that AdamW at the paper's 3e-4 takes thousands of steps
        # to damp (the tiny 300-step decoder still drew noise; docs/DESIGN.md).
        x = nn.Dense(q * p * p * c, dtype=jnp.float32, name="head", kernel_init=nn.initializers.zeros,
                     bias_init=nn.initializers.constant(0.5))(x)  # (B, L, q*p*p*c)
        video = tubelets_to_video(x.reshape(b, t, h, w, q, p, p, c))
        return video[:, :, :cfg.out_height or None, :cfg.out_width or None]


def init_decoder(decoder: PixelDecoder, steps: int, width: int, rng):
    """Fresh parameters for clips of `steps` states of `width` on the decoder's grid."""
    states = jnp.zeros((1, steps, decoder.grid[0] * decoder.grid[1], width))
    return jax.jit(decoder.init)(rng, states)["params"]
