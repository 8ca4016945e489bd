"""The one attention of the project: 3D RoPE in V-JEPA 2's layout and step masks.

Tokens of a video are laid out step-major: a sequence of L = T * N tokens holds
step 0's N = h * w patch tokens first (row-major), then step 1's, and so on.
Dimension letters: B batch, T steps, N tokens per step, L = T * N, D width,
H heads, K head dim.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def grid_positions(steps: int, height: int, width: int) -> np.ndarray:
    """Integer (t, h, w) positions of a step-major token grid, shape (L, 3)."""
    t, h, w = np.meshgrid(np.arange(steps), np.arange(height), np.arange(width), indexing="ij")
    return np.stack([t.ravel(), h.ravel(), w.ravel()], axis=-1).astype(np.float32)


def rope_axis_dim(head_dim: int) -> int:
    """Channels rotated per axis: 2 * floor(floor(K / 3) / 2), as V-JEPA 2 does."""
    return 2 * ((head_dim // 3) // 2)


def _rotate(x, pos):
    """Rotates channel pairs (2i, 2i+1) of x[..., L, d] by angles pos[L] * omega.

    V-JEPA 2's layout, kept for checkpoint compatibility: the d/2 frequencies are
    tiled (repeated whole), not interleaved, so channel j turns at frequency
    omega[j mod d/2] and the two channels of a pair turn at different rates. The
    reference calls this a known bug; pretrained weights only match with it.
    """
    d = x.shape[-1]
    omega = 1.0 / 10000.0 ** (jnp.arange(d // 2, dtype=jnp.float32) / (d / 2.0))
    angle = pos[:, None] * omega[None, :]  # (L, d/2)
    cos = jnp.tile(jnp.cos(angle), (1, 2)).astype(x.dtype)
    sin = jnp.tile(jnp.sin(angle), (1, 2)).astype(x.dtype)
    pairs = x.reshape(*x.shape[:-1], d // 2, 2)
    swapped = jnp.stack([-pairs[..., 1], pairs[..., 0]], axis=-1).reshape(x.shape)
    return x * cos + swapped * sin


def apply_rope(x_BLHK, positions_L3):
    """3D RoPE: the first three chunks of the head dim turn with t, h, w; the rest stay."""
    d = rope_axis_dim(x_BLHK.shape[-1])
    x = jnp.moveaxis(x_BLHK, -2, -3)  # (B, H, L, K): positions broadcast over heads
    parts = [_rotate(x[..., i * d:(i + 1) * d], positions_L3[:, i]) for i in range(3)]
    parts.append(x[..., 3 * d:])
    return jnp.moveaxis(jnp.concatenate(parts, axis=-1), -3, -2)


def step_causal_mask(steps: int, tokens_per_step: int, start=0, key_steps: int | None = None):
    """Block-causal mask (steps * N, key_steps * N): a query token of step start + i
    attends to every key token of steps <= start + i.

    Keys default to the queries' own steps (start 0, a square mask). With a key/value
    cache the queries are the newest steps and the keys the whole cache; `start` may
    then be traced. A numpy constant when start is a Python int.
    """
    xp = np if isinstance(start, int) else jnp
    query_step = start + xp.repeat(xp.arange(steps), tokens_per_step)
    key_step = xp.repeat(xp.arange(steps if key_steps is None else key_steps), tokens_per_step)
    return query_step[:, None] >= key_step[None, :]


def dot_product_attention(q_BLHK, k_BSHK, v_BSHK, mask=None):
    """softmax(q k^T / sqrt(K)) v over heads, softmax in float32; mask True = attend.

    On a GPU with bf16/fp16 inputs: jax.nn.dot_product_attention's cuDNN fused (flash)
    kernel, which takes the block-causal mask as a boolean mask (XLA's path where cuDNN
    refuses a shape). Elsewhere two einsums and a softmax: on CPU this ran 0.65x the time
    forward and 0.75x forward + backward of jax.nn.dot_product_attention's XLA path, whose grouped-query
    vmap and reshapes cost more than the products (docs/PERFORMANCE.md).
    """
    if mask is not None:
        mask = jnp.asarray(mask, bool)
        mask = jnp.broadcast_to(mask, (1,) * (4 - mask.ndim) + mask.shape)
    if jax.default_backend() == "gpu" and q_BLHK.dtype in (jnp.bfloat16, jnp.float16):
        try:
            return jax.nn.dot_product_attention(q_BLHK, k_BSHK, v_BSHK, mask=mask, implementation="cudnn")
        except Exception:  # noqa: BLE001 - unsupported shape/dtype/GPU: XLA's fused path
            return jax.nn.dot_product_attention(q_BLHK, k_BSHK, v_BSHK, mask=mask, implementation="xla")
    scale = np.float32(1.0 / np.sqrt(q_BLHK.shape[-1])).astype(q_BLHK.dtype)
    logits = jnp.einsum("bqhk,bshk->bhqs", q_BLHK * scale, k_BSHK,
                        preferred_element_type=jnp.float32)
    if mask is not None:
        logits = jnp.where(mask, logits, jnp.finfo(jnp.float32).min)
    weights = jax.nn.softmax(logits, axis=-1).astype(v_BSHK.dtype)
    return jnp.einsum("bhqs,bshk->bqhk", weights, v_BSHK)


def step_causal_attention(q_BLHK, k_BLHK, v_BLHK, tokens_per_step: int):
    """Block-causal self-attention computing only the blocks the mask keeps: the queries
    of step t attend to the keys of steps 0..t, step by step, so the products cover
    (T + 1) / 2T of the dense ones (56 % at 8 steps). Equal to dot_product_attention
    with step_causal_mask; on CPU 0.70x its time forward and 0.64x forward + backward at
    8 steps of 64 tokens (docs/PERFORMANCE.md).
    """
    n = tokens_per_step
    steps = q_BLHK.shape[1] // n
    outs = [dot_product_attention(q_BLHK[:, t * n:(t + 1) * n], k_BLHK[:, :(t + 1) * n], v_BLHK[:, :(t + 1) * n])
            for t in range(steps)]
    return jnp.concatenate(outs, axis=1)


class Attention(nn.Module):
    """Multi-head attention with separate q/k/v projections (Hugging Face's layout).

    Self-attention when `context` is None, else cross-attention from x to context.
    RoPE is applied when positions are given (q and kv positions may differ).

    Key/value cache (autoregressive rollouts): with `cache_at` (a token offset, may be
    traced) this call's keys and values are written at that offset of a cache in the
    "cache" collection, and the queries attend to the whole cache. The cache's length
    is the mask's last dimension (the mask hides slots not yet written), so the first
    call, with the cache absent, creates it zero-filled at that length.

    step_tokens > 0 (and no mask given): block-causal over steps of that many tokens,
    only the unmasked blocks computed (step_causal_attention).
    """

    width: int
    num_heads: int
    qkv_bias: bool = True
    dtype: jnp.dtype = jnp.float32
    step_tokens: int = 0

    @nn.compact
    def __call__(self, x_BLD, mask=None, positions=None, context=None, context_positions=None,
                 cache_at=None):
        if self.width % self.num_heads:
            raise ValueError(f"width {self.width} is not divisible by num_heads {self.num_heads}")
        head_dim = self.width // self.num_heads
        kv_in = x_BLD if context is None else context
        kv_positions = positions if context is None else context_positions
        dense = lambda name, bias: nn.DenseGeneral(  # noqa: E731
            (self.num_heads, head_dim), use_bias=bias, dtype=self.dtype, name=name)
        q = dense("query", self.qkv_bias)(x_BLD)
        k = dense("key", self.qkv_bias)(kv_in)
        v = dense("value", self.qkv_bias)(kv_in)
        if positions is not None:
            q = apply_rope(q, positions)
        if kv_positions is not None:
            k = apply_rope(k, kv_positions)
        if cache_at is not None:
            if mask is None:
                raise ValueError("a key/value cache needs the mask over the whole cache")
            cache_shape = (k.shape[0], mask.shape[-1], *k.shape[2:])
            keys = self.variable("cache", "cached_key", jnp.zeros, cache_shape, k.dtype)
            values = self.variable("cache", "cached_value", jnp.zeros, cache_shape, v.dtype)
            keys.value = jax.lax.dynamic_update_slice_in_dim(keys.value, k, cache_at, axis=1)
            values.value = jax.lax.dynamic_update_slice_in_dim(values.value, v, cache_at, axis=1)
            k, v = keys.value, values.value
        if mask is None and self.step_tokens and context is None:
            out = step_causal_attention(q, k, v, self.step_tokens)
        else:
            out = dot_product_attention(q, k, v, mask)
        return nn.DenseGeneral(self.width, axis=(-2, -1), dtype=self.dtype, name="proj")(out)
