"""Loading a trained world model for notebooks, evaluation and planning."""
from __future__ import annotations

import dataclasses
import json
import os

import jax
import ml_collections
import numpy as np

from lawm_jax import checkpoint
from lawm_jax.errors import ConfigError
from lawm_jax.models.controller import Controller, ControllerConfig
from lawm_jax.models.decoder import DecoderConfig, PixelDecoder
from lawm_jax.train.controller import CONTROLLER_FILE, init_controller, make_controller
from lawm_jax.train.decoder import DECODER_FILE, init_decoder
from lawm_jax.train.loop import CONFIG_FILE
from lawm_jax.train.optimizer import make_optimizer
from lawm_jax.train.step import NetworkState, TrainState, init_train_state
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
    # The action-conditioned baseline's actions (bottleneck kind "actions"): names and the
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


def _run_file(workdir: str, name: str, job: str) -> dict:
    """The run's JSON file `name`; checks that the encoder checkpoint it names exists."""
    path = os.path.join(workdir, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{workdir} is not a lawm_jax {job} run directory (no {name}); "
                                f"pass the --workdir of a {job} run")
    with open(path) as f:
        saved = json.load(f)
    encoder = saved.get("encoder_checkpoint")
    if encoder and not os.path.exists(os.path.join(encoder, "encoder_config.json")):
        raise FileNotFoundError(f"{path} names the encoder checkpoint {encoder}, which is missing (was the run "
                                f"moved, or its encoder deleted?): put the encoder back there, or set "
                                f'"encoder_checkpoint" in {path} to where it is now')
    return saved


def _restore(workdir: str, step: int | None, abstract):
    """(step, state) of the latest (or given) checkpoint, onto this process's first device
    whatever mesh the run was saved from."""
    mngr = checkpoint.checkpoint_manager(os.path.join(workdir, "checkpoints"), keep=1 << 30)
    step = mngr.latest_step() if step is None else step
    if step is None:
        raise FileNotFoundError(f"{workdir}/checkpoints holds no complete checkpoint yet")
    target = checkpoint.restore_target(abstract, jax.sharding.SingleDeviceSharding(jax.devices()[0]))
    state, _ = checkpoint.restore_train_state(mngr, step, target)
    return int(step), state


def _optimizer(saved: dict):
    train_cfg = ml_collections.ConfigDict(saved["config"]["train"])
    return make_optimizer(train_cfg, train_cfg.steps, muon=saved["config"]["job"] != "controller")


def load_world_model(workdir: str, step: int | None = None) -> LoadedWorldModel:
    """Loads the latest (or the given) checkpoint of a training run's workdir."""
    saved = _run_file(workdir, CONFIG_FILE, "training")
    wm = WorldModel(WorldModelConfig.from_dict(saved["model"]))
    encoder_params, _ = checkpoint.load_encoder(saved["encoder_checkpoint"], wm.config.encoder)
    tx = _optimizer(saved)
    step, state = _restore(workdir, step, jax.eval_shape(lambda: init_train_state(wm, tx, wm.init(jax.random.key(0)))))
    return LoadedWorldModel(wm, {**TrainState(*state).params, "encoder": encoder_params}, step,
                            saved.get("action_names"), saved.get("action_stats"))


def load_decoder(workdir: str, step: int | None = None, for_run: str = "") -> LoadedDecoder:
    """Loads the latest (or the given) checkpoint of a decoder job's workdir; with
    `for_run` (a training run's workdir), first checks that it decodes that run's encoder."""
    saved = _run_file(workdir, DECODER_FILE, "decoder")
    if for_run:
        run = _run_file(for_run, CONFIG_FILE, "training")
        ours, theirs = saved["encoder_checkpoint"], run["encoder_checkpoint"]
        if not _same_encoder(ours, theirs, WorldModelConfig.from_dict(run["model"]).encoder):
            raise ConfigError(f"the decoder {workdir} decodes the states of the encoder in {ours}, not this "
                              f"run's ({for_run}: {theirs}); train a decoder with "
                              f"--config.model.encoder_checkpoint={theirs}")
    wm_cfg = WorldModelConfig.from_dict(saved["model"])
    decoder = PixelDecoder(DecoderConfig(**saved["decoder"]), wm_cfg.grid)
    tx = _optimizer(saved)

    def abstract():
        params = init_decoder(decoder, wm_cfg, jax.random.key(0))
        return NetworkState.create(tx, params)

    step, state = _restore(workdir, step, jax.eval_shape(abstract))
    return LoadedDecoder(decoder, NetworkState(*state).params, step, saved["encoder_checkpoint"])


def _same_encoder(path_a: str, path_b: str, cfg) -> bool:
    if os.path.abspath(path_a) == os.path.abspath(path_b):
        return True
    a, _ = checkpoint.load_encoder(path_a, cfg)
    b, _ = checkpoint.load_encoder(path_b, cfg)
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def load_controller(workdir: str, step: int | None = None) -> LoadedController:
    """Loads the latest (or the given) checkpoint of a controller job's workdir, with the
    LAM it was trained for."""
    saved = _run_file(workdir, CONTROLLER_FILE, "controller")
    world_model = load_world_model(saved["world_model"])
    wm_cfg = world_model.wm.config
    controller = make_controller(ControllerConfig(**saved["controller"]), wm_cfg)
    tx = _optimizer(saved)
    action_dim = len(saved["action_names"])

    def abstract():
        params = init_controller(controller, wm_cfg, action_dim, jax.random.key(0))
        return NetworkState.create(tx, params)

    step, state = _restore(workdir, step, jax.eval_shape(abstract))
    return LoadedController(controller, NetworkState(*state).params, step, world_model, saved["world_model"],
                            saved["action_names"], saved["action_stats"])
