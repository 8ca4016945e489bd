"""The LAM training objective (paper App. A), a pure function of parameters.

    L = mean_t |s_{t+1} - p(s_{0:t}, z_t)|_1 + L_z(z),   z_t = g(s_t, s_{t+1})

with teacher forcing: inputs are steps 0..T-2, targets steps 1..T-1. The states
come from the frozen encoder and carry no gradient.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from lawm_jax.models.bottlenecks import BottleneckOutput
from lawm_jax.world_model import Params, WorldModel


def lam_loss(wm: WorldModel, params: Params, states, rng, train: bool = True, axis_name=None, actions=None):
    """Returns (loss, aux); aux holds the metrics and the bottleneck's output (for its update_state).
    The action-conditioned baseline (conditioning "actions") takes `actions` (B, T-1, A)
    in place of latents: the same predictor and loss, no IDM."""
    states = jax.lax.stop_gradient(states.astype(jnp.float32))
    if wm.config.conditioning == "actions":
        out = BottleneckOutput(actions.astype(jnp.float32), jnp.zeros((), jnp.float32), {})
    else:
        out = wm.infer_actions(params, states, rng, train=train, axis_name=axis_name)
    pred = wm.predict(params, states[:, :-1], out.z)
    pred_loss = _global_mean(jnp.abs(pred - states[:, 1:]), axis_name)
    loss = pred_loss + out.loss
    metrics = {"loss": loss, "pred_l1": pred_loss, "latent_loss": out.loss,
               **{f"bottleneck/{k}": v for k, v in out.metrics.items()}}
    if wm.idm is not None:  # the deterministic model's z is all zeros, the baseline's is given
        metrics["bottleneck/latent_norm"] = _global_mean(jnp.linalg.norm(out.z, axis=-1), axis_name)
    return loss, {"metrics": metrics, "out": out}


def _global_mean(x, axis_name=None):
    """Mean over every element; inside shard_map, over the global batch."""
    total, count = jnp.sum(x), jnp.asarray(x.size, jnp.float32)
    if axis_name is not None:
        total, count = jax.lax.psum(total, axis_name), jax.lax.psum(count, axis_name)
    return total / count
