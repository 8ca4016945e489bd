"""Command line: python -m lawm_jax.main --config=configs/tiny.py --workdir=DIR [--config.x=...]

Jobs (config.job, one library function each, callable from a notebook):
  train     trains the LAM (IDM + bottleneck + predictor); re-running the same command on
            the same workdir resumes from its latest checkpoint (lawm_jax.train.lam.train)
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

Errors you can fix (a misspelt or bad config value, a missing config file, data path or
checkpoint, an unwritable --workdir, a missing optional package) print one line naming
what is wrong and what to do, and exit with status 1; --debug shows their traceback too.
"""
import os
import sys

import jax
from absl import flags, logging
from ml_collections import config_flags

from lawm_jax.cli import (check_workdir, config_file_arg, config_flag_error, debug_requested, describe_configs,
                          help_requested, print_user_error, run_main)
from lawm_jax.errors import ConfigError
from lawm_jax.eval.run import evaluate
from lawm_jax.planning.run import plan
from lawm_jax.progress import quiet_library_logs
from lawm_jax.train import distributed
from lawm_jax.train.controller import train_controller
from lawm_jax.train.decoder import train_decoder
from lawm_jax.train.features import encode_features
from lawm_jax.train.lam import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file (configs/*.py[:arg]).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints and metrics.")
flags.mark_flags_as_required(["config", "workdir"])

# config.JOBS names them; each function validates the config first
JOBS = {"train": train, "features": encode_features, "decoder": train_decoder, "evaluate": evaluate,
        "controller": train_controller, "plan": plan}
PROG = "lawm_jax.main"


def _parse_flags(argv):
    """absl's flag parsing, with --help listing the configs and the config flags' errors as one line."""
    if help_requested(argv):
        sys.modules["__main__"].__doc__ = __doc__ + "\n" + describe_configs().replace("%", "%%")
    config_path = config_file_arg(argv).split(":")[0]
    folder = os.path.dirname(os.path.abspath(config_path)) if config_path else ""
    if os.path.basename(folder) == "configs" and os.path.dirname(folder) not in sys.path:
        sys.path.append(os.path.dirname(folder))  # configs/*.py import configs.NAME: from any folder too
    try:
        rest = flags.FLAGS(argv)
        _CONFIG.value.get("job")  # a config file that failed to load raises only when read
        return rest
    except Exception as e:
        message = None if debug_requested(argv) else config_flag_error(e, argv)
        if message is None:
            raise
        print_user_error(PROG, message)
        sys.exit(1)


def main(argv):
    del argv  # unused
    quiet_library_logs()
    config = _CONFIG.value
    if config.job not in JOBS:
        raise ConfigError(f"config.job={config.job!r}: must be one of {tuple(JOBS)}")
    check_workdir(config.job, _WORKDIR.value)
    distributed.initialize(config.distributed)  # before anything touches a device
    logging.info("job %s -> %s (process %d of %d)", config.job, _WORKDIR.value,
                 jax.process_index(), jax.process_count())
    JOBS[config.job](config, _WORKDIR.value)


if __name__ == "__main__":
    run_main(main, PROG, flags_parser=_parse_flags)
