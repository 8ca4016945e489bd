"""World-model predictor p_psi(s_{0:t}, z_t) -> s_{t+1}.

A ViT over all steps' tokens with 3D RoPE and a block-causal mask over steps, so
output step t uses states <= t only; each step is conditioned on its own latent
z_t through AdaLN-zero blocks (the paper's per-frame variant of DiT's AdaLN-zero).
Output step t is the prediction of s_{t+1} (teacher forcing: all steps at once).
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax.numpy as jnp

from lawm_jax.models.attention import grid_positions, step_causal_mask
from lawm_jax.models.layers import AdaLNZeroBlock, config_layers, layer_norm


@dataclasses.dataclass(frozen=True)
class PredictorConfig:
    width: int = 1024
    depth: int = 24
    num_heads: int = 16
    mlp_hidden: int = 4096
    # Predict s_{t+1} - s_t instead of s_{t+1} (output head zero-initialised, so the
    # untrained model copies the last state). A departure from the paper; see DESIGN.md.
    residual: bool = False
    # AdaLN-zero (the paper's): the latent's modulation starts at zero, so every block
    # starts as the identity; False starts it small and random (DiT's "adaLN" ablation).
    adaln_zero: bool = True
    dtype: str = "float32"
    remat: bool = False
    scan: bool = False  # scan over layers: compile time independent of depth


class Predictor(nn.Module):
    """States (B, T, N, D) and latents (B, T, A) -> predicted next states (B, T, N, D)."""

    config: PredictorConfig
    grid: tuple[int, int]

    @nn.compact
    def __call__(self, states_BTND, latents_BTA, cache_steps: int | None = None, start_step=0):
        """With cache_steps (rollouts; apply with mutable=["cache"]): the inputs are steps
        start_step .. start_step + T - 1 of a sequence of cache_steps steps whose earlier
        steps' keys and values are in the "cache" collection (absent on the first call,
        which must start at step 0). Outputs only the inputs' steps."""
        cfg = self.config
        dtype = jnp.dtype(cfg.dtype)
        b, t, n, d = states_BTND.shape
        if latents_BTA.shape[:2] != (b, t):
            raise ValueError(f"latents {latents_BTA.shape} do not match states {states_BTND.shape}: "
                             "one latent per predicted step is needed")
        x = nn.Dense(cfg.width, dtype=dtype, name="embed")(states_BTND)
        cond = nn.Dense(cfg.width, dtype=dtype, name="action_embed")(latents_BTA.astype(jnp.float32))
        positions = grid_positions(t, *self.grid)
        mask, cache_at = None, None  # no mask: block-causal over steps (step_tokens)
        if cache_steps is not None:  # the new steps against the whole cache
            positions = positions + jnp.array([1.0, 0.0, 0.0]) * start_step
            mask, cache_at = step_causal_mask(t, n, start_step, cache_steps), start_step * n
        x = config_layers(AdaLNZeroBlock, cfg, x, cond, mask, positions, cache_at, step_tokens=n,
                          zero_start=cfg.adaln_zero)
        x = layer_norm("norm")(x)
        head_init = nn.initializers.zeros if cfg.residual else nn.initializers.lecun_normal()
        out = nn.Dense(d, dtype=jnp.float32, kernel_init=head_init, name="proj")(x)
        return states_BTND.astype(jnp.float32) + out if cfg.residual else out
