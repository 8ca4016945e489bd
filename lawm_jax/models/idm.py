"""Inverse dynamics model g_phi: z_t = g(s_t, s_{t+1}) for every t in parallel.

The paper does not describe its IDM. Ours (docs/DESIGN.md) is a small ViT over the
2N tokens of one transition plus a learned [ACT] query token:
  1. project both states to the IDM width and add a learned which-step embedding;
  2. 3D RoPE with step positions 0 and 1 and the patch grid; the [ACT] token sits at
     position (0, 0, 0), where the rotation is the identity;
  3. `depth` pre-norm blocks with full attention inside the pair;
  4. LayerNorm and a Linear from the [ACT] token to `out_dim` (2 x latent dim for the
     noisy bottleneck: mean and log-variance).
Each transition is encoded on its own, so z_t sees s_t and s_{t+1} and nothing else.
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from lawm_jax.models.attention import grid_positions
from lawm_jax.models.layers import Block, config_layers, layer_norm


@dataclasses.dataclass(frozen=True)
class IDMConfig:
    width: int = 1024
    depth: int = 6
    num_heads: int = 16
    mlp_hidden: int = 4096
    dtype: str = "float32"
    remat: bool = False
    scan: bool = False  # scan over layers: compile time independent of depth


class InverseDynamics(nn.Module):
    """States (B, T, N, D) on an (h, w) grid -> raw latents (B, T-1, out_dim)."""

    config: IDMConfig
    out_dim: int
    grid: tuple[int, int]

    @nn.compact
    def __call__(self, states_BTND):
        cfg = self.config
        dtype = jnp.dtype(cfg.dtype)
        b, t, n, _ = states_BTND.shape
        if t < 2:
            raise ValueError(f"the IDM needs at least 2 steps, got {t}")
        x = nn.Dense(cfg.width, dtype=dtype, name="embed")(states_BTND)  # (B, T, N, W)
        which = self.param("which_step", nn.initializers.normal(0.02), (2, 1, cfg.width))
        pair = jnp.concatenate([x[:, :-1] + which[0], x[:, 1:] + which[1]], axis=2)
        pair = pair.reshape(b * (t - 1), 2 * n, cfg.width)
        act = self.param("act_token", nn.initializers.normal(0.02), (1, 1, cfg.width))
        pair = jnp.concatenate([jnp.broadcast_to(act, (pair.shape[0], 1, cfg.width)).astype(pair.dtype),
                                pair], axis=1)
        positions = np.concatenate([np.zeros((1, 3), np.float32), grid_positions(2, *self.grid)])
        pair = config_layers(Block, cfg, pair, None, positions)
        out = layer_norm("norm")(pair[:, 0])
        z = nn.Dense(self.out_dim, dtype=jnp.float32, name="head")(out)
        return z.reshape(b, t - 1, self.out_dim)
