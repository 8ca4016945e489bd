"""The one attention of the project: 3D RoPE in V-JEPA 2's layout and step masks.

Tokens of a video are laid out step-major: a sequence of L = T * N tokens holds
step 0's N = h * w patch tokens first (row-major), then step 1's, and so on.
Dimension letters: B batch, T steps, N tokens per step, L = T * N, D width,
H heads, K head dim.
"""
from __future__ import annotations

import functools

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


BLOCKED_MIN_KEYS = 1024  # dot_product_attention on the CPU: blocked from here (measured)


def _key_blocks(x_BSHK, block: int):
    """(S / block rounded up, B, H, block, K): the keys or values cut into blocks, the
    last one zero-padded."""
    b, s, h, k = x_BSHK.shape
    nb = -(-s // block)
    x = jnp.pad(x_BSHK, ((0, 0), (0, nb * block - s), (0, 0), (0, 0)))
    return x.reshape(b, nb, block, h, k).transpose(1, 0, 3, 2, 4)


def _blocked_inputs(q_BLHK, k_BSHK, v_BSHK, block: int):
    """(scaled queries (B, H, L, K), key blocks, value blocks, key positions per block):
    what the blocked forward and backward scan over."""
    scale = np.float32(1.0 / np.sqrt(q_BLHK.shape[-1])).astype(q_BLHK.dtype)
    kb, vb = _key_blocks(k_BSHK, block), _key_blocks(v_BSHK, block)
    return (jnp.transpose(q_BLHK * scale, (0, 2, 1, 3)), kb, vb,
            jnp.arange(kb.shape[0] * block).reshape(-1, block))


def _block_logits(qh_BHLK, k_BHSK, positions_S, keys: int, tokens_per_step: int):
    """Scaled logits of all queries against one key block, float32, with the keys past
    the end (padding) and, block-causal, the keys of later steps at float32's minimum."""
    logits = jnp.einsum("bhqk,bhsk->bhqs", qh_BHLK, k_BHSK, preferred_element_type=jnp.float32)
    keep = positions_S < keys
    if tokens_per_step:
        query_step = jnp.arange(qh_BHLK.shape[2]) // tokens_per_step
        keep = keep[None, :] & (positions_S[None, :] // tokens_per_step <= query_step[:, None])
    return jnp.where(keep, logits, jnp.finfo(jnp.float32).min)


def _blocked_forward(q_BLHK, k_BSHK, v_BSHK, block, tokens_per_step):
    """(out, log-sum-exp per query): a scan over key blocks keeping, per query, the running
    maximum m, the softmax's running denominator l and the running weighted sum of values."""
    b, length, h, _ = q_BLHK.shape
    keys = k_BSHK.shape[1]
    qh, kb, vb, positions = _blocked_inputs(q_BLHK, k_BSHK, v_BSHK, block)

    def step(carry, xs):
        m, l, acc = carry
        k, v, pos = xs
        logits = _block_logits(qh, k, pos, keys, tokens_per_step)
        m_new = jnp.maximum(m, logits.max(-1))
        weights = jnp.exp(logits - m_new[..., None])
        shrink = jnp.exp(m - m_new)  # rescales what was summed under the old maximum
        acc = acc * shrink[..., None] + jnp.einsum("bhqs,bhsk->bhqk", weights.astype(v.dtype), v,
                                                   preferred_element_type=jnp.float32)
        return (m_new, l * shrink + weights.sum(-1), acc), None

    init = (jnp.full((b, h, length), jnp.finfo(jnp.float32).min), jnp.zeros((b, h, length)),
            jnp.zeros((b, h, length, v_BSHK.shape[-1])))
    (m, l, acc), _ = jax.lax.scan(step, init, (kb, vb, positions))
    out = jnp.transpose(acc / l[..., None], (0, 2, 1, 3)).astype(q_BLHK.dtype)
    return out, m + jnp.log(l)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def blocked_attention(q_BLHK, k_BSHK, v_BSHK, block: int = 512, tokens_per_step: int = 0,
                      backward_block: int = 256):
    """dot_product_attention (no mask), or block-causal over steps of tokens_per_step
    tokens (queries and keys the same sequence), computed one block of keys at a time with
    an online softmax: memory O(L x block) instead of O(L x S). The backward is
    FlashAttention-2's, over blocks of backward_block keys: it recomputes each block's
    weights from the saved log-sum-exp instead of storing them. The default blocks were
    the fastest on the 2-core CPU at 2,048 tokens (forward 512, backward 256 keys);
    dot_product_attention takes this path where it measured faster (docs/PERFORMANCE.md)."""
    return _blocked_forward(q_BLHK, k_BSHK, v_BSHK, block, tokens_per_step)[0]


def _blocked_fwd(q, k, v, block, tokens_per_step, backward_block):
    out, lse = _blocked_forward(q, k, v, block, tokens_per_step)
    return out, (q, k, v, out, lse)


def _blocked_bwd(_, tokens_per_step, block, residuals, d_out_BLHK):
    q, k, v, out, lse = residuals
    keys = k.shape[1]
    scale = np.float32(1.0 / np.sqrt(q.shape[-1]))
    qh, kb, vb, positions = _blocked_inputs(q, k, v, block)
    d_out = jnp.transpose(d_out_BLHK, (0, 2, 1, 3))
    # D = rowsum(dO * O): the softmax's backward in one number per query
    delta = jnp.einsum("bhqk,bqhk->bhq", d_out.astype(jnp.float32), out.astype(jnp.float32))

    def step(dq, xs):
        kj, vj, pos = xs
        weights = jnp.exp(_block_logits(qh, kj, pos, keys, tokens_per_step) - lse[..., None])
        dv = jnp.einsum("bhqs,bhqk->bhsk", weights.astype(d_out.dtype), d_out, preferred_element_type=jnp.float32)
        dw = jnp.einsum("bhqk,bhsk->bhqs", d_out, vj, preferred_element_type=jnp.float32)
        dlogits = (weights * (dw - delta[..., None])).astype(q.dtype)
        dq = dq + jnp.einsum("bhqs,bhsk->bhqk", dlogits, kj, preferred_element_type=jnp.float32)
        dk = jnp.einsum("bhqs,bhqk->bhsk", dlogits, qh, preferred_element_type=jnp.float32)
        return dq, (dk, dv)

    dq, (dk, dv) = jax.lax.scan(step, jnp.zeros(qh.shape, jnp.float32), (kb, vb, positions))
    unblock = lambda x: jnp.transpose(x, (1, 0, 3, 2, 4)).reshape(k.shape[0], -1, *k.shape[2:3], x.shape[-1])[:, :keys]  # noqa: E731
    return (jnp.transpose(dq * scale, (0, 2, 1, 3)).astype(q.dtype), unblock(dk).astype(k.dtype),
            unblock(dv).astype(v.dtype))


blocked_attention.defvjp(_blocked_fwd, _blocked_bwd)


def dot_product_attention(q_BLHK, k_BSHK, v_BSHK, mask=None):
    """softmax(q k^T / sqrt(K)) v over heads, softmax in float32; mask True = attend.

    On a GPU with bf16/fp16 inputs: jax.nn.dot_product_attention's cuDNN fused (flash)
    kernel, which takes the block-causal mask as a boolean mask (XLA's path where cuDNN
    refuses a shape). On the CPU without a mask and with BLOCKED_MIN_KEYS keys or more:
    blocked_attention (an online softmax over key blocks), measured 0.64x the time forward
    and 0.53x forward + backward at 1,024 keys, 0.48x / 0.47x at 2,048, and slower below
    (1.29x forward at 768). Elsewhere two einsums and a softmax: on CPU this ran 0.65x the
    time forward and 0.75x forward + backward of jax.nn.dot_product_attention's XLA path,
    whose grouped-query vmap and reshapes cost more than the products (docs/PERFORMANCE.md).
    """
    if mask is None and k_BSHK.shape[1] >= BLOCKED_MIN_KEYS and jax.default_backend() == "cpu":
        return blocked_attention(q_BLHK, k_BSHK, v_BSHK)
    if mask is not None:
        mask = jnp.asarray(mask, bool)
        mask = jnp.broadcast_to(mask, (1,) * (4 - mask.ndim) + mask.shape)
    if jax.default_backend() == "gpu" and q_BLHK.dtype in (jnp.bfloat16, jnp.float16):
        try:
            return jax.nn.dot_product_attention(q_BLHK, k_BSHK, v_BSHK, mask=mask, implementation="cudnn")
        except Exception:  # noqa: BLE001 - unsupported shape/dtype/GPU: XLA's fused path
            return jax.nn.dot_product_attention(q_BLHK, k_BSHK, v_BSHK, mask=mask, implementation="xla")
    return einsum_attention(q_BLHK, k_BSHK, v_BSHK, mask)


def einsum_attention(q_BLHK, k_BSHK, v_BSHK, mask=None):
    """dot_product_attention's dense path: two einsums and a float32 softmax (mask
    broadcastable to (B, H, L, S), True = attend)."""
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
    8 steps of 64 tokens (docs/PERFORMANCE.md). blocked_attention's block-causal mode
    measured slower forward + backward than this at 8 steps of 64 and of 256 tokens (1.5x,
    1.1x), though faster forward alone at 256 (0.82x), so training keeps this path.
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
