"""Latent-action bottlenecks: how the IDM's output is constrained (paper §3, App. A).

Each bottleneck is a pure function of the raw IDM output that returns the latent
z fed to the predictor, its regularisation loss L_z and statistics to log:

  sparse         z = raw; L1 + L2-norm hinge energy plus variance/covariance/mean (VCM)
  noisy          z = mu + sigma * eps (mu at inference); beta * KL(q || N(0, I))
  vq             nearest codebook entry, straight-through; codebook + 0.25 commitment
  deterministic  z = 0: no information about the future (the lower bound on capacity)
  unconstrained  z = raw, no regulariser (the upper bound)
  actions        no IDM: z = the real actions given with the data (the action-conditioned
                 baseline, V-JEPA 2-AC's analogue); latent_dim = the action dimension

Batch statistics (VCM, VQ code usage) are over the global batch. Under jax.jit with
sharded arrays the code below already sees the global array; inside shard_map pass
`axis_name` and the sums are all-reduced over it.
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

KINDS = ("sparse", "noisy", "vq", "deterministic", "unconstrained")


@dataclasses.dataclass(frozen=True)
class BottleneckConfig:
    kind: str = "sparse"
    latent_dim: int = 128
    # sparse: E(z) = l2 * max(sqrt(D) - |z|^2, 0) + l1 * |z|_1, plus VCM.
    l1: float = 0.01
    l2: float = 1.0
    var_coef: float = 0.1
    cov_coef: float = 0.001
    mean_coef: float = 0.1
    var_eps: float = 1e-4
    # noisy: beta * KL, KL summed over dimensions and averaged over latents.
    beta: float = 5e-5
    # vq
    codebook_size: int = 1024
    commitment: float = 0.25
    reset_every: int = 293  # steps; the paper's 300k clips at batch 1024


class BottleneckOutput(NamedTuple):
    z: jax.Array            # (..., latent_dim) latent fed to the predictor
    loss: jax.Array         # scalar L_z
    metrics: dict[str, jax.Array]
    codes: jax.Array | None = None  # vq: code indices (...,)
    raw: jax.Array | None = None    # vq: the pre-quantisation latents, for dead-code resets


def raw_dim(cfg: BottleneckConfig) -> int:
    """Width of the IDM output that the bottleneck consumes (0: no IDM needed)."""
    return {"noisy": 2 * cfg.latent_dim, "deterministic": 0}.get(cfg.kind, cfg.latent_dim)


def init_params(cfg: BottleneckConfig, rng) -> dict[str, Any]:
    """Trainable parameters of the bottleneck itself (the VQ codebook)."""
    if cfg.kind != "vq":
        return {}
    k = cfg.codebook_size  # U(-1/K, 1/K), as UniVLA
    return {"codebook": jax.random.uniform(rng, (k, cfg.latent_dim), jnp.float32, -1.0 / k, 1.0 / k)}


def init_state(cfg: BottleneckConfig) -> dict[str, Any]:
    """Non-trainable state: VQ usage counts since the last dead-code reset."""
    return {"usage": jnp.zeros((cfg.codebook_size,), jnp.float32)} if cfg.kind == "vq" else {}


def _sum(x, axis_name):
    return x if axis_name is None else jax.lax.psum(x, axis_name)


def sparse_loss(z, cfg: BottleneckConfig, axis_name=None):
    """Energy + VCM over all latents of the (global) batch. Returns (loss, metrics).

    The printed mean term, lambda_M / (N D) * sum_ij Z_ij, is signed: moving every entry
    towards -inf gains lambda_M / D per unit and latent while the L1 term costs lambda_l1,
    so the loss is bounded below only while lambda_l1 > lambda_M / D (0.1 / 16 here by
    default) and diverges below it, where a sweep that lowers lambda_l1 goes. We use the
    per-dimension squared batch mean, lambda_M / D * sum_d mean_i(Z_id)^2: >= 0, minimal
    at a zero-mean code, bounded for every lambda_l1 (docs/DESIGN.md).
    """
    z = z.reshape(-1, z.shape[-1]).astype(jnp.float32)
    d = z.shape[-1]
    n = _sum(jnp.asarray(z.shape[0], jnp.float32), axis_name)
    mean = _sum(jnp.sum(z, 0), axis_name) / n
    centred = z - mean
    cov = _sum(centred.T @ centred, axis_name) / (n - 1)  # unbiased, as VICReg
    var = jnp.diag(cov)
    var_term = jnp.mean(jax.nn.relu(1.0 - jnp.sqrt(var + cfg.var_eps)))
    cov_term = (jnp.sum(cov ** 2) - jnp.sum(var ** 2)) / (d * (d - 1))
    mean_term = jnp.mean(mean ** 2)
    sq_norm = jnp.sum(z ** 2, -1)
    l1_norm = jnp.sum(jnp.abs(z), -1)
    hinge = jax.nn.relu(jnp.sqrt(float(d)) - sq_norm)
    energy = _sum(jnp.sum(cfg.l2 * hinge + cfg.l1 * l1_norm), axis_name) / n
    loss = energy + cfg.var_coef * var_term + cfg.cov_coef * cov_term + cfg.mean_coef * mean_term
    metrics = {
        "l1_norm": _sum(jnp.sum(l1_norm), axis_name) / n,
        "l2_norm": _sum(jnp.sum(jnp.sqrt(sq_norm)), axis_name) / n,
        "near_zero_frac": _sum(jnp.sum(jnp.abs(z) < 1e-2), axis_name) / (n * d),
        "var_term": var_term, "cov_term": cov_term, "mean_term": mean_term, "energy": energy,
    }
    return loss, metrics


def noisy_latent(raw, cfg: BottleneckConfig, rng, train: bool, axis_name=None):
    """Reparameterised Gaussian; returns (z, beta * KL, metrics). KL in float32."""
    mu, logvar = jnp.split(raw.astype(jnp.float32), 2, axis=-1)
    var = jnp.exp(logvar)
    kl_dims = 0.5 * (mu ** 2 + var - logvar - 1.0)  # (..., D)
    flat = kl_dims.reshape(-1, kl_dims.shape[-1])
    n = _sum(jnp.asarray(flat.shape[0], jnp.float32), axis_name)
    kl_per_dim = _sum(jnp.sum(flat, 0), axis_name) / n  # (D,)
    kl = jnp.sum(kl_per_dim)
    sigma = jnp.sqrt(var).reshape(-1, var.shape[-1])
    if train and axis_name is not None:  # independent noise on every shard
        rng = jax.random.fold_in(rng, jax.lax.axis_index(axis_name))
    z = mu + jnp.sqrt(var) * jax.random.normal(rng, mu.shape) if train else mu
    metrics = {
        "kl": kl,
        "kl_per_dim": kl_per_dim,  # (D,): which dimensions carry information
        "sigma_mean": _sum(jnp.sum(sigma), axis_name) / (n * sigma.shape[-1]),
        # dims whose posterior collapsed to a point (the regulariser switched off)
        "small_sigma_frac": _sum(jnp.sum(sigma < 1e-2), axis_name) / (n * sigma.shape[-1]),
        "active_dims": jnp.sum(kl_per_dim > 1e-2),
    }
    return z, cfg.beta * kl, metrics


def vq_latent(raw, codebook, cfg: BottleneckConfig, axis_name=None):
    """Nearest-code quantisation with the straight-through estimator."""
    x = raw.astype(jnp.float32)
    dist = (jnp.sum(x ** 2, -1, keepdims=True) - 2.0 * x @ codebook.T
            + jnp.sum(codebook ** 2, -1))
    codes = jnp.argmin(dist, axis=-1)
    e = codebook[codes]
    z = x + jax.lax.stop_gradient(e - x)
    n = _sum(jnp.asarray(codes.size, jnp.float32), axis_name)
    sq = lambda a: _sum(jnp.sum(a ** 2), axis_name) / (n * x.shape[-1])  # noqa: E731
    loss = sq(jax.lax.stop_gradient(x) - e) + cfg.commitment * sq(x - jax.lax.stop_gradient(e))
    counts = code_counts(codes, cfg.codebook_size, axis_name)
    p = counts / n
    metrics = {
        "perplexity": jnp.exp(-jnp.sum(jnp.where(p > 0, p * jnp.log(p), 0.0))),
        "batch_usage_frac": jnp.mean(counts > 0),
    }
    return z, loss, metrics, codes


def _gather_invariant(x, axis_name):
    """all_gather(x, tiled=True) typed as replicated: shard_map types all_gather's result
    as device-varying, so a codebook reset from it could not be a replicated output. A
    psum of each device's rows placed in a zero buffer is the same array, replicated."""
    n = x.shape[0]
    size = jax.lax.psum(1, axis_name)
    buf = jnp.zeros((size * n, *x.shape[1:]), x.dtype)
    placed = jax.lax.dynamic_update_slice_in_dim(buf, x, jax.lax.axis_index(axis_name) * n, 0)
    return jax.lax.psum(placed, axis_name)


def code_counts(codes, codebook_size, axis_name=None):
    return _sum(jnp.zeros((codebook_size,), jnp.float32).at[codes.ravel()].add(1.0), axis_name)


def apply(cfg: BottleneckConfig, params, raw, rng, train: bool = True,
          axis_name=None) -> BottleneckOutput:
    """Raw IDM output (..., raw_dim) -> BottleneckOutput. raw is None for deterministic."""
    zero = jnp.zeros((), jnp.float32)
    if cfg.kind == "sparse":
        loss, metrics = sparse_loss(raw, cfg, axis_name)
        return BottleneckOutput(raw.astype(jnp.float32), loss, metrics)
    if cfg.kind == "noisy":
        z, loss, metrics = noisy_latent(raw, cfg, rng, train, axis_name)
        return BottleneckOutput(z, loss, metrics)
    if cfg.kind == "vq":
        z, loss, metrics, codes = vq_latent(raw, params["codebook"], cfg, axis_name)
        return BottleneckOutput(z, loss, metrics, codes, raw)
    if cfg.kind == "unconstrained":
        return BottleneckOutput(raw.astype(jnp.float32), zero, {})
    if cfg.kind == "deterministic":
        raise ValueError("the deterministic model has no IDM latent (WorldModel gives zeros)")
    raise ValueError(f"unknown bottleneck kind {cfg.kind!r}; choose from {KINDS}")


def update_state(cfg: BottleneckConfig, params, state, out: BottleneckOutput, step, rng, axis_name=None):
    """The bottleneck's own update after an optimizer step, from the step's output `out`:
    (params, state, metrics). VQ resets its dead codes (vq_update); the others keep both."""
    if cfg.kind != "vq":
        return params, state, {}
    codebook, state, metrics = vq_update(cfg, params["codebook"], state, out.codes, out.raw, step, rng, axis_name)
    return {**params, "codebook": codebook}, state, metrics


def vq_update(cfg: BottleneckConfig, codebook, state, codes, raw, step, rng, axis_name=None):
    """Counts code usage and, every `reset_every` steps, resets the dead codes.

    Codes unused since the last reset are overwritten with latents drawn at random from
    the current (global) batch, then the counters restart. UniVLA copies random codebook
    rows instead; copies of live codes tie with them and never win an argmin, so they
    stay dead (docs/DESIGN.md). Returns (codebook, state, metrics).
    """
    usage = state["usage"] + code_counts(codes, cfg.codebook_size, axis_name)
    x = raw.reshape(-1, raw.shape[-1]).astype(jnp.float32)
    if axis_name is not None:  # the global batch's latents, the same on every device
        x = _gather_invariant(x, axis_name)
    reset_now = (step + 1) % cfg.reset_every == 0
    dead = (usage < 1.0) & reset_now
    pick = jax.random.randint(rng, (cfg.codebook_size,), 0, x.shape[0])
    codebook = jnp.where(dead[:, None], x[pick], codebook)
    metrics = {"usage_frac_since_reset": jnp.mean(usage > 0), "codes_reset": jnp.sum(dead)}
    return codebook, {"usage": jnp.where(reset_now, 0.0, usage)}, metrics
