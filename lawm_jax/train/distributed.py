"""Multi-host runs: joining the processes before anything touches a device.

    # on each of N hosts (or N processes of one host):
    python -m lawm_jax.main --config=... --workdir=SHARED_DIR \
        --config.distributed.coordinator=HOST0:1234 \
        --config.distributed.num_processes=N --config.distributed.process_id=I

`config.distributed.auto=True` instead lets JAX read the cluster from the environment
(Cloud TPU pods, SLURM, Open MPI). Each process then reads its own part of every global
batch (data/pipeline.py), and all write one logical Orbax checkpoint together; the small
JSON files of the workdir are written by process 0.
"""
from __future__ import annotations

import jax
from jax.experimental import multihost_utils

from lawm_jax.errors import ConfigError


def initialize(cfg) -> None:
    """jax.distributed.initialize from config.distributed; a no-op for one process."""
    if not (cfg.coordinator or cfg.auto):
        return
    if cfg.coordinator and not 0 <= cfg.process_id < cfg.num_processes:
        raise ConfigError(f"config.distributed.process_id={cfg.process_id}: must be in [0, "
                          f"distributed.num_processes={cfg.num_processes}) (num_processes >= 1)")
    # CPU processes exchange collectives over TCP (gloo); GPUs and TPUs use their own.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if cfg.coordinator:
        jax.distributed.initialize(cfg.coordinator, cfg.num_processes, cfg.process_id)
    else:
        jax.distributed.initialize()


def is_primary() -> bool:
    """The process that writes the workdir's JSON files and logs metrics."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """All processes reach this point before any goes on (no-op for one process)."""
    if jax.process_count() > 1:
        multihost_utils.sync_global_devices(name)
