"""Sampling latent actions without a video (paper App. B, Fig. S1).

  noisy   draws from the prior N(0, I) the KL pulls the posterior towards;
  vq      draws codebook entries, optionally only the codes in use;
  sparse  Langevin dynamics (SGLD) on the sparse bottleneck's energy
              E(z) = l2 * max(sqrt(D) - |z|^2, 0) + l1 * |z|_1
          z_{k+1} = z_k - (step / 2) * grad E(z_k) + sqrt(step) * eps,  eps ~ N(0, I),
          which samples exp(-E(z) / temperature) as step -> 0 (temperature 1: the paper's).
The VCM terms are batch statistics, not a per-latent energy, so they are not sampled.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from lawm_jax.models.bottlenecks import BottleneckConfig


def sparse_energy(z, cfg: BottleneckConfig):
    """Per-latent energy E(z) of the sparse bottleneck, (..., D) -> (...)."""
    d = z.shape[-1]
    hinge = jax.nn.relu(jnp.sqrt(float(d)) - jnp.sum(z ** 2, -1))
    return cfg.l2 * hinge + cfg.l1 * jnp.sum(jnp.abs(z), -1)


def sgld(rng, energy, z0, steps: int = 1000, step_size: float = 1e-2, temperature: float = 1.0):
    """Langevin samples of exp(-energy(z) / temperature), one chain per row of z0 (N, D)."""
    grad = jax.grad(lambda z: jnp.sum(energy(z)) / temperature)

    def update(z, key):
        noise = jax.random.normal(key, z.shape, z.dtype)
        return z - 0.5 * step_size * grad(z) + jnp.sqrt(step_size) * noise, None

    z, _ = jax.lax.scan(update, z0, jax.random.split(rng, steps))
    return z


def sample_latents(rng, cfg: BottleneckConfig, n: int, codebook=None, usage=None, steps: int = 1000,
                   step_size: float = 1e-2):
    """n latent actions (n, D) for the bottleneck `cfg`.

    vq needs the codebook; with `usage` (counts per code) only codes in use are drawn.
    """
    k_init, k_run = jax.random.split(rng)
    d = cfg.latent_dim
    if cfg.kind == "noisy":
        return jax.random.normal(k_init, (n, d))
    if cfg.kind == "vq":
        if codebook is None:
            raise ValueError("sampling VQ latents needs the codebook (params['bottleneck']['codebook'])")
        weights = jnp.ones(codebook.shape[0]) if usage is None else (jnp.asarray(usage) > 0).astype(jnp.float32)
        if usage is not None and not bool(jnp.any(weights > 0)):
            raise ValueError("no code is in use (usage is all zero): nothing to sample from")
        codes = jax.random.choice(k_init, codebook.shape[0], (n,), p=weights / weights.sum())
        return codebook[codes]
    if cfg.kind == "sparse":
        z0 = jax.random.normal(k_init, (n, d))
        return sgld(k_run, lambda z: sparse_energy(z, cfg), z0, steps, step_size)
    raise ValueError(f"bottleneck {cfg.kind!r} has no prior to sample: noisy, vq and sparse do")


def separability(a, b, seed: int = 0, k: int = 5) -> float:
    """How well a k-nearest-neighbour classifier tells rows of `a` from rows of `b` on
    held-out rows: fitted on a random half of each, its accuracy on the other half
    (majority of the k nearest fitted rows, Euclidean). 0.5: indistinguishable; 1: apart.
    Non-parametric, so a difference in spread counts as much as one in mean (a sampler
    drawing N(0, I) where the inferred latents have collapsed to 0 is told apart)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    rng = np.random.default_rng(seed)
    ia, ib = rng.permutation(len(a)), rng.permutation(len(b))
    fit = np.concatenate([a[ia[:len(a) // 2]], b[ib[:len(b) // 2]]])
    fit_label = np.r_[np.zeros(len(a) // 2), np.ones(len(b) // 2)]
    test = np.concatenate([a[ia[len(a) // 2:]], b[ib[len(b) // 2:]]])
    test_label = np.r_[np.zeros(len(a) - len(a) // 2), np.ones(len(b) - len(b) // 2)]
    dist = np.sum(test ** 2, 1)[:, None] - 2 * test @ fit.T + np.sum(fit ** 2, 1)[None]
    nearest = np.argsort(dist, axis=1)[:, :k]
    predicted = fit_label[nearest].mean(1) > 0.5
    return float(np.mean(predicted == test_label))


def latent_sampling(cfg: BottleneckConfig, inferred, rng, codebook=None, steps: int = 1000,
                    step_size: float = 1e-2) -> dict:
    """Inferred latents (M, D) of held-out clips against as many sampled from the
    bottleneck's prior: {"inferred", "sampled" (arrays), "separability", norms, and the
    sampler's settings}. For VQ the codes in use are those the held-out latents use."""
    inferred = np.asarray(inferred, np.float32)
    usage = None
    if cfg.kind == "vq":
        dist = np.sum((inferred[:, None] - np.asarray(codebook)[None]) ** 2, -1)
        usage = np.bincount(dist.argmin(1), minlength=len(codebook))
    sampled = np.asarray(sample_latents(rng, cfg, len(inferred), codebook, usage, steps, step_size))
    out = {"inferred": inferred, "sampled": sampled, "kind": cfg.kind,
           "separability": separability(inferred, sampled),
           "inferred_norm": float(np.linalg.norm(inferred, axis=1).mean()),
           "sampled_norm": float(np.linalg.norm(sampled, axis=1).mean())}
    if cfg.kind == "sparse":
        out.update(sgld_steps=steps, sgld_step_size=step_size, temperature=1.0,
                   inferred_energy=float(np.mean(sparse_energy(jnp.asarray(inferred), cfg))),
                   sampled_energy=float(np.mean(sparse_energy(jnp.asarray(sampled), cfg))))
    if usage is not None:
        out["codes_in_use"] = int(np.sum(usage > 0))
    return out
