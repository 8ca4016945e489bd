"""Controller c(a_t, s_t) -> z_t: real actions to latent actions (paper §7, App. A, Fig. 9).

  attention  the paper's: the real action, embedded by a 3-layer MLP to the width, is
             one query token that cross-attends to the previous state's tokens after
             two self-attention blocks over them; a Linear maps it to the latent.
             Latent actions are camera-relative, so the right latent depends on where
             things are: the state is needed.
  mlp        action only (3-layer MLP, then the Linear): the paper reports it collapses
             to a latent that means "no movement".
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp

from lawm_jax.models.attention import grid_positions
from lawm_jax.models.layers import Block, CrossBlock, config_layers, layer_norm

KINDS = ("attention", "mlp")


@dataclasses.dataclass(frozen=True)
class ControllerConfig:
    kind: str = "attention"
    width: int = 1024
    depth: int = 2  # self-attention blocks over the state's tokens
    num_heads: int = 16
    mlp_hidden: int = 4096
    dtype: str = "float32"
    remat: bool = False
    scan: bool = False


class Controller(nn.Module):
    """States (B, N, D) and actions (B, A) -> latent actions (B, latent_dim)."""

    config: ControllerConfig
    latent_dim: int
    grid: tuple[int, int]

    @nn.compact
    def __call__(self, states_BND, actions_BA):
        cfg = self.config
        dtype = jnp.dtype(cfg.dtype)
        a = actions_BA.astype(jnp.float32)
        for i in range(3):  # the action embedding: 3-layer MLP to the width
            a = nn.Dense(cfg.width, dtype=dtype, name=f"action_mlp_{i}")(a)
            a = nn.gelu(a, approximate=False) if i < 2 else a
        if cfg.kind == "attention":
            x = nn.Dense(cfg.width, dtype=dtype, name="embed")(states_BND)
            x = config_layers(Block, cfg, x, None, grid_positions(1, *self.grid))
            kwargs = dict(width=cfg.width, num_heads=cfg.num_heads, mlp_hidden=cfg.mlp_hidden, dtype=dtype)
            a = CrossBlock(**kwargs, name="cross")(a[:, None], x)[:, 0]
        elif cfg.kind != "mlp":
            raise ValueError(f"controller kind {cfg.kind!r}: choose one of {KINDS}")
        return nn.Dense(self.latent_dim, dtype=jnp.float32, name="head")(layer_norm("norm")(a))


def apply_steps(controller: Controller, params, states_BTND, actions_BTA):
    """The controller on every step of a batch of sequences: (B, T, N, D), (B, T, A) ->
    (B, T, latent_dim), z_t from s_t and a_t."""
    b, t = actions_BTA.shape[:2]
    z = controller.apply({"params": params}, states_BTND.reshape(b * t, *states_BTND.shape[2:]),
                         actions_BTA.reshape(b * t, -1))
    return z.reshape(b, t, -1)


def init_controller(controller: Controller, tokens: int, width: int, action_dim: int, rng):
    """Fresh parameters for states of `tokens` tokens of `width` and `action_dim` actions."""
    return jax.jit(controller.init)(rng, jnp.zeros((1, tokens, width)), jnp.zeros((1, action_dim)))["params"]
