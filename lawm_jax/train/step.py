"""The pure LAM train step: encode (frozen), IDM + bottleneck + predictor, update."""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import optax

from lawm_jax.models import bottlenecks
from lawm_jax.objective import lam_loss
from lawm_jax.world_model import WorldModel


class TrainState(NamedTuple):
    step: jax.Array
    params: dict[str, Any]            # trained: idm, predictor, bottleneck
    opt_state: optax.OptState
    bottleneck_state: dict[str, Any]  # vq usage counts


def init_train_state(wm: WorldModel, tx: optax.GradientTransformation, params) -> TrainState:
    trainable = {k: v for k, v in params.items() if k != "encoder"}
    return TrainState(jax.numpy.zeros((), jax.numpy.int32), trainable, tx.init(trainable),
                      wm.init_bottleneck_state())


def train_step(wm: WorldModel, tx: optax.GradientTransformation, rng, state: TrainState,
               encoder_params, video):
    """One update on a batch of uint8 video (B, F, H, W, C). Returns (state, metrics)."""
    k_loss, k_reset = jax.random.split(jax.random.fold_in(rng, state.step))
    states = wm.encode({"encoder": encoder_params}, video)

    def loss_fn(params):
        return lam_loss(wm, {**params, "encoder": encoder_params}, states, k_loss)

    (_, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {**aux["metrics"], "grad_norm": optax.global_norm(grads)}
    bstate = state.bottleneck_state
    if wm.config.bottleneck.kind == "vq":
        codebook, bstate, vq_metrics = bottlenecks.vq_update(
            wm.config.bottleneck, params["bottleneck"]["codebook"], bstate, aux["codes"], aux["raw"],
            state.step, k_reset)
        params = {**params, "bottleneck": {"codebook": codebook}}
        metrics.update({f"bottleneck/{k}": v for k, v in vq_metrics.items()})
    return TrainState(state.step + 1, params, opt_state, bstate), metrics
