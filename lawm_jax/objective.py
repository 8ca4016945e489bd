"""The LAM training objective (paper App. A), a pure function of parameters.

    L = mean_t |s_{t+1} - p(s_{0:t}, z_t)|_1 + L_z(z),   z_t = g(s_t, s_{t+1})

with teacher forcing: inputs are steps 0..T-2, targets steps 1..T-1. The states
come from the frozen encoder and carry no gradient.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from lawm_jax.world_model import Params, WorldModel


def lam_loss(wm: WorldModel, params: Params, states, rng, train: bool = True, axis_name=None):
    """Returns (loss, aux); aux holds metrics and, for vq, the codes and pre-quantisation latents."""
    states = jax.lax.stop_gradient(states.astype(jnp.float32))
    out = wm.infer_actions(params, states, rng, train=train, axis_name=axis_name)
    pred = wm.predict(params, states[:, :-1], out.z)
    err = jnp.abs(pred - states[:, 1:])
    count = jnp.asarray(err.size, jnp.float32)
    total = jnp.sum(err)
    if axis_name is not None:  # shard_map: average over the global batch
        total, count = jax.lax.psum(total, axis_name), jax.lax.psum(count, axis_name)
    pred_loss = total / count
    loss = pred_loss + out.loss
    metrics = {"loss": loss, "pred_l1": pred_loss, "latent_loss": out.loss,
               **{f"bottleneck/{k}": v for k, v in out.metrics.items()}}
    return loss, {"metrics": metrics, "codes": out.codes, "raw": out.raw}
