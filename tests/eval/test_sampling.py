"""Latent sampling: each sampler draws from the distribution it claims."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lawm_jax.eval.sampling import latent_sampling, sample_latents, sgld, sparse_energy
from lawm_jax.models.bottlenecks import BottleneckConfig


def test_sgld_samples_the_sparse_energys_gibbs_density():
    """D = 1, where exp(-E) can be integrated on a grid: the histogram of the chains must
    match it (a wrong step, sign or noise scale would not)."""
    cfg = BottleneckConfig(kind="sparse", latent_dim=1, l1=1.0, l2=4.0)
    z = sample_latents(jax.random.key(0), cfg, n=20_000, steps=4000, step_size=5e-3)
    grid = np.linspace(-6, 6, 4001)
    density = np.exp(-np.asarray(sparse_energy(jnp.asarray(grid)[:, None], cfg)))
    density /= np.trapezoid(density, grid)
    edges = np.linspace(-3, 3, 13)
    want = [np.trapezoid(density[(grid >= a) & (grid <= b)], grid[(grid >= a) & (grid <= b)])
            for a, b in zip(edges[:-1], edges[1:])]
    have = np.histogram(np.asarray(z[:, 0]), edges)[0] / len(z)
    np.testing.assert_allclose(have, want, atol=0.01)
    # ... and the test can tell: the chains' N(0, 1) start is far from that density.
    from math import erf, sqrt
    start = [0.5 * (erf(b / sqrt(2)) - erf(a / sqrt(2))) for a, b in zip(edges[:-1], edges[1:])]
    assert np.max(np.abs(np.subtract(start, want))) > 0.05


def test_sgld_lowers_the_energy_of_its_start():
    cfg = BottleneckConfig(kind="sparse", latent_dim=16, l1=0.01, l2=1.0)
    z0 = jax.random.normal(jax.random.key(1), (512, 16)) * 0.1  # inside the hinge: high energy
    z = sgld(jax.random.key(2), lambda v: sparse_energy(v, cfg), z0, steps=500, step_size=1e-2)
    assert float(sparse_energy(z, cfg).mean()) < 0.5 * float(sparse_energy(z0, cfg).mean())


def test_the_sparse_sampler_says_whether_its_chains_converged():
    """At l1 = 0.01 the target is about a Laplace of scale 100 per dimension: 1,000 steps of
    0.01 diffuse only ~3 from the start, and the report must say so; at l1 = 1 (scale 1)
    4,000 steps of 0.05 are plenty."""
    inferred = np.random.default_rng(0).normal(size=(128, 16)).astype(np.float32)
    short = latent_sampling(BottleneckConfig(kind="sparse", latent_dim=16, l1=0.01, l2=1.0), inferred,
                            jax.random.key(0), steps=1000, step_size=0.01)
    assert not short["sgld_converged"] and short["sgld_drift"] > 0.5
    assert short["sgld_scale_steps"] == 1_000_000 and short["sampled_norm"] < 20  # far from the prior's ~140
    long = latent_sampling(BottleneckConfig(kind="sparse", latent_dim=16, l1=1.0, l2=1.0), inferred,
                           jax.random.key(0), steps=4000, step_size=0.05)
    assert long["sgld_converged"] and long["sgld_drift"] < 0.1


def test_noisy_and_vq_samplers():
    z = sample_latents(jax.random.key(0), BottleneckConfig(kind="noisy", latent_dim=8), n=20_000)
    assert abs(float(z.mean())) < 0.02 and abs(float(z.std()) - 1.0) < 0.02
    codebook = jnp.arange(10, dtype=jnp.float32)[:, None] * jnp.ones((1, 3))
    usage = jnp.zeros(10).at[jnp.array([2, 7])].set(5.0)
    cfg = BottleneckConfig(kind="vq", latent_dim=3, codebook_size=10)
    z = sample_latents(jax.random.key(1), cfg, n=1000, codebook=codebook, usage=usage)
    assert set(np.unique(np.asarray(z[:, 0])).tolist()) == {2.0, 7.0}  # only codes in use
    assert len(np.unique(np.asarray(sample_latents(jax.random.key(1), cfg, 1000, codebook)[:, 0]))) == 10
    with pytest.raises(ValueError, match="no code is in use"):
        sample_latents(jax.random.key(1), cfg, 10, codebook, jnp.zeros(10))
    with pytest.raises(ValueError, match="needs the codebook"):
        sample_latents(jax.random.key(1), cfg, 10)
    with pytest.raises(ValueError, match="'unconstrained' has no prior"):
        sample_latents(jax.random.key(1), BottleneckConfig(kind="unconstrained"), 10)
