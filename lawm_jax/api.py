"""Loading a trained world model for notebooks, evaluation and planning."""
from __future__ import annotations

import dataclasses
import os

import jax
import numpy as np

from lawm_jax import checkpoint
from lawm_jax.checkpoint import CONTROLLER_FILE, DECODER_FILE, WORLD_MODEL_FILE, read_run_file, restore_params
from lawm_jax.errors import ConfigError
from lawm_jax.models.controller import Controller, ControllerConfig
from lawm_jax.models.decoder import DecoderConfig, PixelDecoder
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
    # The action-conditioned baseline's actions (conditioning "actions"): names and the
    # statistics they were normalised with (trajectories.normalize_actions); else None.
    action_names: list | None = None
    action_stats: dict | None = None

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


@dataclasses.dataclass
class LoadedDecoder:
    """A pixel decoder with its parameters bound (jitted):

        decoder = lawm_jax.load_decoder("/runs/decoder")
        frames = decoder.decode(states)   # (B, T, N, D) -> (B, F, H, W, C) in [0, 1]
    `encoder_checkpoint` names the encoder whose states it decodes.
    """

    decoder: PixelDecoder
    params: Params
    step: int
    encoder_checkpoint: str

    def __post_init__(self):
        self._decode = jax.jit(lambda p, s: self.decoder.apply({"params": p}, s))

    def decode(self, states):
        return self._decode(self.params, states)


@dataclasses.dataclass
class LoadedController:
    """A controller with its parameters bound, and the world model it drives:

        ctrl = lawm_jax.load_controller("/runs/arm_controller")
        z = ctrl.latents(states, actions)   # (B, N, D), normalised (B, A) -> (B, latent_dim)
        ctrl.world_model                    # the LoadedWorldModel whose latents these are
    Actions are in normalised units: trajectories.normalize_actions(a, ctrl.action_stats).
    """

    controller: Controller
    params: Params
    step: int
    world_model: LoadedWorldModel
    world_model_dir: str
    action_names: list
    action_stats: dict

    def __post_init__(self):
        self._latents = jax.jit(lambda p, s, a: self.controller.apply({"params": p}, s, a))

    def latents(self, states, actions):
        return self._latents(self.params, states, actions)


def load_world_model(workdir: str, step: int | None = None) -> LoadedWorldModel:
    """Loads the latest (or the given) checkpoint of a training run's workdir."""
    saved = read_run_file(workdir, WORLD_MODEL_FILE, "training")
    wm = WorldModel(WorldModelConfig.from_dict(saved["model"]))
    encoder_params, _ = checkpoint.load_encoder(saved["encoder_checkpoint"], wm.config.encoder)
    step, params = restore_params(workdir, step)
    return LoadedWorldModel(wm, {**params, "encoder": encoder_params}, step,
                            saved.get("action_names"), saved.get("action_stats"))


def load_decoder(workdir: str, step: int | None = None, for_run: str = "") -> LoadedDecoder:
    """Loads the latest (or the given) checkpoint of a decoder job's workdir; with
    `for_run` (a training run's workdir), first checks that it decodes that run's encoder."""
    saved = read_run_file(workdir, DECODER_FILE, "decoder")
    if for_run:
        run = read_run_file(for_run, WORLD_MODEL_FILE, "training")
        ours, theirs = saved["encoder_checkpoint"], run["encoder_checkpoint"]
        if not _same_encoder(ours, theirs, WorldModelConfig.from_dict(run["model"]).encoder):
            raise ConfigError(f"the decoder {workdir} decodes the states of the encoder in {ours}, not this "
                              f"run's ({for_run}: {theirs}); train a decoder with "
                              f"--config.model.encoder_checkpoint={theirs}")
    wm_cfg = WorldModelConfig.from_dict(saved["model"])
    step, params = restore_params(workdir, step)
    return LoadedDecoder(PixelDecoder(DecoderConfig(**saved["decoder"]), wm_cfg.grid), params, step,
                         saved["encoder_checkpoint"])


def _same_encoder(path_a: str, path_b: str, cfg) -> bool:
    if os.path.abspath(path_a) == os.path.abspath(path_b):
        return True
    a, _ = checkpoint.load_encoder(path_a, cfg)
    b, _ = checkpoint.load_encoder(path_b, cfg)
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def load_controller(workdir: str, step: int | None = None) -> LoadedController:
    """Loads the latest (or the given) checkpoint of a controller job's workdir, with the
    LAM it was trained for."""
    saved = read_run_file(workdir, CONTROLLER_FILE, "controller")
    world_model = load_world_model(saved["world_model"])
    wm_cfg = world_model.wm.config
    controller = Controller(ControllerConfig(**saved["controller"]), wm_cfg.bottleneck.latent_dim, wm_cfg.grid)
    step, params = restore_params(workdir, step)
    return LoadedController(controller, params, step, world_model, saved["world_model"],
                            saved["action_names"], saved["action_stats"])
