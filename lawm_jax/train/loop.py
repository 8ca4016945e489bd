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
from jax.sharding import PartitionSpec as P

from lawm_jax import checkpoint, plots
from lawm_jax.flops import compiled_flops
from lawm_jax.config import validate
from lawm_jax.data.pipeline import config_batches
from lawm_jax.data.trajectories import action_stats, read_trajectories
from lawm_jax.errors import ConfigError
from lawm_jax.train import distributed, optimizer, sharding
from lawm_jax.train import metrics as metrics_lib
from lawm_jax.train.step import init_train_state, train_step
from lawm_jax.world_model import WorldModel, WorldModelConfig

CONFIG_FILE = "world_model.json"
CURVES_FILE = "training_curves.png"


def prepare_encoder(config, wm: WorldModel, random_encoder: Callable[[], Any], workdir: str):
    """Frozen encoder weights: the converted checkpoint the config names, or (none named)
    the seeded random init `random_encoder()`, saved once to WORKDIR/encoder so the run
    can be reloaded. Returns (params, checkpoint path)."""
    path = config.model.encoder_checkpoint or os.path.join(workdir, "encoder")
    saved = os.path.exists(os.path.join(path, "encoder_config.json"))
    distributed.barrier("lawm:encoder")  # every process decides before any writes
    if config.model.encoder_checkpoint or saved:
        enc, _ = checkpoint.load_encoder(path, wm.config.encoder)
        return enc, path
    params = random_encoder()
    checkpoint.save_encoder(path, params, wm.config.encoder, write_config=distributed.is_primary())
    return params, path


class CompiledStep(NamedTuple):
    wm: WorldModel
    tx: optax.GradientTransformation
    step: Callable            # (rng, state, encoder_params, video or states) -> (state, metrics)
    state_shardings: Any      # TrainState of NamedShardings
    encoder_shardings: Any
    executables: dict         # batch shape -> (compiled executable, FLOPs per step or None)

    def executable(self, *args):
        """`step` compiled ahead of time for these arguments (once per batch shape, kept
        for later runs in this process), and its FLOPs from XLA's cost analysis."""
        key = str(jax.tree.map(lambda a: a.shape, args[-1]))
        if key not in self.executables:
            exe = self.step.lower(*args).compile()
            self.executables[key] = exe, compiled_flops(exe)
        return self.executables[key]


@functools.lru_cache(maxsize=4)
def compiled_train_step(wm_cfg: WorldModelConfig, train_items: tuple, mesh: jax.sharding.Mesh,
                        param_sharding: str = "replicated", fsdp_min_size: int = 2**14,
                        from_states: bool = False, collectives: str = "auto") -> CompiledStep:
    """The train step jitted over `mesh` with explicit shardings and donated state;
    cached so that repeated runs in one process (notebooks, sweeps, tests) compile once.
    from_states: the step takes cached encoder states instead of video (no encoder).
    collectives: "auto" lets jit's partitioner place them; "shard_map" runs the step per
    device with the batch statistics all-reduced explicitly (replicated parameters only)."""
    wm = WorldModel(wm_cfg)
    tx = optimizer.make_optimizer(ml_collections.ConfigDict(dict(train_items)), dict(train_items)["steps"])
    params = jax.eval_shape(wm.init, jax.random.key(0))
    state = jax.eval_shape(functools.partial(init_train_state, wm, tx), params)
    state_sh = sharding.tree_shardings(state, mesh, param_sharding, fsdp_min_size)
    encoder_sh = sharding.tree_shardings({} if from_states else params["encoder"], mesh, param_sharding,
                                         fsdp_min_size)
    replicated = sharding.replicated(mesh)
    step_fn = functools.partial(train_step, wm, tx, from_states=from_states)
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
    have = {**{f"model.encoder.{k}": meta["encoder"][k] for k in ENCODER_ARCH},
            "model.normalize_states": meta["normalize_states"], "states (steps, tokens, width)": meta["shape"]}
    diff = [f"{k}: features {have[k]} vs config {want[k]}" for k in want if have[k] != want[k]]
    if diff:
        raise ConfigError(f"cached features in {path} do not match the config (set data.frames, "
                          "data.image_size and model.encoder as when they were written): " + "; ".join(diff))


def mesh_for(config) -> jax.sharding.Mesh:
    """The config's mesh over all devices; the global batch must split evenly over it."""
    mesh = sharding.make_mesh(config.mesh.data, config.mesh.fsdp)
    if config.data.global_batch % mesh.size:
        raise ConfigError(f"config.data.global_batch={config.data.global_batch} must be a multiple "
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
    from_states = config.data.source == "features" and not config.data.mixture
    compiled = compiled_train_step(wm_cfg, tuple(sorted(config.train.items())), mesh, config.mesh.params,
                                   config.mesh.fsdp_min_size, from_states, config.mesh.collectives)
    wm, tx = compiled.wm, compiled.tx
    os.makedirs(workdir, exist_ok=True)
    params = wm.init(jax.random.key(config.seed))
    with_actions = wm_cfg.bottleneck.kind == "actions"  # the action-conditioned baseline
    extra = {}
    if with_actions:
        names, stats = trajectory_actions(config, wm_cfg.bottleneck.latent_dim, "model.bottleneck.latent_dim")
        extra = {"action_names": names, "action_stats": stats}
    # Each process reads its own share of the data and of every global batch.
    data, data_report = config_batches(config.data, config.seed, wm_cfg.encoder.frames_per_step(),
                                       config.data.global_batch, jax.process_index(), jax.process_count(),
                                       with_actions=with_actions)
    if from_states:  # the encoder ran once, in the features job: the step never sees it
        try:
            check_features(data_report["features"], config.data.path, wm_cfg)
        except ConfigError:
            data.close()
            raise
        encoder_params, encoder_path = {}, data_report["features"]["encoder_checkpoint"]
    else:
        encoder_params, encoder_path = prepare_encoder(config, wm, lambda: params["encoder"], workdir)
    write_json(os.path.join(workdir, CONFIG_FILE),
               {"model": wm_cfg.to_dict(), "encoder_checkpoint": os.path.abspath(encoder_path),
                "config": config.to_dict(), **extra})
    state = init_train_state(wm, tx, params)
    tokens_per_clip = wm_cfg.steps * wm_cfg.tokens
    key = ("video", "actions") if with_actions else "states" if from_states else "video"
    state, history = run_steps(config, workdir, mesh, compiled, state, encoder_params, data, data_report,
                               key, tokens_per_clip, max_steps)
    if from_states:
        encoder_params, _ = checkpoint.load_encoder(encoder_path, wm_cfg.encoder)
    return wm, {**state.params, "encoder": encoder_params}, history


def trajectory_actions(config, dim: int | None = None, field: str = "") -> tuple[list, dict]:
    """(action names, action statistics) of config's trajectory data, after checking
    that the data has actions and, if `dim` is given, that they have `dim` dimensions
    (`field` is the config field that says so)."""
    if config.data.source != "trajectories" or config.data.mixture:
        raise ConfigError(f"config.data.source={config.data.source!r}: this job needs actions: use "
                          "data.source=trajectories (tools/make_trajectories.py), no mixture")
    names = read_trajectories(config.data.path)[0]["action_names"]
    if dim is not None and len(names) != dim:
        raise ConfigError(f"config.{field}={dim}, but the actions in {config.data.path} have {len(names)} "
                          f"dimensions {names}: set {field}={len(names)}")
    return names, action_stats(config.data.path)


def write_json(path: str, obj) -> None:
    """Process 0 writes `obj` to `path` (the other processes of a multi-host run skip it)."""
    if distributed.is_primary():
        with open(path, "w") as f:
            json.dump(obj, f, indent=2, default=str)


def run_steps(config, workdir: str, mesh, compiled, state, frozen, data, data_report: dict, key,
              tokens_per_clip: int, max_steps: int | None = None, headline: str = "pred_l1"):
    """The training loop every job shares (the LAM's, the decoder's, the controller's):
    restores the newest checkpoint of WORKDIR/checkpoints, then runs
    `compiled.executable(rng, state, frozen, batch[key])` (`key` a tuple: the dict of those
    fields) to config.train.steps (or `max_steps` more), with metrics rows, console bar,
    checkpoints, SIGTERM handling, the non-finite stop and training_curves.png.

    `state` needs .step, .params and .skipped; the step's metrics need "loss",
    "nonfinite" and `headline` (logged beside the loss). Closes `data`.
    Returns (final state, list of logged metric rows).
    """
    state = jax.device_put(state, compiled.state_shardings)
    frozen = jax.device_put(frozen, compiled.encoder_shardings)
    write_json(os.path.join(workdir, "data_report.json"), data_report)
    mngr = checkpoint.checkpoint_manager(os.path.join(workdir, "checkpoints"),
                                         config.train.keep_checkpoints, config.train.keep_every)
    restored_step, restored, data_state = checkpoint.restore_latest_readable(
        mngr, checkpoint.restore_target(state, compiled.state_shardings))
    if restored_step is not None:
        state = type(state)(*restored)
        data.set_state(data_state)
        logging.info("resumed from step %d in %s", int(state.step), workdir)

    primary = distributed.is_primary()
    rng = jax.random.key(config.seed + 1)
    history = []
    writer = metrics_lib.MetricsWriter(workdir, enabled=primary)
    lrs = optimizer.schedules(config.train, config.train.steps)
    start = int(state.step)
    stop = config.train.steps if max_steps is None else min(config.train.steps, start + max_steps)
    meter = metrics_lib.Throughput(config.data.global_batch, config.data.global_batch * tokens_per_clip)
    bar = metrics_lib.ConsoleProgress(config.train.steps, enabled=primary and config.train.progress_bar)
    preempted, previous_handler = _catch_sigterm()
    try:
        if start == 0:
            writer.text("config", "```\n" + config.to_json_best_effort(indent=2) + "\n```")
        for step in range(start, stop):
            t_wait = time.perf_counter()
            local = next(data)
            batch = sharding.global_batch(mesh, {k: local[k] for k in key} if isinstance(key, tuple) else local[key])
            wait = time.perf_counter() - t_wait
            if step == start:
                step_fn, meter.flops = compiled.executable(rng, state, frozen, batch)
            state, metrics = step_fn(rng, state, frozen, batch)
            done = step + 1
            meter.add(1, wait)
            if step == start:  # the first step compiles: keep it out of the rates
                jax.block_until_ready(state.step)
                logging.info("first step (compilation included) took %.1f s; the step is %.3g "
                             "FLOPs (XLA cost analysis, whole mesh)", time.perf_counter() - t_wait,
                             meter.flops or float("nan"))
                meter.restart()
            # "stop" reads one flag per step (a sync); the state itself never holds a NaN.
            if config.train.nonfinite == "stop" and int(metrics["nonfinite"]):
                raise FloatingPointError(
                    f"non-finite loss or gradient at step {done}: the update was not applied and "
                    f"no checkpoint was written for it (the last is step {mngr.latest_step()}); lower "
                    "config.train.muon_lr / adam_lr, or set config.train.nonfinite=skip")
            if done % config.train.log_every == 0 or done == config.train.steps:
                row = {"step": done, **metrics_lib.to_python(metrics),
                       **{f"lr/{k}": float(f(step)) for k, f in lrs.items()},
                       **meter.report(), "skipped_steps": int(state.skipped),
                       "data/bad_files": len(data_report.get("bad_files", ()))}
                history.append(row)
                writer.write(row)
                bar.clear()
                rate = meter.rate
                logging.info("step %d/%d loss %.4f %s %.4f %s", done, config.train.steps, row["loss"],
                             headline, row[headline], f"{rate:.2f} steps/s ETA "
                             f"{metrics_lib.format_duration((config.train.steps - done) / rate)}" if rate else "")
            if bar.due(done):
                bar.draw(done, float(metrics["loss"]), meter.current_rate())
            if done % config.train.ckpt_every == 0 or done == stop or preempted.is_set():
                checkpoint.save_train_state(mngr, done, state, data.get_state())
            if preempted.is_set():
                logging.warning("SIGTERM: saved a checkpoint at step %d and stopped; re-run the "
                                "same command to resume", done)
                break
    finally:
        data.close()  # stops Grain's reader threads
        writer.close()
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)
    mngr.wait_until_finished()
    mngr.close()
    if primary and os.path.exists(writer.path):
        try:  # a picture must not fail a finished run
            plots.training_curves(writer.path, os.path.join(workdir, CURVES_FILE))
        except Exception as e:
            logging.warning("could not plot %s: %s", writer.path, e)
    return state, history
