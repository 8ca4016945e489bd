"""CEM planning through a world model (paper §7): the cost of an action sequence is the
distance between the state it leads to and the goal's, both in representation space.

    s_hat_0 = f(V_t),  s_hat_{i+1} = P(s_hat_{0:i}, z_i),  cost = d(s_hat_H, f(V_goal))

with z_i, by `drive`:
  controller  z_i = c(a_i, s_hat_i): real actions through a trained controller (the LAM)
  actions     z_i = a_i: the action-conditioned baseline's predictor takes them as they are
  latent      z_i = a_i: CEM searches latent-action space itself (no controller; the
              paper leaves this open); the plan is then a sequence of latents
and d the mean absolute (l1) or mean squared (l2, jepa-wms' "L2": the same ranking as
the L2 norm) difference over all tokens and channels. All samples roll out in one
batched call; the whole optimisation is one jitted function.

A latent plan acts in a simulator only through real actions: `LatentGrounding` finds,
for each planned latent z_i, the action the controller maps nearest to it from the state
the latent plan reaches before step i, a_i = argmin_a ||c(a, s_hat_i) - z_i||^2 (CEM
over actions: the controller inverted).
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from lawm_jax.planning.cem import CEMConfig, CEMResult, make_cem
from lawm_jax.world_model import WorldModel

DRIVES = ("controller", "actions", "latent")
METRICS = ("l1", "l2")


def state_distance(pred_SND, goal_ND, metric: str = "l2") -> jax.Array:
    """Per-sample distance (S,) between predicted states and the goal state."""
    diff = pred_SND - goal_ND[None]
    if metric == "l1":
        return jnp.mean(jnp.abs(diff), axis=(1, 2))
    if metric == "l2":
        return jnp.mean(jnp.square(diff), axis=(1, 2))
    raise ValueError(f"planning cost {metric!r}: choose one of {METRICS}")


class WorldModelPlanner:
    """plan(key, params, controller_params, context_states (C, N, D), goal_state (N, D))
    -> CEMResult over sequences of `action_dim`-dimensional actions (or latents)."""

    def __init__(self, wm: WorldModel, cem_cfg: CEMConfig, action_dim: int, drive: str,
                 controller=None, metric: str = "l2"):
        if drive not in DRIVES:
            raise ValueError(f"drive {drive!r}: choose one of {DRIVES}")
        if (drive == "controller") != (controller is not None):
            raise ValueError("drive='controller' needs a controller, and only it uses one")
        if metric not in METRICS:
            raise ValueError(f"planning cost {metric!r}: choose one of {METRICS}")
        self.wm, self.cfg, self.drive, self.controller, self.metric = wm, cem_cfg, drive, controller, metric
        self.plan = make_cem(self.cost, cem_cfg, action_dim)

    def final_states(self, plans_SHA, params, controller_params, context_CND):
        """The state each plan leads to, (S, N, D)."""
        return self.rollout(plans_SHA, params, controller_params, context_CND)[:, -1]

    def rollout(self, plans_SHA, params, controller_params, context_CND):
        """The states each plan passes through, (S, H, N, D): what the planner imagines."""
        s = plans_SHA.shape[0]
        context = jnp.broadcast_to(context_CND[None], (s, *context_CND.shape))
        if context_CND.shape[0] > 1 and self.drive == "actions":
            raise ValueError("the action-conditioned baseline plans from one context state (its context's "
                             "actions are not known here)")

        def next_latent(i, last_SND):
            a = jax.lax.dynamic_index_in_dim(plans_SHA, i, axis=1, keepdims=False)
            if self.drive == "controller":
                return self.controller.apply({"params": controller_params}, last_SND, a)
            return a

        return self.wm.rollout_driven(params, context, plans_SHA.shape[1], next_latent)

    def cost(self, plans_SHA, params, controller_params, context_CND, goal_ND):
        return state_distance(self.final_states(plans_SHA, params, controller_params, context_CND), goal_ND,
                              self.metric)

    def __call__(self, key, params, controller_params, context_CND, goal_ND) -> CEMResult:
        return self.plan(key, params, controller_params, context_CND, goal_ND)


class LatentGrounding:
    """ground(key, params, controller_params, context_states (C, N, D), latents (H, Z))
    -> actions (H, A) in the controller's (normalised) units, one CEM per step with
    `cem_cfg`'s budget and bounds (its horizon is ignored: one action at a time)."""

    def __init__(self, wm: WorldModel, controller, cem_cfg: CEMConfig, action_dim: int):
        self.wm, self.controller = wm, controller
        step_cfg = dataclasses.replace(cem_cfg, horizon=1, straight_line=False, execute=0)
        self.search = make_cem(self.cost, step_cfg, action_dim)
        self.states = jax.jit(self._states)

    def cost(self, plans_S1A, controller_params, state_ND, latent_Z):
        s = plans_S1A.shape[0]
        z = self.controller.apply({"params": controller_params}, jnp.broadcast_to(state_ND, (s, *state_ND.shape)),
                                  plans_S1A[:, 0])
        return jnp.mean(jnp.square(z - latent_Z[None]), axis=-1)

    def _states(self, params, context_CND, latents_HZ):
        """The states before each latent acts: the last context state, then the predictions."""
        pred = self.wm.rollout_driven(params, context_CND[None], latents_HZ.shape[0],
                                      lambda i, last: jax.lax.dynamic_index_in_dim(latents_HZ, i, 0))
        return jnp.concatenate([context_CND[-1:], pred[0, :-1]])

    def __call__(self, key, params, controller_params, context_CND, latents_HZ) -> jax.Array:
        states = self.states(params, context_CND, latents_HZ)
        return jnp.stack([self.search(jax.random.fold_in(key, i), controller_params, states[i], latents_HZ[i]).plan[0]
                          for i in range(latents_HZ.shape[0])])


__all__ = ["CEMConfig", "CEMResult", "LatentGrounding", "WorldModelPlanner", "state_distance"]
