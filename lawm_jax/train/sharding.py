"""Device mesh and partition rules: where every array of a training run lives.

The mesh has two named axes: `data` (data parallelism) and `fsdp` (data parallelism
whose replicas also split the parameters and optimizer state). The batch is split over
both. Parameters follow one rule, by shape, so that no parameter is placed by hand and
optimizer moments land where their parameters are:

    replicated  every array on every device
    fsdp        arrays of at least `fsdp_min_size` elements are split along their largest
                axis that the fsdp size divides; smaller ones (norms, biases) replicate

XLA's partitioner inserts the collectives (all-gathers of FSDP weights, reductions of
gradients and of the bottlenecks' batch statistics) under `jax.jit` with these shardings.
"""
from __future__ import annotations

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from lawm_jax.config import PARAM_SHARDINGS
from lawm_jax.errors import ConfigError

MESH_AXES = ("data", "fsdp")
BATCH = P(MESH_AXES)  # leading (batch) axis split over every device


def make_mesh(data: int = -1, fsdp: int = 1, devices=None) -> Mesh:
    """A (data, fsdp) mesh over `devices` (default: all). data=-1 takes every device fsdp
    leaves; an explicit data x fsdp uses the first that many devices."""
    devices = list(jax.devices() if devices is None else devices)
    n = len(devices)
    if fsdp < 1 or (data == -1 and n % fsdp):
        raise ConfigError(f"config.mesh.fsdp={fsdp} must be >= 1 and divide the {n} devices")
    data = n // fsdp if data == -1 else data
    if not 1 <= data * fsdp <= n:
        raise ConfigError(f"config.mesh.data={data} x config.mesh.fsdp={fsdp} needs more than the "
                         f"{n} devices there are (data=-1 uses them all)")
    devices = devices[:data * fsdp]
    # Auto axes: the model code is written unsharded and jit's partitioner places the
    # collectives (Explicit axes would ask every op for its output sharding).
    return jax.make_mesh((data, fsdp), MESH_AXES, axis_types=(AxisType.Auto, AxisType.Auto),
                         devices=devices)


def spec_for(shape: tuple, mode: str, fsdp_size: int, fsdp_min_size: int) -> P:
    """The partition rule: the PartitionSpec of an array of this shape."""
    if mode not in PARAM_SHARDINGS:
        raise ConfigError(f"config.mesh.params={mode!r}: must be one of {PARAM_SHARDINGS}")
    if mode == "replicated" or fsdp_size == 1 or np.prod(shape, dtype=np.int64) < fsdp_min_size:
        return P()
    for axis in sorted(range(len(shape)), key=lambda a: -shape[a]):  # largest axis first
        if shape[axis] % fsdp_size == 0:
            return P(*[None] * axis, "fsdp")
    return P()


def tree_shardings(tree, mesh: Mesh, mode: str = "replicated", fsdp_min_size: int = 2**14):
    """NamedShardings for every array leaf of `tree` (params, optimizer state, ...)."""
    fsdp = mesh.shape["fsdp"]
    return jax.tree.map(lambda x: NamedSharding(mesh, spec_for(np.shape(x), mode, fsdp, fsdp_min_size)),
                        tree)


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def global_batch(mesh: Mesh, local_batch):
    """This process's share of the batch (an array or a dict of them) -> global arrays
    split over the mesh."""
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(NamedSharding(mesh, BATCH), x),
                        local_batch)
