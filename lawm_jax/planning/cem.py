"""The cross-entropy method over action sequences, as one jitted function.

Each iteration samples `samples` sequences from a diagonal Gaussian, clips them per
dimension, scores all of them in one batched call of the cost, keeps the `elites`
lowest (lax.top_k) and refits the Gaussian to them (with optional momentum). The
returned plan is the final mean (the elites' average); the lowest-cost sequence seen is
returned too.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class CEMConfig:
    horizon: int = 3
    samples: int = 300
    elites: int = 10
    iterations: int = 15
    init_mean: tuple | float = 0.0   # per dimension, or one value for all
    init_std: tuple | float = 1.0
    low: tuple | float | None = None   # per-dimension clipping of every sample (None: none)
    high: tuple | float | None = None
    momentum: float = 0.0     # new = momentum * old + (1 - momentum) * elites' (mean and std)
    keep_mean: bool = True    # the current mean is always sample 0 (as jepa-wms does)
    straight_line: bool = False  # one action repeated over the horizon (the NWM protocol)
    execute: int = 0          # leading actions of the plan to execute (0: the whole plan)

    def check(self):
        if not (self.horizon >= 1 and self.iterations >= 1 and 1 <= self.elites <= self.samples):
            raise ValueError(f"CEM needs horizon >= 1, iterations >= 1 and 1 <= elites <= samples; got {self}")
        if not 0 <= self.execute <= self.horizon:
            raise ValueError(f"execute={self.execute}: must be in [0, horizon={self.horizon}]")


class CEMResult(NamedTuple):
    plan: jax.Array        # (H, A) the final mean: the plan
    actions: jax.Array     # (execute, A) its leading actions, to execute
    best: jax.Array        # (H, A) the lowest-cost sample seen
    best_cost: jax.Array   # ()
    mean_elite_cost: jax.Array  # (iterations,) the elites' mean cost at each iteration


def cem(cost_fn: Callable, cfg: CEMConfig, action_dim: int, key, *cost_args) -> CEMResult:
    """Minimises cost_fn(plans (S, H, A), *cost_args) -> (S,) over plans. Jit it with
    cost_fn, cfg and action_dim static (see `make_cem`)."""
    cfg.check()
    free = 1 if cfg.straight_line else cfg.horizon  # free action steps per sample
    shape = (free, action_dim)
    mean = jnp.broadcast_to(jnp.asarray(cfg.init_mean, jnp.float32), shape)
    std = jnp.broadcast_to(jnp.asarray(cfg.init_std, jnp.float32), shape)

    def clip(x):
        if cfg.low is not None or cfg.high is not None:
            x = jnp.clip(x, None if cfg.low is None else jnp.asarray(cfg.low, jnp.float32),
                         None if cfg.high is None else jnp.asarray(cfg.high, jnp.float32))
        return x

    def full(x):  # (..., free, A) -> (..., H, A)
        return jnp.broadcast_to(x, (*x.shape[:-2], cfg.horizon, action_dim))

    def iteration(i, carry):
        mean, std, best, best_cost, trace = carry
        noise = jax.random.normal(jax.random.fold_in(key, i), (cfg.samples, *shape))
        samples = clip(mean + std * noise)
        if cfg.keep_mean:
            samples = samples.at[0].set(clip(mean))
        costs = cost_fn(full(samples), *cost_args)
        neg, idx = jax.lax.top_k(-costs, cfg.elites)
        elite = samples[idx]
        new_mean, new_std = elite.mean(0), elite.std(0)
        mean = cfg.momentum * mean + (1 - cfg.momentum) * new_mean
        std = cfg.momentum * std + (1 - cfg.momentum) * new_std
        better = -neg[0] < best_cost
        best = jnp.where(better, samples[idx[0]], best)
        best_cost = jnp.where(better, -neg[0], best_cost)
        return mean, std, best, best_cost, trace.at[i].set(-neg.mean())

    init = (mean, std, mean, jnp.asarray(jnp.inf, jnp.float32), jnp.zeros(cfg.iterations, jnp.float32))
    mean, std, best, best_cost, trace = jax.lax.fori_loop(0, cfg.iterations, iteration, init)
    plan = full(clip(mean))
    return CEMResult(plan, plan[:cfg.execute or cfg.horizon], full(best), best_cost, trace)


def make_cem(cost_fn: Callable, cfg: CEMConfig, action_dim: int):
    """(key, *cost_args) -> CEMResult, compiled once per argument shapes."""
    cfg.check()
    return jax.jit(lambda key, *args: cem(cost_fn, cfg, action_dim, key, *args))
