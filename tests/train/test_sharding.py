"""The train step over a device mesh: 1 device == 4 data-parallel == 2x2 FSDP == 4-way
shard_map with explicit collectives."""
import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P
from ml_collections import FrozenConfigDict

from configs import tiny
from lawm_jax.config import validate
from lawm_jax.train import sharding
from lawm_jax.train.lam import compiled_train_step
from lawm_jax.train.step import init_train_state


def test_the_partition_rule():
    spec = sharding.spec_for
    assert spec((64, 128), "fsdp", 4, 1024) == P(None, "fsdp")    # largest axis
    assert spec((96, 64), "fsdp", 4, 1024) == P("fsdp")
    assert spec((6, 30), "fsdp", 4, 100) == P()                    # nothing divides: replicate
    assert spec((64,), "fsdp", 4, 1024) == P()                     # small: replicate
    assert spec((), "fsdp", 4, 0) == P()
    assert spec((64, 128), "replicated", 4, 1) == P()
    with pytest.raises(ValueError, match="config.mesh.params='zero3'"):
        spec((4,), "zero3", 2, 1)


def test_mesh_shapes_and_errors():
    assert dict(sharding.make_mesh().shape) == {"data": 4, "fsdp": 1}
    assert dict(sharding.make_mesh(fsdp=2).shape) == {"data": 2, "fsdp": 2}
    with pytest.raises(ValueError, match="fsdp=3 must be >= 1 and divide the 4 devices"):
        sharding.make_mesh(fsdp=3)
    assert sharding.make_mesh(data=1).devices.tolist() == [[jax.devices()[0]]]  # a subset
    with pytest.raises(ValueError, match="data=3 x config.mesh.fsdp=2 needs more than the 4 devices"):
        sharding.make_mesh(data=3, fsdp=2)


def run_steps(config, mesh, mode, batches, collectives="auto"):
    compiled = compiled_train_step(validate(config), FrozenConfigDict(config.train), mesh, mode, 256,
                                   collectives=collectives)
    params = compiled.wm.init(jax.random.key(0))
    state = jax.device_put(init_train_state(compiled.wm, compiled.tx, params), compiled.state_shardings)
    encoder = jax.device_put(params["encoder"], compiled.encoder_shardings)
    losses = []
    for video in batches:
        state, metrics = compiled.step(jax.random.key(1), state, encoder, sharding.global_batch(mesh, {"video": video}))
        losses.append(float(metrics["loss"]))
    return losses, state


def equality_config(bottleneck: str):
    """tiny's config with Muon's Newton-Schulz in float32: in bf16 the float32 summation-order
    differences that these equality checks allow would be rounded into bf16 steps (every
    training test covers the bf16 default)."""
    config = tiny.get_config(bottleneck)
    config.train.muon_ns_dtype = "float32"
    return config


def test_data_parallel_equals_one_device():
    """The default run's check (two compiles): 4-way data parallel under jit == 1 device."""
    config = equality_config("sparse")
    config.data.global_batch = 8
    batches = [np.random.default_rng(i).integers(0, 256, (8, 8, 32, 32, 3), dtype=np.uint8) for i in range(2)]
    losses, state = run_steps(config, sharding.make_mesh(devices=jax.devices()[:1]), "replicated", batches)
    other_losses, other_state = run_steps(config, sharding.make_mesh(), "replicated", batches)
    np.testing.assert_allclose(other_losses, losses, rtol=2e-5)
    for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(other_state.params)):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-5)


# Every mode on vq, whose code counts and dead-code resets are also all-reduced (the
# default run's check above is sparse's data parallelism), with the slow tests: it
# compiles the step four times, about two minutes on 2 cores.
@pytest.mark.slow
def test_single_device_data_parallel_and_fsdp_agree():
    config = equality_config("vq")
    config.data.global_batch = 8
    batches = [np.random.default_rng(i).integers(0, 256, (8, 8, 32, 32, 3), dtype=np.uint8) for i in range(3)]
    devices = jax.devices()
    runs = {"1 device": run_steps(config, sharding.make_mesh(devices=devices[:1]), "replicated", batches),
            "4 data": run_steps(config, sharding.make_mesh(), "replicated", batches),
            "2x2 fsdp": run_steps(config, sharding.make_mesh(fsdp=2), "fsdp", batches),
            "4 shard_map": run_steps(config, sharding.make_mesh(), "replicated", batches, "shard_map")}
    losses, state = runs["1 device"]
    for name, (other_losses, other_state) in runs.items():
        np.testing.assert_allclose(other_losses, losses, rtol=2e-5, err_msg=name)
        for a, b in zip(jax.tree.leaves(state.params), jax.tree.leaves(other_state.params)):
            np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-5, err_msg=name)
    # FSDP really splits the big arrays, optimizer moments included, and keeps them split.
    fsdp_state = runs["2x2 fsdp"][1]
    split = [x for x in jax.tree.leaves(fsdp_state) if "fsdp" in str(x.sharding.spec)]
    assert len(split) >= 2 * len(jax.tree.leaves(fsdp_state.params)) // 4
    kernel = fsdp_state.params["predictor"]["layer_0"]["mlp"]["fc1"]["kernel"]
    assert kernel.sharding.spec == P(None, "fsdp") and kernel.addressable_shards[0].data.shape == (64, 64)


def test_mesh_config_is_validated():
    from lawm_jax.errors import ConfigError
    c = tiny.get_config()
    c.mesh.params = "zero3"
    with pytest.raises(ConfigError, match="config.mesh.params='zero3'"):
        validate(c)
    c = tiny.get_config()
    c.mesh.fsdp = 0
    with pytest.raises(ConfigError, match="config.mesh.fsdp=0"):
        validate(c)
    c = tiny.get_config()
    c.mesh.params, c.mesh.collectives = "fsdp", "shard_map"
    with pytest.raises(ConfigError, match="config.mesh.collectives='shard_map': needs mesh.params"):
        validate(c)


def test_a_bad_process_id_is_named_before_joining():
    import ml_collections

    from lawm_jax.errors import ConfigError
    from lawm_jax.train import distributed
    cfg = ml_collections.ConfigDict({"coordinator": "127.0.0.1:1", "num_processes": 2, "process_id": 2,
                                     "auto": False})
    with pytest.raises(ConfigError, match=r"config.distributed.process_id=2: must be in \[0, "
                                          r"distributed.num_processes=2\)"):
        distributed.initialize(cfg)
