"""Command line: python -m lawm_jax.main --config=configs/tiny.py --workdir=DIR [--config.x=...]

Jobs (config.job, one library function each, callable from a notebook):
  train     trains the LAM (IDM + bottleneck + predictor); re-running the same command on
            the same workdir resumes from its latest checkpoint (lawm_jax.train.loop.train)
  features  caches the frozen encoder's states of config.data in WORKDIR/features, for
            training with data.source=features (lawm_jax.train.features.encode_features)
  decoder   trains a pixel decoder on the frozen encoder's states, for pictures and pixel
            metrics (configs/*.py:decoder; lawm_jax.train.decoder.train_decoder)
  evaluate  the paper's evaluations (capacity, scene-cut leakage, cycle transfer, latent
            sampling, frame grids) of the run in --workdir, written to WORKDIR/eval
            (lawm_jax.eval.run.evaluate)
  controller trains a controller from real actions to the latent actions of a trained LAM
            (config.controller.world_model), on action-labelled trajectories
            (configs/arm.py:controller; lawm_jax.train.controller.train_controller)
  plan      a planning protocol (DROID-style Δxyz or RECON-style ATE/RPE) with CEM through
            the LAM + controller and the action-conditioned baseline, beside random
            actions; written to WORKDIR/plan (configs/arm.py:plan; lawm_jax.planning.run.plan)
"""
import jax
from absl import app, flags, logging
from ml_collections import config_flags

from lawm_jax.config import ConfigError, validate
from lawm_jax.data.clips import DataError
from lawm_jax.eval.run import evaluate
from lawm_jax.planning.run import plan
from lawm_jax.progress import quiet_orbax_logs
from lawm_jax.train import distributed
from lawm_jax.train.controller import train_controller
from lawm_jax.train.decoder import train_decoder
from lawm_jax.train.features import encode_features
from lawm_jax.train.loop import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file (configs/*.py[:arg]).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints and metrics.")
flags.mark_flags_as_required(["config", "workdir"])

# config.JOBS names them
JOBS = {"train": train, "features": encode_features, "decoder": train_decoder, "evaluate": evaluate,
        "controller": train_controller, "plan": plan}


def main(argv):
    del argv  # unused
    quiet_orbax_logs()
    config = _CONFIG.value
    try:
        validate(config)
    except ConfigError as e:
        raise app.UsageError(str(e)) from None
    distributed.initialize(config.distributed)  # before anything touches a device
    logging.info("job %s -> %s (process %d of %d)", config.job, _WORKDIR.value,
                 jax.process_index(), jax.process_count())
    try:
        JOBS[config.job](config, _WORKDIR.value)
    except (DataError, ConfigError) as e:  # the user's data or config, not a bug: no stack trace
        raise app.UsageError(str(e)) from None


if __name__ == "__main__":
    app.run(main)
