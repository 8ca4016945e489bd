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


def sgld(rng, energy, z0, steps: int = 1000, step_size: float = 1e-2, temperature: float = 1.0,
         trace: bool = False):
    """Langevin samples of exp(-energy(z) / temperature), one chain per row of z0 (N, D);
    with `trace`, also every step's |z| per chain (steps, N), for ensemble_drift."""
    grad = jax.grad(lambda z: jnp.sum(energy(z)) / temperature)

    def update(z, key):
        noise = jax.random.normal(key, z.shape, z.dtype)
        z = z - 0.5 * step_size * grad(z) + jnp.sqrt(step_size) * noise
        return z, jnp.linalg.norm(z, axis=-1) if trace else None

    z, norms = jax.lax.scan(update, z0, jax.random.split(rng, steps))
    return (z, norms) if trace else z


def ensemble_drift(trace) -> float:
    """How far the chains' distribution still moves: the change of the mean |z| over the
    chains from the run's midpoint to its end, in units of |z|'s spread across chains at
    the end; trace (steps, chains) from sgld. Near 0 once the ensemble is stationary (the
    chains are independent, and only their final states are used as samples); large while
    the chains still diffuse, as on a distribution far wider than their steps have covered."""
    x = np.asarray(trace, np.float64)
    end, mid = x[-1], x[x.shape[0] // 2]
    return float(abs(end.mean() - mid.mean()) / max(end.std(), 1e-12))


DRIFT_CONVERGED = 0.1


def sample_latents(rng, cfg: BottleneckConfig, n: int, codebook=None, usage=None, steps: int = 1000,
                   step_size: float = 1e-2, trace: bool = False):
    """n latent actions (n, D) for the bottleneck `cfg` (sparse with `trace`: and the
    chains' |z| per step, see sgld).

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
        z, norms = sgld(k_run, lambda z: sparse_energy(z, cfg), z0, steps, step_size, trace=True)
        return (z, norms) if trace else z
    raise ValueError(f"bottleneck {cfg.kind!r} has no prior to sample: noisy, vq and sparse do")


def separability(a, b, seed: int = 0, ridge: float = 1e-3) -> float:
    """How well a Gaussian classifier (quadratic discriminant: one mean and one ridge-
    regularised covariance per group) tells rows of `a` from rows of `b` on held-out
    rows: fitted on a random half of each, its accuracy on the other half. 0.5:
    indistinguishable; 1: apart. Quadratic, so a difference in spread counts as much as
    one in mean (a linear discriminant misses a collapsed posterior against the prior,
    and nearest neighbours fail in high dimension, where prior samples lie nearer the
    collapsed cluster than to each other)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    rng = np.random.default_rng(seed)
    halves = []
    for x in (a, b):
        order = rng.permutation(len(x))
        halves.append((x[order[:len(x) // 2]], x[order[len(x) // 2:]]))
    d = a.shape[1]
    scale = np.mean([np.var(fit, 0).mean() for fit, _ in halves]) + 1e-12

    def log_density(fit):
        mu = fit.mean(0)
        cov = np.cov((fit - mu).T).reshape(d, d) + ridge * scale * np.eye(d)
        inv, (_, logdet) = np.linalg.inv(cov), np.linalg.slogdet(cov)
        return lambda x: -0.5 * (np.einsum("nd,de,ne->n", x - mu, inv, x - mu) + logdet)

    la, lb = log_density(halves[0][0]), log_density(halves[1][0])
    test_a, test_b = halves[0][1], halves[1][1]
    correct = np.sum(la(test_a) > lb(test_a)) + np.sum(lb(test_b) >= la(test_b))
    return float(correct / (len(test_a) + len(test_b)))


def latent_sampling(cfg: BottleneckConfig, inferred, rng, codebook=None, steps: int = 1000,
                    step_size: float = 1e-2) -> dict:
    """Inferred latents (M, D) of held-out clips against as many sampled from the
    bottleneck's prior: {"inferred", "sampled" (arrays), "separability", norms, and the
    sampler's settings}. For VQ the codes in use are those the held-out latents use.
    For noisy latents pass posterior samples (mu + sigma * eps), not the means: the
    prior is matched by the aggregate posterior, which the means alone are not."""
    inferred = np.asarray(inferred, np.float32)
    usage = None
    if cfg.kind == "vq":
        dist = np.sum((inferred[:, None] - np.asarray(codebook)[None]) ** 2, -1)
        usage = np.bincount(dist.argmin(1), minlength=len(codebook))
    sampled = sample_latents(rng, cfg, len(inferred), codebook, usage, steps, step_size, trace=cfg.kind == "sparse")
    sampled, norms = (sampled if cfg.kind == "sparse" else (sampled, None))
    sampled = np.asarray(sampled)
    out = {"inferred": inferred, "sampled": sampled, "kind": cfg.kind,
           "separability": separability(inferred, sampled),
           "inferred_norm": float(np.linalg.norm(inferred, axis=1).mean()),
           "sampled_norm": float(np.linalg.norm(sampled, axis=1).mean())}
    if cfg.kind == "sparse":
        drift = ensemble_drift(norms)
        # The target is about a Laplace of scale 1 / l1 per dimension: a chain diffuses one
        # scale length in (1 / l1)^2 / step_size steps and needs several to forget its start.
        out.update(sgld_drift=drift, sgld_converged=bool(drift < DRIFT_CONVERGED),
                   sgld_scale_steps=int(np.ceil((1 / max(cfg.l1, 1e-12)) ** 2 / step_size)))
        out.update(sgld_steps=steps, sgld_step_size=step_size, temperature=1.0,
                   inferred_energy=float(np.mean(sparse_energy(jnp.asarray(inferred), cfg))),
                   sampled_energy=float(np.mean(sparse_energy(jnp.asarray(sampled), cfg))))
    if usage is not None:
        out["codes_in_use"] = int(np.sum(usage > 0))
    return out
