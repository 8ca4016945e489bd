"""Transformer building blocks shared by every network of the project."""
from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from lawm_jax.models.attention import Attention

LN_EPS = 1e-6  # V-JEPA 2's LayerNorm epsilon, used everywhere for consistency.


class Mlp(nn.Module):
    width: int
    hidden: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x):
        x = nn.Dense(self.hidden, dtype=self.dtype, name="fc1")(x)
        x = nn.gelu(x, approximate=False)  # exact GELU, as Hugging Face's "gelu"
        return nn.Dense(self.width, dtype=self.dtype, name="fc2")(x)


def layer_norm(name=None, affine=True):
    # Statistics in float32 even under bf16 compute.
    return nn.LayerNorm(epsilon=LN_EPS, use_bias=affine, use_scale=affine,
                        dtype=jnp.float32, name=name)


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x)).
    step_tokens > 0: block-causal attention over steps of that many tokens (Attention)."""

    width: int
    num_heads: int
    mlp_hidden: int
    dtype: jnp.dtype = jnp.float32
    step_tokens: int = 0

    @nn.compact
    def __call__(self, x, mask=None, positions=None):
        h = layer_norm("norm1")(x).astype(self.dtype)
        x = x + Attention(self.width, self.num_heads, dtype=self.dtype, step_tokens=self.step_tokens,
                          name="attention")(h, mask=mask, positions=positions)
        h = layer_norm("norm2")(x).astype(self.dtype)
        return x + Mlp(self.width, self.mlp_hidden, dtype=self.dtype, name="mlp")(h)


class CrossBlock(nn.Module):
    """Pre-norm cross-attention block: x + Attn(LN(x) -> LN(context)), then x + MLP(LN(x)).
    The queries x (B, Q, D) read the context tokens (B, L, D); no positions (the context
    carries its own from earlier blocks)."""

    width: int
    num_heads: int
    mlp_hidden: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, x, context):
        h = layer_norm("norm1")(x).astype(self.dtype)
        c = layer_norm("norm_context")(context).astype(self.dtype)
        x = x + Attention(self.width, self.num_heads, dtype=self.dtype, name="attention")(h, context=c)
        h = layer_norm("norm2")(x).astype(self.dtype)
        return x + Mlp(self.width, self.mlp_hidden, dtype=self.dtype, name="mlp")(h)


class AdaLNZeroBlock(nn.Module):
    """Pre-norm block modulated per step by a conditioning vector (DiT's AdaLN-zero).

    cond_BTC holds one vector per step; its shift, scale and gate apply to all of
    that step's tokens. The modulation starts at zero, so at init every gate is 0
    and the block is the identity: the conditioning cannot matter before training
    (zero_start=False: a small random start instead, std 0.02).
    """

    width: int
    num_heads: int
    mlp_hidden: int
    dtype: jnp.dtype = jnp.float32
    step_tokens: int = 0
    zero_start: bool = True

    @nn.compact
    def __call__(self, x_BTND, cond_BTC, mask=None, positions=None, cache_at=None):
        b, t, n, d = x_BTND.shape
        init = nn.initializers.zeros if self.zero_start else nn.initializers.normal(0.02)
        mod = nn.Dense(6 * self.width, kernel_init=init,
                       dtype=self.dtype, name="modulation")(nn.silu(cond_BTC))
        shift1, scale1, gate1, shift2, scale2, gate2 = jnp.split(mod[:, :, None], 6, axis=-1)
        flat = lambda y: y.reshape(b, t * n, d)  # noqa: E731
        h = layer_norm("norm1", affine=False)(x_BTND) * (1 + scale1) + shift1
        attn = Attention(self.width, self.num_heads, dtype=self.dtype, step_tokens=self.step_tokens,
                         name="attention")(flat(h.astype(self.dtype)), mask=mask, positions=positions,
                                           cache_at=cache_at)
        x_BTND = x_BTND + gate1 * attn.reshape(b, t, n, d)
        h = layer_norm("norm2", affine=False)(x_BTND) * (1 + scale2) + shift2
        return x_BTND + gate2 * Mlp(self.width, self.mlp_hidden, dtype=self.dtype, name="mlp")(
            h.astype(self.dtype))


class TubeletEmbed(nn.Module):
    """Conv3D with stride = kernel = (tubelet, patch, patch), written as one matmul.

    Input (B, F, H, W, C); output (B, T, h*w, D) with T = F / tubelet, tokens row-major.
    The kernel is stored (tubelet, patch, patch, C, D), flax's Conv layout.
    """

    width: int
    patch: int
    tubelet: int
    dtype: jnp.dtype = jnp.float32

    @nn.compact
    def __call__(self, video_BFHWC):
        b, f, hh, ww, c = video_BFHWC.shape
        p, q = self.patch, self.tubelet
        if f % q or hh % p or ww % p:
            raise ValueError(f"video of {f} frames of {hh}x{ww} does not tile into tubelets "
                             f"of {q} frames x {p}x{p} pixels")
        x = video_to_tubelets(video_BFHWC, q, p)  # (B, T, h, w, q, p, p, C)
        t, h, w = x.shape[1:4]
        kernel = self.param("kernel", nn.initializers.lecun_normal(), (q, p, p, c, self.width))
        bias = self.param("bias", nn.initializers.zeros, (self.width,))
        x = jnp.einsum("bthwqpoc,qpocd->bthwd", x.astype(self.dtype), kernel.astype(self.dtype))
        return (x + bias.astype(self.dtype)).reshape(b, t, h * w, self.width)


def video_to_tubelets(video_BFHWC, tubelet: int, patch: int):
    """(B, F, H, W, C) -> (B, T, h, w, tubelet, patch, patch, C): the pixels of each token."""
    b, f, hh, ww, c = video_BFHWC.shape
    x = video_BFHWC.reshape(b, f // tubelet, tubelet, hh // patch, patch, ww // patch, patch, c)
    return x.transpose(0, 1, 3, 5, 2, 4, 6, 7)


def tubelets_to_video(x_BThwqppC):
    """The inverse of video_to_tubelets."""
    b, t, h, w, q, p, _, c = x_BThwqppC.shape
    return x_BThwqppC.transpose(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, t * q, h * p, w * p, c)


class _Layer(nn.Module):
    """One block as the body of a scan over layers: returns (carry, no per-layer output)."""

    block_cls: Any
    block_kwargs: Any

    @nn.compact
    def __call__(self, x, *args):
        return self.block_cls(**self.block_kwargs, name="block")(x, *args), None


def apply_layers(block_cls, block_kwargs: dict, depth: int, x, *args, scan: bool = False,
                 remat: bool = False):
    """x through `depth` blocks, each called as block(x, *args), from a compact method.

    Unrolled (scan=False), the parameters are `layer_0 .. layer_{depth-1}`, the layout of
    the V-JEPA 2 import. With scan=True they are one stacked tree `layers/block` with a
    leading depth axis and one block body is compiled: compile time, and the number of
    arrays the optimizer updates, no longer grow with depth. `stack_layers` and
    `unstack_layers` convert between the two. remat recomputes each block's activations
    in the backward pass.
    """
    cls = nn.remat(block_cls) if remat else block_cls
    if not scan:
        for i in range(depth):
            x = cls(**block_kwargs, name=f"layer_{i}")(x, *args)
        return x
    stack = nn.scan(_Layer, variable_axes={"params": 0, "cache": 0}, split_rngs={"params": True},
                    in_axes=nn.broadcast, length=depth)
    return stack(cls, block_kwargs, name="layers")(x, *args)[0]


def config_layers(block_cls, cfg, x, *args, **block_kwargs):
    """apply_layers with the block sizes, dtype, depth, scan and remat a network config
    (encoder, IDM, predictor, decoder) names, and any other block attributes."""
    kwargs = dict(width=cfg.width, num_heads=cfg.num_heads, mlp_hidden=cfg.mlp_hidden, dtype=jnp.dtype(cfg.dtype),
                  **block_kwargs)
    return apply_layers(block_cls, kwargs, cfg.depth, x, *args, scan=cfg.scan, remat=cfg.remat)


def stack_layers(params):
    """Unrolled layout (layer_0 .. layer_N) -> scanned layout (layers/block), wherever
    it occurs in a parameter tree."""
    if not isinstance(params, dict):
        return params
    if "layer_0" in params:
        depth = sum(k.startswith("layer_") for k in params)
        layers = [params[f"layer_{i}"] for i in range(depth)]
        rest = {k: stack_layers(v) for k, v in params.items() if not k.startswith("layer_")}
        return {**rest, "layers": {"block": jax.tree.map(lambda *p: jnp.stack(p), *layers)}}
    return {k: stack_layers(v) for k, v in params.items()}


def unstack_layers(params):
    """Scanned layout (layers/block) -> unrolled layout (layer_0 .. layer_N)."""
    if not isinstance(params, dict):
        return params
    if "layers" in params and isinstance(params["layers"], dict) and "block" in params["layers"]:
        block = params["layers"]["block"]
        depth = jax.tree.leaves(block)[0].shape[0]
        rest = {k: unstack_layers(v) for k, v in params.items() if k != "layers"}
        return {**rest, **{f"layer_{i}": jax.tree.map(lambda p, i=i: p[i], block) for i in range(depth)}}
    return {k: unstack_layers(v) for k, v in params.items()}
