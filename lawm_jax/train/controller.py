"""The `controller` job: real actions -> latent actions, for planning (paper §7, App. A).

    python -m lawm_jax.main --config=configs/arm.py:controller --workdir=/runs/arm_controller \
        --config.data.path=/data/arm --config.controller.world_model=/runs/arm_lam

The LAM in config.controller.world_model is frozen; on action-labelled trajectories
(data.source=trajectories, frames duplicated so that one action drives one transition)
the controller learns z_t ~ IDM(s_t, s_{t+1}) from (a_t, s_t) with an L2 loss, AdamW
(paper: lr 1e-3, weight decay 0.04, 300 warm-up steps then cosine, 3k steps, batch 256).
Actions are normalised per dimension by the data's statistics, saved in controller.json.
"""
from __future__ import annotations

import dataclasses
import functools
import os

import jax
import jax.numpy as jnp
import ml_collections

from lawm_jax.api import load_world_model
from lawm_jax.checkpoint import CONTROLLER_FILE
from lawm_jax.config import validate
from lawm_jax.errors import ConfigError
from lawm_jax.models.controller import Controller, ControllerConfig, apply_steps, init_controller
from lawm_jax.train import optimizer
from lawm_jax.train.loop import CompiledStep, Job, compile_replicated, run_job, trajectory_actions
from lawm_jax.train.step import NetworkState, update_if_finite
from lawm_jax.world_model import WorldModel, WorldModelConfig

ARCH_FIELDS = tuple(f.name for f in dataclasses.fields(ControllerConfig))


def controller_loss(controller: Controller, params, states, actions, targets):
    """(loss, metrics): squared error between the controller's latents for transitions
    s_t -> s_{t+1} (from s_t and a_t) and the IDM's `targets` (B, T-1, A)."""
    z = apply_steps(controller, params, states[:, :-1], actions)
    mse = jnp.mean(jnp.square(z - targets))
    # 1.0: no better than predicting zero latents (the scale of the targets).
    rel = jnp.sum(jnp.square(z - targets)) / jnp.maximum(jnp.sum(jnp.square(targets)), 1e-12)
    return mse, {"loss": mse, "rel_error": rel, "latent_norm": jnp.mean(jnp.linalg.norm(z, axis=-1))}


def controller_step(wm: WorldModel, controller: Controller, tx, rng, state: NetworkState, frozen, batch):
    """One update; frozen = the LAM's encoder, IDM and bottleneck parameters; batch =
    {"video": uint8 (B, F, H, W, C), "actions": (B, T-1, A)}. The IDM's latents are its
    inference-time ones (the noisy bottleneck's mean)."""
    del rng
    states = wm.encode(frozen, batch["video"])
    targets = jax.lax.stop_gradient(wm.infer_actions(frozen, states).z)
    grad_fn = jax.value_and_grad(controller_loss, argnums=1, has_aux=True)
    (loss, metrics), grads = grad_fn(controller, state.params, states, batch["actions"], targets)
    return update_if_finite(tx, state, loss, grads, metrics)


def controller_config(config) -> ControllerConfig:
    return ControllerConfig(**{k: config.controller[k] for k in ARCH_FIELDS})


@functools.lru_cache(maxsize=4)
def compiled_controller_step(wm_cfg: WorldModelConfig, ctrl_cfg: ControllerConfig,
                             train_cfg: ml_collections.FrozenConfigDict, mesh) -> CompiledStep:
    """controller_step jitted over `mesh` (data parallel, replicated parameters), donated state."""
    wm = WorldModel(wm_cfg)
    tx = optimizer.make_optimizer(train_cfg, train_cfg.steps, muon=False)
    controller = Controller(ctrl_cfg, wm_cfg.bottleneck.latent_dim, wm_cfg.grid)
    return compile_replicated(functools.partial(controller_step, wm, controller, tx), wm, tx, mesh)


def train_controller(config, workdir: str, max_steps: int | None = None):
    """Trains (or resumes) a controller for the LAM in config.controller.world_model.
    Returns (Controller, params, list of logged metric rows)."""
    validate(config, paths=True)
    if not config.controller.world_model:
        raise ConfigError("config.controller.world_model is empty: name the --workdir of the LAM "
                          "training run whose latent actions the controller should produce")
    lam = load_world_model(config.controller.world_model)
    wm_cfg = lam.wm.config
    if not wm_cfg.infers_latents:
        raise ConfigError(f"the run in {config.controller.world_model} is a {wm_cfg.bottleneck.kind} model "
                          f"conditioned on {wm_cfg.conditioning}: it has no latent actions for a controller to produce")
    if config.data.image_size != wm_cfg.image_size[0]:
        raise ConfigError(f"config.data.image_size={config.data.image_size}, but the LAM in "
                          f"{config.controller.world_model} takes {wm_cfg.image_size[0]}px frames")
    ctrl_cfg = controller_config(config)
    action_names, stats = trajectory_actions(config)
    controller = Controller(ctrl_cfg, wm_cfg.bottleneck.latent_dim, wm_cfg.grid)

    def build(mesh):
        compiled = compiled_controller_step(wm_cfg, ctrl_cfg, ml_collections.FrozenConfigDict(config.train), mesh)
        params = init_controller(controller, wm_cfg.tokens, wm_cfg.encoder.width, len(action_names),
                                 jax.random.key(config.seed))
        frozen = {k: v for k, v in lam.params.items() if k != "predictor"}
        run_info = {"controller": dataclasses.asdict(ctrl_cfg),
                    "world_model": os.path.abspath(config.controller.world_model), "action_names": action_names,
                    "action_stats": stats}
        return Job("controller", compiled, NetworkState.create(compiled.tx, params), frozen, CONTROLLER_FILE, run_info,
                   ("video", "actions"), headline="rel_error")

    _, state, history = run_job(config, workdir, build, max_steps)
    return controller, state.params, history
