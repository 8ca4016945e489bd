"""Orbax checkpoints and run folders: converted encoders and training runs.

An encoder checkpoint is a directory holding `params/` (Orbax) and
`encoder_config.json` (the architecture it was converted from); the run config's
`model.encoder_checkpoint` points at it. A run's checkpoints live under
`WORKDIR/checkpoints/<step>/` (Orbax CheckpointManager: train state + data iterator).
The names of everything a run folder holds are defined here, once.
"""
from __future__ import annotations

import dataclasses
import json
import os

import jax
import numpy as np
import orbax.checkpoint as ocp
from etils import epath

from lawm_jax.errors import ConfigError
from lawm_jax.models.encoder import EncoderConfig
from lawm_jax.models.layers import stack_layers, unstack_layers

# What a job's WORKDIR holds.
WORLD_MODEL_FILE = "world_model.json"  # a LAM run: its model, encoder checkpoint and config
DECODER_FILE = "decoder.json"          # a decoder run: its architecture, encoder and config
CONTROLLER_FILE = "controller.json"    # a controller run: its architecture, LAM and action statistics
CHECKPOINTS_DIR = "checkpoints"
ENCODER_DIR = "encoder"                # the random frozen encoder, when the config names none
DATA_REPORT_FILE = "data_report.json"  # clips, videos and unusable files found
METRICS_FILE = "metrics.jsonl"
TENSORBOARD_DIR = "tensorboard"
CURVES_FILE = "training_curves.png"
FEATURES_DIR = "features"              # the features job's cached encoder states
EVAL_DIR = "eval"                      # the evaluate job's results (eval_train: on the training videos)
PLAN_DIR = "plan"                      # the plan job's results
PICTURES_DIR = "pictures"              # tools/visualize.py's pictures
RESULTS_FILE = "results.json"          # in EVAL_DIR and PLAN_DIR
ENCODER_CONFIG_FILE = "encoder_config.json"  # in an encoder checkpoint, beside params/

# Fields that fix the weights' shapes and meaning; mode, dtype, remat and scan are run-time
# choices. Encoder checkpoints always hold the unrolled layout (layer_0 .. layer_N).
ARCH_FIELDS = ("kind", "layer", "width", "depth", "num_heads", "mlp_hidden", "patch", "tubelet", "in_chans")


def save_encoder(directory: str, params, cfg: EncoderConfig, write_config: bool = True) -> None:
    """In a multi-process run every process calls this (Orbax saves together) and one
    passes write_config=True."""
    directory = os.path.abspath(directory)
    if os.path.exists(os.path.join(directory, "params")):
        raise FileExistsError(f"{directory} already holds an encoder checkpoint; choose a new --output "
                              "or delete it first")
    os.makedirs(directory, exist_ok=True)
    with ocp.StandardCheckpointer() as ckptr:
        ckptr.save(os.path.join(directory, "params"), jax.tree.map(np.asarray, unstack_layers(params)))
        ckptr.wait_until_finished()
    # Written last: a directory without it is an incomplete conversion.
    if write_config:
        with open(os.path.join(directory, ENCODER_CONFIG_FILE), "w") as f:
            json.dump({**dataclasses.asdict(cfg), "scan": False}, f, indent=2)


def load_encoder(directory: str, expected: EncoderConfig | None = None):
    """Returns (params, EncoderConfig). With `expected`, the architectures must agree
    (mode, dtype, remat and scan are taken from `expected`; the layers are stacked for scan)."""
    directory = os.path.abspath(directory)
    cfg_path = os.path.join(directory, ENCODER_CONFIG_FILE)
    if not os.path.exists(cfg_path):  # named by config.model.encoder_checkpoint, or by a run's world_model.json
        what = ("does not exist" if not os.path.exists(directory)
                else "is not an encoder checkpoint (no encoder_config.json)")
        raise FileNotFoundError(f"encoder checkpoint {directory} {what}: convert V-JEPA 2 weights into it with "
                                f"tools/convert_vjepa2.py --output={directory}, or set config.model.encoder_checkpoint "
                                "to an existing one (empty: a random frozen encoder)")
    with open(cfg_path) as f:
        cfg = EncoderConfig(**json.load(f))
    if expected is not None:
        diff = [f"{k}: checkpoint {getattr(cfg, k)} vs config {getattr(expected, k)}"
                for k in ARCH_FIELDS if getattr(cfg, k) != getattr(expected, k)]
        if diff:
            raise ConfigError(f"encoder checkpoint {directory} does not match config.model.encoder: "
                              + "; ".join(diff) + "; set config.model.encoder to the checkpoint's architecture")
        cfg = expected
    from absl import logging
    logging.info("loading the frozen encoder from %s (%d layers of width %d)", directory, cfg.depth, cfg.width)
    with ocp.StandardCheckpointer() as ckptr:
        params = ckptr.restore(os.path.join(directory, "params"))
    return (stack_layers(params) if cfg.scan else params), cfg


def checkpoint_manager(directory: str, keep: int, keep_every: int = 0) -> ocp.CheckpointManager:
    """Keeps the last `keep` checkpoints, plus every step divisible by `keep_every` (if > 0).
    Saves are asynchronous (Orbax's default): training goes on while a save is written,
    and only a finished save is ever listed (it is renamed into place when complete)."""
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, keep_period=keep_every or None,
                                           create=True, enable_async_checkpointing=True)
    return ocp.CheckpointManager(os.path.abspath(directory), options=options)


def restore_latest_readable(mngr: ocp.CheckpointManager, abstract_state):
    """(step, state, data state) of the newest checkpoint that restores; damaged ones
    (files deleted or truncated after the save) are skipped with a message naming them.
    (None, None, None) when there is none."""
    from absl import logging
    for step in sorted(mngr.all_steps(), reverse=True):
        try:
            return (step, *restore_train_state(mngr, step, abstract_state))
        except Exception as e:  # noqa: BLE001 -- any failure to read means: do not use it
            logging.error("checkpoint %s/%d cannot be restored (%s: %s); skipping it and trying "
                          "the one before", mngr.directory, step, type(e).__name__, str(e)[:300])
    if mngr.all_steps():
        raise RuntimeError(f"no checkpoint in {mngr.directory} can be restored (steps "
                           f"{sorted(mngr.all_steps())}); move the folder away to start afresh")
    return None, None, None


def save_train_state(mngr: ocp.CheckpointManager, step: int, state, data_state: dict) -> None:
    mngr.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                            data=ocp.args.JsonSave(data_state)))


def restore_target(abstract, shardings):
    """Shapes and dtypes of `abstract`, placed by `shardings` (one Sharding or a matching
    tree): restoring onto it re-lays the arrays out for any mesh or device count."""
    if isinstance(shardings, jax.sharding.Sharding):
        shardings = jax.tree.map(lambda _: shardings, abstract)
    return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), abstract, shardings)


def restore_train_state(mngr: ocp.CheckpointManager, step: int, abstract_state):
    restored = mngr.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore()))
    return restored["state"], restored["data"]


def read_run_file(workdir: str, name: str, job: str) -> dict:
    """The JSON file `name` (WORLD_MODEL_FILE, ...) of a `job` run's workdir; checks that
    the encoder checkpoint it names exists."""
    path = os.path.join(workdir, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{workdir} is not a lawm_jax {job} run directory (no {name}); "
                                f"pass the --workdir of a {job} run")
    with open(path) as f:
        saved = json.load(f)
    encoder = saved.get("encoder_checkpoint")
    if encoder and not os.path.exists(os.path.join(encoder, ENCODER_CONFIG_FILE)):
        raise FileNotFoundError(f"{path} names the encoder checkpoint {encoder}, which is missing (was the run "
                                f"moved, or its encoder deleted?): put the encoder back there, or set "
                                f'"encoder_checkpoint" in {path} to where it is now')
    return saved


def restore_params(workdir: str, step: int | None = None):
    """(step, trained parameters) of a run's latest (or given) checkpoint, onto this
    process's first device whatever mesh it was saved from. Reads only the parameters:
    no optimizer state, nothing to build first (shapes come from the checkpoint)."""
    mngr = checkpoint_manager(os.path.join(workdir, CHECKPOINTS_DIR), keep=1 << 30)
    step = mngr.latest_step() if step is None else step
    if step is None:
        raise FileNotFoundError(f"{workdir}/{CHECKPOINTS_DIR} holds no complete checkpoint yet")
    mngr.close()
    path = epath.Path(workdir).absolute() / CHECKPOINTS_DIR / str(step) / "state"
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    saved = ocp.PyTreeCheckpointHandler().metadata(path).tree["params"]
    target = {"params": jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), saved)}
    restore_args = jax.tree.map(lambda _: ocp.ArrayRestoreArgs(sharding=device), target)
    with ocp.PyTreeCheckpointer() as ckptr:
        restored = ckptr.restore(path, args=ocp.args.PyTreeRestore(item=target, restore_args=restore_args,
                                                                    partial_restore=True))
    return int(step), restored["params"]
