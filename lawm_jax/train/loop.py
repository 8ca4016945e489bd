"""Training a LAM: config -> world model, data, optimizer, checkpoints; resumable."""
from __future__ import annotations

import functools
import json
import os
import signal
import threading
import time
from typing import Any, Callable, NamedTuple

import jax
import ml_collections
import optax
from absl import logging
from jax.sharding import NamedSharding

from lawm_jax import checkpoint
from lawm_jax.config import validate
from lawm_jax.data.pipeline import config_batches
from lawm_jax.train import distributed, sharding
from lawm_jax.train.optimizer import make_optimizer
from lawm_jax.train.step import TrainState, init_train_state, train_step
from lawm_jax.world_model import WorldModel, WorldModelConfig

CONFIG_FILE = "world_model.json"


def prepare_encoder(config, wm: WorldModel, params, workdir: str):
    """Frozen encoder weights: the converted checkpoint the config names, or (none named)
    the seeded random init, saved once to WORKDIR/encoder so the run can be reloaded."""
    path = config.model.encoder_checkpoint or os.path.join(workdir, "encoder")
    saved = os.path.exists(os.path.join(path, "encoder_config.json"))
    distributed.barrier("lawm:encoder")  # every process decides before any writes
    if config.model.encoder_checkpoint or saved:
        enc, _ = checkpoint.load_encoder(path, wm.config.encoder)
        return enc, path
    checkpoint.save_encoder(path, params["encoder"], wm.config.encoder, write_config=distributed.is_primary())
    return params["encoder"], path


class CompiledStep(NamedTuple):
    wm: WorldModel
    tx: optax.GradientTransformation
    step: Callable            # (rng, state, encoder_params, video) -> (state, metrics)
    state_shardings: Any      # TrainState of NamedShardings
    encoder_shardings: Any


@functools.lru_cache(maxsize=4)
def compiled_train_step(wm_cfg: WorldModelConfig, train_items: tuple, mesh: jax.sharding.Mesh,
                        param_sharding: str = "replicated", fsdp_min_size: int = 2**14) -> CompiledStep:
    """The train step jitted over `mesh` with explicit shardings and donated state;
    cached so that repeated runs in one process (notebooks, sweeps, tests) compile once."""
    wm = WorldModel(wm_cfg)
    tx = make_optimizer(ml_collections.ConfigDict(dict(train_items)), dict(train_items)["steps"])
    params = jax.eval_shape(wm.init, jax.random.key(0))
    state = jax.eval_shape(functools.partial(init_train_state, wm, tx), params)
    state_sh = sharding.tree_shardings(state, mesh, param_sharding, fsdp_min_size)
    encoder_sh = sharding.tree_shardings(params["encoder"], mesh, param_sharding, fsdp_min_size)
    replicated = sharding.replicated(mesh)
    step = jax.jit(functools.partial(train_step, wm, tx),
                   in_shardings=(replicated, state_sh, encoder_sh, NamedSharding(mesh, sharding.BATCH)),
                   out_shardings=(state_sh, replicated), donate_argnums=(1,))
    return CompiledStep(wm, tx, step, state_sh, encoder_sh)


def mesh_for(config) -> jax.sharding.Mesh:
    """The config's mesh over all devices; the global batch must split evenly over it."""
    mesh = sharding.make_mesh(config.mesh.data, config.mesh.fsdp)
    if config.data.global_batch % mesh.size:
        raise ValueError(f"config.data.global_batch={config.data.global_batch} must be a multiple "
                         f"of the {mesh.size} devices")
    return mesh


def _catch_sigterm():
    """(event set by SIGTERM, the handler it replaced): preemption ends the run at the next
    step boundary with a checkpoint. Signals reach only the main thread; elsewhere (a
    notebook's worker thread) nothing is installed."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        return event, None
    return event, signal.signal(signal.SIGTERM, lambda signum, frame: event.set())


def train(config, workdir: str, max_steps: int | None = None):
    """Trains (or resumes) the LAM described by `config` in `workdir`.

    max_steps stops this call after that many steps (checkpointing there); calling
    again resumes, exactly as an uninterrupted run would have continued.

    Returns (world model, final params, list of logged metric dicts).
    """
    wm_cfg = validate(config)
    mesh = mesh_for(config)
    compiled = compiled_train_step(wm_cfg, tuple(sorted(config.train.items())), mesh,
                                   config.mesh.params, config.mesh.fsdp_min_size)
    wm, tx, step_fn = compiled.wm, compiled.tx, compiled.step
    os.makedirs(workdir, exist_ok=True)
    params = wm.init(jax.random.key(config.seed))
    encoder_params, encoder_path = prepare_encoder(config, wm, params, workdir)
    encoder_params = jax.device_put(encoder_params, compiled.encoder_shardings)
    primary = distributed.is_primary()
    if primary:
        with open(os.path.join(workdir, CONFIG_FILE), "w") as f:
            json.dump({"model": wm_cfg.to_dict(), "encoder_checkpoint": os.path.abspath(encoder_path),
                       "config": config.to_dict()}, f, indent=2, default=str)

    state = jax.device_put(init_train_state(wm, tx, params), compiled.state_shardings)
    # Each process reads its own share of the data and of every global batch.
    data, data_report = config_batches(config.data, config.seed, wm_cfg.encoder.frames_per_step(),
                                       config.data.global_batch, jax.process_index(), jax.process_count())
    if primary:
        with open(os.path.join(workdir, "data_report.json"), "w") as f:
            json.dump(data_report, f, indent=2)
    mngr = checkpoint.checkpoint_manager(os.path.join(workdir, "checkpoints"),
                                         config.train.keep_checkpoints, config.train.keep_every)
    restored_step, restored, data_state = checkpoint.restore_latest_readable(
        mngr, checkpoint.restore_target(state, compiled.state_shardings))
    if restored_step is not None:
        state = TrainState(*restored)
        data.set_state(data_state)
        logging.info("resumed from step %d in %s", int(state.step), workdir)

    rng = jax.random.key(config.seed + 1)
    history, t0 = [], time.time()
    metrics_path = os.path.join(workdir, "metrics.jsonl")
    preempted, previous_handler = _catch_sigterm()
    try:
        start = int(state.step)
        stop = config.train.steps if max_steps is None else min(config.train.steps, start + max_steps)
        for step in range(start, stop):
            batch = next(data)
            state, metrics = step_fn(rng, state, encoder_params, sharding.global_batch(mesh, batch["video"]))
            done = step + 1
            # "stop" reads one flag per step (a sync); the state itself never holds a NaN.
            if config.train.nonfinite == "stop" and int(metrics["nonfinite"]):
                raise FloatingPointError(
                    f"non-finite loss or gradient at step {done}: the update was not applied and "
                    f"no checkpoint was written for it (the last is step {mngr.latest_step()}); lower "
                    "config.train.muon_lr / adam_lr, or set config.train.nonfinite=skip")
            if done % config.train.log_every == 0 or done == config.train.steps:
                row = {"step": done, **{k: float(v) for k, v in jax.device_get(metrics).items()},
                       "skipped_steps": int(state.skipped),
                       "data/bad_files": len(data_report["bad_files"]), "elapsed_s": time.time() - t0}
                history.append(row)
                logging.info("step %d loss %.4f pred_l1 %.4f", done, row["loss"], row["pred_l1"])
                if primary:
                    with open(metrics_path, "a") as f:
                        f.write(json.dumps(row) + "\n")
            if done % config.train.ckpt_every == 0 or done == stop or preempted.is_set():
                checkpoint.save_train_state(mngr, done, state, data.get_state())
            if preempted.is_set():
                logging.warning("SIGTERM: saved a checkpoint at step %d and stopped; re-run the "
                                "same command to resume", done)
                break
    finally:
        data.close()  # stops Grain's reader threads
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
    mngr.wait_until_finished()
    mngr.close()
    return wm, {**state.params, "encoder": encoder_params}, history
