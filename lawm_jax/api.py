"""Loading a trained world model for notebooks, evaluation and planning."""
from __future__ import annotations

import dataclasses
import json
import os

import jax
import ml_collections

from lawm_jax import checkpoint
from lawm_jax.train.loop import CONFIG_FILE
from lawm_jax.train.optimizer import make_optimizer
from lawm_jax.train.step import TrainState, init_train_state
from lawm_jax.world_model import Params, WorldModel, WorldModelConfig


@dataclasses.dataclass
class LoadedWorldModel:
    """A world model with its parameters bound; methods are jitted.

        model = lawm_jax.load_world_model("/runs/lam")
        states = model.encode(video_uint8)            # (B, T, N, D)
        z = model.infer_actions(states)               # (B, T-1, A)
        nxt = model.predict(states[:, :-1], z)        # teacher-forced next states
        future = model.rollout(states[:, :2], z[:, 1:])
    The pure versions are model.wm.<verb>(model.params, ...).
    """

    wm: WorldModel
    params: Params
    step: int

    def __post_init__(self):
        self._encode = jax.jit(self.wm.encode)
        self._infer = jax.jit(lambda p, s: self.wm.infer_actions(p, s).z)
        self._predict = jax.jit(self.wm.predict)
        self._rollout = jax.jit(self.wm.rollout)

    def encode(self, video):
        return self._encode(self.params, video)

    def infer_actions(self, states):
        return self._infer(self.params, states)

    def predict(self, states, latents):
        return self._predict(self.params, states, latents)

    def rollout(self, context_states, latents, context_latents=None):
        return self._rollout(self.params, context_states, latents, context_latents)


def load_world_model(workdir: str, step: int | None = None) -> LoadedWorldModel:
    """Loads the latest (or the given) checkpoint of a training run's workdir."""
    config_path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.exists(config_path):
        raise FileNotFoundError(f"{workdir} is not a lawm_jax run directory (no {CONFIG_FILE}); "
                                "pass the --workdir of a training run")
    with open(config_path) as f:
        saved = json.load(f)
    wm = WorldModel(WorldModelConfig.from_dict(saved["model"]))
    encoder_params, _ = checkpoint.load_encoder(saved["encoder_checkpoint"], wm.config.encoder)
    mngr = checkpoint.checkpoint_manager(os.path.join(workdir, "checkpoints"), keep=1 << 30)
    step = mngr.latest_step() if step is None else step
    if step is None:
        raise FileNotFoundError(f"{workdir}/checkpoints holds no complete checkpoint yet")
    train_cfg = ml_collections.ConfigDict(saved["config"]["train"])
    tx = make_optimizer(train_cfg, train_cfg.steps)
    abstract = jax.eval_shape(lambda: init_train_state(wm, tx, wm.init(jax.random.key(0))))
    # Onto this process's first device, whatever mesh the run was saved from.
    target = checkpoint.restore_target(abstract, jax.sharding.SingleDeviceSharding(jax.devices()[0]))
    state, _ = checkpoint.restore_train_state(mngr, step, target)
    return LoadedWorldModel(wm, {**TrainState(*state).params, "encoder": encoder_params}, int(step))
