"""The job skeleton every training job shares (LAM, decoder, controller): workdir, mesh,
data, run file, restore, the step loop, checkpoints; each job brings a `Job`."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
import time
from typing import Any, Callable, NamedTuple

import jax
import optax
from absl import logging
from jax.sharding import NamedSharding

from lawm_jax import checkpoint, plots
from lawm_jax.config import job_config
from lawm_jax.data.pipeline import config_batches
from lawm_jax.data.trajectories import action_stats, read_trajectories
from lawm_jax.errors import ConfigError
from lawm_jax.flops import compiled_flops
from lawm_jax.models.encoder import frozen_params
from lawm_jax.train import distributed, optimizer, sharding
from lawm_jax.train import metrics as metrics_lib
from lawm_jax.world_model import WorldModel


def prepare_encoder(config, wm: WorldModel, random_encoder: Callable[[], Any], workdir: str):
    """Frozen encoder weights: the converted checkpoint the config names, or (none named)
    a CNN kind's pretrained weights or the ViT's seeded random init `random_encoder()`,
    saved once to WORKDIR/encoder so the run can be reloaded. Returns (params, checkpoint
    path)."""
    path = config.model.encoder_checkpoint or os.path.join(workdir, checkpoint.ENCODER_DIR)
    saved = os.path.exists(os.path.join(path, checkpoint.ENCODER_CONFIG_FILE))
    distributed.barrier("lawm:encoder")  # every process decides before any writes
    if config.model.encoder_checkpoint or saved:
        enc, _ = checkpoint.load_encoder(path, wm.config.encoder)
        return enc, path
    params = frozen_params(wm.config.encoder, random_encoder)
    checkpoint.save_encoder(path, params, wm.config.encoder, write_config=distributed.is_primary())
    return params, path


class CompiledStep(NamedTuple):
    wm: WorldModel
    tx: optax.GradientTransformation
    step: Callable            # (rng, state, frozen, batch dict) -> (state, metrics)
    state_shardings: Any      # TrainState of NamedShardings
    encoder_shardings: Any
    executables: dict         # (frozen structure, batch shapes) -> (executable, FLOPs per step or None)

    def executable(self, *args):
        """`step` compiled ahead of time for these arguments (once per batch shape and
        frozen inputs' structure, kept for later runs in this process), and its FLOPs from
        XLA's cost analysis."""
        key = (str(jax.tree.structure(args[-2])), str(jax.tree.map(lambda a: a.shape, args[-1])))
        if key not in self.executables:
            exe = self.step.lower(*args).compile()
            self.executables[key] = exe, compiled_flops(exe)
        return self.executables[key]


def compile_replicated(step_fn: Callable, wm: WorldModel, tx, mesh) -> CompiledStep:
    """A job's step (rng, state, frozen, batch) jitted over `mesh`: data parallel,
    replicated state and frozen inputs, donated state."""
    replicated = sharding.replicated(mesh)
    step = jax.jit(step_fn, in_shardings=(replicated, replicated, replicated, NamedSharding(mesh, sharding.BATCH)),
                   out_shardings=(replicated, replicated), donate_argnums=(1,))
    return CompiledStep(wm, tx, step, replicated, replicated, {})


@dataclasses.dataclass
class Job:
    """What one training job brings to `run_job`; the rest is shared."""
    name: str                    # config.JOBS: "train", "decoder", "controller"
    compiled: CompiledStep       # its step, jitted over the mesh
    state: Any                   # its initial state (.step, .params, .skipped; a NamedTuple)
    frozen: Any                  # what its step reads and never trains (the encoder, ...)
    run_file: str                # its JSON file in WORKDIR (checkpoint.WORLD_MODEL_FILE, ...)
    run_info: dict               # what that file holds besides the config
    fields: tuple[str, ...]      # the batch fields its step takes ("video", "states", "actions")
    headline: str = "pred_l1"    # the metric logged beside the loss
    check_data: Callable[[dict], None] | None = None  # raises on data it cannot use (the data report)


def run_job(config, workdir: str, build: Callable[[jax.sharding.Mesh], Job], max_steps: int | None = None):
    """Trains (or resumes) one job in `workdir`: the config's mesh, `build(mesh)`, the
    config's data (with normalised actions when the step takes "actions"), the job's run
    file, then `run_steps`. Returns (job, final state, list of logged metric rows)."""
    mesh = mesh_for(config)
    os.makedirs(workdir, exist_ok=True)
    job = build(mesh)
    # Each process reads its own share of the data and of every global batch.
    data, data_report = config_batches(config.data, config.seed, job.compiled.wm.config.encoder.frames_per_step(),
                                       config.data.global_batch, jax.process_index(), jax.process_count(),
                                       with_actions="actions" in job.fields)
    try:
        if job.check_data is not None:
            job.check_data(data_report)
    except Exception:
        data.close()
        raise
    write_json(os.path.join(workdir, job.run_file), {**job.run_info, "config": job_config(config, job.name)})
    state, history = run_steps(config, workdir, mesh, job, data, data_report, max_steps)
    return job, state, history


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


def run_steps(config, workdir: str, mesh, job: Job, data, data_report: dict, max_steps: int | None = None):
    """The step loop: restores the newest checkpoint of WORKDIR/checkpoints, then runs
    `job.compiled.executable(rng, state, frozen, batch)` (batch: the dict of job.fields)
    to config.train.steps (or `max_steps` more), with metrics rows, console bar,
    checkpoints, SIGTERM handling, the non-finite stop and training_curves.png.

    The step's metrics need "loss", "nonfinite" and `job.headline`. Closes `data`.
    Returns (final state, list of logged metric rows).
    """
    compiled, headline = job.compiled, job.headline
    state = jax.device_put(job.state, compiled.state_shardings)
    frozen = jax.device_put(job.frozen, compiled.encoder_shardings)
    wm_cfg = compiled.wm.config
    tokens_per_clip = wm_cfg.steps * wm_cfg.tokens
    write_json(os.path.join(workdir, checkpoint.DATA_REPORT_FILE), data_report)
    mngr = checkpoint.checkpoint_manager(os.path.join(workdir, checkpoint.CHECKPOINTS_DIR),
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
            writer.text("config", "```\n" + json.dumps(job_config(config, job.name), indent=2, default=str) + "\n```")
        for step in range(start, stop):
            t_wait = time.perf_counter()
            local = next(data)
            batch = sharding.global_batch(mesh, {k: local[k] for k in job.fields})
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
            plots.training_curves(writer.path, os.path.join(workdir, checkpoint.CURVES_FILE))
        except Exception as e:
            logging.warning("could not plot %s: %s", writer.path, e)
    return state, history
