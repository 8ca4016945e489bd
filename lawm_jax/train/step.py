"""The pure LAM train step: encode (frozen), IDM + bottleneck + predictor, update."""
from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from lawm_jax.models import bottlenecks
from lawm_jax.objective import lam_loss
from lawm_jax.world_model import WorldModel


class TrainState(NamedTuple):
    step: jax.Array
    params: dict[str, Any]            # trained: idm, predictor, bottleneck
    opt_state: optax.OptState
    bottleneck_state: dict[str, Any]  # vq usage counts
    skipped: jax.Array                # steps whose loss or gradient was not finite


def init_train_state(wm: WorldModel, tx: optax.GradientTransformation, params) -> TrainState:
    trainable = {k: v for k, v in params.items() if k != "encoder"}
    # Two distinct counters: one buffer in two donated fields would be donated twice.
    return TrainState(jnp.zeros((), jnp.int32), trainable, tx.init(trainable), wm.init_bottleneck_state(),
                      jnp.zeros((), jnp.int32))


def train_step(wm: WorldModel, tx: optax.GradientTransformation, rng, state: TrainState,
               encoder_params, batch: dict, axis_name=None):
    """One update on a batch {"video": uint8 (B, F, H, W, C)}, or {"states": (B, T, N, D)}
    (the frozen encoder's states, cached by the features job: encoder_params is then
    unused); the action-conditioned baseline's batches also hold "actions" (B, T-1, A).
    Returns (state, metrics).

    Under jit with a sharded batch the code sees the global batch. Inside shard_map it
    sees its shard and `axis_name` names the mesh axes: the loss and every batch statistic
    are all-reduced explicitly, and the gradients of the replicated parameters come out
    summed over devices (shard_map's transpose of the implicit broadcast), so the update
    is the global one on every device.

    A non-finite loss or gradient leaves parameters, optimizer and bottleneck state as
    they were (the step counter still advances, `skipped` counts it, metrics["nonfinite"]
    is 1), so no NaN ever reaches the state or a checkpoint; the loop stops or goes on
    by config.train.nonfinite.
    """
    k_loss, k_reset = jax.random.split(jax.random.fold_in(rng, state.step))
    actions = batch.get("actions")
    states = batch["states"] if "states" in batch else wm.encode({"encoder": encoder_params}, batch["video"])

    def loss_fn(params):
        return lam_loss(wm, {**params, "encoder": encoder_params}, states, k_loss, axis_name=axis_name,
                        actions=actions)

    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    finite = all_finite(loss, grads)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {**aux["metrics"], "grad_norm": optax.global_norm(grads)}
    bottleneck, bstate, bn_metrics = bottlenecks.update_state(
        wm.config.bottleneck, params["bottleneck"], state.bottleneck_state, aux["out"], state.step, k_reset,
        axis_name)
    params = {**params, "bottleneck": bottleneck}
    metrics.update({f"bottleneck/{k}": v for k, v in bn_metrics.items()})
    kept = keep_if_finite(finite, (params, opt_state, bstate),
                          (state.params, state.opt_state, state.bottleneck_state))
    metrics["nonfinite"] = (~finite).astype(jnp.int32)
    return TrainState(state.step + 1, *kept, state.skipped + metrics["nonfinite"]), metrics


class NetworkState(NamedTuple):
    """The state of a job that trains one network on frozen inputs (decoder, controller)."""
    step: jax.Array
    params: Any
    opt_state: optax.OptState
    skipped: jax.Array

    @classmethod
    def create(cls, tx: optax.GradientTransformation, params) -> "NetworkState":
        zero = lambda: jnp.zeros((), jnp.int32)  # noqa: E731  (two buffers: both are donated)
        return cls(zero(), params, tx.init(params), zero())


def update_if_finite(tx: optax.GradientTransformation, state: NetworkState, loss, grads, metrics: dict):
    """The optimizer step of a NetworkState, applied only when the loss and gradients are
    finite (as in train_step); returns (state, metrics + grad_norm and nonfinite)."""
    finite = all_finite(loss, grads)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params, opt_state = keep_if_finite(finite, (optax.apply_updates(state.params, updates), opt_state),
                                       (state.params, state.opt_state))
    metrics = {**metrics, "grad_norm": optax.global_norm(grads), "nonfinite": (~finite).astype(jnp.int32)}
    return NetworkState(state.step + 1, params, opt_state, state.skipped + metrics["nonfinite"]), metrics


def all_finite(loss, grads) -> jax.Array:
    """True when the loss and every gradient entry are finite."""
    return jnp.isfinite(loss) & jnp.all(jnp.stack([jnp.isfinite(g).all() for g in jax.tree.leaves(grads)]))


def keep_if_finite(finite, new, old):
    """`new` where the step was finite, else `old` (leaf by leaf, no host sync): a NaN
    never reaches the state or a checkpoint."""
    return jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)
