"""The `train` job: a LAM (IDM + bottleneck + predictor) on a frozen encoder; resumable."""
from __future__ import annotations

import functools
import os

import jax
import ml_collections
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from lawm_jax import checkpoint
from lawm_jax.config import validate
from lawm_jax.errors import ConfigError
from lawm_jax.models.encoder import EncoderConfig
from lawm_jax.train import optimizer, sharding
from lawm_jax.train.loop import CompiledStep, Job, prepare_encoder, run_job, trajectory_actions
from lawm_jax.train.step import init_train_state, train_step
from lawm_jax.world_model import WorldModel, WorldModelConfig


@functools.lru_cache(maxsize=4)
def compiled_train_step(wm_cfg: WorldModelConfig, train_cfg: ml_collections.FrozenConfigDict,
                        mesh: jax.sharding.Mesh, param_sharding: str = "replicated", fsdp_min_size: int = 2**14,
                        with_encoder: bool = True, collectives: str = "auto") -> CompiledStep:
    """The train step jitted over `mesh` with explicit shardings and donated state;
    cached so that repeated runs in one process (notebooks, sweeps, tests) compile once.
    with_encoder=False: the step's batches hold cached encoder states, and no encoder.
    collectives: "auto" lets jit's partitioner place them; "shard_map" runs the step per
    device with the batch statistics all-reduced explicitly (replicated parameters only)."""
    wm = WorldModel(wm_cfg)
    tx = optimizer.make_optimizer(train_cfg, train_cfg.steps)
    params = jax.eval_shape(wm.init, jax.random.key(0))
    state = jax.eval_shape(functools.partial(init_train_state, wm, tx), params)
    state_sh = sharding.tree_shardings(state, mesh, param_sharding, fsdp_min_size)
    encoder_sh = sharding.tree_shardings(params["encoder"] if with_encoder else {}, mesh, param_sharding,
                                         fsdp_min_size)
    replicated = sharding.replicated(mesh)
    step_fn = functools.partial(train_step, wm, tx)
    if collectives == "shard_map":
        if param_sharding != "replicated":
            raise ValueError('config.mesh.collectives="shard_map" needs config.mesh.params="replicated"')
        step_fn = jax.shard_map(functools.partial(step_fn, axis_name=sharding.MESH_AXES), mesh=mesh,
                                in_specs=(P(), P(), P(), sharding.BATCH), out_specs=(P(), P()))
    step = jax.jit(step_fn,
                   in_shardings=(replicated, state_sh, encoder_sh, NamedSharding(mesh, sharding.BATCH)),
                   out_shardings=(state_sh, replicated), donate_argnums=(1,))
    return CompiledStep(wm, tx, step, state_sh, encoder_sh, {})


# The weights' architecture, and the temporal mode: features of another mode are other states.
ENCODER_ARCH = checkpoint.ARCH_FIELDS + ("mode",)


def check_features(meta: dict, path: str, wm_cfg: WorldModelConfig) -> None:
    """Cached features (train/features.py) must come from the encoder and clip shape the
    config describes."""
    want = {**{f"model.encoder.{k}": getattr(wm_cfg.encoder, k) for k in ENCODER_ARCH},
            "model.normalize_states": wm_cfg.normalize_states,
            "states (steps, tokens, width)": [wm_cfg.steps, wm_cfg.tokens, wm_cfg.encoder.width]}
    default = EncoderConfig()  # fields that features written before them lack
    have = {**{f"model.encoder.{k}": meta["encoder"].get(k, getattr(default, k)) for k in ENCODER_ARCH},
            "model.normalize_states": meta["normalize_states"], "states (steps, tokens, width)": meta["shape"]}
    diff = [f"{k}: features {have[k]} vs config {want[k]}" for k in want if have[k] != want[k]]
    if diff:
        raise ConfigError(f"cached features in {path} do not match the config (set data.frames, "
                          "data.image_size and model.encoder as when they were written): " + "; ".join(diff))


def train(config, workdir: str, max_steps: int | None = None):
    """Trains (or resumes) the LAM described by `config` in `workdir`.

    max_steps stops this call after that many steps (checkpointing there); calling
    again resumes, exactly as an uninterrupted run would have continued.

    Returns (world model, final params, list of logged metric dicts).
    """
    wm_cfg = validate(config, paths=True)
    from_features = config.data.source == "features" and not config.data.mixture
    with_actions = wm_cfg.conditioning == "actions"  # the action-conditioned baseline
    run_info = {"model": wm_cfg.to_dict()}
    if with_actions:
        names, stats = trajectory_actions(config, wm_cfg.bottleneck.latent_dim, "model.bottleneck.latent_dim")
        run_info.update(action_names=names, action_stats=stats)
    features_meta = {}

    def check_data(report):
        if from_features:
            check_features(report["features"], config.data.path, wm_cfg)
            features_meta.update(report["features"])
            run_info["encoder_checkpoint"] = os.path.abspath(report["features"]["encoder_checkpoint"])

    def build(mesh):
        compiled = compiled_train_step(wm_cfg, ml_collections.FrozenConfigDict(config.train), mesh,
                                       config.mesh.params, config.mesh.fsdp_min_size, not from_features,
                                       config.mesh.collectives)
        params = compiled.wm.init(jax.random.key(config.seed))
        frozen = {}
        if not from_features:  # else the encoder ran once, in the features job: the step never sees it
            frozen, path = prepare_encoder(config, compiled.wm, lambda: params["encoder"], workdir)
            run_info["encoder_checkpoint"] = os.path.abspath(path)
        fields = ("states",) if from_features else ("video", "actions") if with_actions else ("video",)
        return Job("train", compiled, init_train_state(compiled.wm, compiled.tx, params), frozen,
                   checkpoint.WORLD_MODEL_FILE, run_info, fields, check_data=check_data)

    job, state, history = run_job(config, workdir, build, max_steps)
    encoder = job.frozen
    if from_features:
        encoder, _ = checkpoint.load_encoder(features_meta["encoder_checkpoint"], wm_cfg.encoder)
    return job.compiled.wm, {**state.params, "encoder": encoder}, history
