import jax
import jax.numpy as jnp
import numpy as np

from lawm_jax.models.attention import apply_rope, grid_positions, rope_axis_dim, step_causal_mask


def reference_rope(x, pos_t, pos_h, pos_w):
    """Direct transcription of V-JEPA 2's rotate_queries_or_keys per axis chunk, written
    channel by channel: channel j of a chunk of d turns at omega[j mod d/2]."""
    k = x.shape[-1]
    d = 2 * ((k // 3) // 2)
    out = np.array(x, np.float64)
    for axis, pos in enumerate((pos_t, pos_h, pos_w)):
        for j in range(d):
            omega = 1.0 / 10000 ** ((j % (d // 2)) / (d / 2))
            c = axis * d + j
            partner = c + 1 if j % 2 == 0 else c - 1
            sign = -1.0 if j % 2 == 0 else 1.0
            angle = pos[:, None] * omega  # (L, 1) broadcast over heads
            out[..., c] = x[..., c] * np.cos(angle) + sign * x[..., partner] * np.sin(angle)
    return out


def test_rope_matches_the_reference_layout_channel_by_channel():
    x = np.asarray(jax.random.normal(jax.random.key(0), (2, 12, 3, 26)))  # (B, L, H, K)
    pos = grid_positions(2, 3, 2)
    got = apply_rope(jnp.asarray(x), pos)
    want = reference_rope(x, pos[:, 0], pos[:, 1], pos[:, 2])
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-5)
    assert rope_axis_dim(26) == 8 and rope_axis_dim(64) == 20


def test_rope_leaves_unrotated_channels_and_position_zero_alone():
    x = jax.random.normal(jax.random.key(1), (1, 6, 2, 26))
    out = apply_rope(x, grid_positions(1, 3, 2))
    np.testing.assert_array_equal(np.asarray(out[..., 24:]), np.asarray(x[..., 24:]))
    np.testing.assert_allclose(np.asarray(out[:, 0]), np.asarray(x[:, 0]), atol=1e-6)  # (0,0,0)
    assert not np.allclose(np.asarray(out[:, 1:, :, :24]), np.asarray(x[:, 1:, :, :24]))


def test_grid_positions_are_step_major_row_major():
    pos = grid_positions(2, 2, 3)
    assert pos.shape == (12, 3)
    np.testing.assert_array_equal(pos[:6, 0], 0)
    np.testing.assert_array_equal(pos[6:, 0], 1)
    np.testing.assert_array_equal(pos[:6, 1], [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(pos[:6, 2], [0, 1, 2, 0, 1, 2])


def test_step_causal_mask():
    m = step_causal_mask(3, 2)
    assert m.shape == (6, 6)
    assert m[0, 1] and m[1, 0]          # same step: both ways
    assert m[2, 0] and not m[0, 2]      # step 1 sees step 0, not the reverse
    assert m[5].all() and m[:2, 2:].sum() == 0


def test_step_causal_mask_for_new_steps_against_a_cache():
    """Queries of steps 2..3 against keys of steps 0..4 (a cache of 5 steps, 2 tokens each)."""
    m = step_causal_mask(2, 2, start=2, key_steps=5)
    assert m.shape == (4, 10)
    np.testing.assert_array_equal(m[0], [1] * 6 + [0] * 4)   # step 2 sees steps 0..2
    np.testing.assert_array_equal(m[3], [1] * 8 + [0] * 2)   # step 3 sees steps 0..3
    traced = jax.jit(lambda s: step_causal_mask(2, 2, start=s, key_steps=5))(2)
    np.testing.assert_array_equal(traced, m)


def test_block_sparse_step_causal_attention_equals_the_masked_dense_one():
    """Computing only the blocks the mask keeps gives the dense masked attention."""
    from lawm_jax.models.attention import dot_product_attention, step_causal_attention
    steps, n = 5, 3
    q, k, v = (jax.random.normal(jax.random.key(i), (2, steps * n, 2, 8)) for i in range(3))
    dense = dot_product_attention(q, k, v, step_causal_mask(steps, n))
    np.testing.assert_allclose(step_causal_attention(q, k, v, n), dense, atol=1e-5)
    # ...and differs from attention without the mask.
    assert np.abs(np.asarray(dot_product_attention(q, k, v) - dense)).max() > 0.1


def test_blocked_attention_equals_the_dense_one_forward_and_backward():
    """The online softmax over key blocks (and its FlashAttention-2 backward) gives the
    dense einsum attention's outputs and gradients: bidirectional and block-causal, keys
    not a multiple of the block (padding), one block or several, float32 and bf16."""
    from lawm_jax.models.attention import blocked_attention, dot_product_attention
    cases = [(2, 35, 3, 8, 16, 7), (1, 37, 2, 6, 16, 0), (2, 64, 2, 8, 64, 16), (1, 48, 2, 8, 8, 4)]
    for b, length, heads, dim, block, tokens_per_step in cases:
        q, k, v = (jax.random.normal(jax.random.key(i), (b, length, heads, dim)) for i in range(3))
        mask = step_causal_mask(length // tokens_per_step, tokens_per_step) if tokens_per_step else None
        dense = lambda q, k, v, mask=mask: dot_product_attention(q, k, v, mask)  # noqa: E731
        blocked = lambda q, k, v, block=block, t=tokens_per_step: blocked_attention(q, k, v, block, t)  # noqa: E731
        np.testing.assert_allclose(blocked(q, k, v), dense(q, k, v), atol=2e-6)
        # A loss that weighs every output differently, so that no gradient is trivial.
        loss = lambda f: lambda q, k, v: jnp.sum(jnp.sin(3 * f(q, k, v)))  # noqa: E731
        grads_dense = jax.grad(loss(dense), argnums=(0, 1, 2))(q, k, v)
        grads_blocked = jax.jit(jax.grad(loss(blocked), argnums=(0, 1, 2)))(q, k, v)
        for gd, gb in zip(grads_dense, grads_blocked):
            assert float(jnp.abs(gd).max()) > 1e-2
            np.testing.assert_allclose(gb, gd, atol=5e-6 * float(jnp.abs(gd).max()) + 1e-6)
        if tokens_per_step:  # the mask matters: the last key's gradient comes from its own step only
            assert np.abs(np.asarray(blocked(q, k, v) - dot_product_attention(q, k, v))).max() > 0.1
    # dot_product_attention takes the blocked path on the CPU from BLOCKED_MIN_KEYS keys:
    # still the attention of jax.nn's reference implementation
    from lawm_jax.models.attention import BLOCKED_MIN_KEYS
    q, k, v = (jax.random.normal(jax.random.key(i), (1, BLOCKED_MIN_KEYS + 3, 1, 4)) for i in range(3))
    np.testing.assert_allclose(dot_product_attention(q, k, v),
                               jax.nn.dot_product_attention(q, k, v, implementation="xla"), atol=2e-6)
    # bf16 inputs: the same as the dense bf16 path, to bf16's precision
    q, k, v = (jax.random.normal(jax.random.key(i), (1, 40, 2, 8), jnp.bfloat16) for i in range(3))
    out = blocked_attention(q, k, v, 16, 8)
    assert out.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(out, np.float32),
                               np.asarray(dot_product_attention(q, k, v, step_causal_mask(5, 8)), np.float32),
                               atol=2e-2)
