"""Each bottleneck against hand-computed values; global-batch statistics under sharding."""
import functools
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import AxisType, NamedSharding, PartitionSpec as P

from lawm_jax.models import bottlenecks
from lawm_jax.models.bottlenecks import BottleneckConfig


def test_sparse_loss_by_hand():
    z = jnp.array([[0.5, 0.0], [0.0, 1.0], [-0.5, 0.0], [1.0, 1.0]])
    cfg = BottleneckConfig(kind="sparse", latent_dim=2, l1=0.5, l2=1.0, var_coef=0.1,
                           cov_coef=0.001, mean_coef=0.1, var_eps=0.0)
    loss, m = bottlenecks.sparse_loss(z, cfg)
    # Worked by hand: per-dim unbiased variances 5/12 and 1/3, covariance 1/6,
    # batch means 0.25 and 0.5, squared norms 0.25, 1, 0.25, 2 against sqrt(2).
    energy = ((3 * math.sqrt(2) - 1.5) + 0.5 * 4.0) / 4
    var_term = ((1 - math.sqrt(5 / 12)) + (1 - math.sqrt(1 / 3))) / 2
    cov_term = 2 * (1 / 6) ** 2 / 2
    mean_term = (0.25 ** 2 + 0.5 ** 2) / 2
    assert m["energy"] == pytest.approx(energy, rel=1e-6)
    assert m["var_term"] == pytest.approx(var_term, rel=1e-6)
    assert m["cov_term"] == pytest.approx(cov_term, rel=1e-5)
    assert m["mean_term"] == pytest.approx(mean_term, rel=1e-6)
    assert loss == pytest.approx(1.24017058, rel=1e-6)
    out = bottlenecks.apply(cfg, {}, z, jax.random.key(0))
    np.testing.assert_array_equal(np.asarray(out.z), np.asarray(z))  # sparse: z is the raw output


def test_sparse_mean_term_cannot_diverge():
    """The printed signed mean term would reward z -> -inf; ours grows instead."""
    cfg = BottleneckConfig(kind="sparse", latent_dim=4, l1=0.0, l2=0.0, var_coef=0.0, cov_coef=0.0)
    base = jax.random.normal(jax.random.key(0), (64, 4))
    losses = [float(bottlenecks.sparse_loss(base - shift, cfg)[0]) for shift in (0.0, 10.0, 100.0)]
    assert losses[0] < losses[1] < losses[2]


def test_noisy_kl_by_hand_and_mean_at_inference():
    raw = jnp.array([[1.0, 0.0, 0.0, math.log(2.0)], [0.0, 0.0, 0.0, 0.0]])  # (mu | logvar)
    cfg = BottleneckConfig(kind="noisy", latent_dim=2, beta=0.1)
    out = bottlenecks.apply(cfg, {}, raw, jax.random.key(0), train=True)
    kl = (0.5 * (1 + 1 - 0 - 1) + 0.5 * (0 + 2 - math.log(2) - 1) + 0.0) / 2  # mean over latents
    assert out.metrics["kl"] == pytest.approx(kl, rel=1e-6)
    assert out.loss == pytest.approx(0.1 * kl, rel=1e-6)
    eps = jax.random.normal(jax.random.key(0), (2, 2))
    sigma = np.array([[1.0, math.sqrt(2)], [1.0, 1.0]])
    np.testing.assert_allclose(np.asarray(out.z), np.array([[1.0, 0.0], [0.0, 0.0]]) + sigma * eps, rtol=1e-6)
    mean = bottlenecks.apply(cfg, {}, raw, None, train=False)
    np.testing.assert_array_equal(np.asarray(mean.z), np.array([[1.0, 0.0], [0.0, 0.0]]))


def test_vq_by_hand_with_straight_through_gradient():
    cfg = BottleneckConfig(kind="vq", latent_dim=2, codebook_size=3, commitment=0.25)
    codebook = jnp.array([[0.0, 0.0], [1.0, 1.0], [3.0, 0.0]])
    x = jnp.array([[0.9, 1.2], [2.0, 0.0]])
    out = bottlenecks.apply(cfg, {"codebook": codebook}, x, None)
    np.testing.assert_array_equal(np.asarray(out.codes), [1, 2])
    np.testing.assert_allclose(np.asarray(out.z), [[1.0, 1.0], [3.0, 0.0]], atol=1e-6)
    assert out.loss == pytest.approx((0.05 + 1.0) / 4 * 1.25, rel=1e-5)
    w = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    grad = jax.grad(lambda r: jnp.sum(bottlenecks.apply(cfg, {"codebook": codebook}, r, None).z * w))(x)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(w))  # straight through


def test_vq_dead_code_reset_replaces_unused_codes():
    cfg = BottleneckConfig(kind="vq", latent_dim=2, codebook_size=4, reset_every=3)
    codebook = jnp.array([[0.0, 0.0], [5.0, 5.0], [6.0, 6.0], [7.0, 7.0]])
    x = 0.1 * jax.random.normal(jax.random.key(0), (16, 2))  # every latent is nearest code 0
    state = bottlenecks.init_state(cfg)
    for step in range(3):
        out = bottlenecks.apply(cfg, {"codebook": codebook}, x, None)
        assert (np.asarray(out.codes) == 0).all()
        new_codebook, state, m = bottlenecks.vq_update(cfg, codebook, state, out.codes, out.raw,
                                                       jnp.asarray(step), jax.random.key(step))
        if step < 2:  # no reset yet: nothing changes, usage accumulates
            np.testing.assert_array_equal(np.asarray(new_codebook), np.asarray(codebook))
            assert float(state["usage"][0]) == 16 * (step + 1)
        codebook = new_codebook
    assert int(m["codes_reset"]) == 3
    np.testing.assert_array_equal(np.asarray(codebook[0]), [0.0, 0.0])  # the live code stays
    rows = {tuple(r) for r in np.asarray(x).round(6)}
    assert all(tuple(r) in rows for r in np.asarray(codebook[1:]).round(6))  # drawn from the batch
    np.testing.assert_array_equal(np.asarray(state["usage"]), 0.0)
    after = bottlenecks.apply(cfg, {"codebook": codebook}, x, None)
    assert len(np.unique(np.asarray(after.codes))) > 1  # the reset codes now win latents


@functools.lru_cache
def data_mesh():
    assert jax.device_count() >= 4, "conftest sets 4 simulated CPU devices"
    return jax.make_mesh((4,), ("data",), axis_types=(AxisType.Auto,))


@pytest.mark.parametrize("kind", ["sparse", "noisy", "vq"])
def test_batch_statistics_are_global_under_sharding(kind):
    """Loss, metrics and gradients are the same on 1 device and with the batch split over 4
    devices, both under jit with a sharded input and inside shard_map with psums."""
    cfg = BottleneckConfig(kind=kind, latent_dim=5, codebook_size=7, l1=0.05)
    raw = jax.random.normal(jax.random.key(1), (8, 3, bottlenecks.raw_dim(cfg)))
    params = bottlenecks.init_params(cfg, jax.random.key(2))
    rng = jax.random.key(3)

    def loss(raw, axis_name=None):
        out = bottlenecks.apply(cfg, params, raw, rng, train=False, axis_name=axis_name)
        return out.loss, out.metrics

    (want, want_m), want_g = jax.value_and_grad(loss, has_aux=True)(raw)
    mesh = data_mesh()
    sharded = jax.device_put(raw, NamedSharding(mesh, P("data")))
    (got, got_m), got_g = jax.jit(jax.value_and_grad(loss, has_aux=True))(sharded)
    chex.assert_trees_all_close((got, got_m, got_g), (want, want_m, want_g), atol=1e-6)

    def per_device(raw_shard):
        return jax.value_and_grad(functools.partial(loss, axis_name="data"), has_aux=True)(raw_shard)

    sm = jax.shard_map(per_device, mesh=mesh, in_specs=P("data"),
                       out_specs=((P(), P()), P("data")))
    (got, got_m), got_g = jax.jit(sm)(sharded)
    # Each shard's gradient is of the global loss with respect to its own rows.
    chex.assert_trees_all_close((got, got_m, got_g), (want, want_m, want_g), atol=1e-6)
    if kind == "sparse":  # the statistic really is non-local: per-shard values differ
        local = float(loss(raw[:2])[0])
        assert abs(local - float(want)) > 1e-3


def test_raw_dims():
    assert bottlenecks.raw_dim(BottleneckConfig(kind="noisy", latent_dim=8)) == 16
    assert bottlenecks.raw_dim(BottleneckConfig(kind="deterministic", latent_dim=8)) == 0
    assert bottlenecks.raw_dim(BottleneckConfig(kind="vq", latent_dim=8)) == 8
    with pytest.raises(ValueError, match="unknown bottleneck kind"):
        bottlenecks.apply(BottleneckConfig(kind="gumbel"), {}, jnp.zeros((2, 8)), None)
