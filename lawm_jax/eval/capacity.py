"""Capacity: one-step prediction error with IDM-inferred latents (paper §5, Fig. 4).

The IDM sees the future frame, so this is an upper bound on what any later use of the
latents can achieve; lower error = more information passes through the bottleneck.
Reported beside the copy-the-last-state baseline, which needs no model.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from lawm_jax.objective import lam_loss
from lawm_jax.world_model import WorldModel


@functools.partial(jax.jit, static_argnums=0)
def _batch_errors(wm: WorldModel, params, video):
    states = wm.encode(params, video)
    _, aux = lam_loss(wm, params, states, jax.random.key(0), train=False)
    copy = jnp.mean(jnp.abs(states[:, 1:] - states[:, :-1]))
    return aux["metrics"]["pred_l1"], copy


def one_step_error(wm: WorldModel, params, video, batch_size: int = 64) -> dict[str, float]:
    """Mean representation L1 over clips (uint8 video (M, F, H, W, C)), in batches."""
    pred, copy, weights = [], [], []
    for i in range(0, len(video), batch_size):
        p, c = _batch_errors(wm, params, video[i:i + batch_size])
        pred.append(float(p))
        copy.append(float(c))
        weights.append(len(video[i:i + batch_size]))
    return {"pred_l1": float(np.average(pred, weights=weights)),
            "copy_last_l1": float(np.average(copy, weights=weights))}
